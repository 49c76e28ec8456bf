"""Run a trained detector or segmentor on image files and save the drawn predictions.

    python tools/infer.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--out-dir DIR]
                          [--score-thr 0.3] [--opacity 0.5] [--device cpu]

Detectors write the image with boxes, labels and scores; segmentors write the
image with the predicted classes as a coloured overlay. One PNG per input.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
from mmfilter.engine import allow_mmengine_checkpoints, read_rgb  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw predictions on images')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', default='outputs', help='where the drawn images go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='box score threshold')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation overlay opacity')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    images = {path: read_rgb(path) for path in args.images}  # fail before loading a model
    allow_mmengine_checkpoints()
    cfg = Config.fromfile(args.config)
    scope = cfg.get('default_scope', 'mmdet')
    init_default_scope(scope)
    os.makedirs(args.out_dir, exist_ok=True)
    if scope == 'mmseg':
        from mmseg.apis import inference_model, init_model
        from mmseg.registry import VISUALIZERS
        model = init_model(cfg, args.checkpoint, device=args.device)
        infer = inference_model
    else:
        from mmdet.apis import inference_detector, init_detector
        from mmdet.registry import VISUALIZERS
        model = init_detector(cfg, args.checkpoint, device=args.device)
        infer = inference_detector
    visualizer = VISUALIZERS.build(cfg.visualizer)
    visualizer.dataset_meta = model.dataset_meta
    if scope == 'mmseg':
        visualizer.alpha = args.opacity

    written = []
    for path, image in images.items():
        result = infer(model, image[..., ::-1].copy())  # the pipelines expect BGR arrays
        out_file = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '.png')
        extra = {} if scope == 'mmseg' else dict(pred_score_thr=args.score_thr)
        visualizer.add_datasample(osp.basename(path), image, data_sample=result, draw_gt=False,
                                  show=False, out_file=out_file, **extra)
        written.append(out_file)
        print(f'{path} -> {out_file}')
    return written


if __name__ == '__main__':
    main()
