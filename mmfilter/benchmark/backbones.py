"""The backbones the benchmarks compare, by name: one table of configs for every tool."""
from typing import Dict

import torch
from mmengine.config import ConfigDict
from torch import nn

from ..engine.row_bands import apply_row_bands

#: Name -> backbone config (no pretrained weights). FilterViT-xs-dense is FilterViT-xs with every
#: pixel a token, FilterViT-xs-whole FilterViT-xs run on whole maps on the CPU too (no row
#: bands); built with the same seed, each carries FilterViT-xs's weights.
BACKBONES: Dict[str, dict] = {
    'FilterViT-xxs': dict(type='FilterViT', arch='xxs'),
    'FilterViT-xs': dict(type='FilterViT', arch='xs'),
    'FilterViT-xs-scale': dict(type='FilterViT', arch='xs', mask_mode='scale'),  # the paper's mask
    'FilterViT-s': dict(type='FilterViT', arch='s'),
    'DropoutViT-xs': dict(type='DropoutViT', arch='xs'),
    'FilterViT-xs-dense': dict(type='FilterViT', arch='xs', token_rule=dict(ratio=1.0, budget=None)),
    'FilterViT-xs-whole': dict(type='FilterViT', arch='xs'),
    'MobileViT-xxs': dict(type='MobileViT', arch='xxs'),
    'MobileViT-xs': dict(type='MobileViT', arch='xs'),
    'MobileViT-s': dict(type='MobileViT', arch='s'),
    'FilterMobileViT-xs': dict(type='FilterMobileViT', arch='xs'),
    'ResNet-18': dict(type='ResNet', depth=18),
    'MobileNetV2': dict(type='MobileNetV2', out_indices=(1, 2, 4, 6)),  # strides 4-32: 24-320 ch
    'ResNet-50': dict(type='ResNet', depth=50),
    'PVTv2-b0': dict(type='PyramidVisionTransformerV2', embed_dims=32, num_layers=[2, 2, 2, 2]),
}


def registry(scope: str):
    """MMDetection's or MMSegmentation's model registry, with ``scope`` made the default
    (ResNet and PVTv2 come from them; mmfilter's backbones from the root registry)."""
    from mmengine.registry import init_default_scope
    init_default_scope(scope)
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    elif scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        raise ValueError(f'backbones are built in the mmdet or mmseg scope, not {scope!r}')
    return MODELS


def build_backbone(name: str, scope: str = 'mmdet', seed: int = 0, device: str = 'cpu',
                   row_bands: bool = True) -> nn.Module:
    """The backbone of :data:`BACKBONES` called ``name``, its weights drawn with ``seed``,
    in eval mode on ``device``; on the CPU with the tools' row bands
    (:func:`~mmfilter.engine.apply_row_bands`) unless ``row_bands`` is False or the
    name ends in ``-whole``."""
    torch.manual_seed(seed)
    model = registry(scope).build(ConfigDict(BACKBONES[name])).to(device)
    model.eval()  # not chained: some backbones' train() returns None
    if row_bands and torch.device(device).type == 'cpu' and not name.endswith('-whole'):
        apply_row_bands(model)
    return model
