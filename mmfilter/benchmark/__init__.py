"""Measuring backbones and whole models: the catalogue of backbones every tool uses
(:mod:`.backbones`), interleaved timing and FLOPs (:mod:`.timing`), memory
(:mod:`.memory`), the CPU's int8 instruction sets (:mod:`.cpu_features`), per-stage
profiles (:mod:`.profiling`), mixed precision's effect (:mod:`.precision`), device guards
(:mod:`.device`) and the reports (:mod:`.report`).

Needs torch and mmengine; matplotlib for the plot, MMDetection or MMSegmentation for
their backbones and whole models.
"""
from .backbones import BACKBONES, COMPARED, MMFILTER_BACKBONES, build_backbone, catalogue_name
from .cpu_features import int8_instruction_sets, int8_instruction_sets_label
from .report import JsonLinesReport, plot_latency, render_markdown, target_lines
from .timing import (autocast, flops_of, forward_fn, threads_label, time_call, time_interleaved,
                     train_step_fn)

__all__ = [
    'BACKBONES', 'COMPARED', 'MMFILTER_BACKBONES', 'JsonLinesReport', 'autocast',
    'build_backbone', 'catalogue_name', 'flops_of', 'forward_fn', 'int8_instruction_sets',
    'int8_instruction_sets_label', 'plot_latency', 'render_markdown', 'target_lines',
    'threads_label', 'time_call', 'time_interleaved',
    'train_step_fn'
]
