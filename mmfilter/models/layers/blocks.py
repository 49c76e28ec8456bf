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
                               num_selected_tokens, random_indices, topk_and_random_indices,
                               uniform_indices)

ATTENTION_BLOCKS = Registry('stage attention block')


class TokenSelectingBlock(nn.Module):
    """Base of blocks that attend K of a map's pixels.

    K is ``ceil(token_ratio * H * W)`` capped by ``token_budget`` and clamped to
    ``[1, H * W]`` (:meth:`num_tokens`). ``selection`` names the rule that picks
    the K pixels; subclasses list theirs in ``selections``, a subset of
    ``'topk'`` (the K highest logits), ``'random'`` (K pixels drawn independently
    per image in training and spread evenly at evaluation, unless
    ``random_eval``) and ``'uniform'`` (always spread evenly); ``explore_ratio``
    draws that share of a top-K selection at random among the unselected pixels
    in training. ``enabled=False`` skips the attention: every pixel takes the
    path of an unselected one (an ablation that keeps the block's parameters, so
    a model built with it has the initialisation of the full one, and a trained
    model can be run without its attention). All are plain attributes that may be
    changed on a built model (see ``HybridBackbone.override_selection``).

    With ``record = True`` the block keeps its last forward's saliency mask
    (``last_mask`` ``[B, 1, H, W]``, or None where nothing is scored), token
    indices (``last_indices`` ``[B, K]``) and map size (``last_size``).
    """
    selections: Tuple[str, ...] = ()

    def __init__(self, token_ratio: Optional[float], token_budget: Optional[int],
                 selection: str, random_eval: bool = False, explore_ratio: float = 0.,
                 enabled: bool = True) -> None:
        super().__init__()
        check_token_ratio(token_ratio)
        check_token_budget(token_budget)
        if not 0 <= explore_ratio < 1:
            raise ValueError(f'explore_ratio must lie in [0, 1), got {explore_ratio}')
        self.token_ratio = token_ratio
        self.token_budget = token_budget
        self.selection = selection
        self.check_selection(selection)
        self.random_eval = random_eval
        self.explore_ratio = explore_ratio
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
        if self.selection == 'topk':
            if logits is None:
                raise ValueError('top-K selection needs a scorer; this block was built without '
                                 "one (selection='random')")
            explore = round(self.explore_ratio * k) if self.training else 0
            return topk_and_random_indices(logits.flatten(1), k, explore)
        if self.selection == 'random' and (self.training or self.random_eval):
            return random_indices(batch_size, num_positions, k, device)
        return uniform_indices(height, width, k, device).expand(batch_size, k)

    def extra_repr(self) -> str:
        return (f'selection={self.selection!r}, token_ratio={self.token_ratio}, '
                f'token_budget={self.token_budget}, random_eval={self.random_eval}, '
                f'explore_ratio={self.explore_ratio}'
                + ('' if self.enabled else ', enabled=False'))

    def remember(self, logits: Optional[Tensor], indices: Tensor, height: int,
                 width: int) -> None:
        """Keep this forward's mask (``sigmoid(logits)``) and indices when ``record`` is set."""
        if self.record:
            self.last_mask = None if logits is None else logits.detach().sigmoid()
            self.last_indices = indices.detach()
            self.last_size = (height, width)
