"""Pre-norm transformer encoder over token sequences ``[B, N, C]``."""
from collections import OrderedDict
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn


def drop_path(x: Tensor, drop_prob: float, training: bool) -> Tensor:
    """Stochastic depth: zero whole samples of a residual branch with ``drop_prob``."""
    if drop_prob == 0. or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
    keep = x.new_empty(shape).bernoulli_(keep_prob)
    return x * keep / keep_prob


class DropPath(nn.Module):
    """Module form of :func:`drop_path`."""

    def __init__(self, drop_prob: float = 0.) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


class MultiheadSelfAttention(nn.Module):
    """Self-attention with ``scaled_dot_product_attention``: ``[B, N, C] -> [B, N, C]``."""

    def __init__(self, dim: int, num_heads: int, attn_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embedding dim {dim} is not divisible by {num_heads} heads')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        batch_size, num_tokens, dim = x.shape
        qkv = self.qkv(x).view(batch_size, num_tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, N, head_dim]
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        return self.proj(x.transpose(1, 2).reshape(batch_size, num_tokens, dim))


class TransformerLayer(nn.Module):
    """``x + attn(norm(x))`` then ``x + mlp(norm(x))``, each with drop path."""

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 2.,
                 drop_path: float = 0.,
                 attn_drop: float = 0.) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiheadSelfAttention(dim, num_heads, attn_drop)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(OrderedDict(
            fc1=nn.Linear(dim, hidden), act=nn.SiLU(inplace=True), fc2=nn.Linear(hidden, dim)))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """``depth`` transformer ``layers`` and a final LayerNorm ``norm``: ``[B, N, C] -> [B, N, C]``."""

    def __init__(self,
                 dim: int,
                 depth: int,
                 num_heads: int,
                 mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0.,
                 attn_drop: float = 0.) -> None:
        super().__init__()
        rates = list(drop_path) if isinstance(drop_path, Sequence) else [drop_path] * depth
        if len(rates) != depth:
            raise ValueError(f'{len(rates)} drop-path rates given for {depth} layers')
        self.layers = nn.ModuleList(
            TransformerLayer(dim, num_heads, mlp_ratio, rate, attn_drop) for rate in rates)
        self.norm = nn.LayerNorm(dim)

    def residual_stream(self, x: Tensor) -> Tensor:
        """The layers without the final norm: ``norm(residual_stream(x))`` is the output."""
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.residual_stream(x))
