"""Drawing what the filter chose: salient masks and selected tokens over the input image.

Pure numpy / OpenCV functions. A filter block works on a map of ``h x w`` cells
covering the network input (the resized, padded image); :class:`InputGeometry`
maps cells back to pixels of the original image.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np


@dataclass(frozen=True)
class InputGeometry:
    """How the original image became the network input.

    ``ori_shape``: original (H, W); ``img_shape``: after resizing (H, W);
    ``pad_shape``: the input tensor's (H, W), padding at the bottom and right.
    """
    ori_shape: Tuple[int, int]
    img_shape: Tuple[int, int]
    pad_shape: Tuple[int, int]

    @classmethod
    def from_metainfo(cls, meta: dict, input_hw: Tuple[int, int]) -> 'InputGeometry':
        img_shape = tuple(meta.get('img_shape', input_hw))[:2]
        return cls(tuple(meta.get('ori_shape', img_shape))[:2], img_shape,
                   tuple(meta.get('batch_input_shape', input_hw))[:2])

    def map_to_image(self, map_2d: np.ndarray) -> np.ndarray:
        """Resize a ``[h, w]`` map over the padded input to the original image's size."""
        pad_h, pad_w = self.pad_shape
        full = cv2.resize(map_2d.astype(np.float32), (pad_w, pad_h), interpolation=cv2.INTER_LINEAR)
        crop = full[:self.img_shape[0], :self.img_shape[1]]
        return cv2.resize(crop, (self.ori_shape[1], self.ori_shape[0]), interpolation=cv2.INTER_LINEAR)

    def token_pixels(self, indices: np.ndarray, map_hw: Tuple[int, int]) -> np.ndarray:
        """Centres of the selected cells in original-image pixels: ``[K] -> [K, 2]`` as (x, y)."""
        h, w = map_hw
        rows, cols = np.divmod(indices.astype(np.int64), w)
        y = (rows + 0.5) * self.pad_shape[0] / h
        x = (cols + 0.5) * self.pad_shape[1] / w
        scale_y = self.ori_shape[0] / self.img_shape[0]
        scale_x = self.ori_shape[1] / self.img_shape[1]
        return np.stack((x * scale_x, y * scale_y), axis=1)


def heatmap_overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a ``[H, W]`` map in [0, 1] as a JET heat map over an RGB image of the same size."""
    if heat.shape != image.shape[:2]:
        raise ValueError(f'heat map of shape {heat.shape} does not match the image {image.shape[:2]}')
    colour = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)[..., ::-1]
    return np.uint8((1 - alpha) * image + alpha * colour)


def mark_tokens(image: np.ndarray, points: np.ndarray, colour=(255, 40, 40)) -> np.ndarray:
    """Draw one filled dot per selected token (``[K, 2]`` x, y pixels) on a dimmed copy."""
    out = np.uint8(image * 0.6)
    radius = max(1, round(min(image.shape[:2]) / 200))
    for x, y in points:
        cv2.circle(out, (int(x), int(y)), radius, colour, -1, lineType=cv2.LINE_AA)
    return out


def token_mask(indices: np.ndarray, map_hw: Tuple[int, int]) -> np.ndarray:
    """Boolean ``[h, w]`` map, True at the selected cells."""
    mask = np.zeros(map_hw[0] * map_hw[1], bool)
    mask[indices] = True
    return mask.reshape(map_hw)


def topk_agreement(indices: np.ndarray, saliency: np.ndarray) -> float:
    """Fraction of the selected cells that are among the ``K`` most salient cells of ``saliency``
    (``[h, w]``, e.g. Grad-CAM at the block's resolution)."""
    k = len(indices)
    top = np.argpartition(-saliency.ravel(), k - 1)[:k]
    return len(np.intersect1d(indices, top)) / k


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A copy with a caption bar on top."""
    bar = np.full((22, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate((bar, image), axis=0)


def sheet(panels: Sequence[Tuple[str, np.ndarray]], columns: Optional[int] = None,
          tile_width: int = 360) -> np.ndarray:
    """Captioned panels side by side in a grid (each scaled to ``tile_width``)."""
    tiles: List[np.ndarray] = []
    for caption, panel in panels:
        scale = tile_width / panel.shape[1]
        resized = cv2.resize(panel, (tile_width, max(1, round(panel.shape[0] * scale))))
        tiles.append(label(resized, caption))
    height = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255) for t in tiles]
    columns = columns or len(tiles)
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    blank = np.full_like(tiles[0], 255)
    rows = [np.concatenate(r + [blank] * (columns - len(r)), axis=1) for r in rows]
    return np.concatenate(rows, axis=0)
