"""Run a trained detector or segmentor on image files and save the drawn predictions.

    python tools/infer.py CONFIG CHECKPOINT IMAGE|DIR [IMAGE|DIR ...] [--out-dir DIR]
                          [--score-thr 0.3] [--opacity 0.5] [--device cuda|cpu] [--partial-load]
                          [--report-memory]

Detectors write the image with boxes, labels and scores; segmentors write the
image with the predicted classes as a coloured overlay. One PNG per input, at the
input's path below the inputs' common folder (``a/x.jpg`` → ``OUT/a/x.png``),
drawn with the longer side at most 2048 pixels. A folder stands for the images
directly in it (``.jpg``, ``.png``, ... as MMDetection's image demo reads them),
in name order. An ``--out-dir`` that cannot be created or written is one
``error:`` line (exit status 2) before the model is loaded; files that cannot be
read are named on one ``error:`` line at the end (exit status 1); the others are drawn.
"""
import argparse
import os
import os.path as osp

from mmfilter.engine import add_malloc_argument
from mmfilter.engine.cli import PARTIAL_LOAD_HELP, exit_on_error
from mmfilter.engine.image_inputs import (ImageReadError, expand_image_inputs,
                                          output_paths, read_rgb, readable_images)
from mmfilter.engine.workdir import check_work_dir


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw predictions on images')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+', help='image files or folders of images')
    parser.add_argument('--out-dir', default='outputs', help='where the drawn images go')
    parser.add_argument('--score-thr', type=float, default=0.3, help='box score threshold')
    parser.add_argument('--opacity', type=float, default=0.5, help='segmentation overlay opacity')
    parser.add_argument('--device', help='default: cuda where available, else cpu')
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='fold BatchNorm into the convolutions (same outputs, faster)')
    parser.add_argument('--partial-load', action='store_true', help=PARTIAL_LOAD_HELP)
    parser.add_argument('--report-memory', action='store_true',
                        help='print resident memory after the first and the last image')
    add_malloc_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    with exit_on_error(partial_load_flag=True):
        return draw(args)


def draw(args: argparse.Namespace) -> list:
    """Check the inputs and ``--out-dir``, load the model, draw each readable image."""
    images = expand_image_inputs(args.images)
    readable, unreadable = readable_images(images)  # all checked before a model is loaded
    if not readable:
        raise ImageReadError('; '.join(unreadable.values()))
    check_work_dir(args.out_dir, what='--out-dir')
    from mmfilter.apis import bounded_for_drawing, build_visualizer, init_model, predict, scope_of
    from mmfilter.engine.hooks import resident_memory_mb
    model = init_model(args.config, args.checkpoint, partial_load=args.partial_load,
                       device=args.device, fuse_conv_bn=args.fuse_conv_bn, cpu_optimize=True,
                       malloc=args.malloc)  # row bands and malloc mode on the CPU only
    visualizer = build_visualizer(model, opacity=args.opacity)
    extra = {} if scope_of(model.cfg) == 'mmseg' else dict(pred_score_thr=args.score_thr)
    written = []
    for path, out_file in output_paths(images, args.out_dir).items():
        if path in unreadable:
            continue
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
    if unreadable:
        listed = '; '.join(list(unreadable.values())[:5]) + ('; ...' if len(unreadable) > 5 else '')
        raise ImageReadError(f'{len(unreadable)} of {len(images)} image(s) could not be read and '
                             f'were skipped (the other {len(written)} were drawn): {listed}')
    return written


if __name__ == '__main__':
    main()
