"""Where an ONNX graph's time goes in ONNX Runtime: its own profiler's kernel times,
summed per operator type, with the number of nodes of each type in the graph as
ONNX Runtime runs it (after its optimisations).

Needs numpy and ONNX Runtime only, as :mod:`.runtime`.
"""
import json
import os
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np


@dataclass(frozen=True)
class OpTime:
    """One operator type's kernel time per run (ms) and its number of nodes."""
    op_type: str
    ms: float
    nodes: int


def profile_ops(path: str, feed: Dict[str, np.ndarray], runs: int = 10, threads: int = 2,
                warmup: int = 2) -> List[OpTime]:
    """Kernel time per run of each operator type of the graph at ``path`` on the CPU,
    ``threads`` intra-op threads, over ``runs`` runs on ``feed`` after ``warmup``
    runs (which the profile leaves out), most time first."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = os.path.join(tmp, 'profile')
        runtime = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        for _ in range(warmup + runs):
            runtime.run(None, feed)
        with open(runtime.end_profiling()) as f:
            events = json.load(f)
    return summarise_kernels(events, runs)


def summarise_kernels(events: Sequence[dict], runs: int) -> List[OpTime]:
    """:class:`OpTime` per operator type (``args.op_name``) of ONNX Runtime profile
    events, from the kernel times (``dur`` in microseconds) of each node's last
    ``runs`` runs, most time first."""
    by_node: Dict[str, List[dict]] = {}
    for event in events:
        if event.get('cat') == 'Node' and event['name'].endswith('_kernel_time'):
            by_node.setdefault(event['name'], []).append(event)
    micros: Dict[str, float] = {}
    nodes: Dict[str, int] = {}
    for node_events in by_node.values():
        op_type = node_events[0]['args']['op_name']
        last = sorted(node_events, key=lambda e: e['ts'])[-runs:]
        micros[op_type] = micros.get(op_type, 0.) + sum(e['dur'] for e in last)
        nodes[op_type] = nodes.get(op_type, 0) + 1
    rows = [OpTime(op, total / runs / 1000, nodes[op]) for op, total in micros.items()]
    return sorted(rows, key=lambda row: -row.ms)


def render_op_table(rows: Sequence[OpTime], top: int = 15) -> str:
    """A Markdown table of the ``top`` operator types: time per run, share of the
    kernel time, node count; then the rest summed, and the total."""
    total = sum(row.ms for row in rows) or 1.
    lines = ['| op type | ms / run | share | nodes |', '|---|---:|---:|---:|']
    for row in rows[:top]:
        lines.append(f'| {row.op_type} | {row.ms:.2f} | {100 * row.ms / total:.1f}% | '
                     f'{row.nodes} |')
    rest = rows[top:]
    if rest:
        lines.append(f'| ({len(rest)} other types) | {sum(r.ms for r in rest):.2f} | '
                     f'{100 * sum(r.ms for r in rest) / total:.1f}% | '
                     f'{sum(r.nodes for r in rest)} |')
    lines.append(f'| **total** | {total:.2f} | 100% | {sum(r.nodes for r in rows)} |')
    return '\n'.join(lines)
