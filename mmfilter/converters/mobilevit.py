"""MobileViT checkpoints of Apple's ml-cvnets, timm, Hugging Face and mmpretrain → mmfilter.

Each layout is a rename table: the source's units (stem conv, stem block, inverted
residuals, MobileViT blocks) mapped to mmfilter's, and per unit kind the source's
sub-keys mapped to mmfilter's. :func:`convert_mobilevit` finds the layout whose
table maps every key, renames, fuses Hugging Face's separate query/key/value
projections into one ``qkv`` and drops the classifier (and the 1×1 expansion
before it, which mmfilter's dense backbones do not have).

mmfilter's keys (:class:`~mmfilter.models.MobileViT`, and FilterMobileViT, which
adds only its scorers): ``stem.conv``, ``stem.block``, ``stages.{i}.blocks.{j}``
(``expand`` / ``depthwise`` / ``project``, each ``conv`` + ``bn``) and
``stages.{i}.attention`` (``local_conv``, ``local_proj``, ``encoder.layers.{l}``
with ``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``,
``encoder.norm``, ``proj``, ``fusion``).
"""
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor

BN = r'(?P<p>weight|bias|running_mean|running_var|num_batches_tracked)'
AFFINE = r'(?P<p>weight|bias)'
TARGET_IR = ('expand', 'depthwise', 'project')
TARGET_LAYER = ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2')


class ConversionError(ValueError):
    """A checkpoint that no known layout converts."""


@dataclass(frozen=True)
class Layout:
    """How one project names MobileViT's tensors.

    ``conv``: the conv and norm sub-keys of a conv-norm(-act) unit; ``units``:
    ``(source regex, target, kind)`` per unit (``b`` names a block-index group);
    ``ir``: the expand / depthwise / project units of an inverted residual;
    ``block``: local conv, local projection key, transformer-layer prefix (``l``
    names the layer-index group), the layer's six sub-units in the order of
    ``TARGET_LAYER`` (HF: query / key / value fused later), final norm,
    projection and fusion; ``wrapper``: a prefix to strip; ``drop``: keys to drop.
    """
    conv: Tuple[str, str]
    units: Tuple[Tuple[str, str, str], ...]
    ir: Tuple[str, str, str]
    block: Mapping[str, object]
    wrapper: str = ''
    drop: str = r'^$'


def _units(stem: str, stem_block: str, stage0_block: str, strided: str, block: str) -> tuple:
    """Units from patterns with ``{s}`` = the source's index of mmfilter stage s (1-3)."""
    units = [(stem, 'stem.conv', 'conv'), (stem_block, 'stem.block', 'ir'),
             (stage0_block, r'stages.0.blocks.\g<b>', 'ir')]
    for s in (1, 2, 3):
        units += [(strided.format(s=s + 1, t=s + 2), f'stages.{s}.blocks.0', 'ir'),
                  (block.format(s=s + 1, t=s + 2), f'stages.{s}.attention', 'mobilevit')]
    return tuple(units)


def _staged_layout(stages: str, ir: Tuple[str, str, str], block: Dict[str, object],
                   **kwargs) -> Layout:
    """The layout of a byobnet-style tree (timm's, mmpretrain's): ``stem``, then the
    stage modules ``<stages>.i.j`` (stage 0 the stem block, stage 1 mmfilter's stage
    0), conv-norm units of ``conv`` and ``bn``, each block's ``conv_proj`` and
    ``conv_fusion``. ``block``: the rest of :attr:`Layout.block`."""
    units = _units(r'stem', rf'{stages}\.0\.0', rf'{stages}\.1\.(?P<b>\d+)',
                   rf'{stages}\.{{s}}\.0', rf'{stages}\.{{s}}\.1')
    return Layout(conv=(r'conv', r'bn'), units=units, ir=ir,
                  block=dict(block, proj=r'conv_proj', fusion=r'conv_fusion'), **kwargs)


MOBILEVIT_LAYOUTS: Dict[str, Layout] = {
    # Apple's ml-cvnets (mobilevit_{xxs,xs,s}.pt): conv_1, layer_1 ... layer_5.
    'ml-cvnets': Layout(
        conv=(r'block\.conv', r'block\.norm'),
        units=_units(r'conv_1', r'layer_1\.0', r'layer_2\.(?P<b>\d+)', r'layer_{t}\.0',
                     r'layer_{t}\.1'),
        ir=(r'block\.exp_1x1', r'block\.conv_3x3', r'block\.red_1x1'),
        block=dict(local_conv=r'local_rep\.conv_3x3',
                   local_proj=r'local_rep\.conv_1x1\.block\.conv\.weight',
                   layer=r'global_rep\.(?P<l>\d+)',
                   layer_parts=(r'pre_norm_mha\.0', r'pre_norm_mha\.1\.qkv_proj',
                                r'pre_norm_mha\.1\.out_proj', r'pre_norm_ffn\.0',
                                r'pre_norm_ffn\.1', r'pre_norm_ffn\.4'),
                   norm=r'global_rep\.\d+', proj=r'conv_proj', fusion=r'fusion'),
        drop=r'^(classifier|conv_1x1_exp)\.'),
    # timm's mobilevit_{xxs,xs,s}.cvnets_in1k: stem, stages.0 ... stages.4 (byobnet).
    'timm': _staged_layout(
        'stages', ir=(r'conv1_1x1', r'conv2_kxk', r'conv3_1x1'),
        block=dict(local_conv=r'conv_kxk', local_proj=r'conv_1x1\.weight',
                   layer=r'transformer\.(?P<l>\d+)', norm=r'norm',
                   layer_parts=(r'norm1', r'attn\.qkv', r'attn\.proj', r'norm2', r'mlp\.fc1',
                                r'mlp\.fc2')),
        drop=r'^(head|final_conv)\.'),
    # Hugging Face's apple/mobilevit-{xx-small,x-small,small}: [mobilevit.]conv_stem,
    # encoder.layer.N.
    'huggingface': Layout(
        conv=(r'convolution', r'normalization'),
        units=_units(r'conv_stem', r'encoder\.layer\.0\.layer\.0',
                     r'encoder\.layer\.1\.layer\.(?P<b>\d+)',
                     r'encoder\.layer\.{s}\.downsampling_layer', r'encoder\.layer\.{s}'),
        ir=(r'expand_1x1', r'conv_3x3', r'reduce_1x1'),
        block=dict(local_conv=r'conv_kxk', local_proj=r'conv_1x1\.convolution\.weight',
                   layer=r'transformer\.layer\.(?P<l>\d+)',
                   layer_parts=(r'layernorm_before', None, r'attention\.output\.dense',
                                r'layernorm_after', r'intermediate\.dense', r'output\.dense'),
                   norm=r'layernorm', proj=r'conv_projection', fusion=r'fusion'),
        wrapper='mobilevit.',
        drop=r'^(classifier|conv_1x1_exp|segmentation_head)\.'),
    # mmpretrain's mobilevit-*_3rdparty_in1k: backbone.stem, backbone.layers.0 ... 4.
    'mmpretrain': _staged_layout(
        'layers', ir=(r'conv\.0', r'conv\.1', r'conv\.2'),
        block=dict(local_conv=r'local_rep\.0', local_proj=r'local_rep\.1\.conv\.weight',
                   layer=r'global_rep\.(?P<l>\d+)', norm=r'global_rep\.\d+',
                   layer_parts=(r'ln1', r'attn\.qkv', r'attn\.proj', r'ln2',
                                r'ffn\.layers\.0\.0', r'ffn\.layers\.1')),
        wrapper='backbone.',
        drop=r'^(head|conv_1x1_exp|neck|backbone\.conv_1x1_exp)\.'),
}
HF_QKV = (r'attention\.attention\.query', r'attention\.attention\.key',
          r'attention\.attention\.value')


def _rules(layout: Layout) -> List[Tuple['re.Pattern', str]]:
    """Full-key ``(pattern, replacement)`` rules of one layout."""
    conv_src, norm_src = layout.conv
    conv = [(rf'{conv_src}\.weight', 'conv.weight'), (rf'{norm_src}\.{BN}', r'bn.\g<p>')]
    subs = {'conv': conv,
            'ir': [(rf'{src}\.{s}', f'{dst}.{d}')
                   for src, dst in zip(layout.ir, TARGET_IR) for s, d in conv]}
    b = layout.block
    block = [(rf'{b["local_conv"]}\.{s}', f'local_conv.{d}') for s, d in conv]
    block += [(b['local_proj'], 'local_proj.weight')]
    parts = list(zip(b['layer_parts'], TARGET_LAYER))
    if parts[1][0] is None:  # Hugging Face: separate q, k, v, fused after renaming
        parts[1:2] = list(zip(HF_QKV, ('attn.q', 'attn.k', 'attn.v')))
    block += [(rf'{b["layer"]}\.{src}\.{AFFINE}', rf'encoder.layers.\g<l>.{dst}.\g<p>')
              for src, dst in parts]
    block += [(rf'{b["norm"]}\.{AFFINE}', r'encoder.norm.\g<p>')]
    block += [(rf'{b[name]}\.{s}', f'{name}.{d}') for name in ('proj', 'fusion') for s, d in conv]
    subs['mobilevit'] = block
    return [(re.compile(rf'^{unit}\.{src}$'), f'{target}.{dst}')
            for unit, target, kind in layout.units for src, dst in subs[kind]]


def _rename(keys: List[str], layout: Layout) -> Tuple[Dict[str, str], List[str], List[str]]:
    """``(source → target, dropped, unmapped)`` for one layout."""
    rules, drop = _rules(layout), re.compile(layout.drop)
    renamed, dropped, unmapped = {}, [], []
    for key in keys:
        bare = key[len(layout.wrapper):] if layout.wrapper and key.startswith(
            layout.wrapper) else key
        if drop.search(bare):
            dropped.append(key)
            continue
        for pattern, replacement in rules:
            if pattern.match(bare):
                renamed[key] = pattern.sub(replacement, bare)
                break
        else:
            unmapped.append(key)
    return renamed, dropped, unmapped


def _fuse_qkv(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Concatenate ``attn.q`` / ``attn.k`` / ``attn.v`` (rows) into ``attn.qkv``."""
    out = {}
    for key, value in state_dict.items():
        match = re.match(r'(.*\.attn)\.([qkv])\.(weight|bias)$', key)
        if match is None:
            out[key] = value
        elif match.group(2) == 'q':
            head, _, param = match.groups()
            out[f'{head}.qkv.{param}'] = torch.cat(
                [state_dict[f'{head}.{n}.{param}'] for n in 'qkv'], dim=0)
    return out


def _strip_module(state_dict: Mapping[str, Tensor]) -> Dict[str, Tensor]:
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}


def convert_mobilevit(state_dict: Mapping[str, Tensor],
                      prefix: str = '') -> Tuple[Dict[str, Tensor], str, List[str]]:
    """Rename a MobileViT state dict of any known layout to mmfilter's keys.

    Returns ``(converted, layout name, dropped source keys)``; ``prefix`` (e.g.
    ``'backbone.'``) is put before every converted key. Raises
    :class:`ConversionError` naming the closest layout and its first unmapped
    keys when no layout maps every tensor.
    """
    state_dict = _strip_module(state_dict)
    keys = [k for k, v in state_dict.items() if torch.is_tensor(v)]
    if not keys:
        raise ConversionError('the checkpoint holds no tensors')
    attempts = {name: _rename(keys, layout) for name, layout in MOBILEVIT_LAYOUTS.items()}
    for name, (renamed, dropped, unmapped) in attempts.items():
        if not unmapped and renamed:
            converted = _fuse_qkv({dst: state_dict[src] for src, dst in renamed.items()})
            return {prefix + k: v for k, v in converted.items()}, name, dropped
    name, (renamed, _, unmapped) = max(attempts.items(), key=lambda item: len(item[1][0]))
    if not renamed:
        raise ConversionError(f'not a MobileViT checkpoint: no key matches any known layout '
                              f'({", ".join(MOBILEVIT_LAYOUTS)}); first keys: '
                              f'{", ".join(keys[:5])}')
    raise ConversionError(
        f'not a MobileViT checkpoint of a known layout ({", ".join(MOBILEVIT_LAYOUTS)}): '
        f'closest is {name} ({len(renamed)} of {len(keys)} tensors mapped); first keys that '
        f'did not map: {", ".join(unmapped[:5])}')


def guess_mobilevit_arch(state_dict: Mapping[str, Tensor], prefix: str = '') -> Optional[str]:
    """The MobileViT arch (``'xxs'``, ``'xs'``, ``'s'``) whose stage widths a converted
    state dict has, or None."""
    from ..models.backbones.mobilevit import MOBILEVIT_ARCHS
    try:
        widths = tuple(int(state_dict[f'{prefix}stages.{i}.blocks.0.project.conv.weight'].shape[0])
                       for i in range(4))
    except KeyError:
        return None
    for name, arch in MOBILEVIT_ARCHS.items():
        if tuple(s['channels'] for s in arch['stages']) == widths:
            return name
    return None


def load_state_dict(path: str) -> Dict[str, Tensor]:
    """The tensors of a checkpoint file (``torch.save`` or ``.safetensors``), unwrapped
    from a ``state_dict`` / ``model`` entry; weights-only loading, nothing executed."""
    if not os.path.isfile(path):
        raise ConversionError(f'checkpoint not found: {path}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the same here
        raise ConversionError(f'{path} is not a readable PyTorch checkpoint (torch.load: '
                              f'{type(error).__name__})') from None
    if not isinstance(checkpoint, Mapping):
        raise ConversionError(f'{path} holds a {type(checkpoint).__name__}, not a state dict')
    for wrapper in ('state_dict', 'model', 'model_state_dict'):
        if isinstance(checkpoint.get(wrapper), Mapping):
            return dict(checkpoint[wrapper])
    return dict(checkpoint)
