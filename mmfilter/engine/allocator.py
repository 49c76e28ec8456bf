"""glibc malloc settings that stop large activations from costing page faults."""
import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's <malloc.h>
M_MMAP_MAX = -4


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Serve every block from the heap and keep up to ``trim_threshold`` bytes of it free.

    By default glibc gives each block above its mmap threshold (32 MiB at most)
    a fresh ``mmap`` and unmaps it on free, so every such activation is paid
    again in page faults at every forward (the README's speed section measures
    the cost). With this setting one model at one input size reaches a steady
    heap and runs without them; many models and sizes in one process fragment
    the heap, which then only grows, so the tools leave it off unless asked
    (``benchmark_backbones.py --no-mmap``).
    Returns False, changing nothing, where it does not apply: no glibc, or the
    user chose an allocator (``LD_PRELOAD``, ``MALLOC_*_`` variables).
    """
    if 'LD_PRELOAD' in os.environ or any(k.startswith('MALLOC_') for k in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library('c')).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))


def malloc_label(kept: bool) -> str:
    """How a report names the allocator: ``keep_freed_memory`` applied, or glibc's defaults."""
    return 'no mmap, freed memory kept' if kept else 'defaults'
