"""Metrics (MMDetection's registry): import to register them."""
from .subset_coco_metric import SubsetCocoMetric

__all__ = ['SubsetCocoMetric']
