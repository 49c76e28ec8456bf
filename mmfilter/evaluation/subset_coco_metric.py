"""The COCO metric of a run over part of a dataset (``dataset.indices``)."""
from typing import List, Tuple

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS


@METRICS.register_module()
class SubsetCocoMetric(CocoMetric):
    """``CocoMetric`` scored on the images it received predictions for.

    MMDetection's ``CocoMetric`` scores against every image of its annotation
    file, so a run over a few of them (``test_dataloader.dataset.indices=4``)
    counts every other image's objects as missed. This one restricts COCO's
    evaluation to the predicted images; on a whole split it gives the same figures.
    """

    def compute_metrics(self, results: List[Tuple[dict, dict]]) -> dict:
        self.img_ids = sorted({pred['img_id'] for _, pred in results})
        return super().compute_metrics(results)
