"""Norm and activation layers from OpenMMLab-style configs, with torch only.

``norm_cfg`` names ``BN`` / ``SyncBN`` / ``GN`` as mmcv's ``build_norm_layer``
does; ``act_cfg`` names any activation of ``torch.nn`` by its class name. The
backbones hand theirs to every conv-norm-activation.
"""
from inspect import signature
from typing import Optional

from torch import nn

NORM_LAYERS = {'BN': nn.BatchNorm2d, 'BN2d': nn.BatchNorm2d, 'SyncBN': nn.SyncBatchNorm,
               'GN': nn.GroupNorm}
ACTIVATIONS = ('ReLU', 'ReLU6', 'SiLU', 'GELU', 'Hardswish', 'Hardsigmoid', 'LeakyReLU', 'ELU',
               'PReLU', 'Mish', 'Sigmoid', 'Tanh')


def _type_of(cfg: dict, kind: str, choices) -> str:
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'{kind} must be a dict with a "type", e.g. dict(type={choices[0]!r}), '
                        f'got {cfg!r}')
    if cfg['type'] not in choices:
        raise ValueError(f'unknown {kind} type {cfg["type"]!r}; choose from {list(choices)}')
    return cfg['type']


def build_norm(norm_cfg: dict, channels: int) -> nn.Module:
    """The norm layer of ``norm_cfg`` over ``channels``: ``dict(type='BN')`` and
    optionally ``eps``, ``momentum``, ``requires_grad`` (False: frozen affine
    parameters); ``GN`` takes ``num_groups``."""
    kind = _type_of(norm_cfg, 'norm_cfg', list(NORM_LAYERS))
    args = {k: v for k, v in norm_cfg.items() if k not in ('type', 'requires_grad')}
    try:
        norm = nn.GroupNorm(num_channels=channels, **args) if kind == 'GN' else \
            NORM_LAYERS[kind](channels, **args)
    except TypeError as e:
        raise TypeError(f'norm_cfg {norm_cfg!r}: {e}') from None
    for param in norm.parameters():
        param.requires_grad = norm_cfg.get('requires_grad', True)
    return norm


def build_activation(act_cfg: Optional[dict]) -> nn.Module:
    """The activation of ``act_cfg`` (``dict(type='SiLU')``, any class of
    ``ACTIVATIONS`` with its arguments; None: identity). Element-wise
    activations run in place."""
    if act_cfg is None:
        return nn.Identity()
    kind = _type_of(act_cfg, 'act_cfg', ACTIVATIONS)
    args = {k: v for k, v in act_cfg.items() if k != 'type'}
    cls = getattr(nn, kind)
    if 'inplace' in signature(cls).parameters:
        args.setdefault('inplace', True)
    try:
        return cls(**args)
    except TypeError as e:
        raise TypeError(f'act_cfg {act_cfg!r}: {e}') from None
