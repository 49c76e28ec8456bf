"""glibc malloc settings that stop large activations from costing page faults.

By default glibc gives each block above its mmap threshold a fresh ``mmap`` and
unmaps it on free; the threshold starts at 128 KiB and rises, as such blocks
are freed, to at most 32 MiB, and the heap's free top is returned to the kernel
beyond twice the threshold. So a forward pass pays page faults again for every
activation above the threshold, and for the heap it regrows (docs/performance.md
measures the cost: up to 2× a light backbone's time inside a detector). The tools
apply it on the CPU only (:func:`~mmfilter.engine.optimize_for_cpu`).

Modes (:data:`MALLOC_MODES`):

- ``'reuse'``, what the tools apply on the CPU: blocks up to 32 MiB come from the heap from
  the start and up to 256 MiB of freed heap stay mapped. Larger blocks are
  still mapped and unmapped, so memory is bounded as with the defaults, plus at
  most the 256 MiB kept.
- ``'no-mmap'``: every block from the heap, up to 1 GiB kept. Fastest for one
  model at one input size; with many models and sizes the heap fragments and
  only grows (the full backbone benchmark ran out of 23 GiB with it).
- ``'defaults'``: glibc's own.
"""
import argparse
import ctypes
import ctypes.util
import os
from typing import Dict, Tuple

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4

#: mode -> (label for reports, mallopt (parameter, value) pairs)
MALLOC_MODES: Dict[str, Tuple[str, Tuple[Tuple[int, int], ...]]] = {
    'reuse': ('heap up to 32 MiB blocks, 256 MiB kept',
              ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 256 << 20))),
    'no-mmap': ('no mmap, freed memory kept', ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 1 << 30))),
    'defaults': ('defaults', ()),
}


def configure_malloc(mode: str = 'reuse') -> str:
    """Apply the glibc malloc ``mode`` to this process (see the module's
    docstring); returns the label of the allocator then in force: the mode's,
    ``'defaults'`` where it cannot apply (no glibc), or ``'chosen by the user'``
    (``LD_PRELOAD`` or a ``MALLOC_*_`` variable set: nothing is changed)."""
    if mode not in MALLOC_MODES:
        raise ValueError(f'unknown malloc mode {mode!r}; choose from {sorted(MALLOC_MODES)}')
    if 'LD_PRELOAD' in os.environ or any(k.startswith('MALLOC_') for k in os.environ):
        return 'chosen by the user'
    label, settings = MALLOC_MODES[mode]
    if not settings:
        return label
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library('c')).mallopt
    except (OSError, AttributeError, TypeError):
        return 'defaults'
    applied = [bool(mallopt(parameter, value)) for parameter, value in settings]
    return label if all(applied) else 'defaults'


def add_malloc_argument(parser: argparse.ArgumentParser) -> None:
    """A tool's ``--malloc MODE`` (default ``'reuse'``) and its shorthand ``--no-mmap``."""
    parser.add_argument('--malloc', choices=list(MALLOC_MODES), default='reuse',
                        help="glibc malloc mode on the CPU (mmfilter.engine.configure_malloc; "
                        "not applied where the model runs on a GPU): 'reuse' "
                        "(default) keeps blocks up to 32 MiB on the heap; 'no-mmap': every block "
                        "(for one model at one size; with many, the heap only grows); "
                        "'defaults': glibc's. LD_PRELOAD or a MALLOC_*_ variable overrides it")
    parser.add_argument('--no-mmap', dest='malloc', action='store_const', const='no-mmap',
                        help='the same as --malloc no-mmap')
