"""Filter attention: self-attention over the K most salient pixels of a map.

FilterViT scores every pixel with a small conv *filter* (sigmoid mask), scales
the features by the mask (the scorer's gradient path), lets the top-K pixels
attend to each other and writes them back into the masked map. DropoutViT is the
same block with a random choice of pixels and no scorer.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..token_selection import (all_indices, as_tokens, check_token_budget, check_token_ratio,
                               from_tokens, gather_tokens, num_selected_tokens, random_indices,
                               scatter_tokens_, topk_indices, uniform_indices)
from .conv import ConvNormAct
from .position import CoordinatePositionEncoding
from .transformer import TransformerEncoder

SELECTIONS = ('topk', 'random')


class FilterScorer(nn.Sequential):
    """Saliency logits per pixel: ``[B, C, H, W] -> [B, 1, H, W]``.

    A 1×1 conv-BN-SiLU squeezes the channels by ``reduction``, then a 3×3 conv
    gives each pixel its logit from its neighbourhood. Squeezing first keeps the
    full-resolution passes narrow: at stride 4 of FilterViT-xs it takes half
    the time of a depthwise 3×3 conv-BN-SiLU at full width (1.4 vs 2.9 ms).
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        hidden = max(channels // reduction, 4)
        super().__init__(
            ConvNormAct(channels, hidden),
            nn.Conv2d(hidden, 1, 3, padding=1))


class TokenAttention(nn.Module):
    """Attend a token set in its own width and add the result back.

    ``tokens + proj_out(encoder(proj_in(tokens) + pos))``: ``[B, K, C] -> [B, K, C]``.
    """

    def __init__(self,
                 channels: int,
                 embed_dim: int,
                 depth: int,
                 num_heads: int,
                 mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0.) -> None:
        super().__init__()
        self.proj_in = nn.Linear(channels, embed_dim)
        self.pos_embed = CoordinatePositionEncoding(embed_dim)
        self.encoder = TransformerEncoder(embed_dim, depth, num_heads, mlp_ratio, drop_path)
        self.proj_out = nn.Linear(embed_dim, channels)

    def forward(self, tokens: Tensor, indices: Tensor, height: int, width: int) -> Tensor:
        embedded = self.proj_in(tokens) + self.pos_embed(indices, height, width)
        return tokens + self.proj_out(self.encoder(embedded))


class FilterAttentionBlock(nn.Module):
    """Sparse self-attention over K selected pixels, written back into the full map.

    ``[B, C, H, W] -> [B, C, H, W]``. With ``selection='topk'`` (FilterViT) a
    scorer makes a mask ``m = sigmoid(scorer(x))`` and the output is ``x * m``
    with the K most salient pixels replaced by their attended tokens. With
    ``selection='random'`` (DropoutViT) there is no mask; K pixels are drawn
    independently per image in training and spread evenly at evaluation, unless
    ``random_eval`` keeps the draw random.

    K is ``ceil(token_ratio * H * W)`` capped by ``token_budget`` and clamped to
    ``[1, H * W]``; attention cost follows K, not the map size.

    Set ``record = True`` to keep the last forward's mask and indices
    (``last_mask`` ``[B, 1, H, W]`` or None, ``last_indices`` ``[B, K]``,
    ``last_size`` ``(H, W)``).
    """

    def __init__(self,
                 channels: int,
                 embed_dim: int,
                 depth: int,
                 num_heads: int,
                 token_ratio: Optional[float] = None,
                 token_budget: Optional[int] = None,
                 selection: str = 'topk',
                 random_eval: bool = False,
                 mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0.) -> None:
        super().__init__()
        if selection not in SELECTIONS:
            raise ValueError(f'unknown token selection {selection!r}; choose from {SELECTIONS}')
        check_token_ratio(token_ratio)
        check_token_budget(token_budget)
        self.token_ratio = token_ratio
        self.token_budget = token_budget
        self.selection = selection
        self.random_eval = random_eval
        self.scorer = FilterScorer(channels) if selection == 'topk' else None
        self.attention = TokenAttention(channels, embed_dim, depth, num_heads, mlp_ratio,
                                        drop_path)
        self.record = False
        self.last_mask: Optional[Tensor] = None
        self.last_indices: Optional[Tensor] = None
        self.last_size: Optional[Tuple[int, int]] = None

    def num_tokens(self, height: int, width: int) -> int:
        """K for a ``height x width`` map."""
        return num_selected_tokens(height * width, self.token_ratio, self.token_budget)

    def select(self, scores: Optional[Tensor], batch_size: int, height: int, width: int,
               k: int, device: torch.device) -> Tensor:
        """Indices ``[B, K]`` of the pixels that become tokens (top-K of ``scores``
        ``[B, N]`` when given)."""
        num_pixels = height * width
        if k == num_pixels:
            return all_indices(batch_size, num_pixels, device)
        if scores is not None:
            return topk_indices(scores, k)
        if self.training or self.random_eval:
            return random_indices(batch_size, num_pixels, k, device)
        return uniform_indices(height, width, k, device).expand(batch_size, k)

    def forward(self, x: Tensor) -> Tensor:
        batch_size, _, height, width = x.shape
        k = self.num_tokens(height, width)
        logits = mask = None
        if self.scorer is not None:
            logits = self.scorer(x)
            mask = logits.sigmoid()
        indices = self.select(None if logits is None else logits.flatten(1), batch_size,
                              height, width, k, x.device)
        if self.record:
            self.last_mask = None if mask is None else mask.detach()
            self.last_indices = indices.detach()
            self.last_size = (height, width)

        if k == height * width:  # dense: no gather or scatter needed
            dense = x if mask is None else x * mask
            return from_tokens(self.attention(as_tokens(dense), indices, height, width),
                               height, width)
        # The masked map's tokens come from x and mask (which x * mask keeps for
        # its backward), so that they can be written back into out in place.
        tokens = gather_tokens(x, indices)
        if mask is None:
            out = x.clone()
        else:
            out = x * mask
            tokens = tokens * gather_tokens(mask, indices)
        attended = self.attention(tokens, indices, height, width)
        return scatter_tokens_(out, indices, attended)

    def extra_repr(self) -> str:
        return (f'selection={self.selection!r}, token_ratio={self.token_ratio}, '
                f'token_budget={self.token_budget}, random_eval={self.random_eval}')
