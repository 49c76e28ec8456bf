"""Pooled global attention for low-resolution stages."""
from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..token_selection import (all_indices, as_tokens, check_token_budget, from_tokens,
                               pool_stride_for_budget)
from .blocks import ATTENTION_BLOCKS
from .token_attention import TokenAttention


@ATTENTION_BLOCKS.register_module(name='pooled')
class PooledAttentionBlock(nn.Module):
    """Global self-attention over a pooled copy of the map, added back upsampled.

    The map is average-pooled by the smallest stride that leaves at most
    ``token_budget`` cells (stride 1, i.e. full attention, when it fits or when
    the budget is None); the change the attention makes to each cell is
    upsampled bilinearly and added to ``x``: ``[B, C, H, W] -> [B, C, H, W]``.
    """

    def __init__(self,
                 channels: int,
                 embed_dim: int,
                 depth: int,
                 num_heads: int,
                 token_budget: Optional[int] = None,
                 mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0.,
                 attn_drop: float = 0.) -> None:
        super().__init__()
        check_token_budget(token_budget)
        self.token_budget = token_budget
        self.transformer = TokenAttention(channels, embed_dim, depth, num_heads, mlp_ratio,
                                          drop_path, attn_drop)

    def forward(self, x: Tensor) -> Tensor:
        batch_size, _, height, width = x.shape
        stride = pool_stride_for_budget(height, width, self.token_budget)
        pooled = F.avg_pool2d(x, stride, stride, ceil_mode=True) if stride > 1 else x
        grid_h, grid_w = pooled.shape[2:]
        indices = all_indices(batch_size, grid_h * grid_w, x.device)
        delta = self.transformer(as_tokens(pooled), indices, grid_h, grid_w)
        delta = from_tokens(delta, grid_h, grid_w)
        if stride > 1:
            delta = F.interpolate(delta, size=(height, width), mode='bilinear', align_corners=False)
        return x + delta

    def extra_repr(self) -> str:
        return f'token_budget={self.token_budget}'
