"""Positional encoding valid at any map size, from normalised pixel coordinates."""
import math

import torch
from torch import Tensor, nn

from ..token_selection import token_coordinates


def fourier_features(coords: Tensor, num_freqs: int) -> Tensor:
    """``[..., 2]`` coordinates in (0, 1) → ``[..., 4 * num_freqs]`` sines and cosines."""
    freqs = math.pi * 2.**torch.arange(num_freqs, device=coords.device, dtype=coords.dtype)
    angles = (coords.unsqueeze(-1) * freqs).flatten(-2)
    return torch.cat((angles.sin(), angles.cos()), dim=-1)


class CoordinatePositionEncoding(nn.Module):
    """Learned projection of Fourier features of each token's (y, x) position.

    The coordinates are normalised by the map size, so the same weights serve a
    224×224 classifier and an 800×1344 detector: ``[B, K] -> [B, K, dim]``.
    """

    def __init__(self, dim: int, num_freqs: int = 8) -> None:
        super().__init__()
        self.num_freqs = num_freqs
        self.proj = nn.Linear(4 * num_freqs, dim)

    def forward(self, indices: Tensor, height: int, width: int) -> Tensor:
        # Phases in float32 whatever the model's dtype (in bfloat16 the highest
        # frequencies would be noise); only the sines and cosines are cast.
        coords = token_coordinates(indices, height, width).float()
        return self.proj(fourier_features(coords, self.num_freqs).to(self.proj.weight.dtype))
