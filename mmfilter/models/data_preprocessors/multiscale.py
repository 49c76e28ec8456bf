"""The batch augment of MobileViT's multi-scale sampler (arXiv 2110.02178, section 4):
a batch's size says which side it was drawn at (see
:mod:`mmfilter.datasets.multiscale`, whose sampler shares the table below), and
:class:`MultiScaleBatchResize` resizes the stacked batch to it.
"""
from typing import Dict, Sequence

import torch.nn.functional as F
from mmengine.registry import MODELS
from mmengine.structures import PixelData
from torch import Tensor, nn


def images_per_batch(side: int, batch_size: int, base_side: int) -> int:
    """``floor(batch_size * (base_side / side)²)``: the batch's pixels stay within
    ``batch_size * base_side²``."""
    return batch_size * base_side**2 // side**2


def side_by_batch_size(sides: Sequence[int], batch_size: int, base_side: int) -> Dict[int, int]:
    """``{images per batch: side}``; raises if a side gets no image or two sides the
    same number of images (the preprocessor could not tell them apart)."""
    table: Dict[int, int] = {}
    for side in sorted(set(sides)):
        n = images_per_batch(side, batch_size, base_side)
        if n < 1:
            raise ValueError(f'side {side} leaves no image in a batch of {batch_size} at base side '
                             f'{base_side}: the largest side is base_side * sqrt(batch_size)')
        if n in table:
            raise ValueError(f'sides {table[n]} and {side} both give batches of {n} images '
                             f'(batch_size={batch_size}, base_side={base_side}): drop one or '
                             'raise batch_size')
        table[n] = side
    return table



@MODELS.register_module()
class MultiScaleBatchResize(nn.Module):
    """Resize a training batch to the side its size stands for (see the module doc).

    ``[B, 3, H, W]`` → ``[B, 3, H', W']`` with ``H' = round(H * side / base_side)``
    (likewise ``W'``), rounded to ``size_divisor``; boxes (``gt_instances``) are
    scaled and label maps (``gt_sem_seg``) resized by nearest neighbour, and
    ``img_shape``, ``pad_shape``, ``batch_input_shape`` follow. Give it the
    sampler's ``batch_size``, ``sides`` and ``base_side``.
    """

    def __init__(self, batch_size: int, sides: Sequence[int], base_side: int,
                 size_divisor: int = 32) -> None:
        super().__init__()
        self.sizes = side_by_batch_size(sides, batch_size, base_side)
        self.base_side = base_side
        self.size_divisor = size_divisor

    def target_size(self, num_images: int, height: int, width: int) -> 'tuple[int, int]':
        if num_images not in self.sizes:
            raise ValueError(f'a batch of {num_images} images matches none of the sides '
                             f'{sorted(self.sizes.values())}: is MultiScaleBatchSampler set with '
                             'the same batch_size, sides and base_side?')
        scale = self.sizes[num_images] / self.base_side
        d = self.size_divisor
        return (max(d, round(height * scale / d) * d), max(d, round(width * scale / d) * d))

    def forward(self, inputs: Tensor, data_samples: list) -> 'tuple[Tensor, list]':
        height, width = inputs.shape[2:]
        new_h, new_w = self.target_size(inputs.shape[0], height, width)
        if (new_h, new_w) == (height, width):
            return inputs, data_samples
        sy, sx = new_h / height, new_w / width
        inputs = F.interpolate(inputs, size=(new_h, new_w), mode='bilinear', align_corners=False)
        for sample in data_samples:
            meta = {'batch_input_shape': (new_h, new_w)}
            for key in ('img_shape', 'pad_shape'):
                if key in sample.metainfo:
                    h, w = sample.metainfo[key][:2]
                    meta[key] = (round(h * sy), round(w * sx))
            sample.set_metainfo(meta)
            for field in ('gt_instances', 'ignored_instances'):
                if field in sample and 'bboxes' in sample.get(field):
                    bboxes = sample.get(field).bboxes
                    sample.get(field).bboxes = bboxes * bboxes.new_tensor([sx, sy, sx, sy])
            if 'gt_sem_seg' in sample:
                seg = sample.gt_sem_seg.data
                resized = F.interpolate(seg[None].float(), size=(new_h, new_w), mode='nearest')
                sample.gt_sem_seg = PixelData(data=resized[0].to(seg.dtype),
                                              metainfo=sample.gt_sem_seg.metainfo)
        return inputs, data_samples
