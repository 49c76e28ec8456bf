"""Guards for running on a device: exact float32 on CUDA, and a forward that must not
synchronise with the host."""
import contextlib
from typing import Iterator

import torch

#: Tensor methods that read values to the host (a device-host synchronisation on CUDA).
HOST_READS = ('item', 'tolist', '__bool__', '__int__', '__float__', 'nonzero', 'cpu', 'numpy')


@contextlib.contextmanager
def float32_matmuls(device: torch.device) -> Iterator[None]:
    """TF32 off for convolutions and matmuls on CUDA (exact float32 for parity)."""
    if device.type != 'cuda':
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextlib.contextmanager
def no_host_sync(device: torch.device) -> Iterator[None]:
    """Any synchronisation with the host raises: CUDA's sync debug mode on a GPU;
    on the CPU, the tensor methods that read values to the host (:data:`HOST_READS`)
    and ``torch.nonzero``."""
    if device.type == 'cuda':
        torch.cuda.set_sync_debug_mode('error')
        try:
            yield
        finally:
            torch.cuda.set_sync_debug_mode('default')
        return

    def forbidden(name):
        def fail(*args, **kwargs):
            raise RuntimeError(f'{name} called: a host-device sync')
        return fail

    saved = {name: getattr(torch.Tensor, name) for name in HOST_READS}
    saved_nonzero = torch.nonzero
    for name in HOST_READS:
        setattr(torch.Tensor, name, forbidden(f'Tensor.{name}'))
    torch.nonzero = forbidden('torch.nonzero')
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)
        torch.nonzero = saved_nonzero
