"""Export a backbone to ONNX at a fixed input size and check it against PyTorch.

    python tools/deploy/export_onnx.py --backbone FilterViT --arch xs --shape 800 1344 \
        [--checkpoint CKPT [--prefix backbone.]] [--out filtervit_xs.onnx] [--opset 17]
    python tools/deploy/export_onnx.py --config configs/retinanet_filtervit_coco.py ...

K and the pooling strides follow from the input size, so the graph is exported
for one size (export again for another). The check runs onnxruntime on a random
image and reports the largest error relative to the output's range, per output.
A detector's or segmentor's checkpoint (keys under ``backbone.``) gives its
backbone without ``--prefix``; weights that do not fit the backbone stop the
export with one line naming the mismatch. Needs torch, mmengine, onnx and
onnxruntime only.
"""
import argparse
import os.path as osp
import sys
import warnings
from typing import List, Optional

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mmfilter.engine.checkpoint import (CheckpointError, check_weights_fit,  # noqa: E402
                                        read_state_dict, select_prefix)
from mmfilter.models import DropoutViT, FilterMobileViT, FilterViT, MobileViT  # noqa: E402

BACKBONES = {cls.__name__: cls for cls in (FilterViT, DropoutViT, MobileViT, FilterMobileViT)}


def build_backbone(name: Optional[str], arch: str, config: Optional[str], checkpoint: Optional[str],
                   prefix: Optional[str] = None) -> torch.nn.Module:
    """The backbone in eval mode, with the weights of ``checkpoint`` under ``prefix``
    (None: ``'backbone.'`` if the checkpoint has such keys, as a detector's or
    segmentor's has, else none)."""
    if config:
        from mmengine.config import Config
        cfg = Config.fromfile(config).model.backbone
        name, kwargs = cfg.pop('type'), dict(cfg)
        if checkpoint:
            kwargs.pop('init_cfg', None)  # the weights come from --checkpoint
    else:
        kwargs = dict(arch=arch)
    if name not in BACKBONES:
        raise SystemExit(f'error: unknown backbone {name!r}; choose from {sorted(BACKBONES)}')
    model = BACKBONES[name](**kwargs)
    if not checkpoint:
        model.init_weights()  # the config's init_cfg, if any
    else:
        try:
            state_dict = read_state_dict(checkpoint)
            if prefix is None:  # a detector's or segmentor's checkpoint: its backbone
                prefix = 'backbone.' if any(k.startswith('backbone.') for k in state_dict) else ''
            notes = check_weights_fit(model, checkpoint, prefix=prefix,
                                      model_name=f'{name}-{kwargs.get("arch", "xs")}')
        except CheckpointError as e:
            raise SystemExit(f'error: {e}') from None
        for note in notes:
            print(note, file=sys.stderr)
        model.load_state_dict(select_prefix(state_dict, prefix), strict=False)  # fits: checked
    return model.eval()


def export(model: torch.nn.Module, image: torch.Tensor, path: str, opset: int = 17) -> List[str]:
    """Write ``model`` traced on ``image`` to ``path``; return the output names."""
    with torch.no_grad():
        num_outputs = len(model(image))
    names = [f'out{i}' for i in range(num_outputs)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)  # sizes are fixed on purpose
        torch.onnx.export(model, (image, ), path, opset_version=opset, dynamo=False,
                          input_names=['image'], output_names=names)
    return names


def max_relative_errors(model: torch.nn.Module, path: str, image: torch.Tensor) -> List[float]:
    """``max |onnx - torch| / max |torch|`` per output, from onnxruntime on CPU."""
    import onnxruntime as ort
    ort_session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    onnx_outs = ort_session.run(None, {'image': image.numpy()})
    with torch.no_grad():
        torch_outs = model(image)
    return [float((torch.from_numpy(o) - t).abs().max() / t.abs().max().clamp_min(1e-12))
            for o, t in zip(onnx_outs, torch_outs)]


def main(argv=None) -> List[float]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backbone', default='FilterViT', choices=sorted(BACKBONES))
    parser.add_argument('--arch', default='xs')
    parser.add_argument('--config', help='take the backbone settings from this config instead')
    parser.add_argument('--checkpoint', help="the backbone's weights, or a detector's / "
                        "segmentor's checkpoint (its backbone is taken)")
    parser.add_argument('--prefix', help="key prefix of the backbone's weights in the checkpoint "
                        "(default: 'backbone.' if it has such keys, else none)")
    parser.add_argument('--shape', nargs=2, type=int, default=[800, 1344], metavar=('H', 'W'))
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--out', help='ONNX file (default: BACKBONE_ARCH_HxW.onnx)')
    parser.add_argument('--tolerance', type=float, default=1e-4, help='largest relative error accepted')
    args = parser.parse_args(argv)

    model = build_backbone(args.backbone, args.arch, args.config, args.checkpoint, args.prefix)
    height, width = args.shape
    out = args.out or f'{type(model).__name__.lower()}_{args.arch}_{height}x{width}.onnx'
    image = torch.rand(args.batch_size, model.in_channels, height, width,
                       generator=torch.Generator().manual_seed(0))
    names = export(model, image, out, args.opset)
    errors = max_relative_errors(model, out, image)
    for name, err in zip(names, errors):
        print(f'{name}: max relative error onnxruntime vs torch = {err:.2e}')
    print(f'wrote {out}')
    if max(errors) > args.tolerance:
        raise SystemExit(f'error: onnxruntime differs from torch by {max(errors):.2e} > {args.tolerance}')
    return errors


if __name__ == '__main__':
    main()
