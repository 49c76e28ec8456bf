"""Measuring backbones: interleaved timing, FLOPs, peak memory, the per-step
profile of token-selecting blocks, and the Markdown/plot report.

Needs torch and mmengine; matplotlib for the plot.
"""
from .memory import peak_memory_of_forward
from .report import plot_latency, render_markdown, target_lines
from .timing import (autocast, cpu_load, flops_of, forward_fn, profile_selecting_blocks,
                     threads_label, time_call, time_interleaved, train_step_fn)

__all__ = [
    'autocast', 'cpu_load', 'flops_of', 'forward_fn', 'peak_memory_of_forward', 'plot_latency',
    'profile_selecting_blocks', 'render_markdown', 'target_lines', 'threads_label', 'time_call',
    'time_interleaved', 'train_step_fn'
]
