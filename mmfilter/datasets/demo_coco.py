"""MMDetection dataset for the embedded demo: generated on first use, then plain COCO."""
import os.path as osp
from typing import Dict, Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .checks import check_coco_annotations
from .demo import CLUTTER_SPLITS, DEMO_SPLITS, first_rank_builds, make_demo_coco
from .scene import CLUTTER_SCENES, DEMO_SCENES, object_palette


@DATASETS.register_module()
class DemoCocoDataset(CocoDataset):
    """:class:`CocoDataset` over the synthetic shapes scenes under ``data_root``.

    Args:
        splits: images per split to generate when ``data_root`` holds none yet.
        image_size: side of the square images.
    """
    SCENES, SPLITS = 'demo', DEMO_SPLITS
    METAINFO = dict(classes=DEMO_SCENES.object_classes, palette=object_palette(DEMO_SCENES))

    def __init__(self, *args, splits: Optional[Dict[str, int]] = None, image_size: int = 256,
                 **kwargs) -> None:
        data_root = kwargs.get('data_root') or ''
        first_rank_builds(make_demo_coco, data_root, splits or self.SPLITS, image_size,
                          self.SCENES)
        ann_file = kwargs.get('ann_file', args[0] if args else '')
        img_dir = (kwargs.get('data_prefix') or {}).get('img', '')
        check_coco_annotations(osp.join(data_root, ann_file), osp.join(data_root, img_dir),
                               self.METAINFO['classes'])
        super().__init__(*args, **kwargs)


@DATASETS.register_module()
class DemoClutterCocoDataset(DemoCocoDataset):
    """The clutter benchmark (``CLUTTER_SCENES``): many small objects, look-alikes,
    and stars that are ``'flagged star'`` when a small flag is anywhere in the image."""
    SCENES, SPLITS = 'clutter', CLUTTER_SPLITS
    METAINFO = dict(classes=CLUTTER_SCENES.object_classes,
                    palette=object_palette(CLUTTER_SCENES))
