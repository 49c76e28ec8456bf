"""Token selection: which pixels of a feature map become attention tokens.

Pure tensor functions with no module state. Every function works on a whole
batch at once and never synchronises with the host: K and the map size are
Python integers read from tensor shapes, indices stay on the device.

Shapes: ``x`` is ``[B, C, H, W]`` (NCHW or channels-last), ``scores`` is
``[B, N]`` with ``N = H * W``, ``indices`` is ``[B, K]`` (flat raster
positions), ``tokens`` is ``[B, K, C]``.
"""
import math
from typing import Optional

import torch
from torch import Tensor


def check_token_ratio(ratio: Optional[float]) -> None:
    """Raise if ``ratio`` is given and outside (0, 1]."""
    if ratio is not None and not 0 < ratio <= 1:
        raise ValueError(f'token ratio must lie in (0, 1], got {ratio}')


def check_token_budget(budget: Optional[int]) -> None:
    """Raise if ``budget`` is given and is not a positive integer."""
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise ValueError(f'token budget must be a positive integer, got {budget!r}')


def num_selected_tokens(num_tokens: int,
                        ratio: Optional[float] = None,
                        budget: Optional[int] = None) -> int:
    """K for a map of ``num_tokens`` pixels: ``ceil(ratio * N)`` capped by ``budget``.

    With neither rule every token is selected. The result is clamped to
    ``[1, num_tokens]`` so that small inputs still work with a large budget.
    """
    check_token_ratio(ratio)
    check_token_budget(budget)
    k = num_tokens if ratio is None else math.ceil(ratio * num_tokens)
    if budget is not None:
        k = min(k, budget)
    return max(1, min(k, num_tokens))


def pool_stride_for_budget(height: int, width: int, budget: Optional[int]) -> int:
    """Smallest stride whose ceil-pooled ``height x width`` grid has ≤ ``budget`` cells."""
    check_token_budget(budget)
    if budget is None:
        return 1
    stride = max(1, math.ceil(math.sqrt(height * width / budget)))
    while math.ceil(height / stride) * math.ceil(width / stride) > budget:
        stride += 1
    return stride


def _check_k(k: int, num_tokens: int) -> None:
    if not 1 <= k <= num_tokens:
        raise ValueError(f'cannot select K={k} tokens from a map of {num_tokens} '
                         f'pixels: K must lie in [1, {num_tokens}]')


_PRIORITY_BITS = 16  # bits of a row or column index in spread_priority


def spread_priority(height: int, width: int, device: torch.device) -> Tensor:
    """A distinct rank per position of a ``height x width`` map (sides up to
    ``2**16``), ``[H * W]`` int64 below ``2**32``: taken in rank order, the
    positions spread evenly over the map at every prefix (row and column bits
    interleaved, then reversed: a 2D van der Corput order). Integer arithmetic
    without bitwise operators (ONNX has none for integers), the same on every
    device and in exported graphs; a fixed number of bits, so that
    ``torch.compile`` with dynamic shapes traces one graph for every map size."""
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    row_rank, col_rank = torch.zeros_like(rows), torch.zeros_like(cols)
    for bit in range(_PRIORITY_BITS):  # the lowest bits become the highest of the rank
        weight = 4**(_PRIORITY_BITS - 1 - bit)
        row_rank = row_rank + rows // 2**bit % 2 * (2 * weight)
        col_rank = col_rank + cols // 2**bit % 2 * weight
    return (row_rank[:, None] + col_rank[None, :]).flatten()


def topk_indices(scores: Tensor, k: int, priority: Optional[Tensor] = None) -> Tensor:
    """Positions of the ``k`` highest scores per image: ``[B, N] -> [B, K]``.

    With ``priority`` (``[N]`` distinct integers, e.g. :func:`spread_priority`),
    equal scores go to the lower priority first, on every device: the scores are
    compared in float64 with an offset below half a float32 step of each score,
    which orders ties and leaves distinct float32 scores in their order. Without
    it, torch decides ties (not in a documented order).
    """
    _check_k(k, scores.shape[1])
    if priority is not None:
        scores = scores.double()
        step = scores.abs().clamp_min(2.**-126) * 2.**-25
        scores = scores + (1 - priority.double() / (priority.max() + 1)) * step
    return scores.topk(k, dim=1, sorted=False).indices


def random_indices(batch_size: int,
                   num_tokens: int,
                   k: int,
                   device: torch.device,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """``k`` distinct positions drawn uniformly, independently per image: ``[B, K]``."""
    _check_k(k, num_tokens)
    # generator=None is not passed: torch.rand's generator overload refuses the
    # symbolic sizes of torch.compile(dynamic=True).
    extra = {} if generator is None else dict(generator=generator)
    noise = torch.rand(batch_size, num_tokens, device=device, **extra)
    return noise.topk(k, dim=1, sorted=False).indices


def uniform_indices(height: int, width: int, k: int, device: torch.device) -> Tensor:
    """``k`` positions spread evenly over a ``height x width`` map: ``[K]``.

    Deterministic: a grid of about ``k`` cells with the map's aspect ratio is laid
    over the map, its cell centres are taken in raster order and ``k`` of them are
    picked at even steps. Distinct whenever ``k <= height * width``.
    """
    num_tokens = height * width
    _check_k(k, num_tokens)
    if k == num_tokens:
        return torch.arange(num_tokens, device=device)
    rows = min(height, max(1, round(math.sqrt(k * height / width))))
    cols = min(width, math.ceil(k / rows))
    while rows * cols < k:  # the width cap can leave too few cells
        rows += 1
    # Integer arithmetic only, so traced and exported graphs pick the same pixels.
    row_pos = (2 * torch.arange(rows, device=device) + 1) * height // (2 * rows)
    col_pos = (2 * torch.arange(cols, device=device) + 1) * width // (2 * cols)
    grid = (row_pos[:, None] * width + col_pos[None, :]).flatten()
    pick = torch.arange(k, device=device) * (grid.numel() - 1) // max(k - 1, 1)
    return grid[pick]


def all_indices(batch_size: int, num_tokens: int, device: torch.device) -> Tensor:
    """Every position, in raster order: ``[B, N]`` (the dense twin's selection)."""
    return torch.arange(num_tokens, device=device).expand(batch_size, num_tokens)


def as_tokens(x: Tensor) -> Tensor:
    """Every pixel as a token, a view of ``x`` in NCHW or channels-last layout:
    ``[B, C, H, W] -> [B, H * W, C]``."""
    return x.permute(0, 2, 3, 1).flatten(1, 2)


def from_tokens(tokens: Tensor, height: int, width: int) -> Tensor:
    """Inverse of :func:`as_tokens`, a view with channels-last strides:
    ``[B, H * W, C] -> [B, C, H, W]``."""
    return tokens.unflatten(1, (height, width)).permute(0, 3, 1, 2)


def _token_index(indices: Tensor, channels: int) -> Tensor:
    return indices.unsqueeze(-1).expand(-1, -1, channels)


def gather_rows(sequences: Tensor, indices: Tensor) -> Tensor:
    """Pick rows of token sequences: ``[B, N, C], [B, K] -> [B, K, C]``."""
    return sequences.gather(1, _token_index(indices, sequences.shape[-1]))


def scatter_rows(sequences: Tensor, indices: Tensor, rows: Tensor) -> Tensor:
    """Out of place: ``sequences`` ``[B, N, C]`` with ``rows`` ``[B, K, C]`` written at ``indices``."""
    return sequences.scatter(1, _token_index(indices, sequences.shape[-1]),
                             rows.to(sequences.dtype))


def gather_tokens(x: Tensor, indices: Tensor) -> Tensor:
    """Pick pixels as tokens: ``[B, C, H, W], [B, K] -> [B, K, C]``."""
    return gather_rows(as_tokens(x), indices)


def scatter_tokens_(x: Tensor, indices: Tensor, tokens: Tensor) -> Tensor:
    """Write tokens ``[B, K, C]`` back at their pixels of ``x``, in place; returns ``x``.

    Pixels not in ``indices`` keep their values. Autograd allows it when no
    earlier op saved ``x`` for its backward (gather does: gather from the input
    of the op that made ``x``, not from ``x``). An ONNX export swaps in an
    out-of-place form (:mod:`mmfilter.deploy.rewrites`).
    """
    batch_size, channels = x.shape[:2]
    if tokens.shape != (batch_size, indices.shape[1], channels):
        raise ValueError(f'tokens of shape {tuple(tokens.shape)} do not match '
                         f'{indices.shape[1]} indices into a map of {channels} channels')
    index, tokens = _token_index(indices, channels), tokens.to(x.dtype)
    as_tokens(x).scatter_(1, index, tokens)
    return x


def scatter_tokens(x: Tensor, indices: Tensor, tokens: Tensor) -> Tensor:
    """Out-of-place :func:`scatter_tokens_`: ``-> [B, C, H, W]`` in the layout of ``x``."""
    return scatter_tokens_(x.clone(), indices, tokens)


def token_coordinates(indices: Tensor, height: int, width: int) -> Tensor:
    """Pixel-centre coordinates normalised to (0, 1): ``[B, K] -> [B, K, 2]`` as (y, x)."""
    rows = torch.div(indices, width, rounding_mode='floor')
    cols = indices - rows * width
    return torch.stack(((rows + 0.5) / height, (cols + 0.5) / width), dim=-1)
