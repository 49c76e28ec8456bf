"""Row bands: a CPU inference optimisation applied from outside the model.

At detection sizes the inverted residuals of a backbone's high-resolution stages
make maps of tens of MB, above glibc's mmap threshold (at most 32 MiB), so every
forward maps them afresh and pays their page faults. Computed band by band, each
band from exactly the input rows it reads (:func:`forward_in_row_bands`), the
same convolutions give the same output while no intermediate map exceeds a few
MiB: reused from the heap, and in cache (``docs/performance.md``). The functions
here read the layers (``ConvNormAct``, ``InvertedResidual``) from outside and
call their submodules; the layers know nothing of bands.

It was measured on CPUs only, so it is applied, like :func:`fuse_conv_bn`, by
who runs the model and never on another device: mmfilter's tools and
:func:`mmfilter.apis.init_model` call :func:`optimize_for_cpu`, which applies it
and the glibc malloc setting to a model whose weights are on the CPU. A model
built with ``mmdet.apis.init_detector`` runs whole maps unless the user calls it.
"""
import math
from collections import OrderedDict
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.backbones.base import HybridBackbone
from ..models.layers import ConvNormAct, InvertedResidual
from .allocator import configure_malloc

#: The row-band budget the tools use: each band's largest map holds about this many MiB.
DEFAULT_BAND_MIB = 8.

RowRange = Tuple[int, int]
RowLayer = Union[ConvNormAct, InvertedResidual]


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


def _strided_conv(layer: RowLayer) -> nn.Conv2d:
    """The conv that sets ``layer``'s output size and the rows it reads."""
    return layer.conv if isinstance(layer, ConvNormAct) else layer.depthwise.conv


def output_size(layer: RowLayer, height: int, width: int) -> Tuple[int, int]:
    conv = _strided_conv(layer)
    return conv_output_size(conv, height, 0), conv_output_size(conv, width, 1)


def largest_map(layer: RowLayer, height: int, width: int) -> int:
    """Elements per image of the largest map ``layer`` makes from a ``height x width`` input."""
    if isinstance(layer, InvertedResidual):
        return layer.depthwise.conv.in_channels * height * width
    return layer.conv.out_channels * math.prod(output_size(layer, height, width))


def input_rows(layer: RowLayer, rows: RowRange) -> RowRange:
    """Input rows (unclipped) that output rows ``rows`` of ``layer`` read."""
    return conv_input_rows(_strided_conv(layer), rows)


def forward_rows(layer: RowLayer, x: Tensor, rows: RowRange, height: int) -> Tensor:
    """Output rows ``rows`` of ``layer``, ``x`` holding the input rows they read
    (clipped to the input's ``height``)."""
    if isinstance(layer, ConvNormAct):
        return layer.act(layer.bn(conv_on_rows(layer.conv, x, rows, height)))
    out = layer.project(forward_rows(layer.depthwise, layer.expand(x), rows, height))
    if not layer.use_residual:
        return out
    offset = clip_rows(input_rows(layer, rows), height)[0]
    return x[:, :, rows[0] - offset:rows[1] - offset] + out


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
        largest = max(largest, largest_map(layer, heights[-1], widths[-1]))
        height, width = output_size(layer, heights[-1], widths[-1])
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
            rows.append(clip_rows(input_rows(layer, rows[-1]), height))
        band = x[:, :, rows[-1][0]:rows[-1][1]]
        for layer, out_rows, height in zip(layers, rows[-2::-1], heights):
            band = forward_rows(layer, band, out_rows, height)
        bands.append(band)
    return torch.cat(bands, dim=2)


def can_run_in_row_bands(chain: nn.Module) -> bool:
    """Whether every norm of ``chain`` acts per pixel (BatchNorm, or folded away):
    a norm over the whole map (GroupNorm) gives other results on a band."""
    return all(isinstance(m.bn, (_BatchNorm, nn.Identity)) for m in chain.modules()
               if isinstance(m, ConvNormAct))


class RowBandedSequential(nn.Sequential):
    """A chain of conv layers (``ConvNormAct`` / ``InvertedResidual`` with per-pixel
    norms) that, with every layer in eval mode, runs in horizontal bands of rows
    whose largest map holds about ``band_mib`` MiB: ``[B, C, H, W] -> [B, C', H', W']``, the chain's
    own output. Its children and their names are the chain's, so the state dict
    and forward hooks on the layers are unchanged. In training it runs whole maps.

    Args:
        chain (nn.Sequential): the layers, in order.
        band_mib (float): the band budget in MiB. Default: 8.
    """

    def __init__(self, chain: nn.Sequential, band_mib: float = DEFAULT_BAND_MIB) -> None:
        super().__init__(OrderedDict(chain.named_children()))
        self.band_mib = band_mib

    @property
    def band_mib(self) -> float:
        return self._band_mib

    @band_mib.setter
    def band_mib(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f'band_mib must be positive, got {value}')
        self._band_mib = value

    def forward(self, x: Tensor) -> Tensor:
        if any(layer.training for layer in self):
            return super().forward(x)
        return forward_in_row_bands(list(self), x, int(self.band_mib * 2**20))

    def extra_repr(self) -> str:
        return f'band_mib={self.band_mib}'


def apply_row_bands(model: nn.Module, band_mib: float = DEFAULT_BAND_MIB) -> nn.Module:
    """Run the stem and every stage's inverted residuals of each mmfilter backbone
    in ``model`` in row bands at inference, in place; returns ``model``. Applying
    it again sets the new budget. Outputs are equal to whole-map evaluation up to
    float rounding. Chains whose norms span the map (``norm_cfg=dict(type='GN')``)
    are left whole."""
    for backbone in model.modules():
        if not isinstance(backbone, HybridBackbone):
            continue
        chains = [(backbone, 'stem')] + [(stage, 'blocks') for stage in backbone.stages]
        for owner, name in chains:
            chain = getattr(owner, name)
            if isinstance(chain, RowBandedSequential):
                chain.band_mib = band_mib
            elif can_run_in_row_bands(chain):
                setattr(owner, name, RowBandedSequential(chain, band_mib))
    return model


def model_device_type(model: nn.Module) -> Optional[str]:
    """``'cpu'``, ``'cuda'``, ... of the model's first parameter (None: no parameters)."""
    param = next(model.parameters(), None)
    return None if param is None else param.device.type


def optimize_for_cpu(model: nn.Module, malloc: Optional[str] = 'reuse',
                     band_mib: float = DEFAULT_BAND_MIB) -> bool:
    """The CPU inference settings mmfilter's tools use, for a model whose weights
    are on the CPU: row bands (:func:`apply_row_bands`) and the glibc malloc
    ``malloc`` mode (:func:`~mmfilter.engine.configure_malloc`; None leaves the
    allocator alone). A model on any other device is left alone. Returns whether
    they were applied."""
    if model_device_type(model) != 'cpu':
        return False
    if malloc is not None:
        configure_malloc(malloc)
    apply_row_bands(model, band_mib)
    return True


@HOOKS.register_module()
class CPUInferenceHook(Hook):
    """:func:`optimize_for_cpu` before validation and testing, for a runner whose
    model is on the CPU (the tools add it; a GPU run is left alone). Training
    forwards run whole maps either way."""

    priority = 'LOW'

    def __init__(self, malloc: str = 'reuse', band_mib: float = DEFAULT_BAND_MIB) -> None:
        self.malloc = malloc
        self.band_mib = band_mib

    def _apply(self, runner) -> None:
        model = getattr(runner.model, 'module', runner.model)
        already = any(isinstance(m, RowBandedSequential) for m in model.modules())
        if optimize_for_cpu(model, self.malloc, self.band_mib) and not already:
            runner.logger.info(f'CPU inference: row bands of {self.band_mib} MiB, '
                               f'glibc malloc mode {self.malloc!r}')

    def before_val(self, runner) -> None:
        self._apply(runner)

    def before_test(self, runner) -> None:
        self._apply(runner)
