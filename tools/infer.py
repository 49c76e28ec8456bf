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

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
from mmfilter.engine.cli import read_rgb  # noqa: E402


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
    from mmfilter.apis import build_visualizer, init_model, predict, scope_of
    from mmfilter.engine import CheckpointError
    try:
        model = init_model(args.config, args.checkpoint, device=args.device)
    except CheckpointError as e:
        sys.exit(f'error: {e}')
    visualizer = build_visualizer(model, opacity=args.opacity)
    extra = {} if scope_of(model.cfg) == 'mmseg' else dict(pred_score_thr=args.score_thr)
    os.makedirs(args.out_dir, exist_ok=True)
    written = []
    for path, image in images.items():
        out_file = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '.png')
        visualizer.add_datasample(osp.basename(path), image, data_sample=predict(model, image),
                                  draw_gt=False, show=False, out_file=out_file, **extra)
        written.append(out_file)
        print(f'{path} -> {out_file}')
    return written


if __name__ == '__main__':
    main()
