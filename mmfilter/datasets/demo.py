"""Write the embedded datasets: COCO detection and ADE20K-layout segmentation.

Both are rendered from :func:`generate_scene` with fixed seeds and a named scene
setting (``'demo'``, ``'clutter'``: see :data:`SCENES`), so every machine gets
the same files. Writing goes to a temporary folder that is renamed into
place when complete, so an interrupted run never leaves half a dataset.
"""
import json
import os
import os.path as osp
import shutil
import uuid
from typing import Dict

import cv2
import numpy as np

from .scene import SCENES, generate_scene

DEMO_SPLITS = {'train': 400, 'val': 100}
# The clutter benchmark: a larger validation split (about 2300 objects) for a steadier metric.
CLUTTER_SPLITS = {'train': 400, 'val': 200}
VAL_SEED_OFFSET = 1_000_000
_MARKER = 'mmfilter_demo.json'


def _seed(split: str, index: int) -> int:
    return index + (VAL_SEED_OFFSET if split == 'val' else 0)


def _write_image(path: str, rgb: np.ndarray) -> None:
    if not cv2.imwrite(path, rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f'could not write image {path}')


def _complete(marker: str, settings: dict) -> bool:
    """Whether ``marker`` records a finished demo dataset made with ``settings``."""
    try:
        with open(marker) as f:
            return json.load(f) == settings
    except (OSError, ValueError):
        return False


def first_rank_builds(make, *args):
    """``make(*args)`` on the first process of a distributed run, then on the
    others once it has finished (they find the finished dataset); a plain call
    outside distributed runs."""
    from mmengine.dist import barrier, get_dist_info
    rank, world_size = get_dist_info()
    if rank == 0:
        result = make(*args)
    if world_size > 1:
        barrier()
    return make(*args) if rank != 0 else result


def _build_atomically(root: str, settings: dict, write) -> str:
    """Run ``write(tmp_dir)`` and move the result to ``root``, unless ``root`` already
    holds a complete demo dataset made with the same ``settings``."""
    marker = osp.join(root, _MARKER)
    if osp.isfile(marker):
        if _complete(marker, settings):
            return root
        raise FileExistsError(f'{root} holds a demo dataset made with other settings '
                              f'({marker}); delete the folder to regenerate it')
    if osp.exists(root) and os.listdir(root):
        raise FileExistsError(f'{root} exists and is not an mmfilter demo dataset '
                              f'(no {_MARKER}); refusing to write into it')
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.demo-{uuid.uuid4().hex}')
    os.mkdir(tmp)  # mode 0777 less the umask, as the folders MMEngine makes
    try:
        write(tmp)
        with open(osp.join(tmp, _MARKER), 'w') as f:
            json.dump(settings, f)
        try:
            if osp.isdir(root):
                os.rmdir(root)  # empty, checked above
            os.rename(tmp, root)
        except OSError:  # another process finished the same dataset first
            if not _complete(marker, settings):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _settings(kind: str, splits: Dict[str, int], size: int, scenes: str) -> dict:
    """What the folder's marker records (the demo's as before scene settings existed)."""
    if scenes not in SCENES:
        raise KeyError(f'unknown scene setting {scenes!r}; choose from {sorted(SCENES)}')
    settings = dict(kind=kind, splits=dict(splits), size=size)
    return settings if scenes == 'demo' else dict(settings, scenes=scenes)


def make_demo_coco(root: str, splits: Dict[str, int] = DEMO_SPLITS, size: int = 256,
                   scenes: str = 'demo') -> str:
    """COCO layout under ``root``: ``{split}2017/*.jpg`` and
    ``annotations/instances_{split}2017.json`` with boxes and polygon masks."""
    settings = _settings('coco', splits, size, scenes)
    classes = SCENES[scenes].object_classes

    def write(out: str) -> None:
        os.makedirs(osp.join(out, 'annotations'))
        categories = [dict(id=i + 1, name=name, supercategory='shape')
                      for i, name in enumerate(classes)]
        for split, count in splits.items():
            img_dir = osp.join(out, f'{split}2017')
            os.makedirs(img_dir)
            images, annotations = [], []
            for index in range(count):
                image, objects, _ = generate_scene(_seed(split, index), size, size,
                                                   SCENES[scenes])
                file_name = f'{index:06d}.jpg'
                _write_image(osp.join(img_dir, file_name), image)
                images.append(dict(id=index + 1, file_name=file_name, height=size, width=size))
                for obj in objects:
                    annotations.append(dict(
                        id=len(annotations) + 1, image_id=index + 1,
                        category_id=classes.index(obj.category) + 1,
                        bbox=obj.bbox_xywh, area=float(obj.mask.sum()),
                        segmentation=obj.polygons(), iscrowd=0))
            with open(osp.join(out, 'annotations', f'instances_{split}2017.json'), 'w') as f:
                json.dump(dict(images=images, annotations=annotations, categories=categories), f)

    return _build_atomically(root, settings, write)


def make_demo_ade(root: str, splits: Dict[str, int] = DEMO_SPLITS, size: int = 256,
                  scenes: str = 'demo') -> str:
    """ADE20K layout under ``root``: ``images/{training,validation}/*.jpg`` and
    ``annotations/{training,validation}/*.png`` label maps (0 = ignore, 1.. = classes)."""
    settings = dict(_settings('ade', splits, size, scenes),
                    classes=list(SCENES[scenes].seg_classes))
    folders = {'train': 'training', 'val': 'validation'}

    def write(out: str) -> None:
        for split, count in splits.items():
            img_dir = osp.join(out, 'images', folders[split])
            ann_dir = osp.join(out, 'annotations', folders[split])
            os.makedirs(img_dir)
            os.makedirs(ann_dir)
            for index in range(count):
                image, _, labels = generate_scene(_seed(split, index), size, size,
                                                  SCENES[scenes])
                name = f'demo_{split}_{index:06d}'
                _write_image(osp.join(img_dir, name + '.jpg'), image)
                if not cv2.imwrite(osp.join(ann_dir, name + '.png'), labels):
                    raise OSError(f'could not write label map {name}.png in {ann_dir}')

    return _build_atomically(root, settings, write)
