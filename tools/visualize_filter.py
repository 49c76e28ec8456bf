"""See what the filter chose: salient masks and selected tokens of every filter block.

    python tools/visualize_filter.py CONFIG [--checkpoint CKPT] IMAGE [IMAGE ...] --out-dir DIR
                                     [--method mask|gradcam|rollout|lrp|all] [--class-id C]
                                     [--gradcam STAGE] [--score-thr 0.3]

For each image and each filter-attention block it writes
``{image}_stage{i}_mask.png`` (the sigmoid mask as a heat map over the image; not
for DropoutViT, which has no mask) and ``{image}_stage{i}_tokens.png`` (the K
selected positions), plus ``{image}_sheet.png`` with the predictions (boxes or
segmentation overlay) and all blocks side by side. ``--gradcam STAGE`` adds a
Grad-CAM map of that backbone stage for a class (default: the top prediction)
and prints the fraction of the stage's K tokens inside the K most Grad-CAM-salient cells.
``--method`` other than ``mask`` explains one prediction (class ``--class-id``, default
the top box's or the largest segment's) with those methods and writes
``{image}_methods.png``: the prediction and each method's map side by side (the mask
averaged over blocks, Grad-CAM at the deepest filter stage, attention rollout
through the filter blocks from the prediction's region, LRP; see
``mmfilter/visualization/attribution.py``). Without ``--checkpoint`` the model keeps
the random weights it is built with (said on one line), and its predictions are
labelled with the config's classes.
"""
import argparse
import os
import os.path as osp
import sys

import mmcv
import numpy as np

from mmfilter.engine.cli import exit_on_error
from mmfilter.engine.config import ConfigError
from mmfilter.engine.image_inputs import output_paths, read_rgb
from mmfilter.visualization import heatmap_overlay, mark_tokens, sheet


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw filter masks and selected tokens')
    parser.add_argument('config', help='detector or segmentor config with a FilterViT/DropoutViT backbone')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--checkpoint',
                        help='trained weights (default: the random weights the model is built '
                        'with)')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--gradcam', type=int, metavar='STAGE', help='add Grad-CAM at this stage (0-3)')
    parser.add_argument('--method', nargs='+', default=['mask'],
                        choices=['mask', 'gradcam', 'rollout', 'lrp', 'all'],
                        help='maps of one prediction side by side (beyond the mask sheets)')
    parser.add_argument('--class-id', type=int,
                        help='class to explain (default: top prediction)')
    parser.add_argument('--score-thr', type=float, default=0.3, help='box score threshold')
    parser.add_argument('--device', help='default: cuda where available, else cpu')
    return parser.parse_args(argv)


def save(path: str, rgb: np.ndarray) -> None:
    mmcv.imwrite(np.ascontiguousarray(rgb[..., ::-1]), path)


def main(argv=None) -> list:
    args = parse_args(argv)
    with exit_on_error():
        return visualize(args)


def visualize(args: argparse.Namespace) -> list:
    for path in args.images:  # every input readable before a model is loaded
        read_rgb(path)
    from mmfilter.apis import (MAX_DRAW_SIDE, build_visualizer, init_model,
                               require_token_selection, scope_of)
    from mmfilter.visualization.explain import METHODS, explain, for_display, selection_panels
    methods = list(METHODS) if 'all' in args.method else args.method
    methods = [] if methods == ['mask'] else methods
    model = init_model(args.config, args.checkpoint, device=args.device, cpu_optimize=True,
                       malloc='reuse')
    require_token_selection(model)
    if args.checkpoint is None:
        print(f'note: no --checkpoint: the weights are random (as built from {args.config}); '
              'the masks and predictions show the untrained model', file=sys.stderr)
    visualizer = build_visualizer(model)
    scope = scope_of(model.cfg)
    if args.gradcam is not None and not 0 <= args.gradcam < len(model.backbone.stages):
        raise ConfigError(f'--gradcam stage must lie in [0, {len(model.backbone.stages) - 1}]')
    explanations = []
    for path, stem in output_paths(args.images, args.out_dir, suffix='').items():
        image = read_rgb(path)
        scale = MAX_DRAW_SIDE / max(image.shape[:2])
        if scale < 1:  # explained and drawn at a bounded size
            image = mmcv.imrescale(image, scale, interpolation='area')
        os.makedirs(osp.dirname(stem), exist_ok=True)
        result = explain(model, image, args.gradcam, args.class_id, methods)
        for sel in result.selections:
            if sel['mask'] is not None:
                save(f"{stem}_stage{sel['stage']}_mask.png",
                     heatmap_overlay(image, result.geometry.map_to_image(sel['mask'])))
            save(f"{stem}_stage{sel['stage']}_tokens.png",
                 mark_tokens(image, result.geometry.token_pixels(sel['indices'], sel['size'])))
        extra = {} if scope == 'mmseg' else dict(pred_score_thr=args.score_thr)
        visualizer.add_datasample('prediction', image, data_sample=result.prediction, draw_gt=False,
                                  show=False, **extra)
        panels = [('prediction', visualizer.get_image())]
        panels += selection_panels(image, result.geometry, result.selections)
        if result.gradcam is not None:
            cam = result.gradcam
            name = visualizer.dataset_meta['classes'][cam.class_id] if scope == 'mmseg' \
                or hasattr(model, 'bbox_head') else 'objectness'
            overlay = heatmap_overlay(image, result.geometry.map_to_image(cam.cam))
            save(f'{stem}_gradcam_stage{cam.stage}.png', overlay)
            panels.append((f'Grad-CAM stage {cam.stage}: {name}', overlay))
            if cam.agreement is not None:
                print(f'{path}: {cam.agreement:.0%} of stage {cam.stage} tokens lie in the top-K '
                      f'Grad-CAM cells (chance {cam.chance:.0%})')
        save(f'{stem}_sheet.png', sheet(panels, columns=4))
        print(f'{path} -> {stem}_sheet.png')
        if methods:
            name = visualizer.dataset_meta['classes'][result.class_id]
            shown = [(f'{method}: {name}', heatmap_overlay(
                image, result.geometry.map_to_image(
                    for_display(result.maps[method], 4 if method == 'lrp' else 1))))
                for method in METHODS if method in result.maps]
            save(f'{stem}_methods.png', sheet(panels[:1] + shown, columns=len(shown) + 1))
            print(f'{path} -> {stem}_methods.png ({", ".join(m for m in METHODS if m in result.maps)})')
        explanations.append(result)
    return explanations


if __name__ == '__main__':
    main()
