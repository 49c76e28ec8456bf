"""MobileViT's multi-scale sampler (arXiv 2110.02178, section 4) for MMEngine pipelines.

Each training batch has its own side, drawn from a configured set, and as many
images as keep its pixel count near ``batch_size * base_side²``: small sides get
large batches, large sides small ones. Two registered pieces share one table:

- :class:`MultiScaleBatchSampler` (``train_dataloader.batch_sampler``) decides,
  per batch, the side and so the number of images, taking them from the data
  loader's sampler (``DefaultSampler``: shuffled, seeded, split over ranks);
- :class:`MultiScaleBatchResize` (a data preprocessor's ``batch_augments``) reads
  the side back from the batch's size and resizes the stacked images, boxes and
  label maps to it.

Every side has its own batch size (checked when built), so nothing else has to
travel from the sampler to the preprocessor, and the ranks need not talk: each
draws its sides from ``(seed, epoch, rank)`` and runs the same number of
batches per epoch, ``ceil(N / batch_size)`` of its ``N`` samples as at the base
side (an epoch at smaller sides sees more images; the rank's samples are
cycled). A batch of side ``s`` holds more than ``batch_size * base_side² - s²``
and at most ``batch_size * base_side²`` pixels.
"""
import math
import random
from itertools import chain, repeat
from typing import Dict, Iterator, List, Sequence

import torch.nn.functional as F
from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_dist_info
from mmengine.registry import DATA_SAMPLERS, MODELS
from mmengine.structures import PixelData
from torch import Tensor, nn
from torch.utils.data import BatchSampler, Sampler


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


@DATA_SAMPLERS.register_module()
class MultiScaleBatchSampler(BatchSampler):
    """Batches of a side drawn per batch from ``sides``, ``images_per_batch(side)`` images each.

    Args:
        sampler: the data loader's sampler (given by MMEngine's runner).
        batch_size: images per batch at ``base_side`` (given by the runner).
        sides: the sides to draw from, e.g. ``(192, 224, 256, 288, 320)``.
        base_side: the side at which a batch holds ``batch_size`` images.
        seed: the draw's seed (default: the sampler's ``seed``, else 0).
        drop_last: as ``BatchSampler``'s, for the number of batches per epoch.
    """

    def __init__(self, sampler: Sampler, batch_size: int, sides: Sequence[int], base_side: int,
                 seed: 'int | None' = None, drop_last: bool = False) -> None:
        if isinstance(sampler, InfiniteSampler):
            raise TypeError('MultiScaleBatchSampler needs a finite sampler such as DefaultSampler: '
                            'an InfiniteSampler restarts the same order at every pass')
        super().__init__(sampler, batch_size, drop_last)
        self.sizes = side_by_batch_size(sides, batch_size, base_side)
        self.sides = sorted(self.sizes.values())
        self.base_side = base_side
        self.seed = getattr(sampler, 'seed', 0) if seed is None else seed

    def draw_sides(self) -> List[int]:
        """This epoch's side of every batch, from ``(seed, epoch, rank)``."""
        rank, _ = get_dist_info()
        rng = random.Random(f'{self.seed}-{getattr(self.sampler, "epoch", 0)}-{rank}')
        return [rng.choice(self.sides) for _ in range(len(self))]

    def __iter__(self) -> Iterator[List[int]]:
        samples = chain.from_iterable(repeat(self.sampler))  # cycles the rank's samples
        for side in self.draw_sides():
            yield [next(samples) for _ in range(images_per_batch(side, self.batch_size,
                                                                 self.base_side))]

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


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
