"""MMDetection dataset for the embedded demo: generated on first use, then plain COCO."""
import os.path as osp
from typing import Dict, Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .checks import check_coco_annotations
from .demo import DEMO_SPLITS, first_rank_builds, make_demo_coco
from .scene import OBJECT_CLASSES, object_palette


@DATASETS.register_module()
class DemoCocoDataset(CocoDataset):
    """:class:`CocoDataset` over the synthetic shapes scenes under ``data_root``.

    Args:
        splits: images per split to generate when ``data_root`` holds no demo yet.
        image_size: side of the square demo images.
    """
    METAINFO = dict(classes=OBJECT_CLASSES, palette=object_palette())

    def __init__(self, *args, splits: Optional[Dict[str, int]] = None, image_size: int = 256,
                 **kwargs) -> None:
        data_root = kwargs.get('data_root') or ''
        first_rank_builds(make_demo_coco, data_root, splits or DEMO_SPLITS, image_size)
        ann_file = kwargs.get('ann_file', args[0] if args else '')
        img_dir = (kwargs.get('data_prefix') or {}).get('img', '')
        check_coco_annotations(osp.join(data_root, ann_file), osp.join(data_root, img_dir),
                               OBJECT_CLASSES)
        super().__init__(*args, **kwargs)
