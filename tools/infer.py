"""Run a trained detector or segmentor on image files and save the drawn predictions.

    python tools/infer.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--out-dir DIR]
                          [--score-thr 0.3] [--opacity 0.5] [--device cpu] [--report-memory]

Detectors write the image with boxes, labels and scores; segmentors write the
image with the predicted classes as a coloured overlay. One PNG per input, at the
input's path below the inputs' common folder (``a/x.jpg`` → ``OUT/a/x.png``),
drawn with the longer side at most 2048 pixels.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
from mmfilter.engine import add_malloc_argument, configure_malloc  # noqa: E402
from mmfilter.engine.cli import (ImageReadError, init_model_or_exit, output_paths,  # noqa: E402
                                 read_rgb)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw predictions on images')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', default='outputs', help='where the drawn images go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='box score threshold')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation overlay opacity')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='fold BatchNorm into the convolutions (same outputs, faster)')
    parser.add_argument('--report-memory', action='store_true',
                        help='print resident memory after the first and the last image')
    add_malloc_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    configure_malloc(args.malloc)
    try:
        for path in args.images:  # every input readable before a model is loaded
            read_rgb(path)
    except ImageReadError as e:
        sys.exit(f'error: {e}')
    from mmfilter.apis import bounded_for_drawing, build_visualizer, predict, scope_of
    from mmfilter.engine.hooks import resident_memory_mb
    model = init_model_or_exit(args.config, args.checkpoint, device=args.device,
                               fuse_conv_bn=args.fuse_conv_bn)
    visualizer = build_visualizer(model, opacity=args.opacity)
    extra = {} if scope_of(model.cfg) == 'mmseg' else dict(pred_score_thr=args.score_thr)
    written = []
    for path, out_file in output_paths(args.images, args.out_dir).items():
        image = read_rgb(path)
        os.makedirs(osp.dirname(out_file), exist_ok=True)
        small, sample = bounded_for_drawing(image, predict(model, image))
        visualizer.add_datasample(osp.basename(path), small, data_sample=sample,
                                  draw_gt=False, show=False, out_file=out_file, **extra)
        written.append(out_file)
        print(f'{path} -> {out_file}')
        if args.report_memory and len(written) == 1:
            first = resident_memory_mb()
    if args.report_memory:
        last = resident_memory_mb()
        print(f'resident memory: {first:.0f} MiB after the first image, {last:.0f} MiB after '
              f'image {len(written)} ({100 * (last / first - 1):+.1f}%)')
    return written


if __name__ == '__main__':
    main()
