"""Convolutional building blocks: conv-norm-activation and MobileNetV2's inverted residual,
their norm and activation from ``norm_cfg`` / ``act_cfg`` (:mod:`.norm_act`)."""
from collections import OrderedDict
from typing import Optional

from torch import Tensor, nn

from .norm_act import build_activation, build_norm


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

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 expand_ratio: float = 4, dilation: int = 1, norm_cfg: dict = dict(type='BN'),
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
