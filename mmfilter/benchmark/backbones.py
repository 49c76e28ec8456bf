"""The catalogue of backbones every tool measures, describes, checks or exports, by name,
and :func:`build_backbone`, the one way the tools build them."""
from typing import Dict, Optional, Tuple

import torch
from mmengine.config import ConfigDict
from torch import nn

from ..engine.row_bands import apply_row_bands
from ..models import DropoutViT, FilterMobileViT, FilterViT, MobileViT

#: mmfilter's backbone types, in the order the tools list them, and the archs of their tables.
ARCHS: Dict[str, Tuple[str, ...]] = {
    cls.__name__: tuple(cls.arch_settings) for cls in (FilterViT, DropoutViT, MobileViT,
                                                       FilterMobileViT)}
MMFILTER_BACKBONES: Tuple[str, ...] = tuple(ARCHS)

#: Name -> backbone config (no pretrained weights): each of mmfilter's backbones at each
#: arch of its table (``'FilterViT-xs'``), variants of FilterViT-xs, and reference
#: backbones of MMDetection / MMSegmentation. FilterViT-xs-dense is FilterViT-xs with every
#: pixel a token, FilterViT-xs-whole FilterViT-xs run on whole maps on the CPU too (no row
#: bands); built with the same seed, each carries FilterViT-xs's weights.
BACKBONES: Dict[str, dict] = {
    **{f'{name}-{arch}': dict(type=name, arch=arch) for name, archs in ARCHS.items()
       for arch in archs},
    'FilterViT-xs-scale': dict(type='FilterViT', arch='xs', mask_mode='scale'),  # the paper's mask
    'FilterViT-xs-dense': dict(type='FilterViT', arch='xs', token_rule=dict(ratio=1.0, budget=None)),
    'FilterViT-xs-whole': dict(type='FilterViT', arch='xs'),
    'ResNet-18': dict(type='ResNet', depth=18),
    'MobileNetV2': dict(type='MobileNetV2', out_indices=(1, 2, 4, 6)),  # strides 4-32: 24-320 ch
    'ResNet-50': dict(type='ResNet', depth=50),
    'PVTv2-b0': dict(type='PyramidVisionTransformerV2', embed_dims=32, num_layers=[2, 2, 2, 2]),
}

#: The backbones ``tools/analysis/benchmark_backbones.py`` compares unless told otherwise,
#: in the order of its tables.
COMPARED: Tuple[str, ...] = (
    'FilterViT-xxs', 'FilterViT-xs', 'FilterViT-xs-scale', 'FilterViT-s', 'DropoutViT-xs',
    'FilterViT-xs-dense', 'FilterViT-xs-whole', 'MobileViT-xxs', 'MobileViT-xs', 'MobileViT-s',
    'FilterMobileViT-xs', 'ResNet-18', 'MobileNetV2', 'ResNet-50', 'PVTv2-b0')


def catalogue_name(backbone_type: str, arch: str) -> str:
    """The catalogue's name of mmfilter's ``backbone_type`` at ``arch``; ValueError
    naming the archs of its table where it has no such arch."""
    name = f'{backbone_type}-{arch}'
    if backbone_type not in ARCHS:
        raise ValueError(f"no backbone {name!r}: mmfilter's backbones are "
                         f"{', '.join(MMFILTER_BACKBONES)}")
    if arch not in ARCHS[backbone_type]:
        raise ValueError(f"no backbone {name!r}: the archs of {backbone_type} are "
                         f"{', '.join(ARCHS[backbone_type])}")
    return name


def registry(scope: Optional[str]):
    """MMDetection's or MMSegmentation's model registry, with ``scope`` made the default
    (ResNet and PVTv2 come from them); for ``None``, mmengine's root registry, which
    holds mmfilter's backbones and needs neither library."""
    if scope is None:
        from mmengine.registry import MODELS
        return MODELS
    from mmengine.registry import init_default_scope
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    elif scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        raise ValueError(f'backbones are built in the mmdet or mmseg scope, not {scope!r}')
    return MODELS


def build_backbone(name: str, scope: Optional[str] = 'mmdet', seed: int = 0,
                   device: str = 'cpu', row_bands: bool = True, **overrides) -> nn.Module:
    """The backbone of :data:`BACKBONES` called ``name``, with ``overrides`` of its
    config (e.g. ``drop_path_rate``), its weights drawn with ``seed``, in eval mode on
    ``device``; on the CPU with the tools' row bands
    (:func:`~mmfilter.engine.apply_row_bands`) unless ``row_bands`` is False or the
    name ends in ``-whole``. mmfilter's backbones come from mmengine's root registry
    (neither MMDetection nor MMSegmentation needed), the others from ``scope``'s."""
    if name not in BACKBONES:
        raise ValueError(f'unknown backbone {name!r}; the catalogue holds {", ".join(BACKBONES)}')
    cfg = ConfigDict(BACKBONES[name], **overrides)
    torch.manual_seed(seed)
    model = registry(None if cfg.type in MMFILTER_BACKBONES else scope).build(cfg).to(device)
    model.eval()  # not chained: some backbones' train() returns None
    if row_bands and torch.device(device).type == 'cpu' and not name.endswith('-whole'):
        apply_row_bands(model)
    return model
