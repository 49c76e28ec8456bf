"""Memory of this process: the resident set (Linux), and the peak memory of one
forward (CUDA's allocator statistics, or on Linux CPUs the growth of the resident
set's high-water mark after resetting it)."""
import torch
from torch import nn

from .timing import forward_fn


def resident_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, KiB (Linux)."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def peak_memory_of_forward(model: nn.Module, image: torch.Tensor, device: str, amp: str) -> float:
    """MiB one eval forward of ``model`` on ``image`` adds at its peak. Run it in a
    fresh process: the CPU figure includes whatever the allocator keeps from before."""
    model.eval()  # not chained: mmdet's ResNet.train() returns None
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        forward_fn(model, image, device, amp)()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    base = resident_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    forward_fn(model, image, device, amp)()
    return (resident_kib('VmHWM') - base) / 1024
