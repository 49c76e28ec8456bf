"""Short end-to-end runs through tools/train.py, tools/test.py and tools/infer.py
on tiny splits of the demo data, and the clear failures without data."""
import glob
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from conftest import REPO, config_path

TINY = dict(train=8, val=4)


def tiny_config(tmp_path, base: str, body: str) -> str:
    path = tmp_path / f'tiny_{base}'
    path.write_text(f"_base_ = ['{config_path(base)}']\n" + body)
    return str(path)


def tiny_detection(tmp_path) -> str:
    root = tmp_path / 'coco'
    loader = (f"dict(batch_size=4, num_workers=0, persistent_workers=False, "
              f"dataset=dict(data_root='{root}/', splits={TINY}, image_size=128))")
    return tiny_config(tmp_path, 'retinanet_filtervit_demo.py', f"""
model = dict(backbone=dict(arch='xxs'), neck=dict(in_channels=[24, 48, 80, 112]))
train_dataloader = {loader}
val_dataloader = {loader}
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='{root}/annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=8)]
default_hooks = dict(logger=dict(interval=1))
""")


def tiny_segmentation(tmp_path) -> str:
    root = tmp_path / 'ade'
    dataset = f"dataset=dict(data_root='{root}/', splits={TINY}, image_size=128)"
    return tiny_config(tmp_path, 'upernet_filtervit_demo.py', f"""
model = dict(backbone=dict(arch='xxs'), decode_head=dict(in_channels=[24, 48, 80, 112]),
             auxiliary_head=dict(in_channels=80))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, {dataset})
val_dataloader = dict(num_workers=0, persistent_workers=False, {dataset})
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=4)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))
""")


def run_tool(tool: str, *args: str, cwd: str = REPO) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', tool), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    return proc


def scalars(work_dir) -> list:
    """Logged scalar records of the latest run in ``work_dir``."""
    latest = sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json')))[-1]
    with open(latest) as f:
        return [json.loads(line) for line in f]


def test_detection_trains_evaluates_and_resumes_at_the_saved_iteration(tmp_path):
    cfg = tiny_detection(tmp_path)
    work = tmp_path / 'work'
    first = run_tool('train.py', cfg, '--work-dir', str(work))
    assert first.returncode == 0, first.stderr[-3000:]
    records = scalars(work)
    maps = [r['coco/bbox_mAP'] for r in records if 'coco/bbox_mAP' in r]
    assert len(maps) == 1 and 0 <= maps[0] <= 1
    assert osp.isfile(work / 'epoch_2.pth')

    # "Interrupted" after epoch 2: resume to epoch 3 from the last checkpoint.
    second = run_tool('train.py', cfg, '--work-dir', str(work), '--resume',
                      '--cfg-options', 'train_cfg.max_epochs=3')
    assert second.returncode == 0, second.stderr[-3000:]
    assert 'resumed epoch: 2, iter: 4' in second.stdout + second.stderr
    resumed = [r for r in scalars(work) if 'loss' in r]
    assert resumed[0]['iter'] == 5 and resumed[0]['epoch'] == 3
    # LinearLR from 0.1 to 1 over 8 iterations: iteration 5 runs at 0.1 + 0.9 * 4 / 8.
    assert resumed[0]['lr'] == pytest.approx(2e-3 * (0.1 + 0.9 * 4 / 8), rel=1e-4)
    assert osp.isfile(work / 'epoch_3.pth')

    # The checkpoint evaluates through tools/test.py and draws through tools/infer.py.
    tested = run_tool('test.py', cfg, str(work / 'epoch_3.pth'), '--work-dir', str(tmp_path / 'test'))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert 'coco/bbox_mAP' in tested.stdout + tested.stderr
    image = tmp_path / 'odd.jpg'
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (75, 101, 3), dtype=np.uint8))
    drawn = run_tool('infer.py', cfg, str(work / 'epoch_3.pth'), str(image), '--out-dir',
                     str(tmp_path / 'vis'), '--score-thr', '0')
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    out = cv2.imread(str(tmp_path / 'vis' / 'odd.png'))
    assert out.shape == (75, 101, 3) and not np.array_equal(out[..., ::-1], cv2.imread(str(image)))


def test_a_run_says_when_it_would_overwrite_checkpoints(tmp_path):
    cfg = tiny_detection(tmp_path)
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'earlier run')
    proc = run_tool('train.py', cfg, '--work-dir', str(work), '--cfg-options',
                    'train_cfg.max_epochs=1', 'train_cfg.val_interval=5')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'already holds 1 checkpoint(s) (epoch_1.pth' in proc.stderr


def test_detection_loss_falls_on_a_tiny_split(tmp_path):
    cfg = Config.fromfile(tiny_detection(tmp_path))
    init_default_scope('mmdet')
    from mmdet.registry import DATASETS, MODELS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(4)])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(batch, True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(12):
        loss = sum(v if torch.is_tensor(v) else sum(v)
                   for k, v in model(**data, mode='loss').items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_segmentation_trains_evaluates_and_infers_on_odd_sizes(tmp_path):
    cfg = tiny_segmentation(tmp_path)
    work = tmp_path / 'work'
    proc = run_tool('train.py', cfg, '--work-dir', str(work))
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = scalars(work)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 4 and losses[-1] < losses[0]
    miou = [r['mIoU'] for r in records if 'mIoU' in r]
    assert len(miou) == 1 and 0 <= miou[0] <= 100

    image = tmp_path / 'odd.jpg'
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (83, 117, 3), dtype=np.uint8))
    drawn = run_tool('infer.py', cfg, str(work / 'iter_4.pth'), str(image), '--out-dir',
                     str(tmp_path / 'vis'))
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    assert cv2.imread(str(tmp_path / 'vis' / 'odd.png')).shape == (83, 117, 3)


@pytest.mark.parametrize('config, message', [
    ('retinanet_filtervit_coco.py', 'annotation file not found: data/coco/annotations/instances_train2017.json'),
    ('faster-rcnn_filtervit_coco.py', 'annotation file not found: data/coco/annotations/instances_train2017.json'),
    ('upernet_filtervit_ade20k.py', 'image folder not found: data/ade/ADEChallengeData2016/images/training'),
])
def test_real_dataset_configs_stop_at_once_without_data(tmp_path, config, message):
    proc = run_tool('train.py', config_path(config), '--work-dir', str(tmp_path / 'w'), cwd=str(tmp_path))
    assert proc.returncode == 1
    assert message in proc.stderr
    assert 'run the embedded demo instead: python tools/train.py configs/' in proc.stderr
    assert not (tmp_path / 'w').exists() or not glob.glob(str(tmp_path / 'w' / '*.pth'))


def test_bad_segmentation_labels_are_named(tmp_path):
    from mmfilter.datasets.seg_transforms import ValidateSegMap
    check = ValidateSegMap(num_classes=6)
    ok = dict(img=np.zeros((4, 5, 3)), gt_seg_map=np.array([[0, 5, 255, 1, 2]] * 4), seg_map_path='a.png')
    assert check(ok) is ok
    with pytest.raises(ValueError, match=r'label map a.png holds labels \[6, 9\] outside the 6 classes'):
        check(dict(ok, gt_seg_map=np.array([[6, 9, 0, 0, 0]] * 4)))
    with pytest.raises(ValueError, match=r'label map a.png is 5x3 but its image b.jpg is 5x4'):
        check(dict(ok, gt_seg_map=np.zeros((3, 5)), img_path='b.jpg'))


def test_unreadable_image_is_named(tmp_path):
    cfg = tiny_detection(tmp_path)
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    proc = run_tool('infer.py', cfg, 'missing.pth', str(broken))
    assert proc.returncode != 0
    assert f'cannot read image {broken}' in proc.stderr
