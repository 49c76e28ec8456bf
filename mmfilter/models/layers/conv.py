"""Convolutional building blocks: conv-norm-activation and MobileNetV2's inverted residual."""
from collections import OrderedDict

from torch import Tensor, nn


class ConvNormAct(nn.Sequential):
    """``Conv2d`` (no bias) → ``BatchNorm2d`` → optional ``SiLU``; 'same' padding.

    Parameters are named ``conv.*`` and ``bn.*``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 stride: int = 1,
                 groups: int = 1,
                 act: bool = True,
                 dilation: int = 1) -> None:
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                           padding=dilation * (kernel_size // 2), dilation=dilation,
                           groups=groups, bias=False),
            bn=nn.BatchNorm2d(out_channels),
            act=nn.SiLU(inplace=True) if act else nn.Identity()))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 ``expand`` → 3×3 ``depthwise`` (stride) → 1×1 ``project``.

    ``[B, C_in, H, W] -> [B, C_out, H / stride, W / stride]``; residual when the
    shape is kept. With ``expand_ratio=1`` there is no expansion; ``dilation``
    dilates the depthwise conv.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 expand_ratio: float = 4,
                 dilation: int = 1) -> None:
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.expand = nn.Identity() if expand_ratio == 1 else ConvNormAct(in_channels, hidden)
        self.depthwise = ConvNormAct(hidden, hidden, 3, stride, groups=hidden, dilation=dilation)
        self.project = ConvNormAct(hidden, out_channels, act=False)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.use_residual else out
