"""Batch augments of data preprocessors (``data_preprocessor.batch_augments``), and
``seg_batch_augments``: MMSegmentation's preprocessor taking them as configs
(imported by ``mmfilter`` where MMSegmentation is installed)."""
from .multiscale import MultiScaleBatchResize, images_per_batch, side_by_batch_size

__all__ = ['MultiScaleBatchResize', 'images_per_batch', 'side_by_batch_size']
