"""Where the objects are: ground-truth object masks of a config's test split, and
how much of a selection falls on them.

Needs pycocotools (detection) or MMSegmentation (segmentation).
"""
import os.path as osp
from typing import Iterator, List, Sequence, Tuple

import mmcv
import numpy as np

from mmfilter.engine.config import ConfigError

Sample = Tuple[str, np.ndarray]  # image path, bool object mask [H, W] at the image's size


def detection_samples(cfg) -> Iterator[Sample]:
    """``(image path, object mask)`` from the test split's COCO instance masks."""
    from pycocotools.coco import COCO
    ds = cfg.test_dataloader.dataset
    coco = COCO(osp.join(ds.data_root, ds.ann_file))
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        objects = np.zeros((info['height'], info['width']), bool)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=None)):
            objects |= coco.annToMask(ann).astype(bool)
        yield osp.join(ds.data_root, ds.data_prefix['img'], info['file_name']), objects


def segmentation_class_ids(cfg, object_classes: Sequence[str]) -> List[int]:
    """The indices of ``object_classes`` among the test dataset's classes; raises
    :class:`ConfigError` naming the classes the dataset lacks."""
    from mmseg.registry import DATASETS
    classes = list(DATASETS.get(cfg.test_dataloader.dataset.type).METAINFO['classes'])
    missing = [c for c in object_classes if c not in classes]
    if missing:
        raise ConfigError(f'object classes {missing} are not among the dataset classes {classes}')
    return [classes.index(c) for c in object_classes]


def segmentation_samples(cfg, object_classes: Sequence[str]) -> Iterator[Sample]:
    """``(image path, object mask)`` from the test split's label maps: the pixels of
    ``object_classes`` (checked at the call, before the first sample)."""
    from mmseg.registry import DATASETS
    ids = segmentation_class_ids(cfg, object_classes)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    # raw label values: class index + 1 when zero is reduced (ADE20K convention)
    values = [i + (1 if dataset.reduce_zero_label else 0) for i in ids]

    def samples() -> Iterator[Sample]:
        for info in dataset.load_data_list():
            labels = mmcv.imread(info['seg_map_path'], flag='unchanged', backend='pillow')
            yield info['img_path'], np.isin(labels, values)
    return samples()


def test_split_objects(cfg, scope: str, object_classes: Sequence[str]) -> Iterator[Sample]:
    """:func:`segmentation_samples` for an ``mmseg`` config, else :func:`detection_samples`."""
    if scope == 'mmseg':
        return segmentation_samples(cfg, object_classes)
    return detection_samples(cfg)


def on_object_fraction(points: np.ndarray, objects: np.ndarray) -> float:
    """Fraction of token centres (``[K, 2]`` x, y) that fall on ``objects`` (bool ``[H, W]``)."""
    h, w = objects.shape
    xs = np.clip(points[:, 0].astype(int), 0, w - 1)
    ys = np.clip(points[:, 1].astype(int), 0, h - 1)
    return float(objects[ys, xs].mean())
