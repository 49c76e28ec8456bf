"""What every stage-attention block shares: the registry of block kinds and the
interface of blocks that attend a selected subset of their map's pixels.

A backbone's arch table names a block kind per stage (``attention=dict(type='filter',
...)``); :data:`ATTENTION_BLOCKS` builds it. Blocks that select tokens derive from
:class:`TokenSelectingBlock`, through which the backbone records selections and
tools override the token rule or the selection rule of a trained model.
"""
from typing import Optional, Tuple

from mmengine.registry import Registry
from torch import Tensor, nn

from ..token_selection import check_token_budget, check_token_ratio, num_selected_tokens

ATTENTION_BLOCKS = Registry('stage attention block')


class TokenSelectingBlock(nn.Module):
    """Base of blocks that attend K of a map's pixels.

    K is ``ceil(token_ratio * H * W)`` capped by ``token_budget`` and clamped to
    ``[1, H * W]`` (:meth:`num_tokens`). ``selection`` names the rule that picks
    the K pixels; subclasses list theirs in ``selections``. All three are plain
    attributes that may be changed on a built model (see
    ``HybridBackbone.override_selection``).

    With ``record = True`` the block keeps its last forward's saliency mask
    (``last_mask`` ``[B, 1, H, W]``, or None where nothing is scored), token
    indices (``last_indices`` ``[B, K]``) and map size (``last_size``).
    """
    selections: Tuple[str, ...] = ()

    def __init__(self, token_ratio: Optional[float], token_budget: Optional[int],
                 selection: str) -> None:
        super().__init__()
        check_token_ratio(token_ratio)
        check_token_budget(token_budget)
        self.token_ratio = token_ratio
        self.token_budget = token_budget
        self.selection = selection
        self.check_selection(selection)
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

    def remember(self, logits: Optional[Tensor], indices: Tensor, height: int,
                 width: int) -> None:
        """Keep this forward's mask (``sigmoid(logits)``) and indices when ``record`` is set."""
        if self.record:
            self.last_mask = None if logits is None else logits.detach().sigmoid()
            self.last_indices = indices.detach()
            self.last_size = (height, width)
