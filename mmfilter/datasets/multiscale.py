"""MobileViT's multi-scale sampler (arXiv 2110.02178, section 4) for MMEngine pipelines.

Each training batch has its own side, drawn from a configured set, and as many
images as keep its pixel count near ``batch_size * base_side²``: small sides get
large batches, large sides small ones. Two registered pieces share one table:

- :class:`MultiScaleBatchSampler` (``train_dataloader.batch_sampler``) decides,
  per batch, the side and so the number of images, taking them from the data
  loader's sampler (``DefaultSampler``: shuffled, seeded, split over ranks);
- :class:`~mmfilter.models.data_preprocessors.MultiScaleBatchResize` (a data
  preprocessor's ``batch_augments``, kept with the models as MMDetection keeps
  its batch augments) reads the side back from the batch's size and resizes the
  stacked images, boxes and label maps to it.

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
from typing import Iterator, List, Sequence

from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_dist_info
from mmengine.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler

from ..models.data_preprocessors.multiscale import images_per_batch, side_by_batch_size


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
