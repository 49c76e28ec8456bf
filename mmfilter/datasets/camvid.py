"""CamVid road scenes in the 11-class, 360×480 split that SegNet published.

The layout is SegNet's ``CamVid/`` folder (``train/``, ``trainannot/``, ``val/``,
``valannot/``, ``test/``, ``testannot/``; RGB PNGs and same-named single-channel
PNGs of class indices), under ``data/camvid`` by default; docs/get_started.md says
where to get it. Index 11 (unlabelled, about 4% of the pixels) is mapped to
MMSegmentation's ignore value 255 when a label map is loaded, so that losses,
``IoUMetric`` and the visualiser need no setting of their own.
"""
from typing import Dict, Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

CAMVID_CLASSES = ('sky', 'building', 'pole', 'road', 'pavement', 'tree', 'sign', 'fence', 'car',
                  'pedestrian', 'bicyclist')
CAMVID_PALETTE = [(128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
                  (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0),
                  (0, 128, 192)]
CAMVID_UNLABELLED = 11  # the index of unlabelled pixels in the label maps
IGNORE_INDEX = 255  # MMSegmentation's default ignore value


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid (SegNet split): 11 classes; label 11 (unlabelled) is ignored.

    Example:
        >>> train = CamVidDataset(data_root='data/camvid',
        ...                       data_prefix=dict(img_path='train', seg_map_path='trainannot'))
    """
    METAINFO = dict(classes=CAMVID_CLASSES, palette=CAMVID_PALETTE)

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError('CamVidDataset: label 0 is sky, a class; reduce_zero_label=True '
                             'would drop it (the unlabelled index 11 is ignored already)')
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=False, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Optional[Sequence[str]] = None) -> Dict[int, int]:
        """MMSegmentation's map for a subset of classes, with unlabelled → 255."""
        label_map = super().get_label_map(new_classes) or {}
        return {**label_map, CAMVID_UNLABELLED: IGNORE_INDEX}
