"""MobileViT's multi-scale sampler: the side table, the batch sampler (sides, pixel bound,
seeding, ranks), the batch resize, and both demo configs training on tiny data."""
import pytest
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.structures import InstanceData, PixelData

from conftest import TINY_SPLITS, run_tool, tiny_config
from mmfilter.datasets import multiscale
from mmfilter.datasets.multiscale import MultiScaleBatchSampler
from mmfilter.models.data_preprocessors import MultiScaleBatchResize, side_by_batch_size

SIDES, BASE, BATCH = (192, 224, 256, 288, 320), 256, 8


def test_every_side_gets_its_own_batch_size():
    assert side_by_batch_size(SIDES, BATCH, BASE) == {14: 192, 10: 224, 8: 256, 6: 288, 5: 320}
    with pytest.raises(ValueError, match='sides 336 and 352 both give batches of 4 images'):
        side_by_batch_size((336, 352), BATCH, BASE)
    with pytest.raises(ValueError, match='side 1024 leaves no image'):
        side_by_batch_size((1024, ), BATCH, BASE)


def _batches(num_samples=400, seed=0, epoch=0):
    sampler = DefaultSampler(list(range(num_samples)), shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(MultiScaleBatchSampler(sampler, BATCH, SIDES, BASE))


def test_batches_have_the_configured_sides_and_pixel_budget():
    batches = _batches()
    assert len(batches) == 50  # ceil(400 / 8), as at the base side
    table = side_by_batch_size(SIDES, BATCH, BASE)
    sides = [table[len(b)] for b in batches]  # every size is one of the table's
    assert set(sides) == set(SIDES)
    for batch, side in zip(batches, sides):
        pixels = len(batch) * side**2
        assert BATCH * BASE**2 - side**2 < pixels <= BATCH * BASE**2
    order = list(DefaultSampler(list(range(400)), shuffle=True, seed=0))
    flat = [i for b in batches for i in b]
    assert flat == (order * 2)[:len(flat)]  # the rank's shuffled samples, in order, cycled


def test_batches_are_reproducible_and_change_with_the_epoch():
    assert _batches(seed=3) == _batches(seed=3)
    assert _batches(seed=3) != _batches(seed=4)
    assert _batches(epoch=0) != _batches(epoch=1)


def test_two_ranks_see_disjoint_samples(monkeypatch):
    seen = []
    for rank in (0, 1):
        monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda r=rank: (r, 2))
        monkeypatch.setattr(multiscale, 'get_dist_info', lambda r=rank: (r, 2))
        batches = _batches(num_samples=100)
        assert len(batches) == 7  # ceil(50 / 8) on each rank: equal iteration counts
        seen.append({i for b in batches for i in b})
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(100))


def test_an_infinite_sampler_is_refused():
    with pytest.raises(TypeError, match='needs a finite sampler'):
        MultiScaleBatchSampler(InfiniteSampler(list(range(10))), BATCH, SIDES, BASE)


def test_batch_resize_scales_images_boxes_and_label_maps():
    from mmdet.structures import DetDataSample
    from mmseg.structures import SegDataSample
    resize = MultiScaleBatchResize(BATCH, SIDES, BASE)
    det = []
    for _ in range(5):  # 5 images: side 320
        sample = DetDataSample(metainfo=dict(img_shape=(256, 200), pad_shape=(256, 256)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 20., 30., 40.]]))
        det.append(sample)
    images, det = resize(torch.rand(5, 3, 256, 256), det)
    assert images.shape == (5, 3, 320, 320)
    assert torch.allclose(det[0].gt_instances.bboxes, torch.tensor([[12.5, 25., 37.5, 50.]]))
    assert det[0].img_shape == (320, 250) and det[0].batch_input_shape == (320, 320)
    labels = torch.randint(0, 7, (1, 256, 256))
    seg = [SegDataSample(gt_sem_seg=PixelData(data=labels.clone())) for _ in range(14)]
    images, seg = resize(torch.rand(14, 3, 256, 256), seg)  # 14 images: side 192
    assert images.shape[2:] == (192, 192) and seg[0].gt_sem_seg.data.shape == (1, 192, 192)
    assert set(seg[0].gt_sem_seg.data.unique().tolist()) <= set(labels.unique().tolist())
    with pytest.raises(ValueError, match='a batch of 7 images matches none of the sides'):
        resize(torch.rand(7, 3, 64, 64), det[:1] * 7)


TINY = ("multiscale = dict(batch_size=4, sides=(96, 128, 160), base_side=128)\n"
        "train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, "
        "batch_sampler=dict(type='MultiScaleBatchSampler', sides=(96, 128, 160), base_side=128), "
        "dataset=dict(data_root='ROOT/', splits=" + repr(TINY_SPLITS) + ", image_size=128))\n"
        "model = dict(backbone=dict(arch='xxs'), data_preprocessor=dict(batch_augments=["
        "dict(type='MultiScaleBatchResize', **multiscale)]), CHANNELS)\n")


@pytest.mark.parametrize('config, channels, loop', [
    ('filtervit/retinanet_filtervit_demo_multiscale.py', 'neck=dict(in_channels=[24, 48, 80, 112])',
     "train_cfg = dict(max_epochs=1, val_interval=10)\n"),
    ('filtervit/upernet_filtervit_demo_multiscale.py',
     'decode_head=dict(in_channels=[24, 48, 80, 112]), auxiliary_head=dict(in_channels=80)',
     "train_cfg = dict(max_iters=3, val_interval=10)\n"
     "param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]\n"
     "default_hooks = dict(checkpoint=dict(interval=3))\n"),
])
@pytest.mark.slow
def test_multiscale_demo_configs_train(tmp_path, config, channels, loop):
    body = TINY.replace('ROOT', str(tmp_path / 'data')).replace('CHANNELS', channels) + loop
    proc = run_tool('train.py', tiny_config(tmp_path, config, body), '--work-dir', tmp_path / 'w')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list((tmp_path / 'w').glob('*.pth'))  # trained to the end and saved
