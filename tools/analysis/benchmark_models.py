"""End-to-end latency of whole detectors and segmentors, split into backbone / neck /
head / the rest (post-processing), for each backbone.

    python tools/analysis/benchmark_models.py [--models retinanet retinanet-light retinanet-dw
        faster-rcnn upernet] [--backbones FilterViT-xs ResNet-18 ...]
        [--configs CONFIG ...] [--device cpu|cuda] [--size HxW] [--repeats 5]
        [--fuse-conv-bn off|on|both]
        [--malloc reuse|defaults|no-mmap] [--out-dir results/benchmark_models]

Every model is built from its config with the backbone swapped in, with the
weights a training run starts from (``init_weights``: detection classifiers at
their prior, so post-processing meets few candidates, as with a trained model),
fed one random image at its standard test size (COCO 800×1333,
padded to 800×1344 by the data preprocessor; UPerNet 512×512), batch 1, and timed
through ``predict`` (post-processing included, data loading excluded) and
through its backbone, neck and head forwards. All models and parts are
interleaved round by round in one process, so machine drift affects all alike;
the figures are medians. Writes ``models.md``, ``models.json`` and ``models.png``
(stacked bars). ``--configs`` adds (or, without ``--models``, times only) the models
of the given config files as configured, their own backbones included, at their
test ``Resize`` scale.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List

import torch

from mmfilter.benchmark import BACKBONES, threads_label, time_interleaved
from mmfilter.benchmark.whole_model import (PARTS, WHOLE_MODELS, build_config_model,
                                            build_whole_model, example_batch, part_runners,
                                            split_times)
from mmfilter.engine import add_malloc_argument, configure_malloc, fuse_conv_bn


FUSED = ' +fused'  # the row label of a model with BatchNorm folded into its convolutions


def measure(args) -> List[dict]:
    runners, rows = {}, []
    variants = {'off': [False], 'on': [True], 'both': [False, True]}[args.fuse_conv_bn]
    for model_name in args.models:
        spec = WHOLE_MODELS[model_name]
        height, width = args.size or spec.size
        for backbone in args.backbones:
            for fused in variants:
                model, scope = build_whole_model(spec, backbone, device=args.device)
                if fused:
                    fuse_conv_bn(model)
                inputs, samples = example_batch(model, scope, height, width)
                name = backbone + (FUSED if fused else '')
                label = f'{model_name} / {name}'
                for part, fn in part_runners(model, inputs, samples).items():
                    runners[(label, part)] = fn
                rows.append(dict(model=model_name, backbone=name, input=f'{height}x{width}',
                                 padded='x'.join(map(str, inputs.shape[2:]))))
    for config in args.configs:
        model, scope, (height, width) = build_config_model(config, args.device)
        height, width = args.size or (height, width)
        inputs, samples = example_batch(model, scope, height, width)
        row = dict(model=osp.splitext(osp.basename(config))[0],
                   backbone=type(model.backbone).__name__, input=f'{height}x{width}',
                   padded='x'.join(map(str, inputs.shape[2:])))
        for part, fn in part_runners(model, inputs, samples).items():
            runners[(f"{row['model']} / {row['backbone']}", part)] = fn
        rows.append(row)
    times = time_interleaved(runners, args.device, args.repeats, args.warmup)
    for row in rows:
        label = f"{row['model']} / {row['backbone']}"
        measured = {part: t for (name, part), t in times.items() if name == label}
        row.update({f'{k}_ms': v * 1000 for k, v in split_times(measured).items()})
    return rows


def render(rows: List[dict], device: str, malloc: str) -> str:
    lines = [f'Device: {device}, {threads_label()}, torch {torch.__version__}, '
             f'glibc malloc: {malloc}; '
             'batch 1, milliseconds, median over rounds; rest = predict minus the backbone, '
             'neck and head forwards (post-processing; for Faster R-CNN also its RoI head).', '',
             '| model | backbone | input (padded) | total | backbone | neck | head | rest | '
             'backbone share | total vs first backbone |',
             '|---|---|---|---:|---:|---:|---:|---:|---:|---:|']
    first: Dict[str, float] = {}
    for r in rows:
        reference = first.setdefault(r['model'], r['total_ms'])
        lines.append(
            f"| {r['model']} | {r['backbone']} | {r['input']} ({r['padded']}) | "
            + ' | '.join(f"{r[p + '_ms']:.0f}" for p in ('total', ) + PARTS)
            + f" | {r['backbone_ms'] / r['total_ms']:.0%} | {r['total_ms'] / reference:.2f} |")
    return '\n'.join(lines) + '\n'


def plot(rows: List[dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = [f"{r['model']}\n{r['backbone']}" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(rows)), 4.5))
    bottom = [0.] * len(rows)
    for part in PARTS:
        values = [r[f'{part}_ms'] for r in rows]
        ax.bar(labels, values, bottom=bottom, label=part)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel('batch-1 latency (ms)')
    ax.tick_params(axis='x', labelsize=7, rotation=90)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=None, choices=list(WHOLE_MODELS),
                        help='default: all, unless --configs is given')
    parser.add_argument('--configs', nargs='+', default=[], metavar='CONFIG',
                        help='also time these configs\' models as configured (their own '
                        'backbones), at --size or their test Resize scale')
    parser.add_argument('--backbones', nargs='+', default=['FilterViT-xs', 'ResNet-18'],
                        choices=list(BACKBONES))
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--size', type=lambda s: tuple(int(v) for v in s.split('x')),
                        help='HxW for every model instead of its standard test size')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (default: torch)')
    parser.add_argument('--fuse-conv-bn', choices=['off', 'on', 'both'], default='off',
                        help='fold BatchNorm into the convolutions (both: each model twice)')
    add_malloc_argument(parser)
    parser.add_argument('--out-dir', default='results/benchmark_models')
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = [] if args.configs else list(WHOLE_MODELS)
    malloc = configure_malloc(args.malloc)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure(args)
    os.makedirs(args.out_dir, exist_ok=True)
    table = render(rows, args.device, malloc)
    with open(osp.join(args.out_dir, 'models.md'), 'w') as f:
        f.write(table)
    with open(osp.join(args.out_dir, 'models.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    plot(rows, osp.join(args.out_dir, 'models.png'))
    print(table)
    return rows


if __name__ == '__main__':
    main()
