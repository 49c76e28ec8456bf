"""A transformer over a token set, in the set's own width, with positions from pixel indices."""
from typing import Sequence

from torch import Tensor, nn

from .position import CoordinatePositionEncoding
from .transformer import TransformerEncoder


class TokenAttention(nn.Module):
    """Attend a set of pixel tokens and return what the attention adds to them.

    ``proj_out(encoder(proj_in(tokens) + pos_embed(indices)))``: ``[B, K, C] -> [B, K, C]``,
    an update the blocks add to the tokens as they choose.
    """

    def __init__(self, channels: int, embed_dim: int, depth: int, num_heads: int,
                 mlp_ratio: float = 2., drop_path: 'float | Sequence[float]' = 0.,
                 attn_drop: float = 0.) -> None:
        super().__init__()
        self.proj_in = nn.Linear(channels, embed_dim)
        self.pos_embed = CoordinatePositionEncoding(embed_dim)
        self.encoder = TransformerEncoder(embed_dim, depth, num_heads, mlp_ratio, drop_path,
                                          attn_drop)
        self.proj_out = nn.Linear(embed_dim, channels)

    def forward(self, tokens: Tensor, indices: Tensor, height: int, width: int) -> Tensor:
        """The attention's update of ``tokens`` ``[B, K, C]`` at flat positions
        ``indices`` ``[B, K]`` of a ``height x width`` map: ``[B, K, C]``."""
        embedded = self.proj_in(tokens) + self.pos_embed(indices, height, width)
        return self.proj_out(self.encoder(embedded))
