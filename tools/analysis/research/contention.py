"""Backbone latency beside CPU-bound background processes: another job on the same cores.

    python tools/analysis/research/contention.py [--load 1] [--out-dir results/contention]
        [benchmark_backbones.py options, e.g. --models FilterViT-xs ResNet-18 --sizes 800x1344
        --batch-sizes 1 --repeats 7 --fuse-conv-bn --compile]

Runs ``tools/analysis/benchmark_backbones.py`` with ``--load`` busy Python
processes (one ``while True: pass`` loop each) running from before the models
are built until the benchmark ends. Run it once with ``--load 0`` (or the
benchmark alone) and once with the load, each in its own process, for each
model's slowdown under contention; the OpenMP wait settings in the environment
(``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``) are named in the report's first line.
Writes what the benchmark writes, with the load named in ``benchmark.md`` and
``benchmark.json``.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator, List

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, REPO)
from tools.analysis import benchmark_backbones  # noqa: E402


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
    parser.add_argument('--out-dir', default=osp.join(REPO, 'results', 'contention'))
    args, rest = parser.parse_known_args(argv)
    with cpu_load(args.load):
        report = benchmark_backbones.main(rest + ['--out-dir', args.out_dir])
    report['background_load'] = args.load
    with open(osp.join(args.out_dir, 'benchmark.json'), 'w') as f:
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
