"""MMSegmentation's data preprocessor with batch augments given as configs (as
MMDetection's takes them). Registered by ``import mmfilter`` where MMSegmentation
is installed."""
from typing import List, Optional

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS
from torch import nn


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
