"""Whole detectors and segmentors exported to ONNX, run by ONNX Runtime without
OpenMMLab, and checked against PyTorch on demo images and real photographs."""
import json
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from conftest import REPO, config_path, load_tool, run_tool
from mmfilter.deploy import FixedSizeAdaptiveAvgPool2d, NonMaxSuppression, match_detections

PHOTOS = ('astronaut', 'coffee', 'chelsea', 'rocket')


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    """scikit-image's real photographs, as PNG files in one folder."""
    from skimage import data
    folder = tmp_path_factory.mktemp('photos')
    for name in PHOTOS:
        cv2.imwrite(str(folder / f'{name}.png'), getattr(data, name)()[..., ::-1])
    return folder


@pytest.mark.parametrize('in_size,out_size',
                         [(16, 3), (16, 6), (13, (2, 5)), (8, 1), (9, (None, 2))])
def test_fixed_size_adaptive_pooling_equals_adaptive_pooling(in_size, out_size):
    x = torch.randn(2, 3, in_size, in_size + 3)
    expected = nn.AdaptiveAvgPool2d(out_size)(x)
    torch.testing.assert_close(FixedSizeAdaptiveAvgPool2d(out_size)(x), expected)


class _NMS(nn.Module):
    def forward(self, boxes, scores):
        return NonMaxSuppression.apply(boxes, scores, 5, 0.5, 0.2)


def test_nms_in_pytorch_equals_onnx_runtime(tmp_path):
    """The PyTorch forward that the exporter traces selects what ONNX's
    NonMaxSuppression selects: per class, greedy in score order, strict thresholds."""
    import onnxruntime as ort
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(1, 60, 2, generator=generator) * 50
    boxes = torch.cat([corners, corners + 5 + torch.rand(1, 60, 2, generator=generator) * 20], -1)
    scores = torch.rand(1, 3, 60, generator=generator)
    path = str(tmp_path / 'nms.onnx')
    torch.onnx.export(_NMS(), (boxes, scores), path, dynamo=False, opset_version=17,
                      input_names=['boxes', 'scores'], output_names=['selected'])
    feed = {'boxes': boxes.numpy(), 'scores': scores.numpy()}
    got = ort.InferenceSession(path).run(None, feed)[0]
    expected = _NMS()(boxes, scores).numpy()
    assert len(expected) > 3 and (expected[:, 1] == 2).any()  # several kept, in every class
    np.testing.assert_array_equal(got, expected)


def test_detections_match_within_tolerance_and_unmatched_only_at_the_cut():
    ref = dict(bboxes=np.array([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 4, 4]], np.float32),
               scores=np.array([0.9, 0.5, 0.0505], np.float32), labels=np.array([0, 1, 1]))
    got = dict(bboxes=ref['bboxes'][:2] + 0.4, scores=ref['scores'][:2] + 1e-4,
               labels=ref['labels'][:2])
    stats = match_detections(ref, got, floor=0.05, box_tol=1, score_tol=1e-3)
    # 0.0505 lies within 1e-3 of the cut: unmatched, but not missed
    assert stats['matched'] == 2 and stats['missed'] == 0 and stats['extra'] == 0
    assert stats['box_diff'] == pytest.approx(0.4, abs=1e-5)
    assert stats['score_diff'] == pytest.approx(1e-4, abs=1e-6)
    moved = dict(got, bboxes=got['bboxes'] + np.array([0, 0, 2, 0], np.float32))
    stats = match_detections(ref, moved, floor=0.05, box_tol=1, score_tol=1e-3)
    assert stats['matched'] == 0 and stats['missed'] == 2 and stats['extra'] == 2
    relabelled = dict(got, labels=np.array([1, 0]))
    assert match_detections(ref, relabelled, 0.05, 1, 1e-3)['matched'] == 0


def _metadata(path) -> dict:
    import onnx
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _summary(stdout: str, pattern: str):
    return re.search(pattern, stdout).groups()


@pytest.mark.slow
def test_whole_detector_exports_and_matches_pytorch(trained_detector, tmp_path, photos):
    """RetinaNet-FilterViT-xxs trained for 2 tiny epochs, exported at 128x128: its
    detections (score threshold 0, so 100 per image reach NMS's cap) match
    PyTorch's on the demo images and the photographs, and so does the mAP."""
    config, work, _ = trained_detector
    checkpoint, model = work / 'epoch_2.pth', tmp_path / 'retinanet.onnx'
    proc = run_tool('deploy/export_onnx.py', config, checkpoint, '--shape', 128, 128,
                    '--out', model)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r'dets: PyTorch (\d+), ONNX Runtime \1 detections, \1 matched', proc.stdout)
    meta = _metadata(model)
    assert meta['task'] == 'detection' and json.loads(meta['input_size']) == [128, 128]
    from mmfilter.datasets.scene import DEMO_SCENES
    assert json.loads(meta['classes']) == list(DEMO_SCENES.object_classes)
    assert meta['input_channel_order'] == 'bgr'
    assert json.loads(meta['mean']) == pytest.approx([103.53, 116.28, 123.675])

    proc = run_tool('deploy/check_onnx.py', config, checkpoint, model, photos, '--num-val', 4)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    images, ref, got, matched = map(int, _summary(
        proc.stdout, r'all (\d+) images: PyTorch (\d+) / ONNX (\d+) detections, (\d+) matched'))
    assert images == 4 + len(PHOTOS)
    assert matched >= 0.9 * ref and matched >= 20 * images, proc.stdout
    torch_map, onnx_map = map(float, _summary(proc.stdout,
                                              r'mAP PyTorch ([\d.]+), ONNX Runtime ([\d.]+)'))
    assert abs(torch_map - onnx_map) <= 1e-3


@pytest.mark.slow
def test_whole_segmentor_exports_and_matches_pytorch(trained_segmentor, tmp_path, photos):
    config, work, _ = trained_segmentor
    checkpoint, model = work / 'iter_4.pth', tmp_path / 'upernet.onnx'
    proc = run_tool('deploy/export_onnx.py', config, checkpoint, '--shape', 128, 128,
                    '--out', model)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _metadata(model)['task'] == 'segmentation'
    proc = run_tool('deploy/check_onnx.py', config, checkpoint, model, photos, '--num-val', 4)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    agreement = float(_summary(proc.stdout, r'images: ([\d.]+)% of the pixels agree')[0])
    assert agreement >= 99.9


@pytest.mark.slow
def test_onnx_infer_draws_and_its_runtime_needs_no_torch_or_openmmlab(trained_detector, tmp_path,
                                                                        photos):
    config, work, _ = trained_detector
    model = tmp_path / 'retinanet.onnx'
    assert run_tool('deploy/export_onnx.py', config, work / 'epoch_2.pth', '--shape', 128, 128,
                    '--out', model).returncode == 0
    out_dir = tmp_path / 'drawn'
    proc = run_tool('deploy/onnx_infer.py', model, photos, '--out-dir', out_dir, '--score-thr', 0)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from skimage import data
    for name in PHOTOS:
        drawn = cv2.imread(str(out_dir / f'{name}.png'))
        photo = getattr(data, name)()
        assert drawn.shape[:2] == photo.shape[:2]
        assert (drawn[..., ::-1] != photo).any()  # boxes were drawn
    script = (  # the runtime module, copied alone next to the model, in a fresh interpreter
        'import runpy, sys\n'
        f"runtime = runpy.run_path({REPO + '/mmfilter/deploy/runtime.py'!r})\n"
        f"runner, meta = runtime['load_runtime']({str(model)!r})\n"
        f"image = runtime['read_image']({str(photos / 'coffee.png')!r}, "
        "meta['input_channel_order'])\n"
        "assert len(runtime['detect'](runner, meta, image)['scores']) == 100\n"
        "loaded = [m for m in ('torch', 'mmcv', 'mmdet', 'mmseg', 'mmengine', 'mmfilter') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n")
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize('config,shape,message', [
    ('filtervit/faster-rcnn_filtervit_demo.py', (128, 128), r'FasterRCNN: two-stage detectors \(RoI heads\) are not '
     r'exportable as a whole'),
    ('filtervit/retinanet_filtervit_demo.py', (100, 128), r'input size 100x128 is not a multiple of the data '
     r"preprocessor's pad_size_divisor 32: the model only sees padded sizes such as 128x128"),
])
def test_whole_model_export_refuses_what_it_cannot_export(tmp_path, config, shape, message):
    proc = run_tool('deploy/export_onnx.py', config_path(config), '--shape', *shape,
                    '--out', tmp_path / 'model.onnx')
    assert proc.returncode == 1
    assert re.search(r'^error: .*' + config + ': ' + message, proc.stderr.strip().splitlines()[-1])
    assert not (tmp_path / 'model.onnx').exists()


@pytest.mark.slow
def test_onnx_benchmark_times_eager_onnx_and_int8(tmp_path, capsys):
    rows = load_tool('deploy/benchmark_onnx.py').main(
        ['--models', 'ssdlite', '--backbones', 'FilterViT-xxs', '--repeats', '1', '--warmup', '0',
         '--out-dir', str(tmp_path)])
    assert len(rows) == 1 and rows[0]['input'] == '320x320'
    assert all(rows[0][key] > 0 for key in ('eager_ms', 'onnx_ms', 'int8_ms', 'onnx_mb', 'int8_mb'))
    assert rows[0]['int8_mb'] < rows[0]['onnx_mb']
    from mmfilter.benchmark import int8_instruction_sets_label
    assert rows[0]['cpu_int8_flags'] == int8_instruction_sets_label()
    table = (tmp_path / 'onnx.md').read_text()
    assert '| ssdlite | FilterViT-xxs | 320x320 |' in table and table in capsys.readouterr().out
    assert f'CPU int8 instruction sets: {int8_instruction_sets_label()}.' in table


@pytest.mark.slow
def test_backbone_only_export_of_a_config_and_the_runner_refusing_it(trained_detector, tmp_path):
    config, work, _ = trained_detector
    model = tmp_path / 'backbone.onnx'
    proc = run_tool('deploy/export_onnx.py', config, work / 'epoch_2.pth', '--backbone-only',
                    '--shape', 128, 128, '--out', model)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(re.findall(r'^out\d: max relative error', proc.stdout, re.M)) == 4
    import onnx
    assert [i.name for i in onnx.load(str(model)).graph.input] == ['input']
    image = tmp_path / 'image.png'
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    proc = run_tool('deploy/onnx_infer.py', model, image, '--out-dir', tmp_path / 'drawn')
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: {model} has no task / input_size metadata: it was not written by '
        'tools/deploy/export_onnx.py from a detector or segmentor config')


@pytest.mark.slow
@pytest.mark.parametrize('args,message', [
    (['--arch', 'xxs', '--shape', '128', '128'], r'--arch: for a backbone export only'),
    ([], r'a whole model is exported at one size: give --shape H W'),
])
def test_whole_model_export_refuses_backbone_options_and_a_missing_size(args, message):
    proc = run_tool('deploy/export_onnx.py', config_path('filtervit/retinanet_filtervit_demo.py'), *args)
    assert proc.returncode == 2 and re.search(message, proc.stderr), proc.stderr[-2000:]
