"""Backbone latency beside CPU-bound background processes: another job on the same cores.

    python tools/analysis/research/contention.py [--load 1] [--out-dir results/contention]
        [--dry-run] [benchmark_backbones.py options, e.g. --models FilterViT-xs ResNet-18
        --sizes 800x1344 --batch-sizes 1 --repeats 7 --fuse-conv-bn --compile]

Runs ``tools/analysis/benchmark_backbones.py`` in its own process with ``--load``
busy Python processes (one ``while True: pass`` loop each) running from before
the models are built until the benchmark ends. Run it once with ``--load 0`` (or the
benchmark alone) and once with the load, each in its own process, for each
model's slowdown under contention; the OpenMP wait settings in the environment
(``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``) are named in the report's first line.
Writes what the benchmark writes, with the load named in ``benchmark.md`` and
``benchmark.json``. ``--dry-run``: FilterViT-xxs at 64x64, batch 1, one round.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator, List

#: The benchmark this study runs beside the load, a sibling tool run as a command.
BENCHMARK = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'benchmark_backbones.py')
DRY_RUN = ['--models', 'FilterViT-xxs', '--sizes', '64x64', '--batch-sizes', '1', '--repeats', '1']

@contextmanager
def cpu_load(processes: int) -> Iterator[List[subprocess.Popen]]:
    """``processes`` CPU-bound background processes (one busy Python loop each) for the
    body of the block, as another user's job on the same cores; stopped on leaving."""
    spinning = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
                for _ in range(processes)]
    try:
        yield spinning
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        epilog='Every other option is passed to tools/analysis/benchmark_backbones.py.')
    parser.add_argument('--load', type=int, default=1, metavar='N',
                        help='CPU-bound background processes (default: 1)')
    parser.add_argument('--out-dir', default='results/contention')
    parser.add_argument('--dry-run', action='store_true',
                        help='the benchmark on FilterViT-xxs at 64x64, batch 1, one round')
    args, rest = parser.parse_known_args(argv)
    command = [sys.executable, BENCHMARK] + (DRY_RUN if args.dry_run else []) + rest + \
        ['--out-dir', args.out_dir]
    with cpu_load(args.load):
        if subprocess.run(command).returncode:
            sys.exit(f'error: the benchmark failed: {" ".join(command)}')
    path = osp.join(args.out_dir, 'benchmark.json')
    with open(path) as f:
        report = json.load(f)
    report['background_load'] = args.load
    with open(path, 'w') as f:
        json.dump(report, f, indent=1)
    path = osp.join(args.out_dir, 'benchmark.md')
    with open(path) as f:
        markdown = f.read()
    with open(path, 'w') as f:
        f.write(f'CPU-bound background processes: {args.load}.\n\n' + markdown)
    print(f'CPU-bound background processes: {args.load}.')
    return report


if __name__ == '__main__':
    main()
