"""MobileViT (Mehta & Rastegari, arXiv 2110.02178) with four dense outputs, as the baseline.

MobileViT differs from FilterViT in its widths and depths and in its attention:
every stage from stride 8 ends in a MobileViT block (local conv, global
attention over the 2×2-interleaved patch sequences of the whole map, fusion);
nothing is selected, and stride 4 has no attention.
"""
from typing import List, Union

from mmengine.registry import MODELS

from .base import HybridBackbone, with_block_settings


def _mobilevit_arch(stem_out: int, channels, embed_dims, expand_ratio: float) -> dict:
    stages = [dict(channels=channels[0], blocks=3, expand_ratio=expand_ratio)]
    stages += [
        dict(channels=c, blocks=1, expand_ratio=expand_ratio,
             attention=dict(type='mobilevit', embed_dim=d, depth=n, num_heads=4))
        for c, d, n in zip(channels[1:], embed_dims, (2, 4, 3))
    ]
    return dict(stem=dict(channels=16, out_channels=stem_out, expand_ratio=expand_ratio),
                stages=stages)


# The paper's Table 4 / ml-cvnets configs, without the classifier's 1×1 conv.
MOBILEVIT_ARCHS = {
    'xxs': _mobilevit_arch(16, (24, 48, 64, 80), (64, 80, 96), 2),
    'xs': _mobilevit_arch(32, (48, 64, 80, 96), (96, 120, 144), 4),
    's': _mobilevit_arch(32, (64, 96, 128, 160), (144, 192, 240), 4),
}


@MODELS.register_module()
class MobileViT(HybridBackbone):
    """MobileViT: inverted residuals and MobileViT blocks (2×2-patch global attention).

    Outputs at strides 4, 8, 16, 32 like :class:`FilterViT`; any input size
    (odd maps are resized to even sides around the 2×2 unfolding, as in Apple's,
    timm's and Hugging Face's implementations, so their converted weights apply:
    see ``tools/model_converters/mobilevit_to_mmfilter.py``).
    """
    arch_settings = MOBILEVIT_ARCHS

    def __init__(self, arch: Union[str, dict] = 'xs', **kwargs) -> None:
        super().__init__(arch=arch, **kwargs)


def _filter_mobilevit_arch(arch: dict, token_ratios=(0.25, 0.5, 1.0), budget: int = 1024) -> dict:
    stages = [dict(arch['stages'][0])]
    stages += [
        dict(stage, attention=dict(stage['attention'], type='filter_mobilevit', token_ratio=ratio,
                                   token_budget=budget))
        for stage, ratio in zip(arch['stages'][1:], token_ratios)
    ]
    return dict(arch, stages=stages)


# MobileViT's tables with filtered blocks: K = ratio of the 2×2 patches (¼ at stride 8,
# ½ at 16, all at 32), at most 1024 patches per block.
FILTER_MOBILEVIT_ARCHS = {name: _filter_mobilevit_arch(arch) for name, arch in MOBILEVIT_ARCHS.items()}


@MODELS.register_module()
class FilterMobileViT(HybridBackbone):
    """MobileViT whose blocks attend only a budget of salient 2×2 patches.

    The trunk, widths and transformer weights (and their names) are MobileViT's,
    so every tensor of a converted MobileViT checkpoint loads into it; each block
    adds a scorer (see :class:`~mmfilter.models.layers.FilterMobileViTBlock`).
    With ``token_rule=dict(ratio=1.0)`` and the scorers as initialised it
    computes exactly what MobileViT does with the same weights; a smaller budget
    trades accuracy for attention cost.

    Args:
        arch (str | dict): the size. Default: ``'xs'``.
        selection (str): how each block picks its K patches: ``'topk'``
            (scored), ``'random'`` (drawn per image in training, evenly spread
            at evaluation) or ``'uniform'``. Default: ``'topk'``.

    Example:
        >>> model = FilterMobileViT(arch='xs', init_cfg=dict(
        ...     type='Pretrained', checkpoint='mobilevit-xs_mmfilter.pth'))
        >>> model.init_weights()  # the scorers at zero, MobileViT's weights loaded
    """
    arch_settings = FILTER_MOBILEVIT_ARCHS

    def __init__(self, arch: Union[str, dict] = 'xs', selection: str = 'topk', **kwargs) -> None:
        arch = with_block_settings(arch, self.arch_settings, 'filter_mobilevit',
                                   dict(selection=selection), type(self).__name__)
        super().__init__(arch=arch, **kwargs)

    def keys_absent_in_pretrained(self) -> List[str]:
        """The state-dict keys FilterMobileViT adds to MobileViT's (its scorers'): a
        converted MobileViT checkpoint lacks them and still loads, these keeping
        their initial values (gates of 1). The tools' checkpoint checks
        (:func:`mmfilter.engine.check_weights_fit`) accept their absence."""
        return [k for k in self.state_dict() if '.scorer.' in k]
