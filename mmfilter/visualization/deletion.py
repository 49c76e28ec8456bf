"""The deletion test (Petsiuk et al., 2018) of attribution maps: the input's cells
are removed in the order a map ranks them (set to the dataset mean: zero after
normalisation) and the prediction's score recorded; a faithful map makes it fall
fastest. Pure torch / numpy functions.
"""
from typing import Callable, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

ScoreFn = Callable[[Tensor], Tensor]  # normalised inputs [B, 3, H, W] -> scores [B]

DELETION_FRACTIONS = tuple(np.round(np.linspace(0, 1, 11), 2))


def cell_ranking(saliency: Tensor, grid: Tuple[int, int]) -> Tensor:
    """Cells of a ``grid`` over the input, most salient first: ``[h, w] map -> [cells]``
    (the map is resampled to the grid by area where their sizes differ)."""
    if tuple(saliency.shape) != tuple(grid):
        saliency = F.adaptive_avg_pool2d(saliency[None, None].float(), grid)[0, 0]
    return saliency.flatten().argsort(descending=True, stable=True)


def deletion_inputs(inputs: Tensor, ranking: Tensor, grid: Tuple[int, int],
                    fractions: Sequence[float] = DELETION_FRACTIONS) -> Tensor:
    """One copy of ``inputs`` ``[1, C, H, W]`` per fraction with that share of the
    top-ranked cells set to zero (the dataset mean once normalised): ``[F, C, H, W]``."""
    height, width = inputs.shape[2:]
    num_cells = grid[0] * grid[1]
    keep = torch.ones(len(fractions), num_cells, dtype=inputs.dtype, device=inputs.device)
    for row, fraction in enumerate(fractions):
        keep[row, ranking[:round(fraction * num_cells)]] = 0
    keep = F.interpolate(keep.view(-1, 1, *grid), size=(height, width), mode='nearest')
    return inputs * keep


def deletion_curve(score_fn: ScoreFn, inputs: Tensor, ranking: Tensor, grid: Tuple[int, int],
                   fractions: Sequence[float] = DELETION_FRACTIONS) -> np.ndarray:
    """The prediction's score after deleting each fraction of the ranked cells: ``[F]``."""
    with torch.no_grad():
        return score_fn(deletion_inputs(inputs, ranking, grid, fractions)).float().cpu().numpy()


def normalised_curve(curve: np.ndarray) -> np.ndarray:
    """``(s - s_all_deleted) / (s_intact - s_all_deleted)``: 1 at the start, 0 at the end
    for every map, so curves of different images and methods compare."""
    span = curve[0] - curve[-1]
    return (curve - curve[-1]) / (span if abs(span) > 1e-12 else 1e-12)


def area_under_curve(curve: np.ndarray, fractions: Sequence[float] = DELETION_FRACTIONS) -> float:
    """Trapezoidal area under a (normalised) deletion curve; lower is more faithful."""
    x = np.asarray(fractions, dtype=float)
    return float(np.sum((curve[1:] + curve[:-1]) * np.diff(x)) / 2)


def top_share_on_objects(ranking: np.ndarray, objects: np.ndarray) -> float:
    """Share of a ranking's first cells (``[cells]``, most relevant first) that lie on
    ``objects`` (bool, the grid's shape), taking as many cells as objects cover: 1 for
    a map that ranks the objects first, about the objects' area share for a random one."""
    count = int(objects.sum())
    if count == 0:
        return float('nan')
    return float(objects.ravel()[ranking[:count]].mean())
