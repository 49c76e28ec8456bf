"""Batch augments of data preprocessors (``data_preprocessor.batch_augments``)."""
from .multiscale import MultiScaleBatchResize, images_per_batch, side_by_batch_size

__all__ = ['MultiScaleBatchResize', 'images_per_batch', 'side_by_batch_size']
