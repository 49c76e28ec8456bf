"""Convolutional building blocks: conv-norm-activation and MobileNetV2's inverted
residual, and the evaluation of a chain of them in horizontal bands of rows.

Banded evaluation exists for the inverted residuals of a backbone's stages at
CPU inference, applied from outside the model (:func:`mmfilter.engine.apply_row_bands`): at detection sizes their largest maps are tens of MB, above glibc's
mmap threshold (at most 32 MiB), so every forward maps them afresh and pays
their page faults (see docs/performance.md). Computed band by band,
each band from exactly the input rows it reads, the chain gives the same output
while no intermediate map exceeds the band's few MiB: reused from the heap, and
in cache.
"""
import math
from collections import OrderedDict
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

RowRange = Tuple[int, int]


def conv_output_size(conv: nn.Conv2d, size: int, dim: int = 0) -> int:
    """Output length along ``dim`` (0: rows, 1: columns) of ``conv`` over ``size`` inputs."""
    span = conv.dilation[dim] * (conv.kernel_size[dim] - 1) + 1
    return (size + 2 * conv.padding[dim] - span) // conv.stride[dim] + 1


def conv_input_rows(conv: nn.Conv2d, rows: RowRange) -> RowRange:
    """Input rows ``[start, stop)`` that output rows ``rows`` of ``conv`` read,
    its zero padding included: ``start`` may be negative, ``stop`` past the map."""
    start = rows[0] * conv.stride[0] - conv.padding[0]
    stop = (rows[1] - 1) * conv.stride[0] - conv.padding[0] + \
        conv.dilation[0] * (conv.kernel_size[0] - 1) + 1
    return start, stop


def clip_rows(rows: RowRange, height: int) -> RowRange:
    return max(rows[0], 0), min(rows[1], height)


def conv_on_rows(conv: nn.Conv2d, x: Tensor, rows: RowRange, height: int) -> Tensor:
    """Output rows ``rows`` of ``conv`` over a map of ``height`` rows, of which
    ``x`` ``[B, C, h, W]`` holds the rows they read (:func:`conv_input_rows`
    clipped to the map); rows beyond the map's edges are zero, as the conv's
    own padding makes them."""
    start, stop = conv_input_rows(conv, rows)
    if start < 0 or stop > height:
        x = F.pad(x, (0, 0, max(-start, 0), max(stop - height, 0)))
    return F.conv2d(x, conv.weight, conv.bias, conv.stride, (0, conv.padding[1]), conv.dilation,
                    conv.groups)


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

    def output_size(self, height: int, width: int) -> Tuple[int, int]:
        return conv_output_size(self.conv, height, 0), conv_output_size(self.conv, width, 1)

    def largest_map(self, height: int, width: int) -> int:
        """Elements per image of the largest map made from a ``height x width`` input."""
        return self.conv.out_channels * math.prod(self.output_size(height, width))

    def input_rows(self, rows: RowRange) -> RowRange:
        return conv_input_rows(self.conv, rows)

    def forward_rows(self, x: Tensor, rows: RowRange, height: int) -> Tensor:
        """Output rows ``rows``, ``x`` holding the input rows they read (clipped to ``height``)."""
        return self.act(self.bn(conv_on_rows(self.conv, x, rows, height)))


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

    def output_size(self, height: int, width: int) -> Tuple[int, int]:
        return self.depthwise.output_size(height, width)

    def largest_map(self, height: int, width: int) -> int:
        """Elements per image of the largest map made from a ``height x width`` input."""
        return self.depthwise.conv.in_channels * height * width

    def input_rows(self, rows: RowRange) -> RowRange:
        return self.depthwise.input_rows(rows)

    def forward_rows(self, x: Tensor, rows: RowRange, height: int) -> Tensor:
        """Output rows ``rows``, ``x`` holding the input rows they read (clipped to ``height``)."""
        out = self.project(self.depthwise.forward_rows(self.expand(x), rows, height))
        if not self.use_residual:
            return out
        offset = clip_rows(self.input_rows(rows), height)[0]
        return x[:, :, rows[0] - offset:rows[1] - offset] + out


RowLayer = Union[ConvNormAct, InvertedResidual]


def forward_in_row_bands(layers: Sequence[RowLayer], x: Tensor, max_band_bytes: int) -> Tensor:
    """``layers`` applied in turn to ``x`` ``[B, C, H, W]``, band by band.

    The output's rows are split into ``ceil(largest whole-map bytes /
    max_band_bytes)`` equal bands, so each layer's largest map in a band is about
    ``max_band_bytes`` (plus its halo rows); each band is computed from the input
    rows it reads and the bands are concatenated. Equal to the layers applied to
    the whole map, up to float rounding (one band: exactly that).
    """
    heights, widths, largest = [x.shape[2]], [x.shape[3]], 0
    for layer in layers:
        largest = max(largest, layer.largest_map(heights[-1], widths[-1]))
        height, width = layer.output_size(heights[-1], widths[-1])
        heights.append(height)
        widths.append(width)
    band_bytes = largest * x.shape[0] * x.element_size()
    num_bands = min(math.ceil(band_bytes / max_band_bytes), heights[-1])
    if num_bands <= 1:
        for layer in layers:
            x = layer(x)
        return x
    band_height = math.ceil(heights[-1] / num_bands)
    bands = []
    for first in range(0, heights[-1], band_height):
        rows = [(first, min(first + band_height, heights[-1]))]  # per layer output, last first
        for layer, height in zip(layers[::-1], heights[-2::-1]):
            rows.append(clip_rows(layer.input_rows(rows[-1]), height))
        band = x[:, :, rows[-1][0]:rows[-1][1]]
        for layer, out_rows, height in zip(layers, rows[-2::-1], heights):
            band = layer.forward_rows(band, out_rows, height)
        bands.append(band)
    return torch.cat(bands, dim=2)
