"""Convolutional building blocks: conv-norm-activation and MobileNetV2's inverted residual.

The norm and the activation come from OpenMMLab-style configs (``norm_cfg``,
``act_cfg``) built by :func:`build_norm` and :func:`build_activation`, which
need torch only: ``BN`` / ``SyncBN`` / ``GN`` as mmcv's ``build_norm_layer``
names them, and any activation of ``torch.nn`` by its class name.
"""
from collections import OrderedDict
from inspect import signature
from typing import Optional

from torch import Tensor, nn

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


class ConvNormAct(nn.Sequential):
    """``Conv2d`` (no bias) → norm → activation (none with ``act_cfg=None``); 'same' padding.

    Parameters are named ``conv.*`` and ``bn.*`` (whatever the norm).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 groups: int = 1,
                 dilation: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='SiLU')) -> None:
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                           padding=dilation * (kernel_size // 2), dilation=dilation,
                           groups=groups, bias=False),
            bn=build_norm(norm_cfg, out_channels),
            act=build_activation(act_cfg)))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 ``expand`` → 3×3 ``depthwise`` (stride) → 1×1 ``project``.

    ``[B, C_in, H, W] -> [B, C_out, H / stride, W / stride]``; residual when the
    shape is kept. With ``expand_ratio=1`` there is no expansion; ``dilation``
    dilates the depthwise conv; ``project`` has no activation.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 expand_ratio: float = 4,
                 dilation: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='SiLU')) -> None:
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        layer = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.expand = nn.Identity() if expand_ratio == 1 else \
            ConvNormAct(in_channels, hidden, **layer)
        self.depthwise = ConvNormAct(hidden, hidden, 3, stride, groups=hidden, dilation=dilation,
                                     **layer)
        self.project = ConvNormAct(hidden, out_channels, norm_cfg=norm_cfg, act_cfg=None)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.use_residual else out
