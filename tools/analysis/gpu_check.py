"""The backbones on one GPU: parity, host syncs, mixed precision, attention kernels, speed.

    python tools/analysis/gpu_check.py [--out FILE.jsonl] [--arch xs] [--sections ...]
    python tools/analysis/gpu_check.py --dry-run     # every section on tiny sizes, CPU if no CUDA

Needs torch, mmengine and mmfilter only (torchvision and timm where installed, for
the ResNet-18 and MobileViT-xs rows of the speed table). The backbones come from
the catalogue of :mod:`mmfilter.benchmark`, the measures from its modules
(``precision``, ``device``, ``timing``, ``memory``) and the JSON lines from its
``JsonLinesReport``; this script holds the sections and their tables. Row bands
(``mmfilter.engine.apply_row_bands``) are a CPU optimisation and are not applied:
the backbones run as built. Each section has its own time budget (seconds,
``SECTION_BUDGETS``); past it the section's remaining checks are recorded as
``timed_out`` and the next section starts; the budgets add up to 205 s, so that a
run with its start-up fits in 4 minutes. One JSON line per check is printed as it
finishes (and appended to ``--out``); markdown tables close the run. Sections:

- ``parity``: float32 on the CPU against float32 on the device (TF32 off), in
  evaluation: the maps' mean relative difference and how many of the CPU's
  selected tokens the device selects too.
- ``sync``: training (forward and backward) and evaluation forwards under
  ``torch.cuda.set_sync_debug_mode('error')`` (on the CPU: tensor methods that
  read a value to the host raise instead).
- ``precision``: fp16 and bf16 autocast: two training steps with finite loss,
  gradients and weights (no gradient scaler); evaluation against float32 (map
  change and the share of float32's tokens still selected, per stage).
- ``kernels``: per head dimension of the backbones' attention and per dtype, which
  ``scaled_dot_product_attention`` backends run (forward and backward, q/k/v laid
  out as ``MultiheadSelfAttention`` lays them out) with each one forced by
  ``torch.nn.attention.sdpa_kernel``, the reason a backend refuses, and the one
  torch picks by default.
- ``latency``: evaluation forwards at 800x1344, batch 1 and 8, float32 and fp16
  autocast, of the four backbones beside torchvision's ResNet-18 (to stride 32)
  and timm's MobileViT-xs (``features_only``), interleaved in one process (each
  repeat times every model in turn); median milliseconds and peak CUDA memory
  above the weights.

On a GPU machine without internet access or OpenMMLab packages (e.g. Python 3.12,
torch with CUDA, numpy, timm and torchvision), mmengine and what ``import
mmfilter`` needs of its requirements travel with the source tree as wheels, here
in ``shared/wheels`` (opencv because ``mmengine.hooks`` imports it; pyyaml comes
with timm). Prepared on a machine with PyPI::

    pip download --no-deps -d shared/wheels mmengine==0.10.7 addict yapf termcolor \
        platformdirs rich packaging opencv-python-headless

On the GPU machine, from the repository root (``--no-deps``: mmengine's metadata
also asks for matplotlib and others that importing it does not need)::

    pip install --no-index --no-deps --find-links shared/wheels mmengine addict yapf \
        termcolor platformdirs rich packaging opencv-python-headless \
      && PYTHONPATH=. python tools/analysis/gpu_check.py --out gpu_check.jsonl \
      | tee gpu_check.txt

``--dry-run`` on the GPU first (seconds) tries every section at tiny sizes.
Figures from a random initialisation (seed 0): the precision section measures
untrained scorers, whose logits lie close together.
"""
import argparse
import contextlib
import copy
import datetime
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmfilter.benchmark import (MMFILTER_BACKBONES, JsonLinesReport, build_backbone,
                                catalogue_name, forward_fn, time_interleaved)
from mmfilter.benchmark.device import float32_matmuls, no_host_sync
from mmfilter.benchmark.memory import peak_memory_of_forward
from mmfilter.benchmark.precision import (map_change, recorded_forward, selection_agreement,
                                          selection_overlap)
from mmfilter.benchmark.timing import AMP_DTYPES, synchronize

SECTION_BUDGETS = dict(parity=25, sync=25, precision=40, kernels=25, latency=90)
Record = Dict[str, object]  # one JSON line


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield


class Section:
    """A section's checks under one time budget: :meth:`run` runs a check and
    records what it returns (``status`` ``'ok'`` unless it says otherwise,
    ``'error'`` with the message if it raises); once ``budget_s`` seconds have
    passed since the section began, it records ``timed_out`` instead of running.
    A check already running is not interrupted: keep each one short."""

    def __init__(self, report: JsonLinesReport, name: str, budget_s: float) -> None:
        self.report = report
        self.name = name
        self.budget_s = budget_s
        self.start = time.perf_counter()

    def run(self, check: str, fn: Callable[[], Union[Record, List[Record]]], **tags) -> None:
        """``fn`` returns the check's fields, or a list of records each with its
        own ``check`` name (several lines from one timed step); ``tags`` go into
        every record of the check, whatever its status."""
        if time.perf_counter() - self.start > self.budget_s:
            self.report.write(dict(section=self.name, check=check, status='timed_out',
                                   budget_s=self.budget_s, **tags))
            return
        began = time.perf_counter()
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - a failing check is a finding; the run goes on
            message = str(e).strip().splitlines()
            result = dict(status='error',
                          error=f'{type(e).__name__}: {message[0] if message else ""}'[:300])
        seconds = round(time.perf_counter() - began, 3)
        for fields in result if isinstance(result, list) else [result]:
            fields = dict(fields)
            name = fields.pop('check', check)
            status = fields.pop('status', 'ok')
            self.report.write(dict(section=self.name, check=name, status=status,
                                   seconds=seconds, **{**tags, **fields}))


# -- models and inputs ---------------------------------------------------------------
def build(name: str, arch: str, device: torch.device, **overrides) -> nn.Module:
    """mmfilter's backbone ``name`` at ``arch`` from the catalogue, as built (no row
    bands), seed 0, in eval mode on ``device``."""
    return build_backbone(catalogue_name(name, arch), device=device, row_bands=False,
                          **overrides)


def noise(shape: Sequence[int], device: torch.device, seed: int = 0) -> Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)).to(device)


def finite(tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


# -- sections ------------------------------------------------------------------------
def check_parity(name: str, arch: str, shape: Sequence[int], device: torch.device) -> Record:
    model = build(name, arch, torch.device('cpu'))
    x = noise(shape, torch.device('cpu'))
    reference, ref_selections = recorded_forward(model, x)
    moved = copy.deepcopy(model).to(device)
    with float32_matmuls(device):
        outs, selections = recorded_forward(moved, x.to(device))
    changes = map_change(reference, [o.cpu() for o in outs])
    agreement = selection_agreement(model, ref_selections,
                                    [dict(s, indices=s['indices'].cpu()) for s in selections])
    kept = [round(s['overlap'], 4) for s in agreement]
    ok = max(changes) < 1e-3 and all(k >= 0.99 for k in kept)
    return dict(status='ok' if ok else 'differs', map_change=[round(c, 6) for c in changes],
                selection_kept=kept)


def check_sync(name: str, arch: str, shape: Sequence[int], device: torch.device,
               training: bool) -> Record:
    model = build(name, arch, device, drop_path_rate=0.1).train(training)
    x = noise(shape, device)

    def step():
        with torch.set_grad_enabled(training):
            outs = model(x)
            if training:
                sum(o.float().mean() for o in outs).backward()

    step()  # warm-up outside the check: lazy initialisation may synchronise once
    synchronize(device)
    with no_host_sync(device):
        step()
    synchronize(device)
    return dict(mode='train' if training else 'eval')


def check_precision(name: str, arch: str, shape: Sequence[int], device: torch.device,
                    dtype_name: str) -> Record:
    dtype = AMP_DTYPES[dtype_name]
    model = build(name, arch, device)
    x = noise(shape, device)
    evaluation = selection_overlap(model, x, dtype)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses, grads_finite = [], True
    for _ in range(2):
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=dtype):
            outs = model(x)
        loss = sum(o.float().square().mean() for o in outs)
        loss.backward()
        grads_finite &= finite(p.grad for p in model.parameters() if p.grad is not None)
        optimizer.step()
        losses.append(loss.item())
    train_ok = grads_finite and finite(torch.tensor(losses)) and finite(model.parameters())
    kept = [round(s['overlap'], 4) for s in evaluation['stages']]
    return dict(status='ok' if train_ok else 'not finite', dtype=dtype_name,
                train_losses=[round(v, 5) for v in losses], train_finite=train_ok,
                eval_map_change=[round(m['change'], 5) for m in evaluation['maps']],
                eval_selection_kept=kept,
                eval_selection_worst=[round(s['worst'], 4) for s in evaluation['stages']])


def attention_head_dims() -> Dict[int, List[str]]:
    """Head dimension -> the backbones (``name-arch``) whose attention uses it,
    from the arch tables."""
    from mmengine.registry import MODELS

    import mmfilter  # noqa: F401  (registers the backbones)
    dims: Dict[int, List[str]] = {}
    for name in MMFILTER_BACKBONES:
        for arch, table in MODELS.get(name).arch_settings.items():
            for stage in table['stages']:
                attention = stage.get('attention')
                if attention:
                    users = dims.setdefault(attention['embed_dim'] // attention['num_heads'], [])
                    if f'{name}-{arch}' not in users:
                        users.append(f'{name}-{arch}')
    return dict(sorted(dims.items()))


def check_kernels(head_dim: int, dtype_name: str, tokens: int, device: torch.device) -> Record:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    dtype = torch.float32 if dtype_name == 'fp32' else AMP_DTYPES[dtype_name]
    heads, batch = 4, 2
    dim = heads * head_dim

    def qkv():  # as MultiheadSelfAttention lays them out: views of one [B, N, 3C] tensor
        x = torch.randn(batch, tokens, 3 * dim, device=device, dtype=dtype, requires_grad=True)
        return x.view(batch, tokens, 3, heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)

    results = {}
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                    SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH):
        q, k, v = qkv()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                with sdpa_kernel([backend]):
                    F.scaled_dot_product_attention(q, k, v).float().sum().backward()
                synchronize(device)
                results[backend.name] = 'ok'
            except RuntimeError as e:
                reasons = [str(w.message).splitlines()[0] for w in caught
                           if 'requires' in str(w.message) or 'not' in str(w.message)]
                reason = '; '.join(reasons or [str(e).splitlines()[0]])
                results[backend.name] = f'refused: {reason}'[:300]
    q, k, v = qkv()
    try:
        default = SDPBackend(torch._fused_sdp_choice(q, k, v)).name
    except Exception as e:  # noqa: BLE001 - a private helper; its absence is recorded
        default = f'unknown ({type(e).__name__})'
    return dict(default=default, backends=results)


class ChannelsLast(nn.Module):
    """A reference model fed channels-last input, as the backbones run (and
    returning a tuple of maps)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        out = self.model(x.contiguous(memory_format=torch.channels_last))
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )


def reference_models() -> Tuple[Dict[str, nn.Module], Dict[str, str]]:
    """torchvision's ResNet-18 (to stride 32) and timm's MobileViT-xs
    (``features_only``) where importable; else a note per missing one."""
    models, notes = {}, {}
    try:
        import torchvision
        resnet = torchvision.models.resnet18(weights=None)
        models['ResNet-18 (torchvision)'] = ChannelsLast(
            nn.Sequential(*list(resnet.children())[:-2]))
    except Exception as e:  # noqa: BLE001 - absent, or built for another torch
        notes['ResNet-18 (torchvision)'] = f'{type(e).__name__}: {e}'[:200]
    try:
        import timm
        models['MobileViT-xs (timm)'] = ChannelsLast(
            timm.create_model('mobilevit_xs', pretrained=False, features_only=True))
    except Exception as e:  # noqa: BLE001 - absent, or built for another torch
        notes['MobileViT-xs (timm)'] = f'{type(e).__name__}: {e}'[:200]
    return models, notes


def time_models(models: Dict[str, nn.Module], x: Tensor, amp: str, warmup: int,
                repeats: int) -> Dict[str, dict]:
    """Median milliseconds of each model's evaluation forward on ``x`` under ``amp``
    (:func:`~mmfilter.benchmark.time_interleaved`: every repeat runs each in turn)
    and, on CUDA, its peak memory above the memory held before the forward (None on
    the CPU)."""
    device = x.device
    peaks = {name: peak_memory_of_forward(model, x, device.type, amp)
             if device.type == 'cuda' else None for name, model in models.items()}
    times = time_interleaved({name: forward_fn(model, x, device, amp)
                              for name, model in models.items()}, device, repeats, max(warmup, 1))
    return {name: dict(median_ms=round(t * 1e3, 3),
                       peak_mib=None if peaks[name] is None else round(peaks[name], 1))
            for name, t in times.items()}


# -- tables --------------------------------------------------------------------------
def _cell(record: Optional[Record], text: Callable[[Record], str]) -> str:
    if record is None:
        return 'not run'
    if record['status'] in ('timed_out', 'error', 'skipped'):
        error = str(record.get('error', '')).replace('|', '/')
        return str(record['status']) + (f' ({error})' if error else '')
    return text(record)


def _percent(values) -> str:
    return ' / '.join(f'{v:.1%}' for v in values) or '-'


def tables(report: JsonLinesReport, models: Sequence[str]) -> List[str]:
    """Markdown: checks per backbone, attention kernels, latency and memory."""
    def find(section, check):
        return next((r for r in report.of(section) if r['check'] == check), None)

    lines = ['| backbone | CPU vs device (map change; tokens kept) | no host sync (train; eval) '
             '| fp16 (train; eval map change; tokens kept) | bf16 (train; eval map change; '
             'tokens kept) |', '|---|---|---|---|---|']
    for name in MMFILTER_BACKBONES:
        parity = _cell(find('parity', name), lambda r: (
            f"{max(r['map_change']):.1e}; {_percent(r['selection_kept'])}"))
        sync = '; '.join(_cell(find('sync', f'{name} {mode}'), lambda r: str(r['status']))
                         for mode in ('train', 'eval'))
        precision = [_cell(find('precision', f'{name} {d}'), lambda r: (
            f"{'finite' if r['train_finite'] else 'NOT FINITE'}; "
            f"{max(r['eval_map_change']):.1%}; {_percent(r['eval_selection_kept'])}"))
            for d in AMP_DTYPES]
        lines.append(f'| {name} | {parity} | {sync} | {precision[0]} | {precision[1]} |')

    kernels = report.of('kernels')
    if kernels:
        lines += ['', '| head dim | dtype | default | flash | efficient | cudnn | math | used by |',
                  '|---:|---|---|---|---|---|---|---|']
        shown = set()
        for r in kernels:
            users = '' if r['head_dim'] in shown else ', '.join(r['used_by'])
            shown.add(r['head_dim'])
            if r['status'] != 'ok':
                lines.append(f"| {r['head_dim']} | {r['dtype']} | {_cell(r, str)} "
                             f"| | | | | {users} |")
                continue
            b = r['backends']
            lines.append(f"| {r['head_dim']} | {r['dtype']} | {r['default']} | " + ' | '.join(
                'ok' if b.get(k) == 'ok' else 'no' for k in
                ('FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'CUDNN_ATTENTION', 'MATH'))
                + f' | {users} |')

    latency = report.of('latency')
    groups = list(dict.fromkeys(str(r['group']) for r in latency if 'group' in r))
    if latency:
        lines += ['', '| model | ' + ' | '.join(f'{g} ms (peak MiB)' for g in groups) + ' |',
                  '|---|' + '---:|' * len(groups)]
        for model in models:
            cells = []
            for group in groups:
                r = next((r for r in latency if r['check'] in (f'{model} {group}', group, model)),
                         None)  # the model's timing, its group's timeout or error, or its skip
                cells.append(_cell(r, lambda r: f"{r['median_ms']:.1f}" + (
                    '' if r['peak_mib'] is None else f" ({r['peak_mib']:.0f})")))
            lines.append(f'| {model} | ' + ' | '.join(cells) + ' |')
        for r in latency:
            if r['status'] == 'skipped' or ('group' not in r and r['status'] != 'ok'):
                lines.append(f"\n{r['check']}: {r['status']} {r.get('note', r.get('error', ''))}")
    return lines


# -- main ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    """Inputs of a run: ``check`` for the sync and precision checks, ``parity`` for
    CPU against device, ``latency`` (H, W) with ``batches``, ``tokens`` per
    attention sequence in the kernel checks, and the timing's warm-up and repeats."""
    check: Tuple[int, ...] = (2, 3, 512, 512)
    parity: Tuple[int, ...] = (2, 3, 256, 256)
    latency: Tuple[int, int] = (800, 1344)
    batches: Tuple[int, ...] = (1, 8)
    tokens: int = 1024
    warmup: int = 3
    repeats: int = 10


DRY_RUN = Sizes(check=(2, 3, 64, 64), parity=(2, 3, 64, 64), latency=(64, 64), batches=(1, 2),
                tokens=64, warmup=1, repeats=1)


def run_sections(report: JsonLinesReport, sections: Sequence[str], budgets: Dict[str, float],
                 arch: str, device: torch.device, sizes: Sizes) -> List[str]:
    """Runs the chosen sections in order; returns the names of the latency table's rows."""
    if 'parity' in sections:
        section = Section(report, 'parity', budgets['parity'])
        for name in MMFILTER_BACKBONES:
            section.run(name, lambda: check_parity(name, arch, sizes.parity, device))
    if 'sync' in sections:
        section = Section(report, 'sync', budgets['sync'])
        for name in MMFILTER_BACKBONES:
            for training in (True, False):
                section.run(f"{name} {'train' if training else 'eval'}",
                            lambda: check_sync(name, arch, sizes.check, device, training))
    if 'precision' in sections:
        section = Section(report, 'precision', budgets['precision'])
        for name in MMFILTER_BACKBONES:
            for dtype_name in AMP_DTYPES:
                section.run(f'{name} {dtype_name}',
                            lambda: check_precision(name, arch, sizes.check, device, dtype_name))
    if 'kernels' in sections:
        section = Section(report, 'kernels', budgets['kernels'])
        for head_dim, users in attention_head_dims().items():
            for dtype_name in ('fp32', 'fp16', 'bf16'):
                section.run(f'head dim {head_dim} {dtype_name}',
                            lambda: check_kernels(head_dim, dtype_name, sizes.tokens, device),
                            head_dim=head_dim, dtype=dtype_name, used_by=users)
    names = [f'{name}-{arch}' for name in MMFILTER_BACKBONES]
    if 'latency' in sections:
        section = Section(report, 'latency', budgets['latency'])
        models = {f'{name}-{arch}': build(name, arch, device) for name in MMFILTER_BACKBONES}
        references, notes = reference_models()
        models.update({k: m.to(device).eval() for k, m in references.items()})
        names = list(models) + list(notes)
        for model, note in notes.items():
            report.write(dict(section='latency', check=model, status='skipped', note=note))
        for batch in sizes.batches:
            x = noise((batch, 3, *sizes.latency), device)
            for precision in ('fp32', 'fp16'):
                group, amp = f'b{batch} {precision}', 'none' if precision == 'fp32' else precision
                section.run(group, lambda: [
                    dict(check=f'{name} {group}', **timing)
                    for name, timing in time_models(models, x, amp, sizes.warmup,
                                                    sizes.repeats).items()],
                    group=group, batch=batch, size=list(sizes.latency), precision=precision)
    return names


def main(argv=None) -> List[Record]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', help='also append the JSON lines to this file')
    parser.add_argument('--arch', default='xs', help="the backbones' size. Default: xs")
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='Default: cuda where available, else cpu (with --dry-run)')
    parser.add_argument('--sections', nargs='+', choices=list(SECTION_BUDGETS),
                        default=list(SECTION_BUDGETS), help='Default: all')
    parser.add_argument('--dry-run', action='store_true',
                        help='every section at tiny sizes (64x64, batches 1-2, one repeat) '
                        'and without time budgets, so that the script can be tried where no '
                        'GPU is')
    args = parser.parse_args(argv)
    try:
        for name in MMFILTER_BACKBONES:  # every backbone has the arch, or nothing runs
            catalogue_name(name, args.arch)
    except ValueError as e:
        parser.error(str(e))
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        sys.exit('error: no CUDA device; --device cpu --dry-run runs every section on the CPU')
    if device.type == 'cpu' and not args.dry_run:
        sys.exit('error: the full check is meant for a GPU; on the CPU pass --dry-run')
    # The dry run is there to run every check: no budgets. On the CPU it would spend
    # most of its time generating oneDNN kernels for every new shape and dtype;
    # torch's own CPU kernels serve it.
    budgets = {k: float('inf') if args.dry_run else v for k, v in SECTION_BUDGETS.items()}
    onednn = not (args.dry_run and device.type == 'cpu')

    import mmfilter
    report = JsonLinesReport(args.out)
    report.write(dict(
        section='environment', check='versions', status='ok',
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        device=torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu',
        torch=torch.__version__, cuda=torch.version.cuda, mmfilter=mmfilter.__version__,
        python=platform.python_version(), arch=args.arch, dry_run=args.dry_run,
        row_bands='not applied', onednn=onednn))
    with _quiet(), torch.backends.mkldnn.flags(enabled=onednn):
        names = run_sections(report, args.sections, budgets, args.arch, device,
                             DRY_RUN if args.dry_run else Sizes())
    print('\n' + '\n'.join(tables(report, names)), flush=True)
    return report.records


if __name__ == '__main__':
    main()
