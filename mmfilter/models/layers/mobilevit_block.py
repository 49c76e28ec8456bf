"""MobileViT block (Mehta & Rastegari, 2021): local conv, unfold, transformer, fold, fusion."""
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import ATTENTION_BLOCKS
from .conv import ConvNormAct
from .transformer import TransformerEncoder


def unfold_patches(x: Tensor, patch: int) -> Tensor:
    """``[B, C, H, W] -> [B * patch², H * W / patch², C]``: one sequence per in-patch position."""
    batch_size, channels, height, width = x.shape
    x = x.view(batch_size, channels, height // patch, patch, width // patch, patch)
    x = x.permute(0, 3, 5, 2, 4, 1)  # B, ph, pw, H/p, W/p, C
    return x.reshape(batch_size * patch * patch, -1, channels)


def fold_patches(tokens: Tensor, batch_size: int, height: int, width: int, patch: int) -> Tensor:
    """Inverse of :func:`unfold_patches`: ``-> [B, C, H, W]`` with channels-last strides."""
    channels = tokens.shape[-1]
    x = tokens.view(batch_size, patch, patch, height // patch, width // patch, channels)
    x = x.permute(0, 3, 1, 4, 2, 5)  # B, H/p, ph, W/p, pw, C
    return x.reshape(batch_size, height, width, channels).permute(0, 3, 1, 2)


@ATTENTION_BLOCKS.register_module(name='mobilevit')
class MobileViTBlock(nn.Module):
    """MobileViT's block: ``[B, C, H, W] -> [B, C, H, W]``.

    ``local_conv`` (3×3 conv-BN-SiLU) and ``local_proj`` (1×1 conv to the
    embedding width), ``encoder`` (transformer ``layers`` and final ``norm``) over
    the ``patch_size²`` interleaved sequences of the map, ``proj`` (1×1
    conv-BN-SiLU back to ``C``) and ``fusion`` (3×3 conv-BN-SiLU over the input
    and the projection, concatenated). Maps whose sides are not multiples of the
    patch size are zero-padded for the transformer and cropped after it.
    """

    def __init__(self,
                 channels: int,
                 embed_dim: int,
                 depth: int,
                 num_heads: int,
                 patch_size: int = 2,
                 mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0.,
                 attn_drop: float = 0.) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.local_conv = ConvNormAct(channels, channels, 3)
        self.local_proj = nn.Conv2d(channels, embed_dim, 1, bias=False)
        self.encoder = TransformerEncoder(embed_dim, depth, num_heads, mlp_ratio, drop_path,
                                          attn_drop)
        self.proj = ConvNormAct(embed_dim, channels)
        self.fusion = ConvNormAct(2 * channels, channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        batch_size, _, height, width = x.shape
        p = self.patch_size
        y = self.local_proj(self.local_conv(x))
        pad_h, pad_w = -height % p, -width % p
        if pad_h or pad_w:
            y = F.pad(y, (0, pad_w, 0, pad_h))
        tokens = self.encoder(unfold_patches(y, p))
        y = fold_patches(tokens, batch_size, height + pad_h, width + pad_w, p)
        y = self.proj(y[:, :, :height, :width])
        return self.fusion(torch.cat((x, y), dim=1))
