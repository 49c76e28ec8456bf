"""Wall-clock timing of models and of the steps of token-selecting blocks."""
import os
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from statistics import median
from typing import Callable, Dict, Iterator, List, Optional

import torch
from torch import nn

Runner = Callable[[], None]


def autocast(device: str, amp: str):
    """``torch.autocast`` for ``amp`` in ``'bf16'`` / ``'fp16'``; nothing for ``'none'``."""
    if amp == 'none':
        return nullcontext()
    return torch.autocast(device_type=device, dtype=torch.bfloat16 if amp == 'bf16' else torch.float16)


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


#: OpenMP settings read when torch loads, which decide how waiting threads behave:
#: spinning (libgomp's default) or sleeping (``OMP_WAIT_POLICY=passive``).
OPENMP_WAIT_VARIABLES = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')


def threads_label() -> str:
    """``'2 threads'``, with the OpenMP wait settings of the environment where set."""
    waits = [f'{name}={os.environ[name]}' for name in OPENMP_WAIT_VARIABLES if name in os.environ]
    return ', '.join([f'{torch.get_num_threads()} threads'] + waits)


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


def time_call(fn: Runner, device: str) -> float:
    """Seconds one call of ``fn`` takes, the device's queue drained before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def time_interleaved(runners: Dict[str, Runner], device: str, repeats: int,
                     warmup: int = 1) -> Dict[str, float]:
    """Median seconds per runner over ``repeats`` rounds, each round calling every
    runner once, so drift of the machine affects all alike."""
    for _ in range(warmup):
        for fn in runners.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, fn in runners.items():
            times[name].append(time_call(fn, device))
    return {name: median(t) for name, t in times.items()}


def forward_fn(model: nn.Module, image: torch.Tensor, device: str, amp: str) -> Runner:
    def run():
        with torch.inference_mode(), autocast(device, amp):
            model(image)
    return run


def train_step_fn(model: nn.Module, image: torch.Tensor, device: str, amp: str) -> Runner:
    """Forward and backward of a loss over every output map."""
    def run():
        with autocast(device, amp):
            loss = sum(out.float().mean() for out in model(image))
        loss.backward()
        model.zero_grad(set_to_none=True)
    return run


def flops_of(model: nn.Module, image: torch.Tensor) -> Optional[float]:
    """Multiply-accumulates counted by mmengine's analysis tools (None if it cannot trace)."""
    try:
        from mmengine.analysis import FlopAnalyzer
        analyzer = FlopAnalyzer(model, (image, ))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return float(analyzer.total())
    except Exception:  # noqa: BLE001 - tracing failures are reported as missing figures
        return None


def selecting_block_inputs(backbone: nn.Module, image: torch.Tensor) -> list:
    """``(block, input map)`` for every token-selecting block, from one forward."""
    captured = []
    hooks = [block.register_forward_pre_hook(lambda b, args: captured.append((b, args[0])))
             for _, block in backbone.selecting_blocks()]
    try:
        backbone(image)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def profile_selecting_blocks(backbone: nn.Module, image: torch.Tensor, device: str,
                             repeats: int) -> List[Dict[str, float]]:
    """Per token-selecting block: the time of the whole block and of each step of
    its forward, called through the block's own step methods (``score``,
    ``select``, ``split``, ``transformer.delta``, ``merge``)."""
    profiles = []
    with torch.inference_mode():
        for block, x in selecting_block_inputs(backbone, image):
            batch_size, _, h, w = x.shape
            k = block.num_tokens(h, w)
            logits = block.score(x)
            indices = block.select(logits, batch_size, h, w, k, x.device)
            base, tokens, gate = block.split(x, logits, indices)
            delta = block.transformer.delta(tokens, indices, h, w)
            steps = {
                'block': lambda: block(x),
                'score': lambda: block.score(x),
                'select': lambda: block.select(logits, batch_size, h, w, k, x.device),
                'split': lambda: block.split(x, logits, indices),
                'attention': lambda: block.transformer.delta(tokens, indices, h, w),
                'merge': lambda: block.merge(base.clone(), indices, tokens, delta, gate),
                'copy': lambda: base.clone(),  # subtracted from merge below
            }
            times = time_interleaved(steps, device, repeats)
            times['merge'] = max(times['merge'] - times.pop('copy'), 0.)
            profiles.append(dict(times, map=f'{h}x{w}', channels=x.shape[1], k=k))
    return profiles
