"""MMSegmentation pieces: a per-sample check of label maps, and a data preprocessor
that runs batch augments given as configs (as MMDetection's does)."""
from typing import List, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS, TRANSFORMS
from torch import nn


@TRANSFORMS.register_module()
class ValidateSegMap(BaseTransform):
    """Stop on a label map that does not fit its image or holds unknown labels.

    Place after ``LoadAnnotations``; the map is compared with the image as loaded
    (``ori_shape``), so a ``Resize`` before it is fine. Valid values are ``0 .. num_classes-1``
    and ``ignore_index`` (after ``reduce_zero_label`` when the loader applies it).
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if 'gt_seg_map' not in results:  # inference pipelines load no labels
            return results
        seg = results['gt_seg_map']
        path = results.get('seg_map_path')
        height, width = results.get('ori_shape', results['img'].shape[:2])  # before any Resize
        if seg.shape[:2] != (height, width):
            raise ValueError(f'label map {path} is {seg.shape[1]}x{seg.shape[0]} but its image '
                             f'{results.get("img_path")} is {width}x{height}')
        values = np.unique(seg)
        bad = values[(values >= self.num_classes) & (values != self.ignore_index)]
        if bad.size:
            raise ValueError(f'label map {path} holds labels {bad.tolist()} outside the '
                             f'{self.num_classes} classes (0..{self.num_classes - 1}, '
                             f'ignore {self.ignore_index})')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_classes={self.num_classes}, ignore_index={self.ignore_index})'


@MODELS.register_module()
class BatchAugmentSegDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` whose ``batch_augments`` are configs, built and applied
    in order to training batches (MMSegmentation's expects one callable object,
    which a plain config cannot hold), e.g. ``[dict(type='MultiScaleBatchResize', ...)]``."""

    def __init__(self, batch_augments: Optional[List[dict]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.augments = nn.ModuleList([MODELS.build(cfg) for cfg in batch_augments or []])
        self.batch_augments = self._augment if batch_augments else None

    def _augment(self, inputs, data_samples):
        for augment in self.augments:
            inputs, data_samples = augment(inputs, data_samples)
        return inputs, data_samples
