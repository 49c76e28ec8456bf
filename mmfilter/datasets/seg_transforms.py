"""A per-sample check of MMSegmentation label maps."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


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
