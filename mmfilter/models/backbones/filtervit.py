"""FilterViT and DropoutViT (Sun & Chen, arXiv 2410.22709) for dense prediction.

Narrow MobileNetV2 stages at strides 2-4, filter attention over a bounded number
of selected tokens at strides 4-16, pooled global attention at stride 32. K is a
ratio of the map capped by a budget, so attention cost stops growing with the
image: at 224×224 the ratios apply (784 / 392 / 98 tokens), at detection sizes
the budget does.
"""
from typing import Optional, Union

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
    without attention at strides 4-16: an experimental ablation of the filter
    stages, see ``docs/backbones.md``) or a custom dict.

    Args:
        arch (str | dict): the size. Default: ``'xs'``.
        selection (str, optional): how the filter stages pick their K pixels in
            training: ``'topk'`` (scored by the filter), ``'random'`` (drawn per
            image: DropoutViT) or ``'uniform'``. Default: None (``'topk'``).
        eval_selection (str, optional): the rule at evaluation. Default: None
            (the training rule; the uniform spread for ``'random'``).
        mask_mode (str, optional): how the saliency reaches the output (see
            :mod:`mmfilter.models.layers.filter_attention`): ``'gate'`` scales
            only the attention updates of the selected tokens; ``'scale'``
            multiplies the whole map by the mask, as the paper does (it trained
            worse on the demo: ``docs/findings/token_selection.md``).
            Default: None (``'gate'``).
        attention_args (dict, optional): extra arguments per block kind; the
            settings above may be given there too (``{'filter': dict(...)}``),
            but not both ways with different values.

    Example:
        >>> model = FilterViT(arch='xs', token_rule=dict(ratio=0.25, budget=2048))
        >>> [o.shape[1] for o in model(torch.rand(1, 3, 97, 131))]
        [32, 64, 96, 160]
    """
    arch_settings = FILTERVIT_ARCHS
    default_selection = 'topk'

    def __init__(self,
                 arch: Union[str, dict] = 'xs',
                 selection: Optional[str] = None,
                 eval_selection: Optional[str] = None,
                 mask_mode: Optional[str] = None,
                 attention_args: Optional[dict] = None,
                 **kwargs) -> None:
        name = type(self).__name__
        attention_args = with_block_args(
            attention_args, 'filter',
            explicit=dict(selection=selection, eval_selection=eval_selection, mask_mode=mask_mode),
            defaults=dict(selection=self.default_selection, mask_mode='gate'), backbone=name)
        if self.default_selection == 'random' and attention_args['filter']['selection'] == 'topk':
            raise ValueError(f"{name} draws its tokens at random and builds no scorer; for "
                             "selection='topk' use FilterViT")
        super().__init__(arch=arch, attention_args=attention_args, **kwargs)


@MODELS.register_module()
class DropoutViT(FilterViT):
    """DropoutViT: FilterViT's network with K pixels drawn at random instead of
    scored (no scorer): ``FilterViT(selection='random')`` under the paper's name.

    Training draws independently per image; evaluation takes a fixed, evenly
    spread subsample (``eval_selection='random'`` keeps it random).
    """
    default_selection = 'random'
