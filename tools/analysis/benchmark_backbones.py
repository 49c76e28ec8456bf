"""Latency, training-step time, parameters and FLOPs of backbones, side by side.

    python tools/analysis/benchmark_backbones.py [--quick] [--device cpu|cuda]
        [--amp none|bf16|fp16] [--sizes 224x224 512x512 800x1344 1600x2688]
        [--models FilterViT-xs MobileViT-xs ...] [--threads N]
        [--fuse-conv-bn] [--compile [BACKEND]] [--out-dir results/benchmark]

Every model is timed in one process and the models are interleaved round by
round, so machine drift affects all alike; latency is the median over rounds
after warm-up. A measurement (model and batch size or training step) is skipped
at a size where its time at the previous size, scaled by the pixel ratio to the
power 1.5, exceeds ``--max-seconds``; FLOPs follow batch-1 latency. Writes
``benchmark.md`` (tables and target ratios), ``benchmark.json`` and
``latency.png`` (log-log). ``--fuse-conv-bn`` and ``--compile`` time the forward
rows on a copy of each model with BatchNorm folded and/or through
``torch.compile`` (inductor by default; compilation happens in the warm-up
round); training steps and FLOPs use the model as built.
"""
import argparse
import copy
import json
import os
import os.path as osp
import platform
import sys
from typing import Dict, List, Optional, Tuple

import torch

from mmfilter.benchmark import (BACKBONES, COMPARED, build_backbone, flops_of, forward_fn,
                                plot_latency, render_markdown, threads_label, time_interleaved,
                                train_step_fn)
from mmfilter.engine import add_malloc_argument, configure_malloc, fuse_conv_bn

Size = Tuple[int, int]
QUICK_MODELS = ['FilterViT-xs', 'FilterViT-xs-dense', 'MobileViT-xs', 'ResNet-18']


def forward_variant(model: torch.nn.Module, fuse: bool,
                    backend: Optional[str]) -> torch.nn.Module:
    """The module the forward rows time: ``model`` itself, or an eval copy with
    BatchNorm folded (``fuse``) and/or compiled by ``torch.compile`` with ``backend``."""
    if not fuse and backend is None:
        return model
    variant = copy.deepcopy(model)
    variant.eval()  # not chained: some backbones' train() returns None
    if fuse:
        fuse_conv_bn(variant)
    if backend is not None:
        torch._dynamo.config.recompile_limit = 64  # one graph per size and batch
        variant = torch.compile(variant, backend=backend, dynamic=False)
    return variant


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', default=['224x224', '512x512', '800x1344', '1600x2688'])
    parser.add_argument('--models', nargs='+', default=list(COMPARED), choices=list(BACKBONES))
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 2])
    parser.add_argument('--train-batch-size', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', default='none', choices=['none', 'bf16', 'fp16'])
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (default: torch)')
    parser.add_argument('--max-seconds', type=float, default=10.0)
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='fold BatchNorm into the convolutions for the forward rows')
    parser.add_argument('--compile', nargs='?', const='inductor', default=None, metavar='BACKEND',
                        help='torch.compile the forward rows (backend: inductor unless named)')
    add_malloc_argument(parser)
    parser.add_argument('--quick', action='store_true', help='4 models, 224 and 512, 2 repeats')
    parser.add_argument('--out-dir', default='results/benchmark')
    args = parser.parse_args(argv)
    malloc = configure_malloc(args.malloc)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.sizes, args.repeats = ['224x224', '512x512'], 2
        chosen = args.models != list(COMPARED)
        args.models = [m for m in args.models if m in QUICK_MODELS] if chosen else QUICK_MODELS
    sizes: List[Size] = [tuple(int(v) for v in s.split('x')) for s in args.sizes]

    models = {}
    for name in args.models:
        try:
            models[name] = build_backbone(name, device=args.device)
        except ImportError as e:
            print(f'skipping {name}: {e}', file=sys.stderr)
    results: Dict[str, dict] = {name: {'params': sum(p.numel() for p in m.parameters())}
                                for name, m in models.items()}
    forward_models = {name: forward_variant(m, args.fuse_conv_bn, args.compile)
                      for name, m in models.items()}
    seen: Dict[Tuple[str, str], Tuple[int, float]] = {}  # (model, label) -> (pixels, seconds)
    for size in sizes:
        key, pixels = f'{size[0]}x{size[1]}', size[0] * size[1]
        for batch in args.batch_sizes + ['train']:
            label = 'train' if batch == 'train' else f'b{batch}'
            image = torch.rand(args.train_batch_size if batch == 'train' else batch, 3, *size,
                               device=args.device)
            runners = {}
            for name, model in models.items():
                if (name, label) in seen:
                    last_pixels, seconds = seen[name, label]
                    projected = seconds * (pixels / last_pixels)**1.5
                    if projected > args.max_seconds:
                        seen[name, label] = (pixels, projected)  # stays skipped at larger sizes
                        print(f'skipping {name} {key} {label}: projected {projected:.0f} s',
                              file=sys.stderr)
                        continue
                timed = model if batch == 'train' else forward_models[name]
                timed.train(batch == 'train')  # not chained: some backbones' train() returns None
                make = train_step_fn if batch == 'train' else forward_fn
                runners[name] = make(timed, image, args.device, args.amp)
            times = time_interleaved(runners, args.device, args.repeats, args.warmup)
            for name, t in times.items():
                results[name][f'{key}/{label}'] = t
                seen[name, label] = (pixels, t)
                print(f'{name:20s} {key:>10s} {label:>6s} {t * 1000:9.1f} ms', flush=True)
        for name, model in models.items():
            if f'{key}/b{args.batch_sizes[0]}' not in results[name]:
                continue
            model.eval()
            flops = flops_of(model, torch.rand(1, 3, *size, device=args.device))
            results[name][f'{key}/gflops'] = None if flops is None else flops / 1e9

    report = dict(results=results, device=describe_device(args.device), malloc=malloc,
                  fuse_conv_bn=args.fuse_conv_bn, compile=args.compile, amp=args.amp,
                  sizes=args.sizes, batch_sizes=args.batch_sizes,
                  train_batch_size=args.train_batch_size)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
        json.dump(report, f, indent=1)
    markdown = render_markdown(report)
    with open(osp.join(args.out_dir, 'benchmark.md'), 'w') as f:
        f.write(markdown)
    plot_latency(report, osp.join(args.out_dir, 'latency.png'))
    print(markdown)
    return report


def describe_device(device: str) -> str:
    """The GPU's name, or the CPU's with its threads (and OpenMP wait settings)."""
    if device == 'cuda':
        return torch.cuda.get_device_name()
    return f'{platform.processor() or platform.machine()}, {threads_label()}'


if __name__ == '__main__':
    main()
