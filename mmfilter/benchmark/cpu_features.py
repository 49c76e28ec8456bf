"""The CPU's instruction sets that decide how fast int8 runs: integer dot products
in AVX2 only, AVX-512, VNNI (one instruction per 4-way int8 dot product) or AMX
(int8 tile multiplies). Reported with every int8 figure, since the same graph is
faster or slower than float32 depending on them."""
import os.path as osp
from typing import List, Optional

#: The ``/proc/cpuinfo`` flags that matter for int8 kernels, in the order reported.
INT8_FLAGS = ('avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_tile', 'amx_int8')


def int8_instruction_sets(cpuinfo: Optional[str] = None) -> List[str]:
    """The flags of :data:`INT8_FLAGS` the CPU has, from the first ``flags`` line of
    ``cpuinfo`` (the text of ``/proc/cpuinfo``; read from there when None, and none
    found where it does not exist, as outside Linux)."""
    if cpuinfo is None:
        if not osp.exists('/proc/cpuinfo'):
            return []
        with open('/proc/cpuinfo') as f:
            cpuinfo = f.read()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(':')
        if key.strip() == 'flags':
            present = set(value.split())
            return [flag for flag in INT8_FLAGS if flag in present]
    return []


def int8_instruction_sets_label(cpuinfo: Optional[str] = None) -> str:
    """:func:`int8_instruction_sets` as one line: ``'avx2 avx512f ...'``, or a note
    that none was found."""
    return ' '.join(int8_instruction_sets(cpuinfo)) or 'none of ' + ', '.join(INT8_FLAGS)
