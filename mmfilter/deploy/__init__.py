"""Whole detectors and segmentors exported to ONNX (needs MMDetection or
MMSegmentation for the model, torch's exporter and ``onnx``). The graph is run
without any of them by ``tools/deploy/onnx_infer.py``."""
from .compare import cut_score, match_detections
from .onnx_export import (INPUT_NAME, OUTPUT_NAMES, DenseDetectorForExport, ExportError,
                          FixedSizeAdaptiveAvgPool2d, NonMaxSuppression, SegmentorForExport,
                          check_input_size, export_metadata, export_to_onnx, task_of,
                          wrap_for_export)

__all__ = ['INPUT_NAME', 'OUTPUT_NAMES', 'DenseDetectorForExport', 'ExportError',
           'FixedSizeAdaptiveAvgPool2d', 'NonMaxSuppression', 'SegmentorForExport',
           'check_input_size', 'cut_score', 'match_detections', 'export_metadata',
           'export_to_onnx', 'task_of', 'wrap_for_export']
