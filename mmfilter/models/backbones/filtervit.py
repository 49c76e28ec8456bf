"""FilterViT and DropoutViT (Sun & Chen, arXiv 2410.22709) for dense prediction.

Narrow MobileNetV2 stages at strides 2-4, filter attention over a bounded number
of selected tokens at strides 4-16, pooled global attention at stride 32. K is a
ratio of the map capped by a budget, so attention cost stops growing with the
image: at 224×224 the ratios apply (784 / 392 / 98 tokens), at detection sizes
the budget does.
"""
from typing import Optional

from mmengine.registry import MODELS

from .base import HybridBackbone, with_block_args


def _filter_vit_arch(channels, embed_dims, depths, expand_ratios, blocks=(2, 1, 2, 1),
                     budget: int = 1024, sparse_attention: bool = True) -> dict:
    """The arch table of one size; ``sparse_attention=False`` drops the filter
    attention of stages 0-2 (strides 4-16), keeping their convolutions."""
    kinds = ('filter', 'filter', 'filter', 'pooled')
    ratios = (0.25, 0.5, 0.5, None)
    stages = []
    for c, b, e, kind, d, n, r in zip(channels, blocks, expand_ratios, kinds, embed_dims, depths,
                                      ratios):
        attention = dict(type=kind, embed_dim=d, depth=n, num_heads=4, token_budget=budget)
        if kind == 'filter':
            attention = dict(attention, token_ratio=r) if sparse_attention else None
        stages.append(dict(channels=c, blocks=b, expand_ratio=e, attention=attention))
    return dict(stem=dict(channels=16, out_channels=16, expand_ratio=2), stages=stages)


_XS = dict(channels=(32, 64, 96, 160), embed_dims=(64, 96, 128, 160), depths=(1, 2, 3, 3),
           expand_ratios=(2, 4, 4, 4))


FILTERVIT_ARCHS = {
    'xxs': _filter_vit_arch((24, 48, 80, 112), (48, 64, 80, 128), (1, 2, 3, 3), (2, 2, 2, 2)),
    'xs': _filter_vit_arch(**_XS),
    # The ablation of the sparse attention: xs's convolutions and stride-32 attention only.
    'xs-noattn': _filter_vit_arch(**_XS, sparse_attention=False),
    's': _filter_vit_arch((48, 96, 160, 256), (96, 144, 192, 256), (1, 2, 4, 3), (2, 4, 4, 4)),
}


@MODELS.register_module()
class FilterViT(HybridBackbone):
    """FilterViT: a conv scorer picks the top-K pixels per image for attention.

    Returns four NCHW maps at strides 4, 8, 16, 32 (``out_channels`` lists the
    widths of those in ``out_indices``). See :class:`HybridBackbone` for the
    common arguments; the arch is ``'xxs'``, ``'xs'``, ``'s'``, ``'xs-noattn'`` (xs
    without attention at strides 4-16: the ablation of the filter stages) or a
    custom dict.

    Args:
        mask_mode: how the saliency reaches the output (see
            :mod:`mmfilter.models.layers.filter_attention`): ``'gate'`` (default)
            scales only the attention updates of the selected tokens; ``'scale'``
            multiplies the whole map by the mask, as the paper does (on the demo
            it trained worse and far less reliably: see the README's seed study).
        explore_ratio: share of K drawn at random among the unselected pixels
            in training (evaluation takes the plain top-K).

    Example:
        >>> model = FilterViT(arch='xs', token_rule=dict(ratio=0.25, budget=2048))
        >>> [o.shape[1] for o in model(torch.rand(1, 3, 97, 131))]
        [32, 64, 96, 160]
    """
    arch_settings = FILTERVIT_ARCHS

    def __init__(self,
                 arch='xs',
                 mask_mode: str = 'gate',
                 explore_ratio: float = 0.,
                 attention_args: Optional[dict] = None,
                 **kwargs) -> None:
        filter_args = dict(selection='topk', mask_mode=mask_mode, explore_ratio=explore_ratio)
        super().__init__(arch=arch, attention_args=with_block_args(attention_args, 'filter', filter_args), **kwargs)


@MODELS.register_module()
class DropoutViT(HybridBackbone):
    """DropoutViT: FilterViT's network with K pixels drawn at random instead of scored.

    Training draws independently per image; evaluation takes a fixed, evenly
    spread subsample, unless ``random_eval=True`` keeps it random.
    """
    arch_settings = FILTERVIT_ARCHS

    def __init__(self,
                 arch='xs',
                 random_eval: bool = False,
                 attention_args: Optional[dict] = None,
                 **kwargs) -> None:
        filter_args = dict(selection='random', random_eval=random_eval)
        super().__init__(arch=arch, attention_args=with_block_args(attention_args, 'filter', filter_args), **kwargs)

