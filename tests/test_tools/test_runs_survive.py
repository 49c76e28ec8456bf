"""Faults a new user hits at once, each reproduced: each ends in one line (or is handled)."""
import subprocess
import sys

import pytest

from conftest import (config_path, load_tool, own_lines, run_tool, tiny_detection_config,
                      tiny_segmentation_config)
from mmfilter.engine import CheckpointError

pytestmark = pytest.mark.slow  # tool runs, trainings, processes: integration tests


def save_model_checkpoint(config, path, transform=None) -> str:
    """The config's model, built (not trained), saved in MMEngine's checkpoint format;
    ``transform`` maps its state dict first."""
    from mmengine.config import Config
    from mmengine.runner.checkpoint import save_checkpoint

    from mmfilter.engine.preflight import build_model
    state_dict = build_model(Config.fromfile(str(config))).state_dict()
    save_checkpoint(dict(meta=dict(), state_dict=(transform or dict)(state_dict)), str(path))
    return str(path)


def test_diverged_training_stops_with_the_iteration_and_loss_terms(tmp_path):
    cfg = tiny_detection_config(tmp_path)
    work = tmp_path / 'work'
    proc = run_tool('train.py', cfg, '--work-dir', work, '--cfg-options',
                    'optim_wrapper.optimizer.lr=1e4', 'optim_wrapper.clip_grad=None',
                    'train_cfg.max_epochs=6', 'train_cfg.val_interval=6')
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: training diverged at iteration ')
    assert 'loss_cls=' in last and 'loss_bbox=' in last
    assert not (work / 'epoch_6.pth').exists()  # stopped before the end


def test_test_tool_checks_only_the_test_split_and_data_root_moves_every_path(tmp_path):
    cfg = load_tool('test.py').load_config(config_path('retinanet_filtervit_coco.py'),
                                           {'data_root': str(tmp_path / 'mine')})
    assert cfg.test_dataloader.dataset.data_root == f'{tmp_path}/mine/'
    assert cfg.train_dataloader.dataset.data_root == f'{tmp_path}/mine/'
    assert cfg.test_evaluator.ann_file == str(tmp_path / 'mine/annotations/instances_val2017.json')
    fits = save_model_checkpoint(config_path('retinanet_filtervit_coco.py'), tmp_path / 'fits.pth')
    proc = run_tool('test.py', config_path('retinanet_filtervit_coco.py'), fits,
                    '--cfg-options', f'data_root={tmp_path}/mine', cwd=str(tmp_path))
    assert proc.returncode == 1
    assert 'instances_val2017.json' in proc.stderr and 'train2017' not in proc.stderr


def test_trained_checkpoint_loads_through_mmdet_and_mmseg_apis(trained_detector,
                                                              trained_segmentor):
    """In a fresh process that imports nothing of mmfilter itself: the config's
    custom_imports must be enough for torch's weights-only loading."""
    det_cfg, det_work, _ = trained_detector
    seg_cfg, seg_work, _ = trained_segmentor
    code = (
        'import sys\n'
        'from mmdet.apis import init_detector\n'
        'from mmseg.apis import init_model\n'
        f"det = init_detector({str(det_cfg)!r}, {str(det_work / 'epoch_2.pth')!r}, device='cpu')\n"
        f"seg = init_model({str(seg_cfg)!r}, {str(seg_work / 'iter_4.pth')!r}, device='cpu')\n"
        "print(type(det.backbone).__name__, type(seg.backbone).__name__)\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=str(det_work), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ['FilterViT', 'FilterViT']


def test_visualize_filter_refuses_a_backbone_without_token_selection(trained_detector, tmp_path):
    cfg, _, _ = trained_detector
    image = tmp_path / 'x.png'
    import cv2
    import numpy as np
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    mobilevit = tmp_path / 'mobilevit.py'
    mobilevit.write_text(f"_base_ = ['{cfg}']\nmodel = dict(backbone=dict(type='MobileViT'), "
                         "neck=dict(in_channels=[24, 48, 64, 80]))\n")
    proc = run_tool('visualize_filter.py', mobilevit, image, '--out-dir', tmp_path / 'out')
    assert proc.returncode == 2
    assert own_lines(proc.stderr)[-1].startswith('error: MobileViT has no token-selecting blocks')


def test_visualize_filter_without_a_checkpoint_says_the_weights_are_random(tmp_path):
    import cv2
    import numpy as np
    image = tmp_path / 'x.png'
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    config = tiny_detection_config(tmp_path)
    proc = run_tool('visualize_filter.py', config, image, '--out-dir', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'note: no --checkpoint: the weights are random (as built from {config}); the ' \
        'masks and predictions show the untrained model' in proc.stderr
    assert (tmp_path / 'out' / 'x_sheet.png').is_file()


def _bad_checkpoints(folder, good):
    """A missing, a truncated and a text file, each named like a checkpoint."""
    truncated = folder / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    text = folder / 'text.pth'
    text.write_text('not a checkpoint')
    return {folder / 'missing.pth': 'checkpoint not found',
            truncated: 'is truncated', text: 'is not a PyTorch checkpoint'}


def test_bad_checkpoints_are_one_line_errors_before_anything_is_built(trained_detector, tmp_path):
    import cv2
    import numpy as np
    cfg, work, _ = trained_detector
    image = tmp_path / 'image.png'
    cv2.imwrite(str(image), np.zeros((16, 16, 3), np.uint8))
    from mmfilter.engine.checkpoint import CheckpointError, check_checkpoint
    bad = _bad_checkpoints(tmp_path, work / 'epoch_2.pth')
    for path, message in bad.items():  # the check every tool runs first, on each kind
        with pytest.raises(CheckpointError, match=message):
            check_checkpoint(str(path))
    tools = (('test.py', lambda path: (cfg, path)),
             ('train.py', lambda path: (cfg, '--resume', path)),
             ('infer.py', lambda path: (cfg, path, image)))
    for (tool, args), (path, message) in zip(tools, bad.items()):  # each tool, one kind each
        proc = run_tool(tool, *args(path), '--work-dir' if tool != 'infer.py' else '--out-dir',
                        tmp_path / 'out')
        assert proc.returncode == 1, (tool, proc.stderr[-2000:])
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith('error: ') and message in last and str(path) in last, last
        assert 'weights_only=False' not in proc.stderr


def test_resume_auto_falls_back_past_a_truncated_latest(trained_detector, tmp_path):
    import shutil
    cfg, trained, _ = trained_detector
    moved = tmp_path / 'moved'
    shutil.copytree(trained, moved)  # last_checkpoint still names the old absolute path
    (moved / 'last_checkpoint').write_text(str(tmp_path / 'elsewhere' / 'epoch_2.pth'))
    half = (moved / 'epoch_2.pth').read_bytes()
    (moved / 'epoch_2.pth').write_bytes(half[:len(half) // 3])  # killed mid-write
    from mmfilter.engine import latest_checkpoint
    with pytest.warns(UserWarning, match='epoch_2.pth is truncated'):
        assert latest_checkpoint(str(moved)) == str(moved / 'epoch_1.pth')


def test_infer_names_outputs_by_relative_path_bounds_drawing_and_names_empty_files(
        trained_detector, tmp_path):
    import cv2
    import numpy as np
    cfg, work, _ = trained_detector
    rng = np.random.default_rng(0)
    for folder, shape in (('a', (40, 60, 3)), ('b', (3000, 2200, 3))):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / 'x.png'), rng.integers(0, 255, shape, dtype=np.uint8))
    out = tmp_path / 'out'
    proc = run_tool('infer.py', cfg, work / 'epoch_2.pth', tmp_path / 'a' / 'x.png',
                    tmp_path / 'b' / 'x.png', '--out-dir', out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert cv2.imread(str(out / 'a' / 'x.png')).shape == (40, 60, 3)
    assert cv2.imread(str(out / 'b' / 'x.png')).shape == (2048, 1502, 3)  # longer side bounded
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    proc = run_tool('infer.py', cfg, work / 'epoch_2.pth', empty)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f'error: cannot read image {empty}: the file is empty'


def _corrupt_two_training_images(root) -> list:
    """Truncate one demo training JPEG and replace another with text; return both paths."""
    truncated, text = root / 'train2017' / '000001.jpg', root / 'train2017' / '000002.jpg'
    data = truncated.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    text.write_text('not an image')
    return [truncated, text]


def test_corrupt_images_are_named_before_training_or_skipped_when_asked(tmp_path):
    from mmfilter.datasets import make_demo_coco
    from conftest import TINY_SPLITS
    cfg = tiny_detection_config(tmp_path)
    truncated, text = _corrupt_two_training_images(
        __import__('pathlib').Path(make_demo_coco(str(tmp_path / 'coco'), TINY_SPLITS, 128)))
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'work')
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith('error: 2 image(s) of the train split are unusable')
    assert f'{truncated} (truncated JPEG (no end marker))' in error
    assert f'{text} (not an image file)' in error and 'skip_bad_images = True' in error

    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'work', '--cfg-options',
                    'skip_bad_images=True', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'warning: skipping 2 unusable training image(s)' in proc.stderr
    assert (tmp_path / 'work' / 'epoch_1.pth').exists()


def test_an_image_of_another_size_than_annotated_is_named_before_training(tmp_path):
    import cv2
    import numpy as np
    from mmfilter.datasets import make_demo_coco
    from conftest import TINY_SPLITS
    cfg = tiny_detection_config(tmp_path)
    root = make_demo_coco(str(tmp_path / 'coco'), TINY_SPLITS, 128)
    tiny = f'{root}/train2017/000003.jpg'
    cv2.imwrite(tiny, np.zeros((1, 1, 3), np.uint8))  # annotated as 128x128
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'work')
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert own_lines(proc.stderr) == [
        f'error: 1 image(s) of the train split are unusable: {tiny} (1x1 pixels, annotated as '
        '128x128); replace or remove them (set skip_bad_images = True in the config to train '
        'without them)']


def test_test_outputs_take_each_librarys_form_and_a_coco_subset_is_scored_alone(tmp_path):
    segmentor = tiny_segmentation_config(tmp_path)
    checkpoint = save_model_checkpoint(segmentor, tmp_path / 'segmentor.pth')
    proc = run_tool('test.py', segmentor, checkpoint, '--work-dir', tmp_path / 'seg',
                    '--out', tmp_path / 'labels', '--show-dir', tmp_path / 'drawn')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / 'labels').iterdir()) == [
        f'demo_val_{i:06d}.png' for i in range(4)]  # MMSegmentation's --out: one map per image
    assert len(list((tmp_path / 'drawn').rglob('*.png'))) == 4

    detector = tiny_detection_config(tmp_path)
    checkpoint = save_model_checkpoint(detector, tmp_path / 'detector.pth')
    proc = run_tool('test.py', detector, checkpoint, '--work-dir', tmp_path / 'det',
                    '--show-dir', 'drawn', '--cfg-options', 'test_dataloader.dataset.indices=2')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'its COCO metric scores those images only' in proc.stderr
    assert len(list((tmp_path / 'det').glob('*/drawn/*.jpg'))) == 2  # below WORK_DIR/TIMESTAMP


def test_bad_validation_images_are_never_skipped(tmp_path):
    from mmfilter.engine.preflight import check_data, handle_bad_images
    from mmfilter.datasets import DatasetError, make_demo_coco
    from conftest import TINY_SPLITS
    from mmengine.config import Config
    root = make_demo_coco(str(tmp_path / 'coco'), TINY_SPLITS, 128)
    (tmp_path / 'coco' / 'val2017' / '000001.jpg').write_bytes(b'')
    cfg = Config.fromfile(tiny_detection_config(tmp_path))
    cfg.skip_bad_images = True
    bad = check_data(cfg, ('train', 'val'))
    assert list(bad) == ['val'] and bad['val'][0][1] == 'empty file'
    with pytest.raises(DatasetError, match='evaluation needs every image'):
        handle_bad_images(cfg, bad)
    assert root


def test_demo_dataset_faults_are_one_line_errors_before_anything_is_built(tmp_path):
    from mmfilter.datasets import make_demo_coco
    from conftest import TINY_SPLITS
    cfg = tiny_detection_config(tmp_path)
    make_demo_coco(str(tmp_path / 'coco'), TINY_SPLITS, 128)
    ann = tmp_path / 'coco' / 'annotations' / 'instances_train2017.json'
    ann.write_text(ann.read_text()[:100])
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'work')
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f'error: annotation file is not valid JSON: {ann}')
    assert not (tmp_path / 'work').exists() or not list((tmp_path / 'work').glob('*/*.log'))


def test_published_model_loads_with_plain_weights_only_torch_load(trained_detector, tmp_path):
    _, work, _ = trained_detector
    proc = run_tool('model_converters/publish_model.py', work / 'epoch_2.pth',
                    tmp_path / 'retinanet.pth')
    assert proc.returncode == 0, proc.stderr[-2000:]
    published = list(tmp_path.glob('retinanet-*.pth'))
    assert len(published) == 1 and len(published[0].stem.split('-')[-1]) == 8
    code = ('import torch\n'  # nothing of mmengine or mmfilter imported
            f'c = torch.load({str(published[0])!r}, weights_only=True)\n'
            "print(sorted(c), len(c['state_dict']) > 0, 'message_hub' in c)\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd='/')
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["['meta',", "'state_dict']", 'True', 'False']


def test_tools_read_images_with_exif_orientation(tmp_path):
    import numpy as np
    from PIL import Image
    from mmfilter.engine.image_inputs import read_rgb
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = 255  # left half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # shown turned 90° clockwise
    path = tmp_path / 'turned.jpg'
    image.save(path, exif=exif.tobytes())
    rgb = read_rgb(str(path))
    assert rgb.shape == (80, 40, 3)  # as displayed: the white half on top
    assert rgb[:30].mean() > 200 and rgb[-30:].mean() < 50


BAD_BACKBONE_VALUES = [
    ('arch=xl', "unknown FilterViT arch 'xl'; choose from"),
    ('token_rule.ratio=1.5', 'token ratio must lie in (0, 1], got 1.5'),
    ('token_rule.budget=0', 'token budget must be a positive integer, got 0'),
    ('out_indices=(4,)', 'FilterViT out_indices (4,) out of range'),
    ('type=NoSuchNet', 'NoSuchNet is not in the mmdet::model registry'),
]


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
@pytest.mark.parametrize('value, message', BAD_BACKBONE_VALUES)
def test_a_bad_backbone_value_is_one_line_before_anything_else_with_status_2(
        tmp_path, tool, value, message):
    config = config_path('filtervit/retinanet_filtervit_demo.py')
    checkpoint = ('missing.pth', ) if tool == 'test.py' else ()
    proc = run_tool(tool, config, *checkpoint, '--work-dir', tmp_path / 'work', '--cfg-options',
                    f'model.backbone.{value}', cwd=str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ''  # before MMEngine's environment dump
    lines = own_lines(proc.stderr)
    assert len(lines) == 1, lines  # no traceback
    assert lines[0].startswith(f'error: {config}: model: ') and message in lines[0], lines[0]
    assert not (tmp_path / 'work').exists()


def test_a_checkpoint_of_another_model_is_one_line_unless_a_partial_load_is_asked(tmp_path):
    dropout = save_model_checkpoint(config_path('dropoutvit/retinanet_dropoutvit_demo.py'),
                                    tmp_path / 'dropoutvit.pth')
    mobilevit = config_path('mobilevit/retinanet_mobilevit_demo.py')
    proc = run_tool('test.py', mobilevit, dropout, cwd=str(tmp_path))
    assert proc.returncode == 1 and proc.stdout == ''
    lines = own_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f'error: checkpoint {dropout} does not fit the model of '
                               f'{mobilevit}: ')
    for part in ("of the model's keys missing (backbone.", 'unexpected (backbone.',
                 'of the wrong shape (backbone.', 'pass --partial-load to load only the tensors'):
        assert part in lines[0], part
    assert '--partial-load' in run_tool('test.py', '--help').stdout

    cfg = tiny_detection_config(tmp_path)  # load_from in training: the same check
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'work', '--cfg-options',
                    f'load_from={dropout}')
    assert proc.returncode == 1 and len(own_lines(proc.stderr)) == 1, proc.stderr
    assert 'does not fit the model of' in proc.stderr
    assert not (tmp_path / 'work').exists()

    image = _images(tmp_path / 'images', ['x.png'])[0]  # and the inference tools
    proc = run_tool('infer.py', cfg, dropout, image, '--out-dir', tmp_path / 'out')
    assert proc.returncode == 1 and len(own_lines(proc.stderr)) == 1, proc.stderr
    assert own_lines(proc.stderr)[0].startswith(f'error: checkpoint {dropout} does not fit the '
                                                f'model of {cfg}: ')
    assert own_lines(proc.stderr)[0].endswith('; pass --partial-load to load only the tensors '
                                              'that fit')
    proc = run_tool('infer.py', cfg, dropout, image, '--out-dir', tmp_path / 'out',
                    '--partial-load')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'warning: loading only the tensors of {dropout} that fit the model of {cfg}: ' in \
        proc.stdout + proc.stderr
    assert (tmp_path / 'out' / 'x.png').is_file()


def test_load_from_a_pretrained_backbone_lists_what_keeps_its_initial_values(tmp_path):
    """A converted MobileViT backbone (``--prefix backbone.``) as ``load_from`` of a
    FilterMobileViT detector: the scorers and the neck and head keep their initial
    values, said once; :class:`KeepInitialWeights` completes the checkpoint so that
    MMEngine's loader finds nothing missing."""
    import types

    import torch
    from mmengine.config import Config
    from mmengine.runner.checkpoint import load_state_dict

    from mmfilter import MobileViT
    from mmfilter.engine import KeepInitialWeights, check_weights_fit
    from mmfilter.engine.preflight import build_model
    cfg = tmp_path / 'filtermobilevit.py'
    cfg.write_text(f"_base_ = ['{tiny_detection_config(tmp_path)}']\n"
                   "model = dict(backbone=dict(type='FilterMobileViT'), "
                   "neck=dict(in_channels=[24, 48, 64, 80]))\n")
    backbone = {f'backbone.{k}': v for k, v in MobileViT(arch='xxs').state_dict().items()}
    torch.save(dict(state_dict=backbone, meta=dict()), tmp_path / 'backbone.pth')
    model = build_model(Config.fromfile(str(cfg)))
    path = str(tmp_path / 'backbone.pth')
    with pytest.raises(CheckpointError, match=r"of the model's keys missing \(neck\."):
        check_weights_fit(model, path)  # testing needs every key
    notes = check_weights_fit(model, path, allow_absent_modules=True)
    assert notes == [
        f'note: {path} lacks the 24 key(s) that FilterMobileViT adds on purpose '
        '(backbone.stages.1.attention.scorer.reduce.conv.weight, '
        'backbone.stages.1.attention.scorer.reduce.bn.weight, '
        'backbone.stages.1.attention.scorer.reduce.bn.bias, ...); they keep their initial values',
        f'note: {path} holds no weights for neck ({_count(model, "neck.")} keys), bbox_head '
        f'({_count(model, "bbox_head.")} keys); they keep their initial values']
    checkpoint = dict(state_dict=dict(backbone))
    KeepInitialWeights(allow_absent_modules=True).after_load_checkpoint(
        types.SimpleNamespace(model=model), checkpoint)
    load_state_dict(model, checkpoint['state_dict'], strict=True)  # nothing missing now
    for key, value in backbone.items():
        assert torch.equal(model.state_dict()[key], value)


def _count(model, prefix: str) -> int:
    return sum(1 for k in model.state_dict() if k.startswith(prefix)
               and not k.endswith('num_batches_tracked'))


def test_a_mobilevit_checkpoint_loads_into_filtermobilevit_with_its_scorers_listed_once(tmp_path):
    """FilterMobileViT declares its scorers' keys (``keys_absent_in_pretrained``): a
    checkpoint without them evaluates, the keys listed once and not by MMEngine."""
    from conftest import TINY_SPLITS
    from mmfilter.datasets import make_demo_coco
    make_demo_coco(str(tmp_path / 'coco'), TINY_SPLITS, 128)
    cfg = tiny_detection_config(tmp_path)
    filter_mobilevit = tmp_path / 'filtermobilevit.py'
    filter_mobilevit.write_text(
        f"_base_ = ['{cfg}']\nmodel = dict(backbone=dict(type='FilterMobileViT'), "
        "neck=dict(in_channels=[24, 48, 64, 80]))\n")
    mobilevit = tmp_path / 'mobilevit.py'
    mobilevit.write_text(filter_mobilevit.read_text().replace('FilterMobileViT', 'MobileViT'))
    checkpoint = save_model_checkpoint(mobilevit, tmp_path / 'mobilevit.pth')
    proc = run_tool('test.py', filter_mobilevit, checkpoint, '--work-dir', tmp_path / 'work')
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes = [line for line in proc.stderr.splitlines() if 'scorer' in line]
    assert len(notes) == 1, notes
    assert notes[0].startswith(f'note: {checkpoint} lacks the 24 key(s) that FilterMobileViT '
                               'adds on purpose (backbone.stages.1.attention.scorer.')
    assert 'missing keys in source state_dict' not in proc.stdout + proc.stderr


def test_the_converter_says_when_a_checkpoint_is_already_in_mmfilter_layout(tmp_path):
    import torch

    from mmfilter import FilterMobileViT, MobileViT
    weights = MobileViT(arch='xxs').state_dict()
    cases = {
        tmp_path / 'mobilevit.pth': (weights, 'a MobileViT-xxs backbone'),
        tmp_path / 'detector.pth': ({f'backbone.{k}': v for k, v in weights.items()},
                                    'the MobileViT-xxs backbone of a whole model'),
        tmp_path / 'filtermobilevit.pth': (FilterMobileViT(arch='xxs').state_dict(),
                                           'a FilterMobileViT-xxs backbone'),
    }
    for path, (state_dict, held) in cases.items():
        torch.save(dict(state_dict=state_dict, meta=dict()), path)
        proc = run_tool('model_converters/mobilevit_to_mmfilter.py', path, tmp_path / 'out.pth')
        assert proc.returncode == 1
        lines = own_lines(proc.stderr)
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"error: {path} is already in mmfilter's layout ({held}")
        assert 'not a MobileViT checkpoint' not in proc.stderr and 'nothing to convert' in lines[0]
        assert not (tmp_path / 'out.pth').exists()


def _images(folder, names) -> list:
    import cv2
    import numpy as np
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    return [folder / name for name in names]


def test_infer_reads_the_images_of_a_folder_and_draws_the_readable_ones_of_a_list(tmp_path):
    cfg = tiny_detection_config(tmp_path)
    checkpoint = save_model_checkpoint(cfg, tmp_path / 'detector.pth')
    folder = tmp_path / 'photos'
    _images(folder, ['b.png', 'a.jpg', 'c.JPG'])
    (folder / 'notes.txt').write_text('not an image')
    (folder / 'sub').mkdir()  # folders inside are not searched
    _images(folder / 'sub', ['d.png'])
    proc = run_tool('infer.py', cfg, checkpoint, folder, '--out-dir', tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [line.split(' -> ')[0] for line in proc.stdout.splitlines() if ' -> ' in line] == [
        str(folder / name) for name in ('a.jpg', 'b.png', 'c.JPG')]
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['a.png', 'b.png', 'c.png']

    empty = tmp_path / 'empty'
    empty.mkdir()
    proc = run_tool('infer.py', cfg, checkpoint, empty)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith('error: no images (.jpg, ')
    assert proc.stderr.strip().endswith(f') in folder {empty}')

    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    good = _images(tmp_path / 'list', ['x.png', 'y.png'])
    proc = run_tool('infer.py', cfg, checkpoint, good[0], broken, good[1], '--out-dir',
                    tmp_path / 'drawn')
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: 1 of 3 image(s) could not be read and were skipped (the other 2 were drawn): '
        f'cannot read image {broken}: not a decodable image file')
    assert sorted(p.name for p in (tmp_path / 'drawn' / 'list').iterdir()) == ['x.png', 'y.png']
