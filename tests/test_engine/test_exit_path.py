"""The tools' one exit path, and each fault a new user hits ending in one ``error:`` line
with exit status 2 for a configuration mistake (1 otherwise), before anything is created."""
import argparse
import glob
import json
import os

import numpy as np
import pytest
from mmengine.config import Config

from conftest import config_path, load_tool, own_lines, run_tool
from mmfilter.engine.cli import (EXIT_STATUS, add_runner_arguments, exit_on_error,
                                 model_run_parser, parse_model_run_args, parse_runner_args)

DEMO = config_path('filtervit/retinanet_filtervit_demo.py')
SEG_DEMO = config_path('filtervit/upernet_filtervit_demo.py')


def _errors():
    """One instance of each error class the exit path knows, with its status."""
    from mmfilter.datasets import DatasetError
    from mmfilter.engine import (CheckpointError, DivergedError, SaveError, WeightsMismatchError,
                                 WorkDirBusyError, WorkDirError)
    from mmfilter.engine.cli import LaunchError
    from mmfilter.engine.config import ConfigError
    from mmfilter.engine.image_inputs import ImageReadError
    return [(ConfigError('a.py: model: bad'), 2), (WorkDirError('cannot create work dir w'), 2),
            (WorkDirBusyError('work dir w is in use'), 1), (CheckpointError('c.pth is empty'), 1),
            (WeightsMismatchError('c.pth does not fit'), 1), (DatasetError('no images'), 1),
            (ImageReadError('cannot read x.png'), 1), (SaveError('could not save c.pth'), 1),
            (DivergedError('training diverged at iteration 3'), 1), (LaunchError('needs CUDA'), 1)]


def test_each_known_error_ends_in_one_line_with_its_status(capsys):
    errors = _errors()
    assert {type(e) for e, _ in errors} >= {cls for cls, _ in EXIT_STATUS}
    for error, status in errors:
        with pytest.raises(SystemExit) as caught, exit_on_error():
            raise type(error)(f'{error}\n  (second line)')
        assert caught.value.code == status, type(error)
        assert capsys.readouterr().err == f'error: {error} (second line)\n'


def test_a_mismatch_names_partial_load_only_where_the_tool_has_it_and_bugs_keep_tracebacks(
        capsys):
    from mmfilter.engine import WeightsMismatchError
    for flag, tail in ((True, '; pass --partial-load to load only the tensors that fit'),
                       (False, '')):
        with pytest.raises(SystemExit), exit_on_error(partial_load_flag=flag):
            raise WeightsMismatchError('checkpoint c.pth does not fit the model')
        assert capsys.readouterr().err == f'error: checkpoint c.pth does not fit the model{tail}\n'
    with pytest.raises(ZeroDivisionError), exit_on_error():
        raise ZeroDivisionError  # a bug, not a user's mistake


def test_errors_of_a_tools_own_layer_end_in_one_line_where_the_tool_names_them(capsys):
    from mmfilter.deploy import ExportError
    with pytest.raises(SystemExit) as caught, exit_on_error(layer_errors=[(ExportError, 1)]):
        raise ExportError('the graph differs from PyTorch')
    assert caught.value.code == 1
    assert capsys.readouterr().err == 'error: the graph differs from PyTorch\n'
    with pytest.raises(ExportError), exit_on_error():
        raise ExportError('not named: a bug of the tool')


def test_a_model_run_needs_a_checkpoint_or_a_dry_run_of_one_image(capsys):
    parser = model_run_parser('a study', num_images=50)
    with pytest.raises(SystemExit) as caught:
        parse_model_run_args(parser, ['a.py'])
    assert caught.value.code == 2
    assert 'error: give the CHECKPOINT, or --dry-run' in capsys.readouterr().err
    assert parse_model_run_args(parser, ['a.py', 'c.pth']).num_images == 50
    dry_run = parse_model_run_args(parser, ['a.py', '--dry-run', '--num-images', '8'])
    assert dry_run.checkpoint is None and dry_run.num_images == 1
    assert model_run_parser('a study').parse_args(['a.py']).num_images is None  # the whole split


def test_runner_arguments_set_the_local_rank_unless_the_launcher_did(monkeypatch):
    parser = argparse.ArgumentParser()
    add_runner_arguments(parser)
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_runner_args(parser, ['--local-rank', '3', '--cfg-options', 'model.a=1'])
    assert os.environ['LOCAL_RANK'] == '3'
    assert args.cfg_options == {'model.a': 1} and args.launcher == 'none' and args.malloc == 'reuse'
    monkeypatch.setenv('LOCAL_RANK', '1')
    parse_runner_args(parser, ['--local-rank', '3'])
    assert os.environ['LOCAL_RANK'] == '1'


def _assert_one_config_error(proc, start: str) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = own_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith(f'error: {start}'), lines
    assert proc.stdout == ''  # before MMEngine's environment dump
    return lines[0]


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_a_config_with_a_syntax_error_names_the_file_and_line(tmp_path, tool):
    config = tmp_path / 'typo.py'
    config.write_text(f"_base_ = ['{DEMO}']\n\nmodel = dict(backbone=dict(arch='xxs')\n")
    checkpoint = ('missing.pth', ) if tool == 'test.py' else ()
    proc = run_tool(tool, config, *checkpoint, '--work-dir', tmp_path / 'work')
    line = _assert_one_config_error(proc, f'invalid Python syntax in config {config}:3: ')
    assert "'(' was never closed" in line
    assert not (tmp_path / 'work').exists()

    child = tmp_path / 'child.py'  # the mistake in a _base_ file
    child.write_text(f"_base_ = ['{config}']\n")
    proc = run_tool(tool, child, *checkpoint, '--work-dir', tmp_path / 'work')
    _assert_one_config_error(proc, f'invalid Python syntax in config {config}:3: ')


def test_a_loop_option_the_loop_does_not_take_is_refused_before_the_work_dir(tmp_path):
    proc = run_tool('train.py', SEG_DEMO, '--work-dir', tmp_path / 'work', '--cfg-options',
                    'train_cfg.max_epochs=1')
    _assert_one_config_error(
        proc, f"{SEG_DEMO}: train_cfg.max_epochs: IterBasedTrainLoop takes no option "
        "'max_epochs' (it takes max_iters, val_begin, val_interval, dynamic_intervals)")
    assert not (tmp_path / 'work').exists()
    proc = run_tool('test.py', DEMO, 'missing.pth', '--work-dir', tmp_path / 'work',
                    '--cfg-options', 'test_cfg.fp32=True')
    _assert_one_config_error(proc, f"{DEMO}: test_cfg.fp32: TestLoop takes no option 'fp32'")


def test_the_loop_check_accepts_the_shipped_loops_and_names_a_missing_option():
    from mmfilter.engine.config import ConfigError, check_loop_options
    inherited = [sorted(glob.glob(config_path(f'**/*{suffix}'), recursive=True))[0]
                 for suffix in ('_coco.py', '_ade20k-512x512.py')]  # loops with _scope_ keys
    for config in [SEG_DEMO] + inherited:
        check_loop_options(Config.fromfile(config), ('train_cfg', 'val_cfg', 'test_cfg'))
    cfg = Config.fromfile(DEMO)
    cfg.train_cfg = dict(by_epoch=True, val_interval=1)
    with pytest.raises(ConfigError, match='train_cfg: EpochBasedTrainLoop needs max_epochs'):
        check_loop_options(cfg)


def test_auto_scale_lr_without_a_base_batch_size_is_refused_up_front(tmp_path):
    proc = run_tool('train.py', SEG_DEMO, '--work-dir', tmp_path / 'work', '--auto-scale-lr')
    _assert_one_config_error(proc, f'{SEG_DEMO}: --auto-scale-lr needs '
                             'auto_scale_lr.base_batch_size')
    assert not (tmp_path / 'work').exists()
    train = load_tool('train.py')
    cfg = train.build_config(train.parse_args([DEMO, '--auto-scale-lr']))
    assert cfg.auto_scale_lr.enable is True and cfg.auto_scale_lr.base_batch_size > 0


def test_resume_with_nothing_to_resume_says_so_and_starts_afresh(tmp_path, capsys):
    train = load_tool('train.py')
    cfg = train.build_config(train.parse_args([DEMO, '--work-dir', str(tmp_path), '--resume']))
    assert not cfg.resume and cfg.load_from is None
    assert capsys.readouterr().err == (f'note: --resume: no complete checkpoint in {tmp_path}; '
                                       'starting afresh\n')


def _image(path, shape=(8, 8, 3)) -> str:
    import cv2
    cv2.imwrite(str(path), np.zeros(shape, np.uint8))
    return str(path)


@pytest.mark.parametrize('tool', ['infer.py', 'deploy/onnx_infer.py'])
def test_an_unwritable_out_dir_is_one_line_before_the_model_is_loaded(tmp_path, tool):
    image = _image(tmp_path / 'x.png')
    model = ('config.py', 'missing.pth') if tool == 'infer.py' else ('missing.onnx', )
    proc = run_tool(tool, *model, image, '--out-dir', '/proc/mmfilter-out')
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = own_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith('error: cannot create') \
        and lines[0].endswith('--out-dir /proc/mmfilter-out: No such file or directory'), lines


def test_predict_takes_an_rgb_uint8_array_or_a_path_and_refuses_the_rest(tmp_path):
    from mmfilter.apis import as_rgb_image, predict
    rgb = np.zeros((4, 6, 3), np.uint8)
    assert as_rgb_image(rgb) is rgb
    assert as_rgb_image(_image(tmp_path / 'x.png', (5, 7, 3))).shape == (5, 7, 3)
    refused = {'a uint8 array of shape [4, 6, 4]': np.zeros((4, 6, 4), np.uint8),
               'a float32 array of shape [4, 6, 3]': np.zeros((4, 6, 3), np.float32),
               'a uint8 array of shape [4, 6]': np.zeros((4, 6), np.uint8),
               'a list': [[0, 0, 0]]}
    for what, image in refused.items():
        with pytest.raises(ValueError, match=rf'expected an RGB uint8 \[H, W, 3\] array or an '
                           rf'image path, got {what}'.replace('[4', r'\[4')):
            predict(None, image)  # refused before the model is used


def test_a_model_without_a_checkpoint_names_the_configs_classes_and_keeps_the_allocator(
        monkeypatch):
    from mmfilter.apis import inference
    from mmfilter.datasets import OBJECT_CLASSES, SEG_CLASSES
    calls = []
    monkeypatch.setattr(inference, 'optimize_for_cpu', lambda *a: calls.append(a))
    monkeypatch.setattr('mmfilter.engine.allocator.configure_malloc', calls.append)
    for config, classes in ((DEMO, OBJECT_CLASSES), (SEG_DEMO, SEG_CLASSES)):
        model = inference.init_model(config, device='cpu')
        assert tuple(model.dataset_meta['classes']) == tuple(classes)
        assert len(model.dataset_meta['palette']) == len(classes)
    assert calls == []  # neither row bands nor a malloc mode unless asked
    model = inference.init_model(DEMO, device='cpu', cpu_optimize=True, malloc='reuse')
    assert calls == [(model, 'reuse')]


def _coco(folder, images: int) -> str:
    """A COCO annotation file of ``images`` 100x100 images, one 20x20 box each."""
    coco = dict(images=[dict(id=i, file_name=f'{i}.jpg', width=100, height=100)
                        for i in range(images)],
                annotations=[dict(id=i + 1, image_id=i, category_id=1, bbox=[10, 10, 20, 20],
                                  area=400, iscrowd=0) for i in range(images)],
                categories=[dict(id=1, name='box')])
    path = folder / 'ann.json'
    path.write_text(json.dumps(coco))
    return str(path)


def test_a_subset_run_is_scored_on_its_images_only(tmp_path):
    import torch
    from mmdet.evaluation import CocoMetric

    from mmfilter.engine.preflight import restrict_coco_metrics_to_subsets
    from mmfilter.evaluation import SubsetCocoMetric
    ann = _coco(tmp_path, images=4)
    pred = dict(img_id=0, bboxes=torch.tensor([[10., 10., 30., 30.]]), scores=torch.tensor([1.]),
                labels=torch.tensor([0]))
    results = [(dict(width=100, height=100, img_id=0, anns=[]), pred)]  # one image run
    scores = {}
    for cls in (CocoMetric, SubsetCocoMetric):
        metric = cls(ann_file=ann, metric='bbox')
        metric.dataset_meta = dict(classes=('box', ))
        scores[cls] = metric.compute_metrics(list(results))['bbox_mAP']
    assert scores[SubsetCocoMetric] == 1.0 and scores[CocoMetric] < 0.3

    cfg = Config(dict(test_dataloader=dict(dataset=dict(indices=4)),
                      test_evaluator=dict(type='CocoMetric', ann_file=ann),
                      val_dataloader=dict(dataset=dict()), val_evaluator=dict(type='CocoMetric')))
    notes = restrict_coco_metrics_to_subsets(cfg, ('val', 'test'))
    assert cfg.test_evaluator.type == 'SubsetCocoMetric' and cfg.val_evaluator.type == 'CocoMetric'
    assert notes == ['note: test_dataloader.dataset.indices runs part of the test split: its COCO '
                     "metric scores those images only, a figure not comparable with the whole "
                     "split's"]


def test_an_image_of_another_size_than_annotated_is_named_by_the_preflight(tmp_path):
    from mmfilter.datasets.checks import check_coco_annotations, find_bad_images
    (tmp_path / 'images').mkdir()
    ann = _coco(tmp_path, images=2)
    _image(tmp_path / 'images' / '0.jpg', (100, 100, 3))
    tiny = _image(tmp_path / 'images' / '1.jpg', (1, 1, 3))
    sizes = check_coco_annotations(ann, str(tmp_path / 'images'))
    assert sizes == {str(tmp_path / 'images' / f'{i}.jpg'): (100, 100) for i in range(2)}
    assert find_bad_images(list(sizes), annotated_sizes=sizes) == [
        (tiny, '1x1 pixels, annotated as 100x100')]
    assert find_bad_images(list(sizes)) == []  # without sizes: only decoding is checked


def test_generated_demo_folders_follow_the_umask(tmp_path):
    from mmfilter.datasets import make_demo_coco
    previous = os.umask(0o002)
    try:
        root = make_demo_coco(str(tmp_path / 'coco'), dict(val=1), 32)
    finally:
        os.umask(previous)
    assert os.stat(root).st_mode & 0o777 == 0o775
