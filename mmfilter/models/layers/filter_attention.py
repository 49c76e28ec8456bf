"""Filter attention: self-attention over K selected pixels of a map, written back into it.

FilterViT scores every pixel with a small conv *filter* and attends the top-K
pixels; DropoutViT is the same block with the K pixels drawn at random and no
scorer. How the saliency reaches the output (and so how the scorer learns) is
the ``mask_mode``:

- ``'scale'`` (the paper's): the whole map is multiplied by ``m = sigmoid(s)``;
  the scorer learns from every pixel through that product, and the top-K pixels
  are then replaced by their attended tokens.
- ``'gate'``: the map passes unchanged; each selected token's attention update
  is multiplied by ``2 * sigmoid(s)`` (1 at a zero logit). The scorer learns
  only where attention was applied, from how much that attention helped.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..token_selection import gather_tokens, scatter_tokens_
from .blocks import ATTENTION_BLOCKS, TokenSelectingBlock
from .conv import ConvNormAct
from .token_attention import TokenAttention

MASK_MODES = ('scale', 'gate')


def score_outside_autocast(scorer: nn.Module, x: Tensor) -> Tensor:
    """``scorer(x)`` in the scorer's own dtype (float32 unless the model was cast)
    with autocast off: a hard top-K must not depend on a low-precision logit, whose
    near-ties fall either way. ``[B, C, H, W] -> [B, 1, H, W]``."""
    device_type = x.device.type
    if device_type in ('cpu', 'cuda') and torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type, enabled=False):
            return scorer(x.to(scorer.logit.weight.dtype))
    return scorer(x)


class FilterScorer(nn.Sequential):
    """Saliency logits per pixel: ``[B, C, H, W] -> [B, 1, H, W]``.

    ``reduce``: a 1×1 conv-norm-activation squeezing the channels by ``reduction``;
    ``logit``: a 3×3 conv giving each pixel its logit from its neighbourhood.
    Squeezing first keeps the full-resolution passes narrow.
    """

    def __init__(self, channels: int, reduction: int = 8, norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='SiLU')) -> None:
        hidden = max(channels // reduction, 4)
        super().__init__()
        self.reduce = ConvNormAct(channels, hidden, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.logit = nn.Conv2d(hidden, 1, 3, padding=1)


@ATTENTION_BLOCKS.register_module(name='filter')
class FilterAttentionBlock(TokenSelectingBlock):
    """Sparse self-attention over K selected pixels: ``[B, C, H, W] -> [B, C, H, W]``.

    ``selection`` (see :class:`TokenSelector`): ``'topk'`` (the K most salient
    pixels; builds the ``scorer``), ``'random'``, ``'uniform'``. ``mask_mode``
    (``'gate'`` or ``'scale'``, see the module docstring) needs the scorer for
    ``'scale'``. A block with a scorer scores (and masks) whatever its selector
    picks.

    Forward, step by step (each step a method or a submodule, so profilers time
    what runs): :meth:`score` → ``selector`` → :meth:`split` →
    ``transformer`` → :meth:`merge`.
    """

    def __init__(self,
                 channels: int,
                 embed_dim: int,
                 depth: int,
                 num_heads: int,
                 token_ratio: Optional[float] = None,
                 token_budget: Optional[int] = None,
                 selection: str = 'topk',
                 mask_mode: str = 'gate',
                 mlp_ratio: float = 2.,
                 drop_path: 'float | Sequence[float]' = 0.,
                 attn_drop: float = 0.,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='SiLU')) -> None:
        super().__init__(token_ratio, token_budget, selection)
        if mask_mode not in MASK_MODES:
            raise ValueError(f'unknown mask_mode {mask_mode!r}; choose from {MASK_MODES}')
        if mask_mode == 'scale' and selection != 'topk':
            raise ValueError(f"mask_mode='scale' masks by the scorer, which selection="
                             f"{selection!r} does not build; use selection='topk'")
        self.mask_mode = mask_mode
        self.scorer = FilterScorer(channels, norm_cfg=norm_cfg, act_cfg=act_cfg) \
            if selection == 'topk' else None
        self.transformer = TokenAttention(channels, embed_dim, depth, num_heads, mlp_ratio,
                                          drop_path, attn_drop)

    def score(self, x: Tensor) -> Optional[Tensor]:
        """Saliency logits ``[B, 1, H, W]``, or None for a block without a scorer."""
        return None if self.scorer is None else score_outside_autocast(self.scorer, x)

    def split(self, x: Tensor, logits: Optional[Tensor],
              indices: Tensor) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """The map the tokens are written back into, the tokens ``[B, K, C]`` and
        the gate of their updates ``[B, K, 1]`` (None: ungated)."""
        if logits is not None and self.mask_mode == 'scale':
            mask = logits.sigmoid()
            # Gathered from x and the mask (which x * mask keeps for its backward),
            # so that the tokens can be written back into the product in place.
            return x * mask, gather_tokens(x, indices) * gather_tokens(mask, indices), None
        gate = None if logits is None else 2 * gather_tokens(logits, indices).sigmoid()
        return x.clone(), gather_tokens(x, indices), gate

    def merge(self, base: Tensor, indices: Tensor, tokens: Tensor, delta: Tensor,
              gate: Optional[Tensor]) -> Tensor:
        """Write ``tokens + gate * delta`` back at ``indices`` of ``base``, in place."""
        attended = tokens + (delta if gate is None else gate * delta)
        return scatter_tokens_(base, indices, attended)

    def forward(self, x: Tensor) -> Tensor:
        batch_size, _, height, width = x.shape
        logits = self.score(x)
        indices = self.selector(logits, batch_size, height, width, x.device)
        base, tokens, gate = self.split(x, logits, indices)
        if indices.shape[1] == 0:  # nothing selected: every pixel takes the unselected path
            return base
        delta = self.transformer(tokens, indices, height, width)
        return self.merge(base, indices, tokens, delta, gate)

    def extra_repr(self) -> str:
        return f'mask_mode={self.mask_mode!r}'
