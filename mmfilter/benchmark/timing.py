"""Wall-clock timing of models: one call, interleaved rounds, forward and training
steps under autocast, and mmengine's FLOP count."""
import os
import time
from contextlib import nullcontext
from statistics import median
from typing import Callable, Dict, List, Optional, Union

import torch
from torch import nn

Runner = Callable[[], None]
Device = Union[str, torch.device]


#: The autocast dtypes by name.
AMP_DTYPES = {'fp16': torch.float16, 'bf16': torch.bfloat16}


def autocast(device: Device, amp: str):
    """``torch.autocast`` for ``amp`` in :data:`AMP_DTYPES`; nothing for ``'none'``."""
    if amp == 'none':
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=AMP_DTYPES[amp])


def synchronize(device: Device) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


#: OpenMP settings read when torch loads, which decide how waiting threads behave:
#: spinning (libgomp's default) or sleeping (``OMP_WAIT_POLICY=passive``).
OPENMP_WAIT_VARIABLES = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT')


def threads_label() -> str:
    """``'2 threads'``, with the OpenMP wait settings of the environment where set."""
    waits = [f'{name}={os.environ[name]}' for name in OPENMP_WAIT_VARIABLES if name in os.environ]
    return ', '.join([f'{torch.get_num_threads()} threads'] + waits)


def time_call(fn: Runner, device: Device) -> float:
    """Seconds one call of ``fn`` takes, the device's queue drained before and after."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def time_interleaved(runners: Dict[str, Runner], device: Device, repeats: int,
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


def forward_fn(model: nn.Module, image: torch.Tensor, device: Device, amp: str) -> Runner:
    """One inference forward of ``model`` on ``image`` ``[B, 3, H, W]``."""
    def run():
        with torch.inference_mode(), autocast(device, amp):
            model(image)
    return run


def train_step_fn(model: nn.Module, image: torch.Tensor, device: Device, amp: str) -> Runner:
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
