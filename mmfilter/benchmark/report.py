"""The tools' reports: records as JSON lines while a run goes on; the benchmark's
Markdown table per input size, FilterViT-xs's target ratios, and a log-log latency plot."""
import json
from typing import Dict, List, Optional

import torch


class JsonLinesReport:
    """Prints each record as one JSON line as it comes (and appends it to ``out``, a
    file emptied first) and keeps the records for the tables that close a run."""

    def __init__(self, out: Optional[str] = None) -> None:
        self.records: List[Dict[str, object]] = []
        self.out = out
        if out:
            open(out, 'w').close()

    def write(self, record: Dict[str, object]) -> None:
        self.records.append(record)
        line = json.dumps(record, default=str)
        print(line, flush=True)
        if self.out:
            with open(self.out, 'a') as f:
                f.write(line + '\n')

    def of(self, section: str) -> List[Dict[str, object]]:
        """The records whose ``section`` is ``section``."""
        return [r for r in self.records if r.get('section') == section]


def _fmt(value, scale=1.0, digits=0) -> str:
    return '–' if value is None else f'{value * scale:.{digits}f}'


def render_markdown(report: dict) -> str:
    """One table per input size; '–' marks a skipped (too slow) or failed measurement.

    ``report`` holds ``results`` (model name -> ``params`` and ``'{size}/{label}'``
    seconds, ``'{size}/gflops'``), ``sizes``, ``batch_sizes``, ``train_batch_size``,
    ``device``, ``amp``, ``malloc`` and how the forward rows ran (``fuse_conv_bn``,
    ``compile``).
    """
    results = report['results']
    labels = [f'b{b}' for b in report['batch_sizes']] + ['train']
    lines = [f"Device: {report['device']}; amp: {report['amp']}; torch {torch.__version__}; "
             f"glibc malloc: {report['malloc']}; forward rows: {forward_label(report)}. "
             'Milliseconds, median over rounds; train = forward + backward, batch '
             f"{report['train_batch_size']}.", '']
    for size in report['sizes']:
        lines += [f'{size}:', '',
                  '| model | params | ' + ' | '.join(f'{label} ms' for label in labels)
                  + ' | GFLOPs |',
                  '|---|---:|' + '---:|' * (len(labels) + 1)]
        for name, r in results.items():
            cells = [f"{r['params'] / 1e6:.2f} M"]
            cells += [_fmt(r.get(f'{size}/{label}'), 1000) for label in labels]
            cells.append(_fmt(r.get(f'{size}/gflops'), 1, 1))
            lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    lines += ['Targets (FilterViT-xs, batch 1):', '']
    lines += [f'- {text}' for text in target_lines(report)]
    return '\n'.join(lines) + '\n'


def forward_label(report: dict) -> str:
    """How the forward rows ran: as built, BatchNorm folded, compiled."""
    steps = (['BatchNorm folded'] if report.get('fuse_conv_bn') else []) + \
        ([f"torch.compile ({report['compile']})"] if report.get('compile') else [])
    return ', '.join(steps) or 'as built'


def target_lines(report: dict) -> List[str]:
    """FilterViT-xs's latency ratios at 800x1344 (else the largest size) against
    its targets."""
    r, sizes = report['results'], report['sizes']
    ref = '800x1344' if '800x1344' in sizes else sizes[-1]
    fv = r.get('FilterViT-xs', {})
    out = []

    def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return None if a is None or b is None or b == 0 else a / b

    for other, limit in (('MobileViT-xs', 0.35), ('FilterViT-xs-dense', 0.25), ('ResNet-18', 1.0)):
        value = ratio(fv.get(f'{ref}/b1'), r.get(other, {}).get(f'{ref}/b1'))
        if value is not None:
            out.append(f'latency / {other} at {ref} = {value:.2f} (target ≤ {limit})')
    value = ratio(fv.get('1600x2688/b1'), fv.get('800x1344/b1'))
    if value is not None:
        out.append(f'latency 1600x2688 / 800x1344 = {value:.2f} (target ≤ 4.5)')
    return out


def plot_latency(report: dict, path: str) -> None:
    """Batch-1 forward latency against pixels per image, log-log, one line per model."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 5))
    colours = plt.get_cmap('tab20').colors  # pairs of shades: the dark ones first, then the light
    for i, (name, r) in enumerate(report['results'].items()):
        points = [(h * w, r[f'{h}x{w}/b1']) for h, w in
                  (tuple(int(v) for v in s.split('x')) for s in report['sizes'])
                  if r.get(f'{h}x{w}/b1') is not None]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker='o', label=name, color=colours[2 * i % 20 + 2 * i // 20],
                    linestyle='-' if 'Filter' in name else '--')
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('pixels per image')
    ax.set_ylabel('forward latency, batch 1 (s)')
    ax.set_title(f"Backbone latency ({report['device']})")
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
