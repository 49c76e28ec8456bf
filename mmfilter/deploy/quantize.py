"""Static int8 graphs: ONNX Runtime's QDQ quantisation of an exported detector or
segmentor, its activations calibrated on images of the model's own data.

The float32 graph is first prepared with ONNX Runtime's ``quant_pre_process``
(shape inference, constant folding), then quantised with ``quantize_static``:
``QuantizeLinear`` / ``DequantizeLinear`` pairs around the quantised nodes (QDQ,
which ONNX Runtime fuses into its integer kernels), weights int8 per output
channel, activations uint8 per tensor with the ranges (MinMax) seen on the
calibration images. The images are prepared as the runner prepares them
(:func:`~.runtime.prepare`: the config's test resize, padding and, for a graph
exported with ``normalize_outside``, the normalisation), so the ranges are those
the graph meets when deployed.

What stays float32 (:func:`float_nodes`): everything outside the model proper (the
input's normalisation; the detector's score activation, ``TopK``, box decoding
and ``NonMaxSuppression``; the segmentor's resize and ``ArgMax``), whose integer
form would save nothing and would coarsen the scores that rank and cut the
detections, and the token scorers of the filter backbones (``scorer``), whose
scores pick the tokens: int8 scores tie and reorder near the cut, selecting other
tokens than the float model.
"""
import json
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from .runtime import load_runtime, prepare, read_image

#: Name scopes of the nodes quantised: the detector's or segmentor's modules, as the
#: exporter names them (the wrappers' own operations have names of one part, such as
#: ``/TopK``; their normalisation is ``/normalize/``).
MODEL_SCOPES = ('/backbone/', '/neck/', '/bbox_head/', '/decode_head/')
#: Name parts of nodes inside the model that stay float32: the filter's token scorers.
FLOAT_SCOPES = ('/scorer/', )
#: Operator types quantised: those ONNX Runtime's CPU provider runs on int8 data once
#: it fuses the QDQ pairs, convolutions and products first, and the data movement
#: between them. ``LayerNormalization`` and ``Softmax`` stay float32: ONNX Runtime has
#: no int8 kernel for them on the CPU, and their inputs' outliers (attention logits,
#: residual streams) lose most of their resolution in one per-tensor scale.
QUANTIZED_OPS = ('Conv', 'MatMul', 'Gemm', 'Add', 'Mul', 'Sigmoid', 'Relu', 'Clip', 'Concat',
                 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Resize', 'Transpose',
                 'Reshape', 'Squeeze', 'Unsqueeze')
#: The calibration images at most (the first of the config's test split).
MAX_CALIBRATION_IMAGES = 100


def float_nodes(graph) -> List[str]:
    """Names of the nodes of an ``onnx.GraphProto`` to leave in float32: those outside
    :data:`MODEL_SCOPES` and those inside :data:`FLOAT_SCOPES`."""
    return [node.name for node in graph.node
            if not node.name.startswith(MODEL_SCOPES) or any(s in node.name for s in FLOAT_SCOPES)]


def split_image_paths(cfg, count: int) -> List[str]:
    """The first ``count`` image files of the config's test split (the demo sets are
    written on first use; CamVid's test images for the CamVid configs). Raises
    ``ValueError`` naming the config where the split cannot be read."""
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    try:
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f'{cfg.filename}: cannot read its test split for calibration: {e}') \
            from None
    return [dataset.get_data_info(i)['img_path'] for i in range(min(count, len(dataset)))]


def calibration_reader(image_paths: Sequence[str], meta: dict):
    """ONNX Runtime's ``CalibrationDataReader`` over ``image_paths``: each image read
    in the graph's channel order and prepared as the runner prepares it."""
    from onnxruntime.quantization import CalibrationDataReader

    class ImageReader(CalibrationDataReader):

        def __init__(self) -> None:
            self.inputs: Iterator[Dict[str, np.ndarray]] = (
                {'input': prepare(read_image(path, meta['input_channel_order']), meta)[0]}
                for path in image_paths)

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            return next(self.inputs, None)

    return ImageReader()


def quantization_metadata(image_paths: Sequence[str], config: str, reference: str) -> dict:
    """What the int8 file states about its quantisation, besides the float32 metadata."""
    return dict(precision='int8', reference=osp.basename(reference), quantization=json.dumps(dict(
        tool='onnxruntime.quantization.quantize_static', format='QDQ',
        weights='int8, per output channel', activations='uint8, per tensor',
        calibration=f'MinMax on {len(image_paths)} images of the test split of {config}',
        float_nodes='post-processing, input normalisation, token scorers, '
                    'LayerNormalization, Softmax')))


def quantize_int8(fp32_path: str, out_path: str, image_paths: Sequence[str],
                  config: str = '') -> str:
    """Write the static int8 (QDQ) graph of the whole-model graph ``fp32_path`` to
    ``out_path``, calibrated on ``image_paths``, with the float32 graph's metadata
    and :func:`quantization_metadata`; returns ``out_path``."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quant_pre_process, \
        quantize_static
    if not image_paths:
        raise ValueError(f'no calibration images for {fp32_path}')
    _, meta = load_runtime(fp32_path, providers=('CPUExecutionProvider', ))
    prepared = f'{osp.splitext(out_path)[0]}-pre.onnx'
    try:
        quant_pre_process(fp32_path, prepared, skip_symbolic_shape=True)  # fixed shapes
        graph = onnx.load(prepared)
        quantize_static(graph, out_path, calibration_reader(image_paths, meta),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=list(QUANTIZED_OPS),
                        nodes_to_exclude=float_nodes(graph.graph))
    finally:
        if osp.exists(prepared):
            os.remove(prepared)
    quantized = onnx.load(out_path)
    source = {p.key: p.value for p in onnx.load(fp32_path).metadata_props}
    source.update(quantization_metadata(image_paths, config or source.get('config', ''),
                                        fp32_path))
    del quantized.metadata_props[:]
    for key, value in source.items():
        quantized.metadata_props.add(key=key, value=value)
    onnx.save(quantized, out_path)
    return out_path
