"""Convert public MobileViT ImageNet weights to mmfilter's MobileViT / FilterMobileViT keys.

    python tools/model_converters/mobilevit_to_mmfilter.py SRC DST [--prefix backbone.]

SRC: Apple's ml-cvnets ``mobilevit_{xxs,xs,s}.pt``, timm's ``mobilevit_*.cvnets_in1k``
(``.pth`` or ``.safetensors``), Hugging Face's ``apple/mobilevit-*`` (``pytorch_model.bin``
or ``model.safetensors``) or mmpretrain's ``mobilevit-*_3rdparty_in1k*.pth``; the layout
is recognised from the keys. The classifier is dropped. DST loads with
``init_cfg=dict(type='Pretrained', checkpoint=DST)`` in a MobileViT or FilterMobileViT
backbone (``--prefix backbone.`` for ``load_from`` on a whole detector instead).
The weights expect RGB in [0, 1]: no mean/std normalisation (see the ``*filtermobilevit*``
configs). A checkpoint already in mmfilter's layout (this tool's output, or a
MobileViT / FilterMobileViT detector's or segmentor's checkpoint) is named as such
and nothing is written.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Tuple

import torch

from mmfilter.converters import (ConversionError, convert_mobilevit,
                                 guess_mobilevit_arch, load_state_dict)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='the public checkpoint')
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--prefix', default='', help="put before every key, e.g. 'backbone.'")
    return parser.parse_args(argv)


def mmfilter_layout(state_dict: dict) -> Optional[Tuple[str, str]]:
    """``(what it holds, how to load it)`` for a state dict already in mmfilter's
    MobileViT / FilterMobileViT layout, or None if it is not in that layout."""
    name = 'FilterMobileViT' if any('.scorer.' in k for k in state_dict) else 'MobileViT'
    for prefix, held, use in (
            ('', 'a {}-{} backbone', "as a backbone's init_cfg=dict(type='Pretrained', "
             'checkpoint=...)'),
            ('backbone.', 'the {}-{} backbone of a whole model (keys under backbone.)',
             "as load_from, or as a backbone's init_cfg=dict(type='Pretrained', "
             "checkpoint=..., prefix='backbone.')")):
        arch = guess_mobilevit_arch(state_dict, prefix)
        if arch is not None:
            return held.format(name, arch), use
    return None


def main(argv=None) -> str:
    args = parse_args(argv)
    try:
        source = load_state_dict(args.src)
        existing = mmfilter_layout(source)
        if existing is not None:
            held, use = existing
            sys.exit(f"error: {args.src} is already in mmfilter's layout ({held}): nothing to "
                     f'convert; use it as it is, {use}')
        state_dict, layout, dropped = convert_mobilevit(source, args.prefix)
    except ConversionError as error:
        sys.exit(f'error: {args.src}: {error}')
    arch = guess_mobilevit_arch(state_dict, args.prefix)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(source=osp.basename(args.src), layout=layout, arch=arch)
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'{args.src}: {layout} layout, MobileViT-{arch or "?"}; wrote {len(state_dict)} '
          f'tensors to {args.dst} (dropped {len(dropped)}: the classifier and its 1×1 expansion)')
    return layout


if __name__ == '__main__':
    main()
