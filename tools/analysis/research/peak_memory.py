"""Peak memory of one batch-1 forward per backbone and input size, each in a fresh process.

    python tools/analysis/research/peak_memory.py [--models FilterViT-xs ResNet-18 ResNet-50]
        [--sizes 512x512 800x1344] [--device cpu|cuda] [--amp none|bf16|fp16]
        [--malloc reuse|defaults|no-mmap] [--dry-run]

Every model and size runs in its own process (built as the benchmarks build it:
on a CPU with row bands), so that nothing the allocator kept from an earlier
model counts. On a Linux CPU the figure is the growth of the resident set's
high-water mark over the built model during the forward; on CUDA the growth of
``max_memory_allocated``. Prints a markdown table, MiB. ``--dry-run``: FilterViT-xxs
at 64x64 (one process).
"""
import argparse
import subprocess
import sys
from typing import Dict, Optional

import torch

from mmfilter.benchmark import BACKBONES, build_backbone
from mmfilter.benchmark.memory import peak_memory_of_forward
from mmfilter.engine import add_malloc_argument, configure_malloc


def probe(name: str, size: str, device: str, amp: str, malloc: str) -> Optional[float]:
    """Peak MiB of one batch-1 forward of ``name`` at ``size``, from a fresh process
    (None where it failed)."""
    proc = subprocess.run([sys.executable, __file__, '--_probe', name, size, '--device', device,
                           '--amp', amp, '--malloc', malloc], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('PEAK_MIB ')]
    if not lines:
        print(f'{name} {size}: no figure\n{proc.stderr[-2000:]}', file=sys.stderr)
    return float(lines[-1].split()[1]) if lines else None


def main(argv=None) -> Dict[str, Dict[str, Optional[float]]]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=['FilterViT-xs', 'ResNet-18', 'ResNet-50'],
                        choices=list(BACKBONES))
    parser.add_argument('--sizes', nargs='+', default=['512x512', '800x1344'])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', default='none', choices=['none', 'bf16', 'fp16'])
    add_malloc_argument(parser)
    parser.add_argument('--dry-run', action='store_true', help='FilterViT-xxs at 64x64')
    parser.add_argument('--_probe', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.models, args.sizes = ['FilterViT-xxs'], ['64x64']
    if args._probe:
        configure_malloc(args.malloc)
        name, size = args._probe
        image = torch.rand(1, 3, *(int(v) for v in size.split('x')), device=args.device)
        peak = peak_memory_of_forward(build_backbone(name, device=args.device), image,
                                      args.device, args.amp)
        return print(f'PEAK_MIB {peak:.1f}')
    peaks = {name: {size: probe(name, size, args.device, args.amp, args.malloc)
                    for size in args.sizes} for name in args.models}
    lines = [f'Peak MiB of one batch-1 forward, {args.device}, amp: {args.amp}, '
             f'--malloc {args.malloc}; one process per cell.', '',
             '| model | ' + ' | '.join(args.sizes) + ' |', '|---|' + '---:|' * len(args.sizes)]
    for name, row in peaks.items():
        lines.append(f'| {name} | ' + ' | '.join('–' if v is None else f'{v:.0f}'
                                                  for v in row.values()) + ' |')
    print('\n'.join(lines))
    return peaks


if __name__ == '__main__':
    main()
