"""Run a detector or segmentor exported by export_onnx.py on image files, with ONNX Runtime only.

    python tools/deploy/onnx_infer.py MODEL.onnx IMAGE|DIR [IMAGE|DIR ...] [--out-dir DIR]
                                      [--score-thr 0.3] [--opacity 0.5] [--threads N]

Needs numpy, OpenCV and ONNX Runtime, nothing else (not torch, mmcv, mmdet or
mmseg): this file can be copied next to the model on the machine that runs it.
Everything it needs besides the graph is in the ONNX file's metadata: the task,
the class names and palette, the input size and channel order, the mean, and the
config's test resize.

Each image is resized as the config's test pipeline resizes it (MMCV's rule for
its ``Resize`` scale; an image that would then exceed the graph's input, such as
a portrait photo in a landscape COCO graph, is fitted into it instead), padded at
the bottom and right with the mean colour (which the graph normalises to 0, as
the data preprocessor pads), run, and its boxes or class map scaled back to the
image. Detectors write the image with boxes, class names and scores (above
``--score-thr``); segmentors the image with the classes as a coloured overlay.
One PNG per input, at the input's path below the inputs' common folder. An
``--out-dir`` that cannot be created or written is one ``error:`` line (exit
status 2) before the model is loaded; files that cannot be read are named on one
``error:`` line at the end (exit status 1).
The CUDA provider is used where ONNX Runtime has it.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
#: The metadata export_onnx.py writes as JSON (the rest are plain strings, as are the
#: entries other tools add, such as ONNX Runtime's quantisation).
JSON_METADATA = ('input_size', 'mean', 'std', 'classes', 'palette', 'resize', 'score_threshold',
                 'max_detections')


def load_runtime(path: str, threads: int = 0):
    """``(onnxruntime.InferenceSession, metadata dict)`` for an ONNX file written by
    export_onnx.py; CUDA first where the installed ONNX Runtime has it."""
    import onnxruntime as ort
    if not osp.isfile(path):
        raise SystemExit(f'error: model not found: {path}')
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    providers = [p for p in ('CUDAExecutionProvider', 'CPUExecutionProvider')
                 if p in ort.get_available_providers()]
    try:
        runtime = ort.InferenceSession(path, options, providers=providers)
    except Exception as e:  # noqa: BLE001 - ONNX Runtime's own error types
        raise SystemExit(f'error: cannot load {path} with ONNX Runtime: {e}') from None
    props = runtime.get_modelmeta().custom_metadata_map
    if 'task' not in props or 'input_size' not in props:
        raise SystemExit(f'error: {path} has no task / input_size metadata: it was not written by '
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


def prepare(image: np.ndarray, meta: dict) -> Tuple[np.ndarray, Tuple[float, float]]:
    """``(input [1, 3, H, W] float32, (x scale, y scale))`` for an image ``[h, w, 3]``
    uint8 in the graph's channel order."""
    height, width = image.shape[:2]
    new_h, new_w = resized_size(height, width, meta)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    in_h, in_w = meta['input_size']
    canvas = np.empty((in_h, in_w, 3), np.float32)
    canvas[:] = np.asarray(meta['mean'], np.float32)  # the graph normalises it to 0
    canvas[:new_h, :new_w] = resized
    return canvas.transpose(2, 0, 1)[None].copy(), (new_w / width, new_h / height)


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
    inputs, (sx, sy) = prepare(image, meta)
    seg = runtime.run(['seg'], {'input': inputs})[0][0, 0]
    height, width = image.shape[:2]
    new_h, new_w = round(height * sy), round(width * sx)
    return cv2.resize(seg[:new_h, :new_w].astype(np.int32), (width, height),
                      interpolation=cv2.INTER_NEAREST).astype(np.int64)


def palette_of(meta: dict, count: int) -> np.ndarray:
    """``[count, 3]`` uint8 RGB colours: the metadata's palette, else fixed random ones."""
    palette = np.array(meta.get('palette') or [], np.uint8).reshape(-1, 3)
    if len(palette) < count:
        extra = np.random.default_rng(0).integers(0, 256, (count - len(palette), 3), np.uint8)
        palette = np.concatenate([palette, extra])
    return palette


def draw_detections(image_rgb: np.ndarray, result: Dict[str, np.ndarray], meta: dict,
                    score_thr: float) -> np.ndarray:
    """The RGB image with each box above ``score_thr``, its class name and score."""
    classes = meta.get('classes') or []
    palette = palette_of(meta, max(len(classes), int(result['labels'].max(initial=0)) + 1))
    canvas = np.ascontiguousarray(image_rgb).copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for box, score, label in zip(result['bboxes'], result['scores'], result['labels']):
        if score <= score_thr:
            continue
        color = tuple(int(c) for c in palette[label])
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        name = classes[label] if label < len(classes) else str(label)
        cv2.putText(canvas, f'{name}: {score:.2f}', (x1, max(y1 - 3, 10)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, color, thickness)
    return canvas


def draw_segmentation(image_rgb: np.ndarray, seg: np.ndarray, meta: dict,
                      opacity: float) -> np.ndarray:
    """The RGB image blended with the colour of each pixel's class."""
    palette = palette_of(meta, max(len(meta.get('classes') or []), int(seg.max()) + 1))
    return (image_rgb * (1 - opacity) + palette[seg] * opacity).astype(np.uint8)


def expand_inputs(inputs: Sequence[str]) -> List[str]:
    """The inputs with each folder replaced by its image files, in name order."""
    paths = []
    for path in inputs:
        if osp.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.lower().endswith(IMG_EXTENSIONS)
                           and osp.isfile(osp.join(path, n)))
            if not names:
                raise SystemExit(f'error: no images ({", ".join(IMG_EXTENSIONS)}) in folder {path}')
            paths += [osp.join(path, n) for n in names]
        else:
            paths.append(path)
    return paths


def output_paths(inputs: Sequence[str], out_dir: str) -> Dict[str, str]:
    """One PNG per input, at its path below the inputs' common folder."""
    folders = [osp.dirname(osp.abspath(p)) for p in inputs]
    root = osp.commonpath(folders) if folders else ''
    return {p: osp.join(out_dir, osp.splitext(osp.relpath(osp.abspath(p), root))[0] + '.png')
            for p in inputs}


def check_out_dir(out_dir: str) -> None:
    """Create ``out_dir`` and write a file in it, or end the tool with one ``error:``
    line and exit status 2 (a folder the user named, as argparse's bad arguments)."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        print(f'error: cannot create or write in --out-dir {out_dir}: {e.strerror or e}', file=sys.stderr)
        sys.exit(2)


def main(argv=None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model', help='an ONNX file written by tools/deploy/export_onnx.py')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--out-dir', default='outputs', help='where the drawn images go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='box score threshold')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation overlay opacity')
    parser.add_argument('--threads', type=int, default=0,
                        help="ONNX Runtime's intra-op threads (0: its default)")
    args = parser.parse_args(argv)
    check_out_dir(args.out_dir)
    runtime, meta = load_runtime(args.model, args.threads)
    paths = expand_inputs(args.images)
    written, unreadable = [], []
    for path, out_file in output_paths(paths, args.out_dir).items():
        try:
            image = read_image(path, meta['input_channel_order'])
        except ValueError as e:
            unreadable.append(str(e))
            continue
        rgb = image[..., ::-1] if meta['input_channel_order'] == 'bgr' else image
        if meta['task'] == 'segmentation':
            drawn = draw_segmentation(rgb, segment(runtime, meta, image), meta, args.opacity)
        else:
            drawn = draw_detections(rgb, detect(runtime, meta, image), meta, args.score_thr)
        os.makedirs(osp.dirname(out_file), exist_ok=True)
        cv2.imwrite(out_file, np.ascontiguousarray(drawn[..., ::-1]))
        written.append(out_file)
        print(f'{path} -> {out_file}')
    if unreadable:
        sys.exit(f'error: {len(unreadable)} of {len(paths)} image(s) could not be read and were '
                 f'skipped (the other {len(written)} were drawn): {"; ".join(unreadable[:5])}')
    return written


if __name__ == '__main__':
    main()
