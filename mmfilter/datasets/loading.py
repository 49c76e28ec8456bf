"""Image loading that skips files the pre-flight found unreadable (``skip_bad_images``)."""
import os.path as osp
from typing import Optional, Sequence

from mmcv.transforms import LoadImageFromFile
from mmengine.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageSkippingBad(LoadImageFromFile):
    """``LoadImageFromFile`` that returns None for the listed files.

    In training, MMEngine's datasets then draw another sample in their place.
    ``tools/train.py`` puts it in the training pipeline, with the files its
    pre-flight found, when the config sets ``skip_bad_images = True``.
    """

    def __init__(self, bad_images: Sequence[str] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.bad_images = frozenset(osp.abspath(p) for p in bad_images)

    def transform(self, results: dict) -> Optional[dict]:
        if osp.abspath(results['img_path']) in self.bad_images:
            return None
        return super().transform(results)
