"""Running an exported detector or segmentor with ONNX Runtime: the file's metadata
read back, images prepared as the config's test pipeline prepares them (normalised
here where the graph was exported without its normalisation), and the
graph's outputs scaled back to the image.

Needs numpy, OpenCV and ONNX Runtime only; nothing in it imports torch or
OpenMMLab, so this file, copied next to the model, runs where neither is installed.
"""
import json
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np

#: The metadata ``mmfilter.deploy.export_metadata`` writes as JSON (the rest are plain
#: strings, as are the entries other tools add, such as ONNX Runtime's quantisation).
JSON_METADATA = ('input_size', 'mean', 'std', 'normalize', 'classes', 'palette', 'resize',
                 'score_threshold', 'max_detections', 'quantization')


class OnnxModelError(ValueError):
    """An ONNX file that is missing, that ONNX Runtime cannot load, or that lacks the
    metadata of a whole-model export."""


def load_runtime(path: str, threads: int = 0, providers: Tuple[str, ...] = (
        'CUDAExecutionProvider', 'CPUExecutionProvider')):
    """``(onnxruntime.InferenceSession, metadata dict)`` for an ONNX file of a whole
    detector or segmentor, on the first of ``providers`` the installed ONNX Runtime has;
    ``threads`` intra-op threads (0: its default). Raises :class:`OnnxModelError`."""
    import onnxruntime as ort
    if not osp.isfile(path):
        raise OnnxModelError(f'model not found: {path}')
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    available = [p for p in providers if p in ort.get_available_providers()]
    try:
        runtime = ort.InferenceSession(path, options, providers=available)
    except Exception as e:  # noqa: BLE001 - ONNX Runtime's own error types
        raise OnnxModelError(f'cannot load {path} with ONNX Runtime: {e}') from None
    props = runtime.get_modelmeta().custom_metadata_map
    if 'task' not in props or 'input_size' not in props:
        raise OnnxModelError(f'{path} has no task / input_size metadata: it was not written by '
                             'tools/deploy/export_onnx.py from a detector or segmentor config')
    meta = {key: json.loads(value) if key in JSON_METADATA else value
            for key, value in props.items()}
    return runtime, meta


def resized_size(height: int, width: int, meta: dict) -> Tuple[int, int]:
    """``(new_height, new_width)`` of a ``height x width`` image, as the test
    pipeline's ``Resize`` gives it (MMCV's rule: with the aspect ratio kept, the
    longer side at most the scale's longer side and the shorter at most its
    shorter; otherwise the scale itself). A size that exceeds the graph's input
    is fitted into it instead, with the aspect ratio kept."""
    in_h, in_w = meta['input_size']
    resize = meta.get('resize') or {}
    scale_w, scale_h = resize.get('scale', (in_w, in_h))
    if resize.get('keep_ratio', True):
        factor = min(max(scale_w, scale_h) / max(height, width),
                     min(scale_w, scale_h) / min(height, width))
        new_h, new_w = int(height * factor + 0.5), int(width * factor + 0.5)
    else:
        new_h, new_w = scale_h, scale_w
    if new_h > in_h or new_w > in_w:
        factor = min(in_h / height, in_w / width)
        new_h, new_w = min(int(height * factor + 0.5), in_h), min(int(width * factor + 0.5), in_w)
    return new_h, new_w


def resize_and_pad(image: np.ndarray, meta: dict) -> Tuple[np.ndarray, Tuple[float, float]]:
    """``(image [1, 3, H, W] float32, (x scale, y scale))`` for an image ``[h, w, 3]``
    uint8 in the graph's channel order: resized, then padded at the bottom and right
    with the mean colour (which normalises to 0, as the data preprocessor pads);
    pixel values 0-255, not normalised."""
    height, width = image.shape[:2]
    new_h, new_w = resized_size(height, width, meta)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    in_h, in_w = meta['input_size']
    canvas = np.empty((in_h, in_w, 3), np.float32)
    canvas[:] = np.asarray(meta['mean'], np.float32)
    canvas[:new_h, :new_w] = resized
    return canvas.transpose(2, 0, 1)[None].copy(), (new_w / width, new_h / height)


def normalizes_outside(meta: dict) -> bool:
    """Whether the graph takes a normalised image (exported with
    ``--normalize-outside``, MMDeploy's contract), not pixel values 0-255."""
    return meta.get('normalization') == 'outside'


def graph_input(image: np.ndarray, meta: dict) -> np.ndarray:
    """The graph's input for a resized and padded image ``[1, 3, H, W]`` of pixel
    values (:func:`resize_and_pad`): the image itself where the graph normalises,
    else the metadata's ``normalize`` step applied (MMDeploy's ``Normalize``: the
    channel flip where ``to_rgb``, then ``(x - mean) / std``)."""
    if not normalizes_outside(meta):
        return image
    step = meta['normalize']
    if step['to_rgb']:
        image = image[:, ::-1]
    mean = np.asarray(step['mean'], np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(step['std'], np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray((image - mean) / std, np.float32)


def prepare(image: np.ndarray, meta: dict) -> Tuple[np.ndarray, Tuple[float, float]]:
    """``(input [1, 3, H, W] float32, (x scale, y scale))`` for an image ``[h, w, 3]``
    uint8 in the graph's channel order: resized, padded (:func:`resize_and_pad`) and,
    where the graph does not normalise, normalised as its metadata says
    (:func:`graph_input`)."""
    image, scale = resize_and_pad(image, meta)
    return graph_input(image, meta), scale


def read_image(path: str, channel_order: str) -> np.ndarray:
    """An image file as ``[h, w, 3]`` uint8 in ``channel_order`` ('bgr' or 'rgb'),
    turned by its EXIF orientation; ValueError naming the file if it does not decode."""
    image = cv2.imread(path, cv2.IMREAD_COLOR) if osp.isfile(path) else None
    if image is None:
        raise ValueError(f'cannot read image {path}' + ('' if osp.isfile(path) else ': not found'))
    return image[..., ::-1].copy() if channel_order == 'rgb' else image


def detect(runtime, meta: dict, image: np.ndarray) -> Dict[str, np.ndarray]:
    """``dict(bboxes [N, 4] in the image's pixels, scores [N], labels [N])``."""
    inputs, (sx, sy) = prepare(image, meta)
    dets, labels = runtime.run(['dets', 'labels'], {'input': inputs})
    boxes = dets[0, :, :4] / np.array([sx, sy, sx, sy], np.float32)
    height, width = image.shape[:2]
    boxes = boxes.clip(0, [width, height, width, height])
    return dict(bboxes=boxes, scores=dets[0, :, 4], labels=labels[0])


def segment(runtime, meta: dict, image: np.ndarray) -> np.ndarray:
    """The class of every pixel of the image, ``[h, w]`` int64."""
    inputs, scale = prepare(image, meta)
    return class_map_to_image(runtime.run(['seg'], {'input': inputs})[0][0, 0], image.shape[:2],
                              scale)


def class_map_to_image(seg: np.ndarray, image_size: Tuple[int, int],
                       scale: Tuple[float, float]) -> np.ndarray:
    """The graph's class map ``[H, W]`` of an image of ``image_size`` ``(h, w)``
    resized by ``scale`` ``(x, y)``: the resized part, scaled back (nearest), int64."""
    height, width = image_size
    sx, sy = scale
    new_h, new_w = round(height * sy), round(width * sx)
    return cv2.resize(seg[:new_h, :new_w].astype(np.int32), (width, height),
                      interpolation=cv2.INTER_NEAREST).astype(np.int64)
