"""Deterministic synthetic scenes for the embedded demos (no download).

One scene serves both demos: a textured two-region background (sky above a
wavy horizon, ground below) with random clutter, and objects of four shape
classes with their own colour families, varied scale, aspect and rotation,
drawn in depth order so later objects occlude earlier ones. From a scene come
COCO instances (visible-part boxes and polygons) and an ADE20K-style label map
(0 = ignore on object outlines, 1.. = classes).

Needs numpy and OpenCV only.
"""
import math
from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np

OBJECT_CLASSES = ('circle', 'square', 'triangle', 'star')
REGION_CLASSES = ('sky', 'ground')
SEG_CLASSES = REGION_CLASSES + OBJECT_CLASSES  # label value = index + 1; 0 is ignore

# Base RGB colour per object class; each object jitters it.
_CLASS_COLOURS = {
    'circle': (220, 50, 40),
    'square': (40, 80, 220),
    'triangle': (40, 190, 60),
    'star': (235, 200, 30),
}
MIN_VISIBLE_PIXELS = 64  # smaller remnants of occluded objects are not annotated


@dataclass
class SceneObject:
    category: str
    mask: np.ndarray  # bool [H, W], visible part only

    @property
    def bbox_xywh(self) -> List[float]:
        ys, xs = np.nonzero(self.mask)
        x0, y0 = xs.min(), ys.min()
        return [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]

    def polygons(self) -> List[List[float]]:
        """Outer contours of the visible part, COCO style ``[x1, y1, x2, y2, ...]``."""
        contours, _ = cv2.findContours(self.mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def _shape_polygon(rng: np.random.Generator, category: str, cx: float, cy: float,
                   size: float) -> np.ndarray:
    """Vertices ``[N, 2]`` of one object outline (circles as 48-gons)."""
    aspect = rng.uniform(0.7, 1.4)
    angle = rng.uniform(0, 2 * math.pi)
    if category == 'circle':
        t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        pts = np.stack([np.cos(t) * aspect, np.sin(t) / aspect], 1) * size / 2
        angle = 0.
    elif category == 'square':
        pts = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * [aspect, 1 / aspect] * size / 2
    elif category == 'triangle':
        t = np.array([90, 210, 330]) * math.pi / 180
        pts = np.stack([np.cos(t), -np.sin(t)], 1) * size / 2 * [aspect, 1]
    else:  # star
        t = np.arange(10) * math.pi / 5 - math.pi / 2
        radius = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        pts = np.stack([np.cos(t) * radius, np.sin(t) * radius], 1) * size / 2
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return pts @ rot.T + [cx, cy]


def _texture(rng: np.random.Generator, height: int, width: int, base: Tuple[int, int, int],
             amplitude: float) -> np.ndarray:
    """Smooth noise around ``base``, mostly in brightness: ``[H, W, 3]`` float."""
    grid = (max(2, height // 16), max(2, width // 16))
    coarse = rng.normal(0, amplitude, grid + (1, )) + rng.normal(0, amplitude / 4, grid + (3, ))
    noise = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, amplitude / 3, (height, width, 3)).astype(np.float32)
    return np.asarray(base, np.float32) + noise + fine


def _background(rng: np.random.Generator, height: int,
                width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Sky/ground image and its region labels (1 = sky, 2 = ground)."""
    horizon = height * rng.uniform(0.3, 0.6)
    phase, freq, amp = rng.uniform(0, 2 * math.pi), rng.uniform(1, 3), height * rng.uniform(0.02, 0.08)
    cols = np.arange(width)
    boundary = horizon + amp * np.sin(2 * math.pi * freq * cols / width + phase)
    is_sky = np.arange(height)[:, None] < boundary[None, :]
    sky_base = (int(rng.integers(120, 170)), int(rng.integers(160, 200)), int(rng.integers(200, 240)))
    ground_base = (int(rng.integers(110, 150)), int(rng.integers(90, 120)), int(rng.integers(60, 90)))
    image = np.where(is_sky[..., None], _texture(rng, height, width, sky_base, 6),
                     _texture(rng, height, width, ground_base, 22))
    for _ in range(int(rng.integers(3, 8))):  # grey clutter strokes, no class colour
        p1 = tuple(int(v) for v in rng.integers(0, [width, height]))
        p2 = tuple(int(v) for v in rng.integers(0, [width, height]))
        grey = float(rng.integers(60, 200))
        cv2.line(image, p1, p2, (grey, grey, grey), int(rng.integers(1, 4)))
    labels = np.where(is_sky, 1, 2).astype(np.uint8)
    return image, labels


def generate_scene(seed: int, height: int = 256, width: int = 256,
                   max_objects: int = 6) -> Tuple[np.ndarray, List[SceneObject], np.ndarray]:
    """One scene from ``seed``: RGB ``uint8 [H, W, 3]``, visible objects, label map ``[H, W]``."""
    rng = np.random.default_rng(seed)
    image, labels = _background(rng, height, width)
    short = min(height, width)
    drawn: List[Tuple[str, np.ndarray]] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        category = OBJECT_CLASSES[int(rng.integers(len(OBJECT_CLASSES)))]
        size = short * rng.uniform(0.12, 0.42)
        cx, cy = rng.uniform(size / 3, width - size / 3), rng.uniform(size / 3, height - size / 3)
        polygon = np.round(_shape_polygon(rng, category, cx, cy, size)).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [polygon], 1)
        if mask.sum() < MIN_VISIBLE_PIXELS:
            continue
        colour = np.clip(np.asarray(_CLASS_COLOURS[category]) + rng.integers(-25, 26, 3), 0, 255)
        shading = _texture(rng, height, width, tuple(int(c) for c in colour), 8)
        image = np.where(mask[..., None].astype(bool), shading, image)
        for _, earlier in drawn:  # occlusion: the new object hides what lies beneath
            earlier &= ~mask.astype(bool)
        drawn.append((category, mask.astype(bool)))

    objects = [SceneObject(c, m) for c, m in drawn if m.sum() >= MIN_VISIBLE_PIXELS]
    for category, visible in drawn:
        labels[visible] = SEG_CLASSES.index(category) + 1
    # Ignore (0) the rim where an object meets anything else, as ADE20K leaves edges unlabelled.
    kernel = np.ones((3, 3), np.uint8)
    highest, lowest = cv2.dilate(labels, kernel), cv2.erode(labels, kernel)
    labels[(highest != lowest) & (highest > len(REGION_CLASSES))] = 0
    return np.clip(image, 0, 255).astype(np.uint8), objects, labels



def object_palette() -> List[Tuple[int, int, int]]:
    """Display colour per object class (RGB)."""
    return [_CLASS_COLOURS[c] for c in OBJECT_CLASSES]


def seg_palette() -> List[Tuple[int, int, int]]:
    """Display colour per segmentation class (RGB), regions first."""
    return [(110, 170, 230), (130, 100, 70)] + object_palette()
