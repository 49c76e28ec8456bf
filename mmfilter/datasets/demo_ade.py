"""MMSegmentation dataset for the embedded demo, in the ADE20K folder layout."""
import os.path as osp
from typing import Dict, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .checks import check_segmentation_folders
from .demo import CLUTTER_SPLITS, DEMO_SPLITS, first_rank_builds, make_demo_ade
from .scene import CLUTTER_SCENES, DEMO_SCENES, seg_palette


@DATASETS.register_module()
class DemoADE20KDataset(BaseSegDataset):
    """ADE20K-style dataset over the synthetic scenes: ``.jpg`` images, ``.png``
    label maps with 0 as ignore, so ``reduce_zero_label=True`` as on ADE20K."""
    SCENES, SPLITS = 'demo', DEMO_SPLITS
    METAINFO = dict(classes=DEMO_SCENES.seg_classes, palette=seg_palette(DEMO_SCENES))

    def __init__(self, splits: Optional[Dict[str, int]] = None, image_size: int = 256,
                 img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, **kwargs) -> None:
        data_root = kwargs.get('data_root') or ''
        first_rank_builds(make_demo_ade, data_root, splits or self.SPLITS, image_size,
                          self.SCENES)
        prefix = kwargs.get('data_prefix') or {}
        check_segmentation_folders(osp.join(data_root, prefix.get('img_path', '')),
                                   osp.join(data_root, prefix.get('seg_map_path', '')),
                                   img_suffix, seg_map_suffix)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)


@DATASETS.register_module()
class DemoClutterADE20KDataset(DemoADE20KDataset):
    """The clutter benchmark (``CLUTTER_SCENES``) in the ADE20K layout."""
    SCENES, SPLITS = 'clutter', CLUTTER_SPLITS
    METAINFO = dict(classes=CLUTTER_SCENES.seg_classes, palette=seg_palette(CLUTTER_SCENES))
