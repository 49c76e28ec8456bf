"""What every stage-attention block shares: the registry of block kinds, and the
selector of the blocks that attend a subset of their map's pixels.

A backbone's arch table names a block kind per stage (``attention=dict(type='filter',
...)``); :data:`ATTENTION_BLOCKS` builds it. Blocks that select tokens derive from
:class:`TokenSelectingBlock` and pick their tokens with a :class:`TokenSelector`
submodule, whose inputs and output forward hooks can read
(:mod:`mmfilter.analysis.selection` records and overrides them that way).
"""
from typing import Optional

import torch
from mmengine.registry import Registry
from torch import Tensor, nn

from ..token_selection import (check_selection, check_token_budget, check_token_ratio,
                               num_selected_tokens, select_indices)

ATTENTION_BLOCKS = Registry('stage attention block')


class TokenSelector(nn.Module):
    """Which K positions of a ``height x width`` grid a block attends.

    K is ``ceil(token_ratio * height * width)`` capped by ``token_budget`` and
    clamped to ``[1, height * width]`` (:meth:`num_tokens`). ``selection`` is the
    rule (:func:`~mmfilter.models.token_selection.select_indices`): ``'topk'``
    (by the block's scorer), ``'random'`` (drawn per image in training, the
    evenly spread ``'uniform'`` subsample at evaluation, so that evaluation is
    deterministic) or ``'uniform'``. No parameters, no state.

    Args:
        token_ratio (float, optional): K as a share of the grid, in (0, 1].
        token_budget (int, optional): the most tokens K may be.
        selection (str): the rule. Default: ``'topk'``.
    """

    def __init__(self, token_ratio: Optional[float] = None, token_budget: Optional[int] = None,
                 selection: str = 'topk') -> None:
        super().__init__()
        check_token_ratio(token_ratio)
        check_token_budget(token_budget)
        check_selection(selection)
        self.token_ratio = token_ratio
        self.token_budget = token_budget
        self.selection = selection

    def num_tokens(self, height: int, width: int) -> int:
        """K for a ``height x width`` grid."""
        return num_selected_tokens(height * width, self.token_ratio, self.token_budget)

    def active_selection(self) -> str:
        """The rule applied now: ``selection``, but ``'uniform'`` for ``'random'`` at evaluation."""
        return 'uniform' if self.selection == 'random' and not self.training else self.selection

    def forward(self, logits: Optional[Tensor], batch_size: int, height: int, width: int,
                device: torch.device) -> Tensor:
        """Indices ``[B, K]`` into the flattened grid; ``logits`` ``[B, 1, height,
        width]`` are the block's saliency (None: the block has no scorer)."""
        return select_indices(self.active_selection(), logits, batch_size, height, width,
                              self.num_tokens(height, width), device)

    def extra_repr(self) -> str:
        return (f'selection={self.selection!r}, token_ratio={self.token_ratio}, '
                f'token_budget={self.token_budget}')


class TokenSelectingBlock(nn.Module):
    """Base of blocks that attend the K pixels their ``selector`` picks.

    Such a block builds a scorer only for ``selection='topk'``. A selector may
    return no tokens at all (an analysis override switching the attention off):
    every pixel then takes the path of an unselected one.
    """

    def __init__(self, token_ratio: Optional[float], token_budget: Optional[int],
                 selection: str) -> None:
        super().__init__()
        self.selector = TokenSelector(token_ratio, token_budget, selection)
