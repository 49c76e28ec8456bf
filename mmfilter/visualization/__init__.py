"""Seeing what the filter chose. ``selection_maps`` needs numpy and OpenCV only;
``explain`` and ``hook`` need mmcv and MMDetection or MMSegmentation; ``deletion``
(the deletion test of attribution maps) needs torch only."""
from .selection_maps import (InputGeometry, heatmap_overlay, mark_tokens, sheet, token_mask,
                             topk_agreement)

__all__ = ['InputGeometry', 'heatmap_overlay', 'mark_tokens', 'sheet', 'token_mask',
           'topk_agreement']
