"""Deterministic synthetic scenes for the embedded demos and benchmarks (no download).

One scene serves detection and segmentation: a textured two-region background
(sky above a wavy horizon, ground below) with random clutter, and objects of
four shape classes with their own colour families, varied scale, aspect and
rotation, drawn in depth order so later objects occlude earlier ones. From a
scene come COCO instances (visible-part boxes and polygons) and an ADE20K-style
label map (0 = ignore on object outlines, 1.. = classes).

:class:`SceneSettings` parameterises the generator: ``DEMO_SCENES`` (few large
objects, the quick demo) and ``CLUTTER_SCENES`` (many small objects,
unannotated look-alikes, and a class that depends on a far-away cue: a star is
a ``'flagged star'`` when the scene holds a small red-and-white flag anywhere).

Needs numpy and OpenCV only.
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Tuple

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
FLAGGED_STAR = 'flagged star'
DISTRACTOR_SHAPES = ('hexagon', 'ring', 'cross')


@dataclass(frozen=True)
class SceneSettings:
    """How a family of scenes is drawn.

    ``objects``: annotated objects per scene (inclusive range); ``object_size``:
    their side as a share of the image's shorter side; ``distractors``:
    unannotated look-alikes per scene (other shapes in the classes' colours, the
    classes' shapes in other colours); ``flag_probability``: chance of a flag,
    which turns every star of the scene into a ``'flagged star'``;
    ``min_visible``: fewest visible pixels an object needs to be annotated.
    """
    objects: Tuple[int, int] = (1, 6)
    object_size: Tuple[float, float] = (0.12, 0.42)
    distractors: Tuple[int, int] = (0, 0)
    flag_probability: float = 0.
    min_visible: int = MIN_VISIBLE_PIXELS

    @property
    def object_classes(self) -> Tuple[str, ...]:
        return OBJECT_CLASSES + ((FLAGGED_STAR, ) if self.flag_probability > 0 else ())

    @property
    def seg_classes(self) -> Tuple[str, ...]:
        return REGION_CLASSES + self.object_classes


DEMO_SCENES = SceneSettings()
CLUTTER_SCENES = SceneSettings(objects=(6, 18), object_size=(0.03, 0.2), distractors=(4, 10),
                               flag_probability=0.5, min_visible=24)
SCENES: Dict[str, SceneSettings] = {'demo': DEMO_SCENES, 'clutter': CLUTTER_SCENES}


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


def _paint(image: np.ndarray, drawn: List[Tuple[str, np.ndarray]], mask: np.ndarray,
           pixels: np.ndarray) -> np.ndarray:
    """``image`` with ``pixels`` where ``mask`` is set; what lies beneath becomes hidden."""
    for _, earlier in drawn:
        earlier &= ~mask
    return np.where(mask[..., None], pixels, image)


def _distractor(rng: np.random.Generator, height: int, width: int,
                size_range: Tuple[float, float]) -> Tuple[np.ndarray, Tuple[int, int, int]]:
    """An unannotated look-alike: its mask and base colour."""
    short = min(height, width)
    size = short * rng.uniform(*size_range)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    mask = np.zeros((height, width), np.uint8)
    if rng.random() < 0.5:  # another shape in a class colour
        colour = _CLASS_COLOURS[OBJECT_CLASSES[int(rng.integers(len(OBJECT_CLASSES)))]]
        shape = DISTRACTOR_SHAPES[int(rng.integers(len(DISTRACTOR_SHAPES)))]
        r = max(2, int(size / 2))
        if shape == 'hexagon':
            t = np.arange(6) * math.pi / 3 + rng.uniform(0, math.pi)
            cv2.fillPoly(mask, [np.round(np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1))
                                .astype(np.int32)], 1)
        elif shape == 'ring':
            cv2.circle(mask, (int(cx), int(cy)), r, 1, max(1, r // 3))
        else:  # cross
            w = max(1, r // 3)
            cv2.rectangle(mask, (int(cx - r), int(cy - w)), (int(cx + r), int(cy + w)), 1, -1)
            cv2.rectangle(mask, (int(cx - w), int(cy - r)), (int(cx + w), int(cy + r)), 1, -1)
    else:  # a class shape in a colour no class has
        category = OBJECT_CLASSES[int(rng.integers(len(OBJECT_CLASSES)))]
        cv2.fillPoly(mask, [np.round(_shape_polygon(rng, category, cx, cy, size))
                            .astype(np.int32)], 1)
        colour = ((150, 60, 170), (40, 170, 170), (90, 90, 90))[int(rng.integers(3))]
    jittered = np.clip(np.asarray(colour) + rng.integers(-25, 26, 3), 0, 255)
    return mask.astype(bool), tuple(int(c) for c in jittered)


def _flag(rng: np.random.Generator, height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """A small red-and-white 3×3 checkerboard somewhere: its mask and pixels."""
    side = max(9, int(0.05 * min(height, width))) // 3 * 3
    x0, y0 = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
    mask = np.zeros((height, width), bool)
    mask[y0:y0 + side, x0:x0 + side] = True
    cells = (np.indices((3, 3)).sum(0) % 2).repeat(side // 3, 0).repeat(side // 3, 1)
    pixels = np.zeros((height, width, 3), np.float32)
    pixels[y0:y0 + side, x0:x0 + side] = np.where(cells[..., None] == 1, (235, 235, 235),
                                                  (220, 20, 30))
    return mask, pixels


def generate_scene(seed: int, height: int = 256, width: int = 256,
                   settings: SceneSettings = DEMO_SCENES
                   ) -> Tuple[np.ndarray, List[SceneObject], np.ndarray]:
    """One scene from ``seed``: RGB ``uint8 [H, W, 3]``, visible objects, label map ``[H, W]``
    (values: 0 ignore, then ``settings.seg_classes`` from 1)."""
    rng = np.random.default_rng(seed)
    image, labels = _background(rng, height, width)
    short = min(height, width)
    drawn: List[Tuple[str, np.ndarray]] = []
    low, high = settings.objects
    for _ in range(int(rng.integers(low, high + 1))):
        category = OBJECT_CLASSES[int(rng.integers(len(OBJECT_CLASSES)))]
        size = short * rng.uniform(*settings.object_size)
        cx, cy = rng.uniform(size / 3, width - size / 3), rng.uniform(size / 3, height - size / 3)
        polygon = np.round(_shape_polygon(rng, category, cx, cy, size)).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [polygon], 1)
        if mask.sum() < settings.min_visible:
            continue
        colour = np.clip(np.asarray(_CLASS_COLOURS[category]) + rng.integers(-25, 26, 3), 0, 255)
        shading = _texture(rng, height, width, tuple(int(c) for c in colour), 8)
        image = _paint(image, drawn, mask.astype(bool), shading)
        drawn.append((category, mask.astype(bool)))
    # Look-alikes and the flag come after the objects (and may hide parts of them); the
    # demo setting has neither and draws no random numbers for them.
    low, high = settings.distractors
    for _ in range(int(rng.integers(low, high + 1)) if high else 0):
        mask, colour = _distractor(rng, height, width, settings.object_size)
        image = _paint(image, drawn, mask, _texture(rng, height, width, colour, 8))
    if settings.flag_probability and rng.random() < settings.flag_probability:
        image = _paint(image, drawn, *_flag(rng, height, width))
        drawn = [(FLAGGED_STAR if c == 'star' else c, m) for c, m in drawn]

    objects = [SceneObject(c, m) for c, m in drawn if m.sum() >= settings.min_visible]
    for category, visible in drawn:
        labels[visible] = settings.seg_classes.index(category) + 1
    # Ignore (0) the rim where an object meets anything else, as ADE20K leaves edges unlabelled.
    kernel = np.ones((3, 3), np.uint8)
    highest, lowest = cv2.dilate(labels, kernel), cv2.erode(labels, kernel)
    labels[(highest != lowest) & (highest > len(REGION_CLASSES))] = 0
    return np.clip(image, 0, 255).astype(np.uint8), objects, labels



_CLASS_COLOURS_SHOWN = dict(_CLASS_COLOURS, **{FLAGGED_STAR: (255, 120, 0)})


def object_palette(settings: SceneSettings = DEMO_SCENES) -> List[Tuple[int, int, int]]:
    """Display colour per object class (RGB)."""
    return [_CLASS_COLOURS_SHOWN[c] for c in settings.object_classes]


def seg_palette(settings: SceneSettings = DEMO_SCENES) -> List[Tuple[int, int, int]]:
    """Display colour per segmentation class (RGB), regions first."""
    return [(110, 170, 230), (130, 100, 70)] + object_palette(settings)
