"""Static int8 graphs against their float32 graphs, graphs that leave the
normalisation to the runner (MMDeploy's input contract), and the CPU flags
reported with int8 figures."""
import json
import re

import numpy as np
import pytest

from conftest import config_path, run_tool
from mmfilter.benchmark import int8_instruction_sets, int8_instruction_sets_label

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512_vnni amx_bf16 amx_tile amx_int8
bogomips\t: 4000.00

processor\t: 1
flags\t\t: fpu vme sse2
"""


def test_int8_instruction_sets_are_read_from_the_first_flags_line():
    assert int8_instruction_sets(CPUINFO) == ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni',
                                              'amx_tile', 'amx_int8']
    assert int8_instruction_sets('flags\t\t: fpu sse2 avx2\n') == ['avx2']
    assert int8_instruction_sets('no flags here\n') == []
    assert int8_instruction_sets_label('flags : sse2\n').startswith('none of avx2, avx512f')


def test_runtime_normalises_where_the_graph_does_not():
    from mmfilter.deploy.runtime import graph_input, prepare
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8)  # BGR
    mean_bgr, std_bgr = [103.53, 116.28, 123.675], [57.375, 57.12, 58.395]
    meta = dict(input_size=[64, 64], resize=dict(scale=[64, 64], keep_ratio=True),
                mean=mean_bgr, std=std_bgr)
    raw, scale = prepare(image, meta)  # no 'normalization': the graph normalises
    assert scale == (1.0, 1.0) and (raw[0, :, :48] == image.transpose(2, 0, 1)).all()
    outside = dict(meta, normalization='outside', normalize=dict(
        type='Normalize', mean=mean_bgr[::-1], std=std_bgr[::-1], to_rgb=True))
    normalised, _ = prepare(image, outside)
    expected = (image[..., ::-1] - np.array(mean_bgr[::-1])) / np.array(std_bgr[::-1])
    np.testing.assert_allclose(normalised[0, :, :48], expected.transpose(2, 0, 1), atol=1e-5)
    np.testing.assert_allclose(normalised[0, :, 48:], 0, atol=1e-5)  # the padding: the mean
    np.testing.assert_array_equal(graph_input(raw, meta), raw)


def test_post_processing_normalisation_and_token_scorers_stay_float():
    from onnx import helper

    from mmfilter.deploy.quantize import float_nodes
    names = ['/normalize/Sub', '/backbone/stages.0/attention/scorer/logit/Conv',
             '/backbone/stages.0/attention/transformer/MatMul', '/neck/lateral_convs.0/Conv',
             '/bbox_head/retina_cls/Conv', '/TopK', '/Sigmoid_1', '/decode_head/conv_seg/Conv']
    graph = helper.make_graph([helper.make_node('Identity', ['x'], ['y'], name=n) for n in names],
                              'g', [], [])
    assert float_nodes(graph) == ['/normalize/Sub',
                                  '/backbone/stages.0/attention/scorer/logit/Conv', '/TopK',
                                  '/Sigmoid_1']


@pytest.mark.parametrize('args,message', [
    (['--backbone', 'FilterViT', '--int8'], r'--int8: for a whole-model export only'),
    ([config_path('filtervit/retinanet_filtervit_demo.py'), '--backbone-only',
      '--normalize-outside'], r'--normalize-outside: for a whole-model export only'),
    ([config_path('filtervit/retinanet_filtervit_demo.py'), '--shape', '128', '128',
      '--calib-images', '4'], r'--calib-images calibrates the int8 graph: give --int8'),
    ([config_path('filtervit/retinanet_filtervit_demo.py'), '--shape', '128', '128', '--int8',
      '--calib-images', '101'], r'--calib-images 101: give 1 to 100'),
])
def test_export_refuses_int8_options_it_cannot_apply(args, message):
    proc = run_tool('deploy/export_onnx.py', *args)
    assert proc.returncode == 2 and re.search(message, proc.stderr), proc.stderr[-2000:]


def _metadata(path) -> dict:
    import onnx
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.mark.slow
def test_normalize_outside_graph_with_the_runtime_normalising_equals_the_default_graph(
        trained_detector, tmp_path):
    from mmfilter.deploy.runtime import detect, load_runtime, read_image
    config, work, _ = trained_detector
    paths = {}
    for name, extra in (('inside', []), ('outside', ['--normalize-outside'])):
        paths[name] = tmp_path / f'{name}.onnx'
        proc = run_tool('deploy/export_onnx.py', config, work / 'epoch_2.pth', '--shape', 128, 128,
                        '--out', paths[name], *extra)
        assert proc.returncode == 0, proc.stderr[-3000:]
    meta = _metadata(paths['outside'])
    assert meta['normalization'] == 'outside' and _metadata(paths['inside'])['normalization'] == \
        'in-graph'
    step = json.loads(meta['normalize'])
    assert step['type'] == 'Normalize' and step['to_rgb'] is True
    assert step['mean'] == pytest.approx([123.675, 116.28, 103.53])  # RGB: after the flip
    (inside, inside_meta), (outside, outside_meta) = (load_runtime(str(paths[n]))
                                                      for n in ('inside', 'outside'))
    from mmfilter.deploy.quantize import split_image_paths
    from mmengine.config import Config
    for path in split_image_paths(Config.fromfile(config), 3):
        image = read_image(path, 'bgr')
        ref, got = detect(inside, inside_meta, image), detect(outside, outside_meta, image)
        assert len(ref['scores']) == 100  # score threshold 0: NMS's cap
        np.testing.assert_array_equal(got['labels'], ref['labels'])
        np.testing.assert_allclose(got['bboxes'], ref['bboxes'], atol=1e-2)
        np.testing.assert_allclose(got['scores'], ref['scores'], atol=1e-4)


@pytest.mark.slow
def test_int8_graph_is_quantised_and_checked_against_its_float32_graph(trained_detector,
                                                                        tmp_path):
    """RetinaNet-FilterViT-xxs (2 tiny epochs) at 128x128, calibrated on 4 images:
    QDQ nodes in the file, its metadata saying so, and check_onnx.py comparing it
    with the float32 graph on the test split: the detections within the stated
    tolerance, the mAP change within 0.005."""
    import onnx
    config, work, _ = trained_detector
    model = tmp_path / 'retinanet.onnx'
    proc = run_tool('deploy/export_onnx.py', config, work / 'epoch_2.pth', '--shape', 128, 128,
                    '--out', model, '--int8', '--calib-images', 4)
    assert proc.returncode == 0, proc.stderr[-3000:]
    int8 = tmp_path / 'retinanet-int8.onnx'
    assert f'wrote {int8} (int8, calibrated on 4 images of the test split)' in proc.stdout
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {'QuantizeLinear', 'DequantizeLinear', 'NonMaxSuppression', 'TopK'} <= ops
    meta = _metadata(int8)
    assert meta['precision'] == 'int8' and meta['reference'] == 'retinanet.onnx'
    assert 'MinMax on 4 images' in json.loads(meta['quantization'])['calibration']
    assert meta['classes'] == _metadata(model)['classes']

    proc = run_tool('deploy/check_onnx.py', config, work / 'epoch_2.pth', int8, '--num-val', 4,
                    '--box-tol', 2, '--score-tol', 0.005)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ref, got = map(int, re.search(r'all 4 images: float32 (\d+) / int8 (\d+) detections',
                                  proc.stdout).groups())
    assert ref == got == 400  # score threshold 0: NMS's cap on every image
    # the tolerance for int8: every detection scoring 0.005 above the cut but 2% has an
    # int8 counterpart of its class within 2 px and 0.005 of score (this model's scores
    # crowd the cut, where int8 may reorder them)
    unmatched = sum(map(int, re.findall(r'(\d+) unmatched above the cut', proc.stdout)))
    assert unmatched <= 0.02 * ref, proc.stdout
    fp32_map, int8_map = map(float, re.search(
        r'mAP float32 graph ([\d.]+), int8 graph ([\d.]+)', proc.stdout).groups())
    assert abs(fp32_map - int8_map) <= 0.005


@pytest.mark.slow
def test_int8_segmentor_is_checked_by_its_miou_change(trained_segmentor, tmp_path):
    config, work, _ = trained_segmentor
    model = tmp_path / 'upernet.onnx'
    proc = run_tool('deploy/export_onnx.py', config, work / 'iter_4.pth', '--shape', 128, 128,
                    '--out', model, '--int8', '--calib-images', 2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_tool('deploy/check_onnx.py', config, work / 'iter_4.pth',
                    tmp_path / 'upernet-int8.onnx', '--num-val', 4)
    line = re.search(r'test split \(4 images\): mIoU float32 graph ([\d.]+), int8 graph '
                     r'([\d.]+) \(change ([-+][\d.]+) points\)', proc.stdout)
    assert line, proc.stdout[-2000:] + proc.stderr[-3000:]
    fp32, int8, change = map(float, line.groups())
    assert change == pytest.approx(int8 - fp32, abs=0.011)
    assert proc.returncode == (0 if abs(change) <= 0.5 else 1), proc.stderr[-2000:]
