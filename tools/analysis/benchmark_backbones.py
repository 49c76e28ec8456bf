"""Latency, training-step time, peak memory, parameters and FLOPs of backbones, side by side.

    python tools/analysis/benchmark_backbones.py [--quick] [--device cpu|cuda]
        [--amp none|bf16|fp16] [--sizes 224x224 512x512 800x1344 1600x2688]
        [--models FilterViT-xs MobileViT-xs ...] [--out-dir results/benchmark]

Every model is timed in one process and the models are interleaved round by
round, so machine drift affects all alike; latency is the median over rounds
after warm-up. Peak memory is measured per model in a fresh subprocess (growth
of the resident set's high-water mark over the built model on Linux CPUs,
``max_memory_allocated`` on CUDA).
A measurement (model and batch size or training step) is skipped at a size
where its time at the previous size, scaled by the pixel ratio to the power
1.5, exceeds ``--max-seconds``; FLOPs and memory follow batch-1 latency. Writes
``benchmark.md`` (tables and target ratios) and ``latency.png`` (log-log).
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from contextlib import nullcontext
from statistics import median
from typing import Callable, Dict, List, Optional, Tuple

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)
from mmfilter import DropoutViT, FilterViT, MobileViT  # noqa: E402
from mmfilter.engine import keep_freed_memory  # noqa: E402
from mmfilter.models.token_selection import gather_tokens, scatter_tokens_, topk_indices  # noqa: E402

Size = Tuple[int, int]


def _mmdet_backbone(cfg: dict) -> Callable[[], torch.nn.Module]:
    def build():
        from mmdet.registry import MODELS
        from mmengine.registry import init_default_scope
        init_default_scope('mmdet')
        return MODELS.build(cfg)
    return build


def _filtervit_xs() -> torch.nn.Module:
    torch.manual_seed(0)  # fixed weights, shared with the dense twin
    return FilterViT(arch='xs')


def _dense_twin() -> torch.nn.Module:
    """FilterViT-xs with every token selected, carrying FilterViT-xs's weights."""
    dense = FilterViT(arch='xs', token_rule=dict(ratio=1.0, budget=None))
    dense.load_state_dict(_filtervit_xs().state_dict())
    return dense


MODELS: Dict[str, Callable[[], torch.nn.Module]] = {
    'FilterViT-xxs': lambda: FilterViT(arch='xxs'),
    'FilterViT-xs': _filtervit_xs,
    'FilterViT-s': lambda: FilterViT(arch='s'),
    'DropoutViT-xs': lambda: DropoutViT(arch='xs'),
    'FilterViT-xs-dense': _dense_twin,
    'MobileViT-xxs': lambda: MobileViT(arch='xxs'),
    'MobileViT-xs': lambda: MobileViT(arch='xs'),
    'MobileViT-s': lambda: MobileViT(arch='s'),
    'ResNet-18': _mmdet_backbone(dict(type='ResNet', depth=18)),
    'ResNet-50': _mmdet_backbone(dict(type='ResNet', depth=50)),
    'PVTv2-b0': _mmdet_backbone(dict(type='PyramidVisionTransformerV2', embed_dims=32,
                                     num_layers=[2, 2, 2, 2])),
}
QUICK_MODELS = ['FilterViT-xs', 'FilterViT-xs-dense', 'MobileViT-xs', 'ResNet-18']


def autocast(device: str, amp: str):
    if amp == 'none':
        return nullcontext()
    return torch.autocast(device_type=device, dtype=torch.bfloat16 if amp == 'bf16' else torch.float16)


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def time_call(fn: Callable[[], None], device: str) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def forward_fn(model, image, device, amp):
    def run():
        with torch.inference_mode(), autocast(device, amp):
            model(image)
    return run


def train_step_fn(model, image, device, amp):
    def run():
        with autocast(device, amp):
            loss = sum(out.float().mean() for out in model(image))
        loss.backward()
        model.zero_grad(set_to_none=True)
    return run


def flops_of(model, image) -> Optional[float]:
    """Multiply-accumulates counted by mmengine's analysis tools (None if it cannot trace)."""
    try:
        from mmengine.analysis import FlopAnalyzer
        analyzer = FlopAnalyzer(model, (image, ))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return float(analyzer.total())
    except Exception:  # noqa: BLE001 - tracing failures are reported as missing figures
        return None


def peak_memory(name: str, size: Size, device: str, amp: str, no_mmap: bool) -> Optional[float]:
    """Peak memory (MiB) of one batch-1 forward, measured in a fresh process."""
    proc = subprocess.run([sys.executable, __file__, '--_memory-probe', name, f'{size[0]}x{size[1]}',
                           '--device', device, '--amp', amp] + ['--no-mmap'] * no_mmap,
                          capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('PEAK_MIB ')]
    return float(lines[-1].split()[1]) if lines else None


def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def _memory_probe(name: str, size: Size, device: str, amp: str) -> None:
    model = MODELS[name]().to(device)
    model.eval()  # not chained: mmdet's ResNet.train() returns None
    image = torch.rand(1, 3, *size, device=device)
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        forward_fn(model, image, device, amp)()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:  # Linux: reset the resident-set high-water mark, run, read it back
        base = _rss_kib('VmRSS')
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        forward_fn(model, image, device, amp)()
        peak = (_rss_kib('VmHWM') - base) / 1024
    print(f'PEAK_MIB {peak:.1f}')


def filter_block_inputs(model: torch.nn.Module, image: torch.Tensor) -> list:
    """``(block, input map)`` for every filter block, from one forward of ``model``."""
    captured = []
    hooks = [block.register_forward_pre_hook(lambda b, args: captured.append((b, args[0])))
             for _, block in model.filter_blocks()]
    model(image)
    for hook in hooks:
        hook.remove()
    return captured


def profile_filter_blocks(size: Size, device: str, repeats: int) -> List[Dict[str, float]]:
    """Per filter block of FilterViT-xs: the time of the block and of each step of
    its forward (score, top-K, gather, scatter, mask multiply, attention)."""
    model = FilterViT(arch='xs').eval().to(device)
    profiles = []
    with torch.inference_mode():
        for block, x in filter_block_inputs(model, torch.rand(1, 3, *size, device=device)):
            h, w = x.shape[2:]
            k = block.num_tokens(h, w)
            logits = block.scorer(x)
            mask = logits.sigmoid()
            idx = topk_indices(logits.flatten(1), k)
            out = x * mask
            tokens = gather_tokens(x, idx) * gather_tokens(mask, idx)
            attended = block.attention(tokens, idx, h, w)
            parts = {
                'block': lambda: block(x),
                'score': lambda: block.scorer(x).sigmoid(),
                'top-K': lambda: topk_indices(logits.flatten(1), k),
                'gather': lambda: gather_tokens(x, idx) * gather_tokens(mask, idx),
                'scatter': lambda: scatter_tokens_(out, idx, attended),
                'mask multiply': lambda: x * mask,
                'attention': lambda: block.attention(tokens, idx, h, w),
            }
            for fn in parts.values():
                fn()
            times = {name: [] for name in parts}
            for _ in range(repeats):
                for name, fn in parts.items():
                    times[name].append(time_call(fn, device))
            profiles.append(dict({name: median(t) for name, t in times.items()},
                                 map=f'{h}x{w}', channels=x.shape[1], k=k))
    return profiles


SELECTION_STEPS = ('score', 'top-K', 'gather', 'scatter')


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', default=['224x224', '512x512', '800x1344', '1600x2688'])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--batch-sizes', nargs='+', type=int, default=[1, 2])
    parser.add_argument('--train-batch-size', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', default='none', choices=['none', 'bf16', 'fp16'])
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (default: torch)')
    parser.add_argument('--max-seconds', type=float, default=10.0)
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--no-mmap', action='store_true',
                        help='glibc: serve large blocks from the heap and keep freed memory (no page '
                        'faults per large activation; for a few models: the heap only grows)')
    parser.add_argument('--quick', action='store_true', help='4 models, 224 and 512, 2 repeats')
    parser.add_argument('--out-dir', default=osp.join(REPO, 'results', 'benchmark'))
    parser.add_argument('--_memory-probe', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tuned = args.no_mmap and keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args._memory_probe:
        name, size = args._memory_probe
        return _memory_probe(name, tuple(int(v) for v in size.split('x')), args.device, args.amp)
    if args.quick:
        args.sizes, args.repeats = ['224x224', '512x512'], 2
        args.models = [m for m in args.models if m in QUICK_MODELS] if args.models != list(MODELS) \
            else QUICK_MODELS
    sizes: List[Size] = [tuple(int(v) for v in s.split('x')) for s in args.sizes]

    models = {}
    for name in args.models:
        try:
            models[name] = MODELS[name]().to(args.device)
        except ImportError as e:
            print(f'skipping {name}: {e}', file=sys.stderr)
    results: Dict[str, dict] = {name: {'params': sum(p.numel() for p in m.parameters())}
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
                model.train(batch == 'train')
                make = train_step_fn if batch == 'train' else forward_fn
                runners[name] = make(model, image, args.device, args.amp)
            for _ in range(args.warmup):
                for fn in runners.values():
                    fn()
            times = {name: [] for name in runners}
            for _ in range(args.repeats):  # interleaved rounds
                for name, fn in runners.items():
                    times[name].append(time_call(fn, args.device))
            for name, t in times.items():
                results[name][f'{key}/{label}'] = median(t)
                seen[name, label] = (pixels, median(t))
                print(f'{name:20s} {key:>10s} {label:>6s} {median(t) * 1000:9.1f} ms', flush=True)
        for name, model in models.items():
            if f'{key}/b{args.batch_sizes[0]}' not in results[name]:
                continue
            model.eval()
            flops = flops_of(model, torch.rand(1, 3, *size, device=args.device))
            results[name][f'{key}/gflops'] = None if flops is None else flops / 1e9
            if not args.no_memory:
                results[name][f'{key}/mem'] = peak_memory(name, size, args.device, args.amp, tuned)

    profile_size = (800, 1344) if (800, 1344) in sizes else sizes[-1]
    blocks = profile_filter_blocks(profile_size, args.device, args.repeats)
    report = dict(results=results, filter_blocks=blocks, device=describe_device(args.device),
                  malloc='no mmap, freed memory kept' if tuned else 'defaults',
                  amp=args.amp, sizes=args.sizes, batch_sizes=args.batch_sizes,
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
    if device == 'cuda':
        return torch.cuda.get_device_name()
    return f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads'


def _fmt(value, scale=1.0, digits=0) -> str:
    return '–' if value is None else f'{value * scale:.{digits}f}'


def render_markdown(report: dict) -> str:
    """One table per input size; '–' marks a skipped (too slow) or failed measurement."""
    results = report['results']
    labels = [f'b{b}' for b in report['batch_sizes']] + ['train']
    lines = [f"Device: {report['device']}; amp: {report['amp']}; torch {torch.__version__}; "
             f"glibc malloc: {report['malloc']}. "
             'Milliseconds, median over rounds; train = forward + backward, batch '
             f"{report['train_batch_size']}; peak MiB = memory growth of one batch-1 forward.", '']
    for size in report['sizes']:
        lines += [f'{size}:', '',
                  '| model | params | ' + ' | '.join(f'{label} ms' for label in labels)
                  + ' | GFLOPs | peak MiB |',
                  '|---|---:|' + '---:|' * (len(labels) + 2)]
        for name, r in results.items():
            cells = [f"{r['params'] / 1e6:.2f} M"]
            cells += [_fmt(r.get(f'{size}/{label}'), 1000) for label in labels]
            cells += [_fmt(r.get(f'{size}/gflops'), 1, 1), _fmt(r.get(f'{size}/mem'))]
            lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    lines += ['Targets (FilterViT-xs, batch 1):', '']
    lines += [f'- {text}' for text in target_lines(report)]
    return '\n'.join(lines) + '\n'


def target_lines(report: dict) -> List[str]:
    """FilterViT-xs's target ratios at 800x1344 (else the largest size) and the
    share of each filter block's time that selection takes."""
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
    value = ratio(fv.get(f'{ref}/mem'), r.get('ResNet-50', {}).get(f'{ref}/mem'))
    if value is not None:
        out.append(f'peak memory / ResNet-50 at {ref} = {value:.2f} (target ≤ 1.0)')
    for i, b in enumerate(report['filter_blocks']):
        selection = sum(b[step] for step in SELECTION_STEPS)
        steps = ', '.join(f'{step} {b[step] * 1000:.2f}' for step in SELECTION_STEPS)
        out.append(f"filter block {i} ({b['channels']} ch, map {b['map']}, K={b['k']}): "
                   f"{b['block'] * 1000:.1f} ms, selection {selection / b['block']:.0%} of it "
                   f"(target ≤ 20%; ms: {steps}); the rest: attention on K tokens "
                   f"{b['attention'] * 1000:.2f}, mask multiply {b['mask multiply'] * 1000:.2f}")
    return out


def plot_latency(report: dict, path: str) -> None:
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


if __name__ == '__main__':
    main()
