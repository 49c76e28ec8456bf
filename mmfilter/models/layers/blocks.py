"""What every stage-attention block shares: the registry of block kinds and the
interface of blocks that attend a selected subset of their map's pixels.

A backbone's arch table names a block kind per stage (``attention=dict(type='filter',
...)``); :data:`ATTENTION_BLOCKS` builds it. Blocks that select tokens derive from
:class:`TokenSelectingBlock`, through which the backbone records selections and
tools override the token rule or the selection rule of a trained model.
"""
from typing import Optional, Tuple

import torch
from mmengine.registry import Registry
from torch import Tensor, nn

from ..token_selection import (all_indices, check_token_budget, check_token_ratio,
                               num_selected_tokens, random_indices, spread_priority, topk_indices,
                               uniform_indices)

ATTENTION_BLOCKS = Registry('stage attention block')


class TokenSelectingBlock(nn.Module):
    """Base of blocks that attend K of a map's pixels.

    K is ``ceil(token_ratio * H * W)`` capped by ``token_budget`` and clamped to
    ``[1, H * W]`` (:meth:`num_tokens`). ``selection`` names the rule that picks
    the K pixels in training and ``eval_selection`` the rule at evaluation;
    subclasses list theirs in ``selections``, a subset of ``'topk'`` (the K
    highest logits, ties taken in an evenly spread order; the block then builds a
    scorer), ``'random'`` (K pixels drawn
    independently per image) and ``'uniform'`` (spread evenly, deterministic).
    ``eval_selection=None`` takes the training rule, except that random selection
    evaluates on the uniform spread (deterministic evaluation).
    ``enabled=False`` skips the attention: every pixel takes the path of an
    unselected one (an ablation that keeps the block's parameters, so a trained
    model can be evaluated without its attention). All are plain attributes that
    may be changed on a built model (see ``HybridBackbone.override_selection``).

    With ``record = True`` the block keeps its last forward's saliency mask
    (``last_mask`` ``[B, 1, H, W]``, or None where nothing is scored), token
    indices (``last_indices`` ``[B, K]``) and map size (``last_size``).

    Args:
        token_ratio (float, optional): K as a share of the map's pixels, in (0, 1].
        token_budget (int, optional): the most tokens K may be.
        selection (str): the training rule, one of ``selections``.
        eval_selection (str, optional): the evaluation rule. Default: None (see above).
        enabled (bool): attend the selected tokens. Default: True.
    """
    selections: Tuple[str, ...] = ()

    def __init__(self, token_ratio: Optional[float], token_budget: Optional[int],
                 selection: str, eval_selection: Optional[str] = None,
                 enabled: bool = True) -> None:
        super().__init__()
        check_token_ratio(token_ratio)
        check_token_budget(token_budget)
        self.token_ratio = token_ratio
        self.token_budget = token_budget
        self.check_selection(selection)
        if eval_selection is not None:
            self.check_selection(eval_selection)
            if eval_selection == 'topk' and selection != 'topk':
                raise ValueError(f"eval_selection='topk' needs a scorer, which a block with "
                                 f'selection={selection!r} does not build')
        self.selection = selection
        self.eval_selection = eval_selection
        self.enabled = enabled
        self.record = False
        self.last_mask: Optional[Tensor] = None
        self.last_indices: Optional[Tensor] = None
        self.last_size: Optional[Tuple[int, int]] = None

    def check_selection(self, selection: str) -> None:
        if selection not in self.selections:
            raise ValueError(f'{type(self).__name__} cannot select tokens by {selection!r}; '
                             f'choose from {self.selections}')

    def num_tokens(self, height: int, width: int) -> int:
        """K for a ``height x width`` map."""
        return num_selected_tokens(height * width, self.token_ratio, self.token_budget)

    def select(self, logits: Optional[Tensor], batch_size: int, height: int, width: int,
               k: int, device: torch.device) -> Tensor:
        """Indices ``[B, K]`` of the positions of a ``height x width`` grid that
        become tokens (``[B, 0]`` when not ``enabled``); ``logits``
        ``[B, 1, height, width]`` (None: unscored)."""
        if not self.enabled:
            return torch.empty(batch_size, 0, dtype=torch.long, device=device)
        num_positions = height * width
        if k == num_positions:
            return all_indices(batch_size, num_positions, device)
        rule = self.active_selection()
        if rule == 'topk':
            if logits is None:
                raise ValueError('top-K selection needs a scorer; this block was built without '
                                 "one (selection='random')")
            return topk_indices(logits.flatten(1), k, spread_priority(height, width, device))
        if rule == 'random':
            return random_indices(batch_size, num_positions, k, device)
        return uniform_indices(height, width, k, device).expand(batch_size, k)

    def active_selection(self) -> str:
        """The rule :meth:`select` applies now: ``selection`` in training,
        ``eval_selection`` (by default the training rule, ``'uniform'`` for
        ``'random'``) at evaluation."""
        if self.training:
            return self.selection
        if self.eval_selection is not None:
            return self.eval_selection
        return 'uniform' if self.selection == 'random' else self.selection

    def extra_repr(self) -> str:
        return (f'selection={self.selection!r}, eval_selection={self.eval_selection!r}, '
                f'token_ratio={self.token_ratio}, token_budget={self.token_budget}'
                + ('' if self.enabled else ', enabled=False'))

    def remember(self, logits: Optional[Tensor], indices: Tensor, height: int,
                 width: int) -> None:
        """Keep this forward's mask (``sigmoid(logits)``) and indices when ``record`` is set."""
        if self.record:
            self.last_mask = None if logits is None else logits.detach().sigmoid()
            self.last_indices = indices.detach()
            self.last_size = (height, width)
