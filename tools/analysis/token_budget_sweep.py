"""Evaluate a trained detector or segmentor with other token budgets and selection rules.

    python tools/analysis/token_budget_sweep.py CONFIG CHECKPOINT
        [--budgets 64 256 1024 all 1/4 1/16 x1/4 x4 off] [--selections topk uniform random]
        [--scale 1 2] [--seed 0] [--split test|val] [--out-dir results/sweep/NAME]

For every test-image scale, selection rule and budget, the token-selecting
blocks of the trained backbone are overridden
(:func:`mmfilter.analysis.override_selection`: K =
min(ceil(ratio * N), budget) with the trained ratios for a budget, every
position for ``all``, ``ceil(N / 4)`` for ``1/4``; ``x4`` and ``x1/4`` scale
the trained ratio and budget of every stage, i.e. four times and a quarter of
the trained K, at most N; ``off`` skips their attention, evaluated once per
scale: what the attention is worth at all), the config's test split (with
``--split val`` its validation split) is evaluated, and the backbone's batch-1
latency at that scale is timed. ``topk`` needs a scorer (FilterViT); ``random``
draws per image with ``--seed``; ``uniform`` spreads K evenly. Writes
``sweep.md``, ``sweep.json`` and ``sweep.png`` (metric and latency against K).
"""
import argparse
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Union

import torch

from mmfilter.analysis import override_selection, record_selections
from mmfilter.benchmark import forward_fn, time_interleaved
from mmfilter.engine.config import load_config
from mmfilter.models.backbones.base import NUM_STAGES, TokenRule

METRICS = {'mmdet': ('coco/bbox_mAP', 'coco/bbox_mAP_s'), 'mmseg': ('mIoU', 'aAcc')}


@dataclass(frozen=True)
class Scaled:
    """The trained K of every stage times ``factor``: its ratio and budget scaled."""
    factor: float


Budget = Union[None, int, float, str, Scaled]


def parse_fraction(text: str) -> float:
    numerator, _, denominator = text.partition('/')
    return int(numerator) / int(denominator or 1)


def parse_budget(text: str) -> Budget:
    """``'all'`` → None; ``'1/4'`` → the ratio 0.25 of every map; ``'256'`` → a cap of
    256; ``'x4'`` / ``'x1/4'`` → four times / a quarter of the trained K;
    ``'off'`` stays ``'off'`` (attention skipped)."""
    if text in ('all', 'off'):
        return None if text == 'all' else text
    if text.startswith('x'):
        return Scaled(parse_fraction(text[1:]))
    return parse_fraction(text) if '/' in text else int(text)


def budget_label(budget: Budget):
    if budget is None:
        return 'all'
    if budget == 'off':
        return budget
    if isinstance(budget, Scaled):
        factor = budget.factor
        return f'x{factor:g}' if factor >= 1 else f'x1/{round(1 / factor)}'
    return f'1/{round(1 / budget)}' if isinstance(budget, float) else budget


def scaled_test_size(cfg, scale: float) -> tuple:
    """Scale the test pipeline's Resize; returns the new (w, h) scale."""
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'Resize':
            step['scale'] = tuple(int(round(v * scale)) for v in step['scale'])
            return step['scale']
    raise ValueError('the test pipeline has no Resize step to scale')


def rule_for(budget: Budget, backbone) -> TokenRule:
    """The token rule of one sweep point: all, a ratio of every map, a budget cap
    with the trained ratios, or the trained rule of each stage scaled (None for
    ``off``: the trained rule, attention skipped)."""
    if budget == 'off':
        return None
    if isinstance(budget, Scaled):
        rules: List[Optional[dict]] = [None] * NUM_STAGES
        for stage, block in backbone.selecting_blocks():
            trained = block.selector
            rules[stage] = dict(
                ratio=min(1.0, (trained.token_ratio or 1.0) * budget.factor),
                budget=None if trained.token_budget is None else
                max(1, math.ceil(trained.token_budget * budget.factor)))
        return rules
    if budget is None:
        return dict(ratio=1.0, budget=None)
    if isinstance(budget, float):
        return dict(ratio=budget, budget=None)
    return dict(budget=budget)


def sweep(args) -> List[dict]:
    from mmengine.runner import Runner
    rows = []
    for scale in args.scale:
        cfg = load_config(args.config, work_dir=osp.join(args.out_dir, f'scale{scale}'))
        cfg.load_from = args.checkpoint
        if args.split == 'val':
            cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
        size = scaled_test_size(cfg, scale)
        cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
        cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
        runner = Runner.from_cfg(cfg)
        backbone = runner.model.backbone
        blocks = list(backbone.selecting_blocks())
        if not blocks:
            raise SystemExit(f'error: {type(backbone).__name__} has no token-selecting blocks')
        image = torch.rand(1, 3, size[1], size[0])  # Resize scale is (w, h)
        for selection in args.selections:
            for budget in args.budgets:
                if budget == 'off' and selection != args.selections[0]:
                    continue  # no tokens: the selection rule does not matter
                with override_selection(backbone, rule_for(budget, backbone), selection,
                                        attention=budget != 'off'):
                    torch.manual_seed(args.seed)
                    metrics = runner.test()
                    backbone.eval()
                    with record_selections(backbone) as selections, torch.no_grad():
                        backbone(image)
                    ks = [r['indices'].shape[1] for r in selections]
                    ns = [r['size'][0] * r['size'][1] for r in selections]
                    latency = time_interleaved({'b': forward_fn(backbone, image, 'cpu', 'none')},
                                               'cpu', args.repeats)['b']
                row = dict(scale=scale, size=f'{size[1]}x{size[0]}', selection=selection,
                           budget=budget_label(budget), k=ks, n=ns,
                           latency_ms=latency * 1000,
                           **{m: metrics.get(m) for m in METRICS[cfg.default_scope]})
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def render(rows: List[dict], scope: str) -> str:
    main, extra = METRICS[scope]
    lines = [f'| test size | selection | budget | K per stage (of N) | {main} | {extra} | '
             'backbone ms |', '|---|---|---:|---|---:|---:|---:|']
    for r in rows:
        ks = ', '.join(f'{k}/{n}' for k, n in zip(r['k'], r['n']))
        lines.append(f"| {r['size']} | {r['selection']} | {r['budget']} | {ks} | "
                     f"{r[main]:.3f} | {r[extra]:.3f} | {r['latency_ms']:.0f} |")
    return '\n'.join(lines) + '\n'


def plot(rows: List[dict], scope: str, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    main = METRICS[scope][0]
    fig, (ax, ax_ms) = plt.subplots(1, 2, figsize=(10, 4))
    for (size, selection) in dict.fromkeys((r['size'], r['selection']) for r in rows):
        pts = [(r['k'][0], r[main], r['latency_ms']) for r in rows
               if r['size'] == size and r['selection'] == selection and r['budget'] != 'off']
        if pts:
            ks, values, ms = zip(*pts)
            ax.plot(ks, values, marker='o', label=f'{selection}, {size}')
            ax_ms.plot(ks, ms, marker='o', label=f'{selection}, {size}')
    for r in rows:
        if r['budget'] == 'off':
            ax.axhline(r[main], color='gray', linestyle='--', linewidth=1)
            ax.annotate(f"attention off, {r['size']}", (0.02, r[main]), fontsize=7,
                        xycoords=('axes fraction', 'data'), va='bottom')
    for a, label in ((ax, main), (ax_ms, 'backbone latency, batch 1 (ms)')):
        a.set_xscale('log')
        a.set_xlabel('K at stride 4')
        a.set_ylabel(label)
        a.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--budgets', nargs='+', type=parse_budget,
                        default=[64, 256, 1024, None],
                        help="K caps, 'all', ratios of every map such as 1/4, the trained K "
                        "scaled such as x4 or x1/4, or 'off'")
    parser.add_argument('--selections', nargs='+', default=['topk', 'uniform', 'random'],
                        choices=['topk', 'uniform', 'random'])
    parser.add_argument('--scale', nargs='+', type=float, default=[1.0],
                        help='test image side relative to the config (2: twice the side)')
    parser.add_argument('--seed', type=int, default=0, help='for random selection')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='the config\'s split to evaluate')
    parser.add_argument('--repeats', type=int, default=3, help='latency rounds')
    parser.add_argument('--out-dir', default=None)
    args = parser.parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'error: checkpoint not found: {args.checkpoint}')
    args.out_dir = args.out_dir or osp.join(
        'results', 'sweep', osp.splitext(osp.basename(args.config))[0])
    rows = sweep(args)
    scope = load_config(args.config).default_scope
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'sweep.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    table = render(rows, scope)
    with open(osp.join(args.out_dir, 'sweep.md'), 'w') as f:
        f.write(table)
    plot(rows, scope, osp.join(args.out_dir, 'sweep.png'))
    print(table)
    return rows


if __name__ == '__main__':
    main()
