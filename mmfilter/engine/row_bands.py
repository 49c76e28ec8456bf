"""Row bands: a CPU inference optimisation applied from outside the model.

At detection sizes the inverted residuals of a backbone's high-resolution stages
make maps of tens of MB, above glibc's mmap threshold, so every forward maps
them afresh and pays their page faults. Computed band by band, each band from
exactly the input rows it reads
(:func:`~mmfilter.models.layers.forward_in_row_bands`), the same convolutions
give the same output while no intermediate map exceeds a few MiB: reused from
the heap, and in cache (``docs/performance.md``).

It was measured on CPUs only, so it is applied, like :func:`fuse_conv_bn`, by
who runs the model and never on another device: mmfilter's tools and
:func:`mmfilter.apis.init_model` call :func:`optimize_for_cpu`, which applies it
and the glibc malloc setting to a model whose weights are on the CPU. A model
built with ``mmdet.apis.init_detector`` runs whole maps unless the user calls it.
"""
from collections import OrderedDict
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch import Tensor, nn

from ..models.backbones.base import HybridBackbone
from ..models.layers import forward_in_row_bands
from .allocator import configure_malloc

#: The row-band budget the tools use: each band's largest map holds about this many MiB.
DEFAULT_BAND_MIB = 8.


class RowBandedSequential(nn.Sequential):
    """A chain of conv layers (``ConvNormAct`` / ``InvertedResidual``) that, with
    every layer in eval mode, runs in horizontal bands of rows whose largest map
    holds about ``band_mib`` MiB: ``[B, C, H, W] -> [B, C', H', W']``, the chain's
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
    float rounding."""
    for backbone in model.modules():
        if not isinstance(backbone, HybridBackbone):
            continue
        chains = [(backbone, 'stem')] + [(stage, 'blocks') for stage in backbone.stages]
        for owner, name in chains:
            chain = getattr(owner, name)
            if isinstance(chain, RowBandedSequential):
                chain.band_mib = band_mib
            else:
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
