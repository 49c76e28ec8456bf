"""Run a detector or segmentor exported by export_onnx.py on image files, with ONNX Runtime only.

    python tools/deploy/onnx_infer.py MODEL.onnx IMAGE|DIR [IMAGE|DIR ...] [--out-dir DIR]
                                      [--score-thr 0.3] [--opacity 0.5] [--threads N]

The graph runs in ONNX Runtime alone (:mod:`mmfilter.deploy.runtime`, which needs
numpy, OpenCV and ONNX Runtime only and runs without torch or OpenMMLab where
copied next to the model). Everything it needs besides the graph is in the ONNX
file's metadata: the task, the class names and palette, the input size and channel
order, the mean, and the config's test resize.

Each image is resized as the config's test pipeline resizes it (MMCV's rule for
its ``Resize`` scale; an image that would then exceed the graph's input, such as
a portrait photo in a landscape COCO graph, is fitted into it instead), padded at
the bottom and right with the mean colour (which normalises to 0, as the data
preprocessor pads), normalised where the graph leaves that to the runner
(``export_onnx.py --normalize-outside``), run, and its boxes or class map scaled back to the
image. Detectors write the image with boxes, class names and scores (above
``--score-thr``); segmentors the image with the classes as a coloured overlay.
One PNG per input, at the input's path below the inputs' common folder. An
``--out-dir`` that cannot be created or written is one ``error:`` line (exit
status 2) before the model is loaded; files that cannot be read are named on one
``error:`` line at the end (exit status 1).
The CUDA provider is used where ONNX Runtime has it.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List

import cv2
import numpy as np

from mmfilter.deploy.runtime import OnnxModelError, detect, load_runtime, read_image, segment
from mmfilter.engine.cli import exit_on_error
from mmfilter.engine.image_inputs import expand_image_inputs, output_paths
from mmfilter.engine.workdir import check_work_dir


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
    with exit_on_error():  # before the model is loaded
        paths = expand_image_inputs(args.images)
        check_work_dir(args.out_dir, what='--out-dir')
    try:
        runtime, meta = load_runtime(args.model, args.threads)
    except OnnxModelError as e:
        sys.exit(f'error: {e}')
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
