"""Record and override the token selection of a built model through forward hooks.

Every token-selecting block picks its tokens with a
:class:`~mmfilter.models.layers.TokenSelector` submodule, called as
``selector(logits, batch_size, height, width, device) -> indices [B, K]``.
A forward hook on it sees the block's saliency logits, the grid and the chosen
indices (:func:`record_selections`), and may replace the indices
(:func:`override_selection`). Nothing in the model changes: leaving either
context removes its hooks, and the model is as it was.
"""
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Tuple

from torch import Tensor, nn

from ..models.backbones.base import HybridBackbone, TokenRule, token_rules_per_stage
from ..models.layers import TokenSelector
from ..models.token_selection import (check_selection, check_token_budget, check_token_ratio,
                                      num_selected_tokens, select_indices)


def selectors(model: nn.Module) -> List[Tuple[Optional[int], TokenSelector]]:
    """``(stage index, selector)`` of every token-selecting block in ``model`` (a
    block, a backbone, or a detector or segmentor), in forward order; the stage is
    None for a block outside a backbone."""
    stage_of = {id(block.selector): stage for backbone in model.modules()
                if isinstance(backbone, HybridBackbone)
                for stage, block in backbone.selecting_blocks()}
    return [(stage_of.get(id(m)), m) for m in model.modules() if isinstance(m, TokenSelector)]


@contextmanager
def _hooks(pairs: List[Tuple[nn.Module, Callable]], prepend: bool = False) -> Iterator[None]:
    handles = [module.register_forward_hook(hook, prepend=prepend) for module, hook in pairs]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def record_selections(model: nn.Module) -> Iterator[List[dict]]:
    """Within this context, every forward of a token-selecting block of ``model``
    appends to the yielded list: ``stage`` (None for a lone block), ``mask``
    (``sigmoid`` of the block's logits, ``[B, 1, h, w]``, detached; None where
    nothing is scored), ``indices`` ``[B, K]`` (detached; K is 0 with the
    attention overridden off) and ``size`` ``(h, w)`` of the grid the tokens were
    picked from.

    Example:
        >>> with torch.no_grad(), record_selections(model) as selections:
        ...     model(images)
        >>> [s['indices'].shape[1] for s in selections]  # K per block
    """
    records: List[dict] = []

    def recorder(stage: Optional[int]) -> Callable:
        def hook(selector: TokenSelector, args: tuple, indices: Tensor) -> None:
            logits, _, height, width = args[:4]
            records.append(dict(stage=stage, indices=indices.detach(), size=(height, width),
                                mask=None if logits is None else logits.detach().sigmoid()))
        return hook

    with _hooks([(selector, recorder(stage)) for stage, selector in selectors(model)]):
        yield records


def _overrider(selector: TokenSelector, rule: Optional[dict], selection: Optional[str],
               attention: bool) -> Callable:
    ratio = (rule or {}).get('ratio', selector.token_ratio)
    budget = (rule or {}).get('budget', selector.token_budget)
    check_token_ratio(ratio)
    check_token_budget(budget)

    def hook(_: TokenSelector, args: tuple, indices: Tensor) -> Tensor:
        if not attention:
            return indices[:, :0]
        logits, batch_size, height, width, device = args
        k = num_selected_tokens(height * width, ratio, budget)
        return select_indices(selection or selector.active_selection(), logits, batch_size,
                              height, width, k, device)

    return hook


@contextmanager
def override_selection(model: nn.Module, token_rule: TokenRule = None,
                       selection: Optional[str] = None, attention: bool = True) -> Iterator[None]:
    """Within this context the token-selecting blocks of ``model`` attend other tokens.

    Args:
        model (nn.Module): a backbone, or a detector or segmentor holding one.
        token_rule (dict | Sequence[dict], optional): K, as the backbones'
            ``token_rule`` (keys left out keep the trained value;
            ``dict(ratio=1.0, budget=None)`` attends every pixel). Default: None.
        selection (str, optional): the rule, ``'topk'`` (blocks with a scorer
            only), ``'random'`` or ``'uniform'``, in training and at evaluation
            alike (``'random'`` draws at evaluation too). Default: None (the
            trained rule; DropoutViT's uniform spread at evaluation).
        attention (bool): False selects no token: every pixel takes the path of
            an unselected one (the attention's worth, on the trained weights).
            Default: True.

    The hooks run before any of :func:`record_selections`, so a recording in or
    around this context sees the overridden tokens.
    """
    if selection is not None:
        check_selection(selection)
    pairs = []
    for backbone in (m for m in model.modules() if isinstance(m, HybridBackbone)):
        rules = token_rules_per_stage(token_rule, type(backbone).__name__)
        for stage, block in backbone.selecting_blocks():
            if selection == 'topk' and getattr(block, 'scorer', None) is None:
                raise ValueError(f"selection='topk' needs a scorer; the blocks of "
                                 f'{type(backbone).__name__} have none')
            pairs.append((block.selector,
                          _overrider(block.selector, rules[stage], selection, attention)))
    if not pairs:
        raise ValueError(f'{type(model).__name__} holds no mmfilter backbone with '
                         'token-selecting blocks to override')
    with _hooks(pairs, prepend=True):
        yield
