"""MobileViT block (Mehta & Rastegari, 2021): local conv, unfold, transformer, fold, fusion;
and its filtered twin, which attends only a budget of salient patches.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..token_selection import gather_rows, scatter_rows
from .blocks import ATTENTION_BLOCKS, TokenSelectingBlock
from .conv import ConvNormAct
from .filter_attention import FilterScorer, score_outside_autocast
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


def resize_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Bilinearly resize ``[B, C, H, W]`` up to the next multiples of ``multiple``.

    What Apple's, timm's and Hugging Face's MobileViT do around the unfolding
    (so converted weights see what they were trained with); a no-op on even maps.
    """
    height, width = x.shape[2:]
    # Non-negative operands: ONNX export traces these sizes, and ONNX divides by truncation.
    size = ((height + multiple - 1) // multiple * multiple,
            (width + multiple - 1) // multiple * multiple)
    if size == (height, width):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def resize_to(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinearly resize ``[B, C, H, W]`` to ``size``; a no-op when it already has it."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def _build_mobilevit_layers(block: nn.Module, channels: int, embed_dim: int, depth: int,
                            num_heads: int, mlp_ratio: float,
                            drop_path: 'float | Sequence[float]', attn_drop: float,
                            norm_cfg: dict, act_cfg: Optional[dict]) -> None:
    layer = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
    block.local_conv = ConvNormAct(channels, channels, 3, **layer)
    block.local_proj = nn.Conv2d(channels, embed_dim, 1, bias=False)
    block.encoder = TransformerEncoder(embed_dim, depth, num_heads, mlp_ratio, drop_path,
                                       attn_drop)
    block.proj = ConvNormAct(embed_dim, channels, **layer)
    block.fusion = ConvNormAct(2 * channels, channels, 3, **layer)


@ATTENTION_BLOCKS.register_module(name='mobilevit')
class MobileViTBlock(nn.Module):
    """MobileViT's block: ``[B, C, H, W] -> [B, C, H, W]``.

    ``local_conv`` (3×3 conv-norm-activation) and ``local_proj`` (1×1 conv to the
    embedding width), ``encoder`` (transformer ``layers`` and final ``norm``) over
    the ``patch_size²`` interleaved sequences of the map, ``proj`` (1×1
    conv-norm-activation back to ``C``) and ``fusion`` (3×3 conv-norm-activation
    over the input and the projection, concatenated). Maps whose sides are not multiples of the
    patch size are resized up for the transformer and back after it, as the
    reference implementations do.
    """

    def __init__(self,
                 channels: int,
                 embed_dim: int,
                 depth: int,
                 num_heads: int,
                 patch_size: int = 2,
                 mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0.,
                 attn_drop: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='SiLU')) -> None:
        super().__init__()
        self.patch_size = patch_size
        _build_mobilevit_layers(self, channels, embed_dim, depth, num_heads, mlp_ratio,
                                drop_path, attn_drop, norm_cfg, act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch_size
        y = resize_to_multiple(self.local_proj(self.local_conv(x)), p)
        tokens = self.encoder(unfold_patches(y, p))
        y = fold_patches(tokens, y.shape[0], y.shape[2], y.shape[3], p)
        y = self.proj(resize_to(y, x.shape[2:]))
        return self.fusion(torch.cat((x, y), dim=1))


@ATTENTION_BLOCKS.register_module(name='filter_mobilevit')
class FilterMobileViTBlock(TokenSelectingBlock):
    """A MobileViT block that attends only K of its map's 2×2 patches: ``[B, C, H, W] -> same``.

    The layers and their names are :class:`MobileViTBlock`'s, so a MobileViT
    checkpoint loads into it; the one new module is the ``scorer``
    (:class:`FilterScorer` over the local features, for ``selection='topk'``),
    whose logits ``s`` pick the patches (mean logit per patch; see
    :class:`~mmfilter.models.layers.blocks.TokenSelector`). The ``patch_size²``
    sequences attend the same K patches; a selected token becomes
    ``norm(x + 2σ(s)·Δ)``, with ``Δ`` what the transformer layers add to it, and
    an unselected one ``norm(x)`` (its update taken as 0).

    K counts patches: ``ceil(token_ratio * patches)`` capped by ``token_budget``.
    The scorer's last conv starts at zero (σ(s) = 1/2, a gate of 1), so with K
    covering every patch the block computes exactly MobileViT's block.
    """

    def __init__(self, channels: int, embed_dim: int, depth: int, num_heads: int,
                 token_ratio: Optional[float] = None, token_budget: Optional[int] = None,
                 selection: str = 'topk', patch_size: int = 2, mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0., attn_drop: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='SiLU')) -> None:
        super().__init__(token_ratio, token_budget, selection)
        self.patch_size = patch_size
        _build_mobilevit_layers(self, channels, embed_dim, depth, num_heads, mlp_ratio,
                                drop_path, attn_drop, norm_cfg, act_cfg)
        self.scorer = FilterScorer(embed_dim, norm_cfg=norm_cfg, act_cfg=act_cfg) \
            if selection == 'topk' else None
        self.init_weights()

    def init_weights(self) -> None:
        """Zero the scorer's logit conv: every gate 1, every patch equally salient,
        so that the block computes MobileViT's block when K covers every patch.
        Run as built and by the backbone's ``init_weights`` after its own rules."""
        if self.scorer is not None:
            nn.init.zeros_(self.scorer.logit.weight)
            nn.init.zeros_(self.scorer.logit.bias)

    def attend(self, sequences: Tensor, indices: Tensor, gate: Optional[Tensor]) -> Tensor:
        """``sequences`` ``[S, N, E]`` with rows ``indices`` ``[S, K]`` attended, the
        rest normalised only; ``gate`` ``[S, N, 1]`` scales the updates (None: 1)."""
        if indices.shape[1] == 0:  # nothing selected: every patch takes the unselected path
            return self.encoder.norm(sequences)
        dense = indices.shape[1] == sequences.shape[1]
        tokens = sequences if dense else gather_rows(sequences, indices)
        stream = self.encoder.residual_stream(tokens)
        if gate is not None:
            gate = gate if dense else gather_rows(gate, indices)
            stream = tokens + gate * (stream - tokens)
        attended = self.encoder.norm(stream)
        if dense:
            return attended
        return scatter_rows(self.encoder.norm(sequences), indices, attended)

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch_size
        y = resize_to_multiple(self.local_proj(self.local_conv(x)), p)
        batch_size, _, height, width = y.shape
        grid_h, grid_w = height // p, width // p
        logits = None if self.scorer is None else score_outside_autocast(self.scorer, y)
        patch_logits = None if logits is None else F.avg_pool2d(logits, p)  # [B, 1, H/p, W/p]
        indices = self.selector(patch_logits, batch_size, grid_h, grid_w, y.device)
        gate = None if logits is None else 2 * unfold_patches(logits, p).sigmoid()
        tokens = self.attend(unfold_patches(y, p), indices.repeat_interleave(p * p, 0), gate)
        y = fold_patches(tokens, batch_size, height, width, p)
        y = self.proj(resize_to(y, x.shape[2:]))
        return self.fusion(torch.cat((x, y), dim=1))
