"""CamVid: the dataset on the real images, the pre-flight on broken copies, a short
training run through tools/train.py.

Needs CamVid in SegNet's layout at ``../shared/data/camvid`` beside the checkout
(CI has it); elsewhere these tests skip, saying so.
"""
import os
import os.path as osp
import re
import shutil

import cv2
import numpy as np
import pytest

from conftest import REPO, config_path, run_tool, scalars

CAMVID = osp.join(osp.dirname(REPO), 'shared', 'data', 'camvid')
pytestmark = pytest.mark.skipif(
    not osp.isdir(CAMVID), reason=f'CamVid not found at {CAMVID} (SegNet layout; see docs/get_started.md#camvid)')

CONFIG = config_path('filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py')
FOLDERS = ('train', 'trainannot', 'val', 'valannot', 'test', 'testannot')


def small_copy(root, per_split: int = 4) -> str:
    """The first ``per_split`` images and label maps of each split under ``root``."""
    for split in ('train', 'val', 'test'):
        for folder in (split, split + 'annot'):
            os.makedirs(root / folder)
            for name in sorted(os.listdir(osp.join(CAMVID, split)))[:per_split]:
                shutil.copy(osp.join(CAMVID, folder, name), root / folder / name)
    return str(root)


def camvid_config(data_root: str):
    from mmfilter.engine.config import load_config
    cfg = load_config(CONFIG)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = data_root
    return cfg


def test_dataset_reads_real_images_with_classes_and_ignore_index():
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    import mmfilter  # noqa: F401  registers CamVidDataset in MMSegmentation's registry
    init_default_scope('mmseg')
    splits = {'train': 367, 'val': 101, 'test': 233}
    for split, count in splits.items():
        dataset = DATASETS.build(dict(
            type='CamVidDataset', data_root=CAMVID,
            data_prefix=dict(img_path=split, seg_map_path=split + 'annot'),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
        assert len(dataset) == count
    assert dataset.metainfo['classes'][:4] == ('sky', 'building', 'pole', 'road')
    assert len(dataset.metainfo['classes']) == 11 and len(dataset.metainfo['palette']) == 11
    assert dataset.metainfo['palette'][3] == (128, 64, 128)  # road
    sample = dataset[0]
    raw = cv2.imread(sample['seg_map_path'], cv2.IMREAD_UNCHANGED)
    assert sample['img'].shape == (360, 480, 3) and sample['gt_seg_map'].shape == (360, 480)
    assert (raw == 11).any(), 'the first test image has unlabelled pixels'
    np.testing.assert_array_equal(sample['gt_seg_map'] == 255, raw == 11)
    np.testing.assert_array_equal(sample['gt_seg_map'][raw < 11], raw[raw < 11])


def test_dataset_refuses_reduce_zero_label():
    from mmfilter.datasets.camvid import CamVidDataset
    with pytest.raises(ValueError, match='sky'):
        CamVidDataset(data_root=CAMVID, data_prefix=dict(img_path='val', seg_map_path='valannot'),
                      reduce_zero_label=True)


def test_class_subset_keeps_unlabelled_ignored():
    from mmfilter.datasets.camvid import CamVidDataset
    label_map = CamVidDataset.get_label_map(('road', 'car'))
    assert label_map[3] == 0 and label_map[8] == 1 and label_map[0] == 255 and label_map[11] == 255


def test_preflight_passes_a_good_copy(tmp_path):
    from mmfilter.engine.preflight import check_data
    assert check_data(camvid_config(small_copy(tmp_path)), ('train', 'val', 'test')) == {}


def _break_missing_folder(root):
    shutil.rmtree(osp.join(root, 'valannot'))
    return 'annotation folder not found: ' + osp.join(root, 'valannot')


def _break_missing_label(root):
    name = sorted(os.listdir(osp.join(root, 'train')))[1]
    os.remove(osp.join(root, 'trainannot', name))
    return f'1 images in {osp.join(root, "train")} have no label map'


def _break_label_size(root):
    path = osp.join(root, 'trainannot', sorted(os.listdir(osp.join(root, 'trainannot')))[2])
    cv2.imwrite(path, cv2.imread(path, cv2.IMREAD_UNCHANGED)[:, :240])
    return f'label map {path} is 240x360 but its image'


def _break_class_index(root):
    path = osp.join(root, 'valannot', sorted(os.listdir(osp.join(root, 'valannot')))[0])
    labels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    labels[:10, :10] = 12
    cv2.imwrite(path, labels)
    return f'label map {path} holds class indices [12] outside 0..11 and 255'


@pytest.mark.parametrize('damage', [_break_missing_folder, _break_missing_label, _break_label_size,
                                    _break_class_index])
def test_preflight_names_each_bad_case(tmp_path, damage):
    from mmfilter.datasets import DatasetError
    from mmfilter.engine.preflight import check_data
    root = small_copy(tmp_path)
    expected = damage(root)
    with pytest.raises(DatasetError) as error:
        check_data(camvid_config(root), ('train', 'val'))
    assert expected in str(error.value) and '\n' not in str(error.value)


@pytest.mark.slow
def test_train_refuses_bad_label_map_before_training(tmp_path):
    root = small_copy(tmp_path / 'camvid')
    expected = _break_class_index(root)
    proc = run_tool('train.py', CONFIG, '--work-dir', tmp_path / 'work', '--cfg-options',
                    *(f'{split}_dataloader.dataset.data_root={root}' for split in ('train', 'val')))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f'error: {expected}'
    assert not (tmp_path / 'work').exists() or not list((tmp_path / 'work').glob('*/vis_data'))


@pytest.mark.slow
def test_short_training_on_real_images_gives_an_11_class_miou(tmp_path):
    root = small_copy(tmp_path / 'camvid')
    work = tmp_path / 'work'
    loader = 'num_workers=0, persistent_workers=False'
    config = tmp_path / 'camvid_tiny.py'
    config.write_text(f"""_base_ = ['{CONFIG}']
model = dict(backbone=dict(arch='xxs'), neck=dict(in_channels=[24, 48, 80, 112]))
train_dataloader = dict(batch_size=2, {loader}, dataset=dict(data_root='{root}'))
val_dataloader = dict({loader}, dataset=dict(data_root='{root}'))
test_dataloader = dict({loader}, dataset=dict(data_root='{root}'))
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
""")
    proc = run_tool('train.py', config, '--work-dir', work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = [r for r in scalars(work) if 'mIoU' in r][-1]
    assert 0 <= metrics['mIoU'] <= 100 and 0 < metrics['aAcc'] <= 100
    log = open(sorted(work.glob('*/*.log'))[-1]).read()
    for name in ('sky', 'building', 'pole', 'road', 'pavement', 'tree', 'sign', 'fence', 'car',
                 'pedestrian', 'bicyclist'):
        assert re.search(rf'^\|\s+{name}\s+\|\s+[\d.]+\s+\|', log, re.M), f'no IoU row for {name}'
    proc = run_tool('test.py', config, work / 'iter_2.pth', '--work-dir', tmp_path / 'test')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'mIoU' in proc.stdout + proc.stderr
