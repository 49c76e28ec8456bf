"""FilterViT and DropoutViT (Sun & Chen, arXiv 2410.22709) for dense prediction.

Narrow MobileNetV2 stages at strides 2-4, filter attention over a bounded number
of salient tokens at strides 4-16, pooled global attention at stride 32. K is a
ratio of the map capped by a budget, so attention cost stops growing with the
image: at 224×224 the ratios apply (784 / 392 / 98 tokens), at detection sizes
the budget does.
"""
from mmengine.registry import MODELS

from .base import HybridBackbone


def _filter_vit_arch(channels, embed_dims, depths, expand_ratios, blocks=(2, 1, 2, 1),
                     budget: int = 1024) -> dict:
    kinds = ('filter', 'filter', 'filter', 'pooled')
    ratios = (0.25, 0.5, 0.5, None)
    return dict(
        stem=dict(channels=16, out_channels=16, expand_ratio=2),
        stages=[
            dict(channels=c, blocks=b, expand_ratio=e, attention=kind, embed_dim=d, depth=n,
                 num_heads=4, token_ratio=r, token_budget=budget)
            for c, b, e, kind, d, n, r in zip(channels, blocks, expand_ratios, kinds, embed_dims,
                                              depths, ratios)
        ])


FILTERVIT_ARCHS = {
    'xxs': _filter_vit_arch((24, 48, 80, 112), (48, 64, 80, 128), (1, 2, 3, 3), (2, 2, 2, 2)),
    'xs': _filter_vit_arch((32, 64, 96, 160), (64, 96, 128, 160), (1, 2, 3, 3), (2, 4, 4, 4)),
    's': _filter_vit_arch((48, 96, 160, 256), (96, 144, 192, 256), (1, 2, 4, 3), (2, 4, 4, 4)),
}


@MODELS.register_module()
class FilterViT(HybridBackbone):
    """FilterViT: a conv scorer picks the top-K pixels per image for attention.

    Returns four NCHW maps at strides 4, 8, 16, 32 (``self.channels`` lists their
    widths); the unselected pixels of each filtered map are the features scaled
    by the salient mask. See :class:`HybridBackbone` for the arguments; the arch
    is ``'xxs'``, ``'xs'``, ``'s'`` or a custom dict.

    Example:
        >>> model = FilterViT(arch='xs', token_rule=dict(ratio=0.25, budget=2048))
        >>> [o.shape[1] for o in model(torch.rand(1, 3, 97, 131))]
        [32, 64, 96, 160]
    """
    arch_settings = FILTERVIT_ARCHS

    def __init__(self, arch='xs', **kwargs) -> None:
        super().__init__(arch=arch, **kwargs)


@MODELS.register_module()
class DropoutViT(FilterViT):
    """DropoutViT: FilterViT with K pixels drawn at random instead of scored.

    Training draws independently per image; evaluation takes a fixed, evenly
    spread subsample, unless ``random_eval=True`` keeps it random.
    """

    def __init__(self, arch='xs', random_eval: bool = False, **kwargs) -> None:
        if kwargs.pop('selection', 'random') != 'random':
            raise ValueError('DropoutViT always selects tokens at random; use FilterViT for top-K')
        super().__init__(arch=arch, selection='random', random_eval=random_eval, **kwargs)
