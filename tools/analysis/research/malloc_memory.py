"""Resident memory under each glibc malloc mode, with many models and sizes in one process.

    python tools/analysis/research/malloc_memory.py [--modes defaults reuse no-mmap] [--passes 2]
        [--plan MODEL@HxW ...] [--dry-run]

Each mode runs in its own process: FilterViT-xs and ResNet-18 at 224², 512²,
800×1344 and 1600×2688 and MobileViT-xs up to 800×1344, each a batch-1 and a
batch-2 forward and a batch-1 training step, the whole sequence ``--passes``
times. Prints resident memory after each pass, the peak and the wall time (MiB, s):
a mode whose memory keeps growing from pass to pass is not safe as a default.
``--dry-run``: the defaults mode, one pass of FilterViT-xxs at 64x64.
"""
import argparse
import json
import subprocess
import sys
from typing import Dict, List, Tuple

import torch

from mmfilter.benchmark import build_backbone, forward_fn, time_call, train_step_fn
from mmfilter.benchmark.memory import resident_kib
from mmfilter.engine import MALLOC_MODES, configure_malloc

SIZES = ['224x224', '512x512', '800x1344', '1600x2688']
PLAN: List[Tuple[str, str]] = [(m, s) for m in ('FilterViT-xs', 'ResNet-18') for s in SIZES] + \
    [('MobileViT-xs', s) for s in SIZES[:3]]


def run_plan(plan: List[Tuple[str, str]], passes: int) -> dict:
    """Resident MiB after each pass over ``plan`` (per model and size a batch-1 and a
    batch-2 forward and a batch-1 training step), the peak, and the seconds it took."""
    models = {name: build_backbone(name) for name in dict.fromkeys(n for n, _ in plan)}
    after = []

    def run_passes() -> None:
        for _ in range(passes):
            for name, size in plan:
                model, hw = models[name], [int(v) for v in size.split('x')]
                for batch in (1, 2):
                    forward_fn(model, torch.rand(batch, 3, *hw), 'cpu', 'none')()
                model.train()
                train_step_fn(model, torch.rand(1, 3, *hw), 'cpu', 'none')()
                model.eval()
            after.append(resident_kib('VmRSS') / 1024)

    seconds = time_call(run_passes, 'cpu')
    return dict(after=after, peak=resident_kib('VmHWM') / 1024, seconds=seconds)


def main(argv=None) -> Dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--modes', nargs='+', default=list(MALLOC_MODES), choices=list(MALLOC_MODES))
    parser.add_argument('--passes', type=int, default=2)
    parser.add_argument('--plan', nargs='+', metavar='MODEL@HxW',
                        help='instead of the default plan, e.g. FilterViT-xs@64x64')
    parser.add_argument('--dry-run', action='store_true',
                        help='the defaults mode, one pass of FilterViT-xxs at 64x64')
    parser.add_argument('--_mode', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.modes, args.passes, args.plan = ['defaults'], 1, ['FilterViT-xxs@64x64']
    plan = [tuple(p.split('@')) for p in args.plan] if args.plan else PLAN
    if args._mode:
        label = configure_malloc(args._mode)
        return print('RESULT ' + json.dumps(dict(run_plan(plan, args.passes), malloc=label)))
    results = {}
    for mode in args.modes:
        proc = subprocess.run([sys.executable, __file__, '--_mode', mode, '--passes',
                               str(args.passes)] + (['--plan'] + args.plan if args.plan else []),
                              capture_output=True, text=True, check=True)
        results[mode] = json.loads(proc.stdout.split('RESULT ', 1)[1])
    lines = ['| malloc | ' + ' | '.join(f'after pass {i + 1}' for i in range(args.passes)) +
             ' | peak | wall |', '|---|' + '---:|' * (args.passes + 2)]
    for r in results.values():
        lines.append(f"| {r['malloc']} | " + ' | '.join(f'{v:.0f}' for v in r['after']) +
                     f" | {r['peak']:.0f} | {r['seconds']:.0f} s |")
    print('\n'.join(lines))
    return results


if __name__ == '__main__':
    main()
