"""Attribution maps of a prediction.

Pure torch functions over a model's tensors; nothing here needs MMDetection.

- **Attention rollout** (Abnar & Zuidema, 2020) through the token-selecting
  blocks. Inside a block, attention flows only among its K selected tokens:
  each layer mixes them by ``0.5 * A + 0.5 * I`` (heads averaged, rows
  renormalised) and the product over the block's layers is its rollout
  ``[K, K]``. Unselected pixels pass through, scaled by the mask where the block
  scales the map (``mask_mode='scale'``), unchanged otherwise; selected tokens
  in that mode carry ``mask x`` into the attention, so their sources are scaled
  too. Between blocks the convolutions are taken as local: the relevance map is
  resampled to the next block's grid, keeping its sum.
- **LRP** as gradient x input under conservative rules (Ali et al., ICML 2022):
  within :func:`conservative_rules`, attention probabilities, LayerNorm's
  standard deviation, SiLU's sigmoid and the filter's mask or gate are constants
  of the backward pass, so relevance flows through values, normalised inputs
  and gated signals only and is conserved wherever biases are zero. Convolution,
  linear, BatchNorm (eval), pooling, resizing and the gather / scatter of tokens
  are linear and need no rule; ReLU gates as in LRP-0.
"""
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..analysis import record_selections
from ..models.layers.blocks import TokenSelectingBlock
from ..models.layers.transformer import MultiheadSelfAttention

ScoreFn = Callable[[Tensor], Tensor]  # normalised inputs [B, 3, H, W] -> scores [B]


# -- attention rollout ---------------------------------------------------------------
def attention_probabilities(attn: MultiheadSelfAttention, x: Tensor) -> Tensor:
    """The softmax weights ``attn`` computes for tokens ``x`` ``[B, N, C]``: ``[B, heads, N, N]``."""
    batch_size, num_tokens, dim = x.shape
    qkv = attn.qkv(x).view(batch_size, num_tokens, 3, attn.num_heads, dim // attn.num_heads)
    q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    return (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(-1)


def rollout(attentions: Sequence[Tensor]) -> Optional[Tensor]:
    """Attention rollout of consecutive layers ``[B, heads, N, N]``: ``[B, N, N]``,
    row ``i`` the share of output token ``i`` that each input token contributes
    (None for no layers)."""
    result = None
    for weights in attentions:
        mixed = 0.5 * weights.mean(1) + 0.5 * torch.eye(weights.shape[-1], dtype=weights.dtype,
                                                        device=weights.device)
        mixed = mixed / mixed.sum(-1, keepdim=True)
        result = mixed if result is None else mixed @ result
    return result


def propagate_through_block(relevance: Tensor, block_rollout: Optional[Tensor], indices: Tensor,
                            mask: Optional[Tensor] = None) -> Tensor:
    """Relevance on a block's output pixels ``[B, N]`` moved to its input pixels ``[B, N]``.

    ``block_rollout`` ``[B, K, K]`` mixes the selected tokens at ``indices``
    ``[B, K]`` (None: no attention); every other pixel keeps its own relevance.
    ``mask`` ``[B, N]`` (the block scales its map by it) scales what each input
    pixel passes on.
    """
    if block_rollout is None:
        return relevance if mask is None else relevance * mask
    on_selected = relevance.gather(1, indices)  # [B, K]
    moved = relevance.scatter(1, indices, torch.zeros_like(on_selected))
    moved = moved.scatter_add(1, indices, (on_selected.unsqueeze(1) @ block_rollout).squeeze(1))
    return moved if mask is None else moved * mask


def resample_relevance(relevance: Tensor, size: Tuple[int, int]) -> Tensor:
    """``[B, h, w] -> [B, H, W]`` bilinearly, keeping each image's sum."""
    if tuple(relevance.shape[-2:]) == tuple(size):
        return relevance
    out = F.interpolate(relevance[:, None], size=size, mode='bilinear', align_corners=False)[:, 0]
    total = relevance.flatten(1).sum(1) / out.flatten(1).sum(1).clamp_min(1e-12)
    return out * total[:, None, None]


@contextmanager
def record_attention(backbone: nn.Module) -> Iterator[List[dict]]:
    """Within this context every forward of the filter-attention blocks of ``backbone``
    appends, per block in forward order: ``indices`` ``[B, K]``, ``mask`` (``[B, N]``
    where the block scales its map by it, else None), ``size`` ``(h, w)`` and
    ``attentions`` (per layer ``[B, heads, K, K]``; none when attention is off)."""
    from ..models.layers.filter_attention import FilterAttentionBlock
    blocks = [m for m in backbone.modules() if isinstance(m, TokenSelectingBlock)]
    unsupported = {type(b).__name__ for b in blocks if not isinstance(b, FilterAttentionBlock)}
    if unsupported:
        raise TypeError(f'attention rollout follows filter-attention blocks only, not {unsupported}')
    records: List[dict] = []
    layer_weights: Dict[nn.Module, List[Tensor]] = {block: [] for block in blocks}

    def keep_weights(block):
        def hook(attn, args, _):
            with torch.no_grad():
                layer_weights[block].append(attention_probabilities(attn, args[0]))
        return hook

    def after_block(block, _, __):
        selection = selections[-1]  # the block's own: its selector ran within its forward
        scaled = block.mask_mode == 'scale' and selection['mask'] is not None
        records.append(dict(indices=selection['indices'], size=selection['size'],
                            mask=selection['mask'].flatten(1) if scaled else None,
                            attentions=layer_weights[block][:]))
        layer_weights[block].clear()

    handles = [block.register_forward_hook(after_block) for block in blocks]
    handles += [layer.attn.register_forward_hook(keep_weights(block))
                for block in blocks for layer in block.transformer.encoder.layers]
    try:
        with record_selections(backbone) as selections:
            yield records
    finally:
        for handle in handles:
            handle.remove()


def rollout_maps(records: List[dict], target: Tensor) -> Tuple[List[Tensor], Tensor]:
    """Rollout of a prediction through the recorded blocks (:func:`record_attention`).

    ``target`` ``[B, H, W]`` (at any resolution) weights the output pixels that
    make the prediction (a box, a class's mask). Returns each block's own map
    (its rollout of the target alone, ``[B, h, w]`` at its grid) and the map
    chained from the last block to the first, at the first block's grid.
    """
    per_block, chained = [], None
    for record in reversed(records):
        height, width = record['size']
        block_rollout = rollout(record['attentions'])
        own = resample_relevance(target, (height, width)).flatten(1)
        per_block.append(propagate_through_block(own, block_rollout, record['indices'],
                                                 record['mask']).view(-1, height, width))
        start = own if chained is None else resample_relevance(chained, (height, width)).flatten(1)
        chained = propagate_through_block(start, block_rollout, record['indices'],
                                          record['mask']).view(-1, height, width)
    return per_block[::-1], chained


# -- LRP ----------------------------------------------------------------------------
def _silu_gate(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x).detach()


def _layer_norm_fixed_scale(norm: nn.LayerNorm) -> Callable[[Tensor], Tensor]:
    def forward(x: Tensor) -> Tensor:
        centred = x - x.mean(-1, keepdim=True)
        std = (centred.pow(2).mean(-1, keepdim=True) + norm.eps).sqrt().detach()
        out = centred / std
        return out if norm.weight is None else out * norm.weight + norm.bias
    return forward


def _attention_fixed_weights(attn: MultiheadSelfAttention) -> Callable[[Tensor], Tensor]:
    def forward(x: Tensor) -> Tensor:
        batch_size, num_tokens, dim = x.shape
        weights = attention_probabilities(attn, x).detach()
        v = attn.qkv(x).view(batch_size, num_tokens, 3, attn.num_heads,
                             dim // attn.num_heads)[:, :, 2].transpose(1, 2)
        return attn.proj((weights @ v).transpose(1, 2).reshape(batch_size, num_tokens, dim))
    return forward


def _detached_scores(block: nn.Module) -> Callable[[Tensor], Optional[Tensor]]:
    score = block.score

    def forward(x: Tensor) -> Optional[Tensor]:
        logits = score(x)
        return None if logits is None else logits.detach()
    return forward


@contextmanager
def conservative_rules(model: nn.Module) -> Iterator[None]:
    """Within this context ``model``'s backward is LRP's: see the module docstring.

    Module forwards are replaced on the instances (SiLU, LayerNorm, self-attention,
    the filter blocks' scoring) and restored afterwards.
    """
    patched = []
    for module in model.modules():
        if isinstance(module, nn.SiLU):
            patched.append((module, 'forward', _silu_gate))
        elif isinstance(module, nn.LayerNorm):
            patched.append((module, 'forward', _layer_norm_fixed_scale(module)))
        elif isinstance(module, MultiheadSelfAttention):
            patched.append((module, 'forward', _attention_fixed_weights(module)))
        elif isinstance(module, TokenSelectingBlock) and hasattr(module, 'score'):
            patched.append((module, 'score', _detached_scores(module)))
    for module, name, fn in patched:
        setattr(module, name, fn)
    try:
        yield
    finally:
        for module, name, _ in patched:
            delattr(module, name)  # the class's method shows through again


def gradient_x_input(score_fn: ScoreFn, inputs: Tensor) -> Tensor:
    """Per-pixel relevance ``[B, H, W]``: the channel sum of ``inputs * d score / d inputs``."""
    with torch.enable_grad():
        inputs = inputs.detach().requires_grad_()
        grad, = torch.autograd.grad(score_fn(inputs).sum(), inputs)
    return (grad * inputs).sum(1).detach()


def lrp(model: nn.Module, score_fn: ScoreFn, inputs: Tensor) -> Tensor:
    """LRP relevance of ``score_fn`` on ``inputs`` ``[B, 3, H, W]``: ``[B, H, W]``."""
    with conservative_rules(model):
        return gradient_x_input(score_fn, inputs)
