"""Short end-to-end runs through tools/train.py, tools/test.py and tools/infer.py
on tiny splits of the demo data, and the clear failures without data."""
import glob
import importlib
import re
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed

from conftest import (config_path, run_tool, scalars, tiny_detection_config,
                      tiny_segmentation_config)

pytestmark = pytest.mark.slow  # tool runs, trainings, processes: integration tests


def test_detection_training_evaluates_coco_map(trained_detector):
    _, work, _ = trained_detector
    maps = [r['coco/bbox_mAP'] for r in scalars(work) if 'coco/bbox_mAP' in r]
    assert len(maps) == 1 and 0 <= maps[0] <= 1
    assert (work / 'epoch_1.pth').is_file() and (work / 'epoch_2.pth').is_file()


def test_resume_continues_at_the_saved_iteration_with_the_same_lr(trained_detector, tmp_path):
    cfg, trained, _ = trained_detector
    work = tmp_path / 'work'
    shutil.copytree(trained, work)  # the run "was interrupted" after epoch 2
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    proc = run_tool('train.py', cfg, '--work-dir', work, '--resume', '--cfg-options',
                    'train_cfg.max_epochs=3')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 2, iter: 4' in proc.stdout + proc.stderr
    before = [r for r in scalars(trained) if 'loss' in r]
    resumed = [r for r in scalars(work) if 'loss' in r]
    assert [r['iter'] for r in before] == [1, 2, 3, 4]
    assert resumed[0]['iter'] == 5 and resumed[0]['epoch'] == 3
    # The warm-up is linear in the iteration: a resumed run continues the line where it
    # stopped; a run that restarted its schedule would be back at the first value.
    step = before[3]['lr'] - before[2]['lr']
    assert step > 0
    assert resumed[0]['lr'] == pytest.approx(before[3]['lr'] + step, rel=1e-6)
    assert (work / 'epoch_3.pth').is_file()


def test_test_tool_evaluates_and_saves_filter_masks_only_when_asked(trained_detector, tmp_path):
    cfg, work, _ = trained_detector
    plain = run_tool('test.py', cfg, work / 'epoch_2.pth', '--work-dir', tmp_path / 'plain')
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert 'coco/bbox_mAP' in plain.stdout + plain.stderr
    assert not glob.glob(str(tmp_path / 'plain' / '*' / 'filter_masks'))
    masks = run_tool('test.py', cfg, work / 'epoch_2.pth', '--work-dir', tmp_path / 'masks',
                     '--filter-masks', 2)
    assert masks.returncode == 0, masks.stderr[-3000:]
    sheets = glob.glob(str(tmp_path / 'masks' / '*' / 'filter_masks' / '*.png'))
    assert len(sheets) == 2
    assert cv2.imread(sheets[0]).shape[1] > 4 * 128  # prediction + 3 masks + 3 token panels


def test_test_tool_with_batch_norm_folded_scores_the_same(trained_detector, tmp_path):
    cfg, work, _ = trained_detector

    def bbox_ap(*extra) -> float:
        proc = run_tool('test.py', cfg, work / 'epoch_2.pth', '--work-dir', tmp_path, *extra)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return float(re.search(r'coco/bbox_mAP: ([0-9.]+)', proc.stdout + proc.stderr).group(1))

    assert bbox_ap('--fuse-conv-bn') == pytest.approx(bbox_ap(), abs=2e-3)


def test_infer_draws_boxes_on_an_odd_sized_image(trained_detector, tmp_path):
    cfg, work, _ = trained_detector
    image = tmp_path / 'odd.jpg'
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (75, 101, 3), dtype=np.uint8))
    drawn = run_tool('infer.py', cfg, work / 'epoch_2.pth', image, '--out-dir', tmp_path / 'vis',
                     '--score-thr', '0')
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    out = cv2.imread(str(tmp_path / 'vis' / 'odd.png'))
    assert out.shape == (75, 101, 3) and not np.array_equal(out, cv2.imread(str(image)))


def test_a_run_says_when_it_would_overwrite_checkpoints(tmp_path):
    cfg = tiny_detection_config(tmp_path)
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'earlier run')
    proc = run_tool('train.py', cfg, '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=1',
                    'train_cfg.val_interval=5')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'already holds 1 checkpoint(s) (epoch_1.pth' in proc.stderr


def losses_on_a_fixed_batch(config: str, steps: int = 12) -> list:
    """Total loss per AdamW step on the first 4 training samples of ``config``."""
    set_random_seed(0)  # the pipelines' random resize, crop and flip, and the weights
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    registry = importlib.import_module(f'{cfg.default_scope}.registry')
    dataset = registry.DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(4)])
    model = revert_sync_batchnorm(registry.MODELS.build(cfg.model))
    model.init_weights()
    model.train()
    data = model.data_preprocessor(batch, True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        loss = sum(v if torch.is_tensor(v) else sum(v)
                   for k, v in model(**data, mode='loss').items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize('make_config', [tiny_detection_config, tiny_segmentation_config])
def test_loss_falls_on_a_tiny_split(tmp_path, make_config):
    losses = losses_on_a_fixed_batch(make_config(tmp_path))
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses


def test_segmentation_trains_evaluates_and_infers_on_odd_sizes(trained_segmentor, tmp_path):
    cfg, work, _ = trained_segmentor
    records = scalars(work)
    assert len([r for r in records if 'loss' in r]) == 4
    miou = [r['mIoU'] for r in records if 'mIoU' in r]
    assert len(miou) == 1 and 0 <= miou[0] <= 100

    image = tmp_path / 'odd.jpg'
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 255, (83, 117, 3), dtype=np.uint8))
    drawn = run_tool('infer.py', cfg, work / 'iter_4.pth', image, '--out-dir', tmp_path / 'vis')
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    assert cv2.imread(str(tmp_path / 'vis' / 'odd.png')).shape == (83, 117, 3)


@pytest.mark.parametrize('config, message', [
    ('retinanet_filtervit_coco.py', 'annotation file not found: data/coco/annotations/instances_train2017.json'),
    ('filtervit/faster-rcnn_filtervit-xs-scratch_fpn_1x_coco.py', 'annotation file not found: data/coco/annotations/instances_train2017.json'),
    ('filtervit/upernet_filtervit-xs-scratch_160k_ade20k-512x512.py', 'image folder not found: data/ade/ADEChallengeData2016/images/training'),
    ('filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py', 'image folder not found: data/camvid/train'),
])
def test_real_dataset_configs_stop_at_once_without_data(tmp_path, config, message):
    proc = run_tool('train.py', config_path(config), '--work-dir', tmp_path / 'w', cwd=str(tmp_path))
    assert proc.returncode == 1
    assert message in proc.stderr
    assert 'run the embedded demo instead: python tools/train.py configs/' in proc.stderr
    assert not (tmp_path / 'w').exists() or not glob.glob(str(tmp_path / 'w' / '*.pth'))


def test_bad_segmentation_labels_are_named(tmp_path):
    from mmfilter.datasets.seg_transforms import ValidateSegMap
    check = ValidateSegMap(num_classes=6)
    ok = dict(img=np.zeros((4, 5, 3)), gt_seg_map=np.array([[0, 5, 255, 1, 2]] * 4), seg_map_path='a.png')
    assert check(ok) is ok
    resized = dict(ok, img=np.zeros((8, 10, 3)), ori_shape=(4, 5))  # a Resize ran before loading
    assert check(resized) is resized
    unlabelled = dict(img=np.zeros((4, 5, 3)))  # inference: nothing to check
    assert check(unlabelled) is unlabelled
    with pytest.raises(ValueError, match=r'label map a.png holds labels \[6, 9\] outside the 6 classes'):
        check(dict(ok, gt_seg_map=np.array([[6, 9, 0, 0, 0]] * 4)))
    with pytest.raises(ValueError, match=r'label map a.png is 5x3 but its image b.jpg is 5x4'):
        check(dict(ok, gt_seg_map=np.zeros((3, 5)), img_path='b.jpg'))


def test_unreadable_image_is_named(tmp_path):
    cfg = tiny_detection_config(tmp_path)
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    proc = run_tool('infer.py', cfg, 'missing.pth', broken)
    assert proc.returncode != 0
    assert f'cannot read image {broken}' in proc.stderr
