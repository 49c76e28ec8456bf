"""Latency of whole detectors and segmentors in PyTorch eager and in ONNX Runtime (float32 and static int8).

    python tools/deploy/benchmark_onnx.py [--models retinanet-light retinanet ssdlite]
        [--backbones FilterViT-xs DropoutViT-xs MobileViT-xs ResNet-18 MobileNetV2]
        [--configs CONFIG ...] [--threads 2] [--repeats 5] [--warmup 1] [--no-int8]
        [--calib-images 8] [--profile [RUNS]] [--standard-ops] [--out-dir results/benchmark_onnx]

Every model is built from its config with the backbone swapped in and the weights
a training run starts from (as ``tools/analysis/benchmark_models.py`` builds them;
MobileNetV2 is MMDetection's, its maps at strides 4-32 taken from its stages 2, 3,
5 and 7), exported whole at its test size padded as the data preprocessor pads it
(RetinaNet 800x1333 -> 800x1344, SSDLite 320x320) with ``mmfilter.deploy.export_model``,
as ``tools/deploy/export_onnx.py`` exports, and, unless ``--no-int8``, quantised
statically as ``export_onnx.py --int8`` quantises (:mod:`mmfilter.deploy.quantize`:
QDQ, int8 weights per channel, uint8 activations calibrated on ``--calib-images``
images of the demo detection set). The CPU's int8 instruction sets (AVX2, AVX-512,
VNNI, AMX; :mod:`mmfilter.benchmark.cpu_features`) are printed and stored with the
int8 figures. Per model the three runners are interleaved round by
round in one process with ``--threads`` threads each: PyTorch's ``predict``
(eager, with the CPU row bands the tools use), ONNX Runtime on the float32 graph,
and on the int8 graph; the figures are medians, post-processing included. Also
the files' sizes. ``--configs`` adds (or, without ``--models``, times only) the
models of config files as configured, detectors or segmentors, at their test
``Resize`` scale.
``--profile`` also prints, per float32 graph, where ONNX Runtime's time goes: its
profiler's kernel time per operator type over RUNS runs (default 10), with the
node count of each type (:func:`mmfilter.deploy.profile.profile_ops`), and writes
it to ``profile_MODEL_BACKBONE.md``. ``--standard-ops`` exports as
``export_onnx.py --standard-ops`` does: the self-attention in standard ONNX ops, not
ONNX Runtime's fused ``MultiHeadAttention``.
Writes ``onnx.md`` and ``onnx.json``.
"""
import argparse
import gc
import json
import os
import os.path as osp
from typing import Dict, List

import torch

from mmengine.config import Config

from mmfilter.benchmark import BACKBONES, int8_instruction_sets_label, time_interleaved
from mmfilter.benchmark.whole_model import (CHECKOUT, WHOLE_MODELS, build_config_model,
                                            build_whole_model, example_batch)
from mmfilter.deploy import export_model
from mmfilter.deploy.quantize import quantize_int8
from mmfilter.deploy.profile import profile_ops, render_op_table
from mmfilter.engine import apply_row_bands
from mmfilter.engine.hooks import resident_memory_mb

DEFAULT_MODELS = ('retinanet-light', 'retinanet', 'ssdlite')
DEFAULT_BACKBONES = ('FilterViT-xs', 'DropoutViT-xs', 'MobileViT-xs', 'ResNet-18', 'MobileNetV2')
#: The config whose test split calibrates the int8 graphs.
CALIBRATION_CONFIG = 'configs/filtervit/retinanet_filtervit_demo.py'


def onnx_runner(path: str, image, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    runtime = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    feed = {'input': image.numpy()}
    return lambda: runtime.run(None, feed)


def eager_runner(model, inputs, samples):
    def run():
        with torch.inference_mode():
            model.predict(inputs, samples)
    return run


def calibration_images(count: int) -> List[str]:
    """The first ``count`` images of the demo detection set's test split: real images
    for the int8 graphs' activation ranges (the models here have the weights training
    starts from, so the ranges set no accuracy; they do not change the speed)."""
    from mmfilter.deploy.quantize import split_image_paths
    return split_image_paths(Config.fromfile(osp.join(CHECKOUT, CALIBRATION_CONFIG)), count)


def print_profile(path: str, image, args, name: str) -> None:
    """Print and write (``profile_NAME.md``) the per-operator-type kernel times of the
    graph at ``path`` in ONNX Runtime with ``args.threads`` threads."""
    rows = profile_ops(path, {'input': image.numpy()}, runs=args.profile, threads=args.threads)
    table = (f'ONNX Runtime profile of {osp.basename(path)}, {args.threads} threads, kernel '
             f'time per run over {args.profile} runs:\n\n{render_op_table(rows)}\n')
    print(table, flush=True)
    with open(osp.join(args.out_dir, f'profile_{name}.md'), 'w') as f:
        f.write(table)


def measure_one(model_name: str, backbone: str, args) -> Dict[str, object]:
    """One model of ``WHOLE_MODELS`` with ``backbone``, or (``backbone`` None) the
    model of the config file ``model_name`` as configured."""
    if backbone is None:
        model, scope, size = build_config_model(model_name, 'cpu', row_bands=False)
        model_name, backbone = osp.splitext(osp.basename(model_name))[0], \
            type(model.backbone).__name__
    else:
        size = WHOLE_MODELS[model_name].size
        model, scope = build_whole_model(WHOLE_MODELS[model_name], backbone, device='cpu',
                                         row_bands=False)
    inputs, samples = example_batch(model, scope, *size)
    height, width = inputs.shape[-2:]
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 255
    path = osp.join(args.out_dir, f'{model_name}_{backbone}_{height}x{width}.onnx')
    export_model(model, image, path, runtime_kernels=not args.standard_ops)
    row = dict(model=model_name, backbone=backbone, input=f'{height}x{width}',
               onnx_mb=os.path.getsize(path) / 2**20)
    if args.profile:
        print_profile(path, image, args, f'{model_name}_{backbone}')
    runners = {'eager': eager_runner(apply_row_bands(model), inputs, samples),
               'onnx': onnx_runner(path, image, args.threads)}
    if args.int8:
        try:
            int8_path = quantize_int8(path, f'{osp.splitext(path)[0]}-int8.onnx',
                                      args.calibration_images)
            runners['int8'] = onnx_runner(int8_path, image, args.threads)
            row['int8_mb'] = os.path.getsize(int8_path) / 2**20
        except Exception as e:  # noqa: BLE001 - reported in the table
            row['int8_error'] = f'{type(e).__name__}: {str(e)[:120]}'.replace('\n', ' ')
    times = time_interleaved(runners, 'cpu', args.repeats, args.warmup)
    row.update({f'{name}_ms': 1000 * t for name, t in times.items()})
    row['resident_mb'] = resident_memory_mb()
    if args.int8:
        row['cpu_int8_flags'] = int8_instruction_sets_label()
    print(json.dumps(row), flush=True)
    return row


def render(rows: List[dict], args) -> str:
    def ms(row, key):
        return f'{row[key]:.0f}' if key in row else 'n/a'
    lines = [f'Median of {args.repeats} interleaved rounds, batch 1, {args.threads} threads, '
             f'torch {torch.__version__}, onnxruntime {__import__("onnxruntime").__version__}.', '',
             '| model | backbone | input | PyTorch eager (ms) | ONNX Runtime (ms) | speed-up | '
             'int8 (ms) | int8 speed-up | ONNX (MB) | int8 (MB) |',
             '|---|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        speedup = f"{row['eager_ms'] / row['onnx_ms']:.2f}x"
        int8_mb = f"{row['int8_mb']:.1f}" if 'int8_mb' in row else 'n/a'
        int8_speedup = f"{row['onnx_ms'] / row['int8_ms']:.2f}x" if 'int8_ms' in row else 'n/a'
        lines.append(f"| {row['model']} | {row['backbone']} | {row['input']} | "
                     f"{ms(row, 'eager_ms')} | {ms(row, 'onnx_ms')} | {speedup} | "
                     f"{ms(row, 'int8_ms')} | {int8_speedup} | {row['onnx_mb']:.1f} | {int8_mb} |")
    errors = [f"- {r['model']} / {r['backbone']}: int8 failed: {r['int8_error']}"
              for r in rows if 'int8_error' in r]
    if args.int8:
        lines += ['', f'int8: static (QDQ), calibrated on {args.calib_images} demo images; '
                  f'CPU int8 instruction sets: {int8_instruction_sets_label()}.']
    return '\n'.join(lines + ([''] + errors if errors else [])) + '\n'


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=None, help='default: '
                        f'{" ".join(DEFAULT_MODELS)}, or none when --configs is given',
                        choices=[m for m in WHOLE_MODELS if m in ('retinanet', 'retinanet-light',
                                                                   'retinanet-dw', 'ssdlite')])
    parser.add_argument('--backbones', nargs='+', default=list(DEFAULT_BACKBONES),
                        choices=sorted(BACKBONES))
    parser.add_argument('--configs', nargs='+', default=[], metavar='CONFIG',
                        help='also time these configs\' models as configured (detectors or '
                        'segmentors), at their test Resize scale')
    parser.add_argument('--threads', type=int, default=2, choices=range(1, 1025),
                        metavar='N', help='threads of PyTorch and of ONNX Runtime. Default: 2')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--no-int8', dest='int8', action='store_false',
                        help='time float32 only, without the static int8 graphs')
    parser.add_argument('--calib-images', type=int, default=8, choices=range(1, 101),
                        metavar='N', help='demo images calibrating the int8 graphs. Default: 8')
    parser.add_argument('--profile', type=int, nargs='?', const=10, default=0, metavar='RUNS',
                        choices=range(1, 100_001),
                        help="print ONNX Runtime's kernel time per operator type of each float32 "
                        'graph, over RUNS runs (default 10)')
    parser.add_argument('--standard-ops', action='store_true',
                        help="the self-attention without ONNX Runtime's fused MultiHeadAttention")
    parser.add_argument('--out-dir', default='results/benchmark_onnx')
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = [] if args.configs else list(DEFAULT_MODELS)
    torch.set_num_threads(args.threads)
    if args.int8:
        args.calibration_images = calibration_images(args.calib_images)
        print(f'CPU int8 instruction sets: {int8_instruction_sets_label()}', flush=True)
    os.makedirs(args.out_dir, exist_ok=True)
    rows = []
    for model_name in args.models:
        for backbone in args.backbones:
            rows.append(measure_one(model_name, backbone, args))
            gc.collect()  # the last model's modules and runtimes, before the next is built
    for config in args.configs:
        rows.append(measure_one(config, None, args))
        gc.collect()
    table = render(rows, args)
    print(table)
    with open(osp.join(args.out_dir, 'onnx.md'), 'w') as f:
        f.write(table)
    with open(osp.join(args.out_dir, 'onnx.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    return rows


if __name__ == '__main__':
    main()
