"""Measuring backbones and whole models: one table of backbones for every tool,
interleaved timing, FLOPs, and the Markdown/plot report.

Needs torch and mmengine; matplotlib for the plot.
"""
from .report import plot_latency, render_markdown, target_lines
from .timing import (autocast, flops_of, forward_fn, threads_label, time_call, time_interleaved,
                     train_step_fn)

__all__ = [
    'autocast', 'flops_of', 'forward_fn', 'plot_latency', 'render_markdown', 'target_lines',
    'threads_label', 'time_call', 'time_interleaved', 'train_step_fn'
]
