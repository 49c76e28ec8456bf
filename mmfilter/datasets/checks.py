"""Pre-flight checks of dataset files: each failure names the file and the problem.

Run before a training or test run builds its datasets, so that a missing folder or
a broken annotation file stops the run at once instead of minutes later (or never).
"""
import json
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Collection, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np


class DatasetError(ValueError):
    """A dataset file or folder is missing or malformed."""


def _require_dir(path: str, what: str, hint: str = '') -> None:
    if not osp.isdir(path):
        raise DatasetError(f'{what} folder not found: {path}{hint}')


def check_coco_annotations(ann_file: str,
                           img_dir: str,
                           classes: Optional[Sequence[str]] = None,
                           hint: str = '') -> Dict[str, Tuple[int, int]]:
    """Validate a COCO ``instances_*.json`` and its image folder; return
    ``{image path: (width, height) the file gives it}``."""
    if not osp.isfile(ann_file):
        raise DatasetError(f'annotation file not found: {ann_file}{hint}')
    _require_dir(img_dir, 'image', hint)
    if osp.getsize(ann_file) == 0:
        raise DatasetError(f'annotation file is empty: {ann_file}')
    try:
        with open(ann_file) as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f'annotation file is not valid JSON: {ann_file} ({e})') from None
    if not isinstance(coco, dict):
        raise DatasetError(f'annotation file {ann_file} holds a {type(coco).__name__}, '
                           'not a COCO dict with images, annotations and categories')
    missing = [k for k in ('images', 'annotations', 'categories') if not isinstance(coco.get(k), list)]
    if missing:
        raise DatasetError(f'annotation file {ann_file} lacks the COCO lists {missing}')
    if not coco['images']:
        raise DatasetError(f'annotation file {ann_file} lists no images')

    category_names = {c.get('id'): c.get('name') for c in coco['categories']}
    if classes is not None:  # a subset is fine (MMDetection drops the rest), unknowns are not
        absent = [c for c in classes if c not in category_names.values()]
        if absent:
            raise DatasetError(f'class list does not match {ann_file}: classes {absent} are not '
                               f'among its categories {sorted(map(str, category_names.values()))}')

    images = {}
    for image in coco['images']:
        if not {'id', 'file_name', 'height', 'width'} <= set(image):
            raise DatasetError(f'image entry {image} in {ann_file} needs id, file_name, height, width')
        images[image['id']] = image
    for ann in coco['annotations']:
        where = f'annotation {ann.get("id")} in {ann_file}'
        if ann.get('image_id') not in images:
            raise DatasetError(f'{where} refers to unknown image_id {ann.get("image_id")}')
        if ann.get('category_id') not in category_names:
            raise DatasetError(f'{where} refers to unknown category_id {ann.get("category_id")}')
        bbox = ann.get('bbox')
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise DatasetError(f'{where} has a malformed bbox {bbox!r}; expected [x, y, w, h]')
        if bbox[2] < 0 or bbox[3] < 0:
            raise DatasetError(f'{where} has a negative box size {bbox}')

    present = set(os.listdir(img_dir))
    lost = [im['file_name'] for im in coco['images'] if osp.basename(im['file_name']) not in present]
    if lost:
        raise DatasetError(f'{len(lost)} images listed in {ann_file} are missing from {img_dir}, '
                           f'e.g. {lost[:3]}')
    return {osp.join(img_dir, im['file_name']): (im['width'], im['height'])
            for im in images.values()}


def check_segmentation_folders(img_dir: str,
                               ann_dir: str,
                               img_suffix: str = '.jpg',
                               seg_map_suffix: str = '.png',
                               hint: str = '',
                               valid_labels: Optional[Collection[int]] = None) -> List[str]:
    """Every image in ``img_dir`` has a label map in ``ann_dir``; return the image paths.

    With ``valid_labels`` (the values a label map may hold, ignored ones included)
    every label map is also read: one of another size than its image, or holding
    another value, is refused (see :func:`check_label_maps`).
    """
    _require_dir(img_dir, 'image', hint)
    _require_dir(ann_dir, 'annotation', hint)
    stems = sorted(f[:-len(img_suffix)] for f in os.listdir(img_dir) if f.endswith(img_suffix))
    if not stems:
        raise DatasetError(f'no *{img_suffix} images in {img_dir}{hint}')
    labels = {f[:-len(seg_map_suffix)] for f in os.listdir(ann_dir) if f.endswith(seg_map_suffix)}
    lost = [s + seg_map_suffix for s in stems if s not in labels]
    if lost:
        raise DatasetError(f'{len(lost)} images in {img_dir} have no label map in {ann_dir}, '
                           f'e.g. {lost[:3]}')
    images = [osp.join(img_dir, s + img_suffix) for s in stems]
    if valid_labels is not None:
        check_label_maps([(image, osp.join(ann_dir, s + seg_map_suffix))
                          for image, s in zip(images, stems)], valid_labels)
    return images


def label_map_problem(image_path: str, label_path: str, valid_labels: Collection[int]) -> Optional[str]:
    """Why the label map ``label_path`` does not fit ``image_path``, or None: another
    size than the image, more than one channel, or values outside ``valid_labels``."""
    import cv2
    from PIL import Image
    try:
        with Image.open(image_path) as image:
            width, height = image.size
    except OSError:
        return None  # an image that does not decode is reported by find_bad_images
    label = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
    if label is None:
        return f'label map {label_path} does not decode'
    if label.ndim != 2:
        return f'label map {label_path} has {label.shape[2]} channels; expected one of class indices'
    if label.shape != (height, width):
        return (f'label map {label_path} is {label.shape[1]}x{label.shape[0]} but its image '
                f'{image_path} is {width}x{height}')
    present = np.flatnonzero(np.bincount(label.ravel()))
    unknown = sorted(set(present.tolist()) - set(valid_labels))
    if unknown:
        return (f'label map {label_path} holds class indices {unknown[:10]} outside '
                f'{describe_labels(valid_labels)}')
    return None


def describe_labels(values: Collection[int]) -> str:
    """``{0, 1, ..., 11, 255}`` → ``'0..11 and 255'``."""
    runs: List[List[int]] = []
    for value in sorted(values):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    parts = [f'{first}..{last}' if last > first else f'{first}' for first, last in runs]
    return ' and '.join([', '.join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]


def check_label_maps(pairs: Sequence[Tuple[str, str]], valid_labels: Collection[int],
                     workers: int = 8) -> None:
    """Raise :class:`DatasetError` naming the first of ``(image, label map)`` pairs
    whose label map has another size than its image or values outside
    ``valid_labels`` (threads: PNG decoding releases the GIL)."""
    with ThreadPoolExecutor(workers) as pool:
        problems = [p for p in pool.map(lambda pair: label_map_problem(*pair, valid_labels), pairs)
                    if p]
    if problems:
        more = f' (and {len(problems) - 1} more label maps)' if len(problems) > 1 else ''
        raise DatasetError(problems[0] + more)


# How each format's files end when complete (searched for in the last bytes).
_TRAILERS = {'JPEG': b'\xff\xd9', 'PNG': b'IEND'}
_TAIL_BYTES = 4096


#: EXIF orientations that turn an image by 90 degrees (width and height swap)
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)


def image_problem(path: str, annotated_size: Optional[Tuple[int, int]] = None) -> Optional[str]:
    """Why ``path`` would not decode, or does not have the ``(width, height)`` its
    annotation gives it, or None.

    Reads the header (Pillow identifies the format and size) and the last few KiB
    (JPEG and PNG files end with an end marker): catches empty, foreign and
    truncated files, and a size other than the annotated one (as displayed, after
    its EXIF orientation, or as stored), without decoding the pixels.
    """
    from PIL import Image, UnidentifiedImageError
    try:
        size = osp.getsize(path)
        if size == 0:
            return 'empty file'
        with Image.open(path) as image:
            image_format, (width, height) = image.format, image.size
            turned = image.getexif().get(0x0112) in _TRANSPOSING_ORIENTATIONS
        if width < 1 or height < 1:
            return f'{width}x{height} pixels'
        if annotated_size is not None and tuple(annotated_size) not in (
                (width, height), (height, width) if turned else (width, height)):
            return f'{width}x{height} pixels, annotated as {annotated_size[0]}x{annotated_size[1]}'
        trailer = _TRAILERS.get(image_format)
        if trailer is not None:
            with open(path, 'rb') as f:
                f.seek(max(0, size - _TAIL_BYTES))
                if trailer not in f.read():
                    return f'truncated {image_format} (no end marker)'
    except UnidentifiedImageError:
        return 'not an image file'
    except OSError as error:
        return f'unreadable ({error.strerror or error})'
    return None


def find_bad_images(paths: Sequence[str], workers: int = 8,
                    annotated_sizes: Optional[Mapping[str, Tuple[int, int]]] = None
                    ) -> List[Tuple[str, str]]:
    """``(path, problem)`` for every image of ``paths`` that would not decode or, with
    ``annotated_sizes`` (``{path: (width, height)}``), has another size (threads:
    the checks wait on the disk, not the CPU)."""
    sizes = annotated_sizes or {}
    with ThreadPoolExecutor(workers) as pool:
        problems = list(pool.map(lambda path: image_problem(path, sizes.get(path)), paths))
    return [(p, why) for p, why in zip(paths, problems) if why is not None]
