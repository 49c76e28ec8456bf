"""FilterViT and DropoutViT (Sun & Chen, arXiv 2410.22709) for dense prediction.

Narrow MobileNetV2 stages at strides 2-4, filter attention over a bounded number
of selected tokens at strides 4-16, pooled global attention at stride 32. K is a
ratio of the map capped by a budget, so attention cost stops growing with the
image: at 224×224 the ratios apply (784 / 392 / 98 tokens), at detection sizes
the budget does.
"""
from typing import Union

from mmengine.registry import MODELS

from .base import HybridBackbone, with_block_settings


def _filter_vit_arch(channels, embed_dims, depths, expand_ratios, blocks=(2, 1, 2, 1),
                     budget: int = 1024) -> dict:
    """The arch table of one size."""
    kinds = ('filter', 'filter', 'filter', 'pooled')
    ratios = (0.25, 0.5, 0.5, None)
    stages = []
    for c, b, e, kind, d, n, r in zip(channels, blocks, expand_ratios, kinds, embed_dims, depths,
                                      ratios):
        attention = dict(type=kind, embed_dim=d, depth=n, num_heads=4, token_budget=budget)
        if kind == 'filter':
            attention['token_ratio'] = r
        stages.append(dict(channels=c, blocks=b, expand_ratio=e, attention=attention))
    return dict(stem=dict(channels=16, out_channels=16, expand_ratio=2), stages=stages)


FILTERVIT_ARCHS = {
    'xxs': _filter_vit_arch((24, 48, 80, 112), (48, 64, 80, 128), (1, 2, 3, 3), (2, 2, 2, 2)),
    'xs': _filter_vit_arch((32, 64, 96, 160), (64, 96, 128, 160), (1, 2, 3, 3), (2, 4, 4, 4)),
    's': _filter_vit_arch((48, 96, 160, 256), (96, 144, 192, 256), (1, 2, 4, 3), (2, 4, 4, 4)),
}


@MODELS.register_module()
class FilterViT(HybridBackbone):
    """FilterViT: a conv scorer picks the top-K pixels per image for attention.

    Returns four NCHW maps at strides 4, 8, 16, 32 (``out_channels`` lists the
    widths of those in ``out_indices``). See :class:`HybridBackbone` for the
    common arguments (K per stage: ``token_rule``); the arch is ``'xxs'``,
    ``'xs'``, ``'s'`` or a custom dict.

    Args:
        arch (str | dict): the size. Default: ``'xs'``.
        selection (str): how the filter stages pick their K pixels:
            ``'topk'`` (scored by the filter), ``'random'`` (drawn per image in
            training, evenly spread at evaluation: DropoutViT) or
            ``'uniform'`` (evenly spread). Only ``'topk'`` builds the scorer.
            Default: ``'topk'``.
        mask_mode (str): how the saliency reaches the output (see
            :mod:`mmfilter.models.layers.filter_attention`): ``'gate'`` scales
            only the attention updates of the selected tokens; ``'scale'``
            multiplies the whole map by the mask, as the paper does (it trained
            worse on the demo: ``docs/findings/token_selection.md``).
            Default: ``'gate'``.

    Example:
        >>> model = FilterViT(arch='xs', token_rule=dict(ratio=0.25, budget=2048))
        >>> [o.shape[1] for o in model(torch.rand(1, 3, 97, 131))]
        [32, 64, 96, 160]
    """
    arch_settings = FILTERVIT_ARCHS

    def __init__(self,
                 arch: Union[str, dict] = 'xs',
                 selection: str = 'topk',
                 mask_mode: str = 'gate',
                 **kwargs) -> None:
        arch = with_block_settings(arch, self.arch_settings, 'filter',
                                   dict(selection=selection, mask_mode=mask_mode),
                                   type(self).__name__)
        super().__init__(arch=arch, **kwargs)


@MODELS.register_module()
class DropoutViT(FilterViT):
    """DropoutViT: FilterViT's network with K pixels drawn at random instead of
    scored (no scorer): ``FilterViT(selection='random')`` under the paper's name.

    Training draws independently per image; evaluation takes a fixed, evenly
    spread subsample. Takes :class:`HybridBackbone`'s arguments.
    """

    def __init__(self, arch: Union[str, dict] = 'xs', **kwargs) -> None:
        given = sorted({'selection', 'mask_mode'} & set(kwargs))
        if given:
            raise TypeError(f'DropoutViT draws its tokens at random and scores none: it takes '
                            f'no {given}; FilterViT takes them')
        super().__init__(arch=arch, selection='random', **kwargs)
