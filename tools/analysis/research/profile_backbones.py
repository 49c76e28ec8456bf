"""Where each backbone's time goes: per stage, per operator kind, and GFLOP/s; per
filter block, per step.

    python tools/analysis/research/profile_backbones.py [--models FilterViT-xs ResNet-18]
        [--size 800x1344] [--repeats 3] [--out-dir results/profile] [--dry-run]

Each step of the forward (the stem, then each stage's convolutions and its
attention) is called on its own input from one forward, the steps of all models
interleaved round by round; its median time, its FLOPs (mmengine's count, one per
multiply-accumulate, as in benchmark_backbones.py) and the achieved GFLOP/s are
reported, and torch's profiler splits its time by operator kind (convolution,
linear, attention, selection, normalisation, elementwise, pool / resize, memory
traffic) from the self time of the ATen ops. For a backbone with filter-attention
blocks (FilterViT, DropoutViT) each block is also timed step by step through its
own methods: scoring, ranking (``select``), the gather (``split``), the attention
over the K tokens and the write-back (``merge``); all but the attention are what
selecting tokens costs. CPU only. Writes ``profile.md`` and ``profile.json``.
``--dry-run``: FilterViT-xxs at 64x64, one round. The profiles are
:mod:`mmfilter.benchmark.profiling`.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List

import torch

from mmfilter.benchmark import BACKBONES, build_backbone, threads_label
from mmfilter.benchmark.profiling import OP_KINDS, profile_selecting_blocks, profile_stages
from mmfilter.models.layers.filter_attention import FilterAttentionBlock

KINDS = [k for k, _ in OP_KINDS] + ['other']
#: Steps of a filter block that exist only to select and place tokens: scoring,
#: ranking (select), the gather and mask product (split) and the write-back (merge).
SELECTION_STEPS = ('score', 'select', 'split', 'merge')


def has_filter_blocks(backbone: torch.nn.Module) -> bool:
    """Whether ``backbone`` selects tokens, every selecting block a filter-attention block."""
    blocks = [b for _, b in getattr(backbone, 'selecting_blocks', lambda: [])()]
    return bool(blocks) and all(isinstance(b, FilterAttentionBlock) for b in blocks)


def render(results: Dict[str, List[dict]], size: str) -> str:
    lines = [f'{size}, batch 1, {threads_label()}, torch {torch.__version__}; '
             'ms per call (median); kinds: share of the stage\'s profiled op time.', '',
             '| model | stage | input | ms | GFLOPs | GFLOP/s | ' + ' | '.join(KINDS) + ' |',
             '|---|---|---|---:|---:|---:|' + '---:|' * len(KINDS)]
    for name, rows in results.items():
        for r in rows + [_total(rows)]:
            total_kinds = sum(r['kinds'].values()) or 1.
            gflops = '–' if r['flops'] is None else f"{r['flops'] / 1e9:.2f}"
            rate = '–' if r['gflops_per_s'] is None else f"{r['gflops_per_s']:.1f}"
            shares = ' | '.join(f"{r['kinds'].get(k, 0.) / total_kinds:.0%}" for k in KINDS)
            lines.append(f"| {name} | {r['stage']} | {r['input']} | {r['seconds'] * 1000:.1f} | "
                         f'{gflops} | {rate} | {shares} |')
    return '\n'.join(lines) + '\n'


def render_blocks(blocks: Dict[str, List[dict]]) -> str:
    """Per filter block: its time and each step's, ms, and the share selection takes."""
    steps = SELECTION_STEPS[:3] + ('attention', ) + SELECTION_STEPS[3:]
    lines = ['Filter blocks, ms per call (median); selection = '
             + ' + '.join(SELECTION_STEPS) + ', as a share of the block.', '',
             '| model | stage | channels | map | K | block | ' + ' | '.join(steps)
             + ' | selection |', '|---|---|---:|---|---:|---:|' + '---:|' * (len(steps) + 1)]
    for name, rows in blocks.items():
        for b in rows:
            selection = sum(b[step] for step in SELECTION_STEPS) / b['block']
            cells = ' | '.join(f'{b[step] * 1000:.2f}' for step in steps)
            lines.append(f"| {name} | {b['stage']} | {b['channels']} | {b['map']} | {b['k']} | "
                         f"{b['block'] * 1000:.2f} | {cells} | {selection:.0%} |")
    return '\n'.join(lines) + '\n'


def _total(rows: List[dict]) -> dict:
    seconds = sum(r['seconds'] for r in rows)
    flops = None if any(r['flops'] is None for r in rows) else sum(r['flops'] for r in rows)
    kinds: Dict[str, float] = {}
    for r in rows:
        for k, v in r['kinds'].items():
            kinds[k] = kinds.get(k, 0.) + v
    return dict(stage='all stages', input='', seconds=seconds, flops=flops, kinds=kinds,
                gflops_per_s=None if flops is None else flops / seconds / 1e9)


def main(argv=None) -> Dict[str, Dict[str, List[dict]]]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=['FilterViT-xs', 'ResNet-18'],
                        choices=list(BACKBONES))
    parser.add_argument('--size', default='800x1344')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (default: torch)')
    parser.add_argument('--out-dir', default='results/profile')
    parser.add_argument('--dry-run', action='store_true', help='FilterViT-xxs, 64x64, one round')
    args = parser.parse_args(argv)
    if args.dry_run:
        args.models, args.size, args.repeats = ['FilterViT-xxs'], '64x64', 1
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.size.split('x'))
    image = torch.rand(1, 3, height, width)
    backbones = {name: build_backbone(name) for name in args.models}
    stages = {name: profile_stages(backbone, image, args.repeats)
              for name, backbone in backbones.items()}
    blocks = {name: profile_selecting_blocks(backbone, image, 'cpu', args.repeats)
              for name, backbone in backbones.items() if has_filter_blocks(backbone)}
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'profile.json'), 'w') as f:
        json.dump(dict(stages=stages, blocks=blocks), f, indent=1)
    table = render(stages, args.size) + ('\n' + render_blocks(blocks) if blocks else '')
    with open(osp.join(args.out_dir, 'profile.md'), 'w') as f:
        f.write(table)
    print(table)
    return dict(stages=stages, blocks=blocks)


if __name__ == '__main__':
    main()
