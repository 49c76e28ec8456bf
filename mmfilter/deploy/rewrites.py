"""Export-time rewrites, in MMDeploy's manner: what the TorchScript exporter cannot
trace as the model writes it, or traces into a graph that runs slowly, replaced for
the export only.

- :class:`FixedSizeAdaptiveAvgPool2d`: adaptive average pooling as two matrix
  products, for pooling cells the exporter cannot write (pyramid pooling's 3x3 and
  6x6 over a 16x16 map);
- :class:`NonMaxSuppression`: ONNX's ``NonMaxSuppression`` op, with a PyTorch
  forward to trace;
- :func:`export_rewrites`: functions of the model swapped, where the model looks
  them up, for their export form while the block runs (the token write-back of the
  filter-attention blocks, in place in PyTorch, out of place in the graph; token
  rows gathered and scattered whole, :class:`GatherRows` / :class:`ScatterRows`,
  not element by element) and, with ``runtime_kernels``, the transformer layers'
  self-attention as ONNX Runtime's fused :class:`MultiHeadAttention`.
"""
import contextlib
from typing import Callable, Dict, Iterator, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models import token_selection
from ..models.layers import filter_attention, mobilevit_block
from ..models.layers.transformer import MultiheadSelfAttention
from ..models.token_selection import as_tokens, from_tokens


def adaptive_pool_matrix(out_size: int, in_size: int, like: Tensor) -> Tensor:
    """``[out_size, in_size]``: row ``i`` averages the inputs ``floor(i * in / out)``
    to ``ceil((i + 1) * in / out)``, the cells of adaptive average pooling."""
    matrix = torch.zeros(out_size, in_size, dtype=like.dtype, device=like.device)
    for i in range(out_size):
        start, end = (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


class FixedSizeAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` as two matrix products, for a graph of fixed size.

    The exporter writes adaptive pooling only where the output size divides the
    input size (as an ``AveragePool``); pyramid pooling's 3x3 and 6x6 cells over a
    16x16 map are not. Traced at one size, the pooling matrices are constants.
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W]`` -> ``[N, C, out_h, out_w]``."""
        height, width = (int(s) for s in x.shape[-2:])
        size = self.output_size
        out_h, out_w = (size, size) if isinstance(size, int) else size
        rows = adaptive_pool_matrix(out_h or height, height, x)
        cols = adaptive_pool_matrix(out_w or width, width, x)
        return rows @ x @ cols.t()


def with_fixed_size_pooling(model: nn.Module) -> nn.Module:
    """``model`` with every ``nn.AdaptiveAvgPool2d`` replaced, in place, by
    :class:`FixedSizeAdaptiveAvgPool2d`."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.AdaptiveAvgPool2d):
                setattr(module, child_name, FixedSizeAdaptiveAvgPool2d(child.output_size))
    return model


def box_iou(boxes: Tensor) -> Tensor:
    """``[M, 4]`` boxes (x1, y1, x2, y2) -> ``[M, M]`` pairwise IoU."""
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    top_left = torch.max(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    return inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-12)


class NonMaxSuppression(torch.autograd.Function):
    """ONNX's ``NonMaxSuppression`` (opset 10+): per batch and class, the boxes kept
    by greedy NMS in score order, scores above ``score_threshold`` only, at most
    ``max_per_class``. ``forward`` computes the same in PyTorch, for tracing.

    Args (of ``apply``): boxes ``[B, M, 4]`` (x1, y1, x2, y2), scores ``[B, C, M]``,
    max_per_class (int), iou_threshold (float), score_threshold (float).
    Returns: ``[n, 3]`` int64 rows (batch, class, box index).
    """

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_per_class: int, iou_threshold: float,
                score_threshold: float) -> Tensor:
        selected = []
        for b in range(boxes.shape[0]):
            ious = box_iou(boxes[b])
            for c in range(scores.shape[1]):
                order = scores[b, c].argsort(descending=True)
                order = order[scores[b, c, order] > score_threshold]
                suppressed = torch.zeros(boxes.shape[1], dtype=torch.bool, device=boxes.device)
                kept = 0
                for i in order.tolist():
                    if suppressed[i]:
                        continue
                    selected.append((b, c, i))
                    kept += 1
                    if kept == max_per_class:
                        break
                    suppressed |= ious[i] > iou_threshold
        return torch.tensor(selected, dtype=torch.int64, device=boxes.device).reshape(-1, 3)

    @staticmethod
    def symbolic(g, boxes, scores, max_per_class: int, iou_threshold: float,
                 score_threshold: float):
        def constant(value, dtype):
            return g.op('Constant', value_t=torch.tensor([value], dtype=dtype))
        return g.op('NonMaxSuppression', boxes, scores, constant(max_per_class, torch.int64),
                    constant(iou_threshold, torch.float32),
                    constant(score_threshold, torch.float32))


class MultiHeadAttention(torch.autograd.Function):
    """ONNX Runtime's fused ``MultiHeadAttention`` (``com.microsoft`` domain): softmax
    attention of ``num_heads`` heads, scaled by ``1 / sqrt(head_dim)``, the heads split
    and merged inside the kernel. ``forward`` computes the same in PyTorch, for tracing.

    Args (of ``apply``): query, key, value ``[B, N, C]``, num_heads (int).
    Returns: ``[B, N, C]``.
    """

    @staticmethod
    def forward(ctx, query: Tensor, key: Tensor, value: Tensor, num_heads: int) -> Tensor:
        batch_size, num_tokens, dim = query.shape

        def heads(t: Tensor) -> Tensor:  # [B, N, C] -> [B, heads, N, head_dim]
            return t.view(batch_size, -1, num_heads, dim // num_heads).transpose(1, 2)
        out = F.scaled_dot_product_attention(heads(query), heads(key), heads(value))
        return out.transpose(1, 2).reshape(batch_size, num_tokens, dim)

    @staticmethod
    def symbolic(g, query, key, value, num_heads: int):
        out = g.op('com.microsoft::MultiHeadAttention', query, key, value, num_heads_i=num_heads)
        out.setType(query.type())
        return out


def self_attention_fused(attn: MultiheadSelfAttention, x: Tensor) -> Tensor:
    """:meth:`MultiheadSelfAttention.forward` (inference) with ONNX Runtime's fused
    :class:`MultiHeadAttention`: ``[B, N, C] -> [B, N, C]``."""
    query, key, value = attn.qkv(x).chunk(3, dim=-1)
    return attn.proj(MultiHeadAttention.apply(query, key, value, attn.num_heads))


def batch_row_index(indices: Tensor) -> Tensor:
    """``[B, K]`` row indices -> ``[B, K, 2]`` (image, row): the indices of ONNX's
    ``GatherND`` / ``ScatterND`` that address whole rows of ``[B, N, C]``."""
    images = torch.arange(indices.shape[0], device=indices.device)[:, None].expand_as(indices)
    return torch.stack((images, indices), dim=-1)


class GatherRows(torch.autograd.Function):
    """ONNX's ``GatherND``: rows ``[B, K, C]`` of ``[B, N, C]`` at a
    :func:`batch_row_index` ``[B, K, 2]``, copied row by row, where
    :func:`~mmfilter.models.token_selection.gather_rows` exports as ``GatherElements``,
    which indexes element by element."""

    @staticmethod
    def forward(ctx, sequences: Tensor, index: Tensor) -> Tensor:
        return sequences[index[..., 0], index[..., 1]]

    @staticmethod
    def symbolic(g, sequences, index):
        out = g.op('GatherND', sequences, index)
        out.setType(sequences.type().with_sizes(None))
        return out


class ScatterRows(torch.autograd.Function):
    """ONNX's ``ScatterND``: ``[B, N, C]`` with rows ``[B, K, C]`` written at a
    :func:`batch_row_index` ``[B, K, 2]``, out of place, row by row."""

    @staticmethod
    def forward(ctx, sequences: Tensor, index: Tensor, rows: Tensor) -> Tensor:
        out = sequences.clone()
        out[index[..., 0], index[..., 1]] = rows
        return out

    @staticmethod
    def symbolic(g, sequences, index, rows):
        out = g.op('ScatterND', sequences, index, rows)
        out.setType(sequences.type())
        return out


def gather_rows_nd(sequences: Tensor, indices: Tensor) -> Tensor:
    """:func:`~mmfilter.models.token_selection.gather_rows` as ``GatherND``:
    ``[B, N, C], [B, K] -> [B, K, C]``."""
    return GatherRows.apply(sequences, batch_row_index(indices))


def scatter_rows_nd(sequences: Tensor, indices: Tensor, rows: Tensor) -> Tensor:
    """:func:`~mmfilter.models.token_selection.scatter_rows` as ``ScatterND``:
    ``[B, N, C], [B, K], [B, K, C] -> [B, N, C]``."""
    return ScatterRows.apply(sequences, batch_row_index(indices), rows.to(sequences.dtype))


def scatter_tokens_out_of_place(x: Tensor, indices: Tensor, tokens: Tensor) -> Tensor:
    """:func:`~mmfilter.models.token_selection.scatter_tokens_` as a new tensor
    ``[B, C, H, W]``: the TorchScript exporter loses writes into views."""
    return from_tokens(scatter_rows_nd(as_tokens(x), indices, tokens), *x.shape[2:])


#: ``(module, function name) -> export form``: functions of the model that the exporter
#: cannot trace as written, or traces into slow ops, by the module that looks them up.
FUNCTION_REWRITES: Dict[Tuple[object, str], Callable] = {
    (filter_attention, 'scatter_tokens_'): scatter_tokens_out_of_place,
    (token_selection, 'gather_rows'): gather_rows_nd,
    (mobilevit_block, 'gather_rows'): gather_rows_nd,
    (mobilevit_block, 'scatter_rows'): scatter_rows_nd,
}

#: Rewrites into ONNX Runtime's fused kernels (``com.microsoft`` ops, which other
#: runtimes lack): the self-attention of the transformer layers.
RUNTIME_KERNEL_REWRITES: Dict[Tuple[object, str], Callable] = {
    (MultiheadSelfAttention, 'forward'): self_attention_fused,
}


@contextlib.contextmanager
def export_rewrites(runtime_kernels: bool = False) -> Iterator[None]:
    """Every function of :data:`FUNCTION_REWRITES` (and, with ``runtime_kernels``, of
    :data:`RUNTIME_KERNEL_REWRITES`) in its export form for the block; the originals
    back on leaving, whatever happens."""
    rewrites = {**FUNCTION_REWRITES, **(RUNTIME_KERNEL_REWRITES if runtime_kernels else {})}
    originals = {key: getattr(*key) for key in rewrites}
    try:
        for (module, name), rewrite in rewrites.items():
            setattr(module, name, rewrite)
        yield
    finally:
        for (module, name), original in originals.items():
            setattr(module, name, original)
