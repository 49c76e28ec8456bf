"""Backbone latency against ``band_mib``, the row-band budget of the high-resolution layers.

    python tools/analysis/research/band_sweep.py [--models FilterViT-xs MobileViT-xs]
        [--sizes 800x1344 1600x2688] [--band-mibs off 2 4 8 16] [--repeats 7]
        [--malloc reuse|defaults|no-mmap] [--dry-run]

Per size, every model at every budget (``off``: whole maps) is timed in one
process, interleaved round by round (median; batch 1, inference). Prints a
markdown table, ms. ``--dry-run``: FilterViT-xxs at 64x64, whole maps and one tiny
budget, one round (seconds).
"""
import argparse
from typing import Dict, Optional

import torch

from mmfilter.benchmark import BACKBONES, build_backbone, forward_fn, time_interleaved
from mmfilter.engine import add_malloc_argument, apply_row_bands, configure_malloc
from mmfilter.models.backbones.base import HybridBackbone


def band_mib(value: str) -> Optional[float]:
    return None if value == 'off' else float(value)


def main(argv=None) -> Dict[str, Dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=['FilterViT-xs', 'MobileViT-xs'],
                        choices=list(BACKBONES))
    parser.add_argument('--sizes', nargs='+', default=['800x1344', '1600x2688'])
    parser.add_argument('--band-mibs', nargs='+', type=band_mib, default=[None, 2., 4., 8., 16.])
    parser.add_argument('--repeats', type=int, default=7)
    add_malloc_argument(parser)
    parser.add_argument('--dry-run', action='store_true', help='FilterViT-xxs, 64x64, one round')
    args = parser.parse_args(argv)
    if args.dry_run:
        args.models, args.sizes, args.band_mibs, args.repeats = ['FilterViT-xxs'], ['64x64'], \
            [None, 0.01], 1
    malloc = configure_malloc(args.malloc)
    times: Dict[str, Dict[str, float]] = {}
    for size in args.sizes:
        image = torch.rand(1, 3, *(int(v) for v in size.split('x')))
        runners = {}
        for name in args.models:
            for mib in args.band_mibs:
                model = build_backbone(name, row_bands=False)
                if not isinstance(model, HybridBackbone):
                    parser.error(f'{name} has no row bands: choose an mmfilter backbone')
                if mib is not None:
                    apply_row_bands(model, mib)
                runners[f'{name}|{mib or "off"}'] = forward_fn(model, image, 'cpu', 'none')
        times[size] = time_interleaved(runners, 'cpu', args.repeats)
    labels = [str(m or 'off') for m in args.band_mibs]
    lines = [f'glibc malloc: {malloc}; {torch.get_num_threads()} threads; batch 1, ms, median of '
             f'{args.repeats}', '', '| model, size | ' + ' | '.join(labels) + ' |',
             '|---|' + '---:|' * len(labels)]
    for size, measured in times.items():
        for name in args.models:
            cells = [f'{measured[f"{name}|{label}"] * 1000:.0f}' for label in labels]
            lines.append(f'| {name}, {size} | ' + ' | '.join(cells) + ' |')
    print('\n'.join(lines))
    return times


if __name__ == '__main__':
    main()
