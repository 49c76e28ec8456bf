"""Whole detectors and segmentors exported to ONNX, in MMDeploy's layering: the
export-time rewrites (:mod:`.rewrites`), the whole model as the graph runs it
(:mod:`.wrappers`), the runner's metadata (:mod:`.metadata`), the export
(:mod:`.export`) and, without torch, the ONNX Runtime side (:mod:`.runtime`), with
detections of two runtimes compared (:mod:`.compare`) and the graph's time per operator
type from ONNX Runtime's profiler (:mod:`.profile`); static int8 graphs are written
by :mod:`.quantize`. Exporting needs MMDetection or
MMSegmentation for the model, torch's exporter and ``onnx``."""
from .compare import cut_score, match_detections
from .export import export_model, export_to_onnx
from .metadata import export_metadata, pipeline_resize
from .rewrites import FixedSizeAdaptiveAvgPool2d, NonMaxSuppression, export_rewrites
from .wrappers import (INPUT_NAME, OUTPUT_NAMES, DenseDetectorForExport, ExportError,
                       SegmentorForExport, check_input_size, task_of, wrap_for_export)

__all__ = ['INPUT_NAME', 'OUTPUT_NAMES', 'DenseDetectorForExport', 'ExportError',
           'FixedSizeAdaptiveAvgPool2d', 'NonMaxSuppression', 'SegmentorForExport',
           'check_input_size', 'cut_score', 'match_detections', 'export_metadata',
           'export_model', 'export_rewrites', 'export_to_onnx', 'pipeline_resize', 'task_of',
           'wrap_for_export']
