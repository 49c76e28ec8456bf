"""Are the explanation maps faithful? A deletion test over the test split.

    python tools/analysis/research/explain_faithfulness.py CONFIG CHECKPOINT [--num-images 50]
        [--methods mask gradcam rollout lrp] [--cell 4] [--object-classes circle ...]
        [--seed 0] [--out-dir results/faithfulness] [--dry-run]

For each image the model's top prediction is explained (a box's class score: its
top anchors' logits; a class's mean logit over the pixels predicted as it: see
``prediction_target``) by each method, by a random ranking (the floor) and by the prediction's own
region (its box or mask, ties in raster order: the reference rollout starts from). The
input's ``cell x cell`` cells are removed (set to the dataset mean) in the order
each map ranks them, 0 %, 10 % ... 100 %, and the prediction's score re-measured;
each curve is normalised to 1 intact and 0 all removed, so the area under it
(AUC) compares across images: lower falls faster, more faithful. Also reported:
the share of each map's top cells on ground-truth objects, taking as many cells
as objects cover (random: about the objects' area share). Writes
``faithfulness.md``, ``faithfulness.json`` and ``deletion.png``. ``--dry-run``: one
image, with the checkpoint's weights where one is given, else its random
initial weights. The deletion test is :mod:`mmfilter.visualization.deletion`, the
object masks :mod:`mmfilter.datasets.objects`.
"""
import json
import os
import os.path as osp
from typing import Dict, List

import mmcv
import numpy as np
import torch
import torch.nn.functional as F

from mmfilter.datasets.scene import OBJECT_CLASSES
from mmfilter.datasets.objects import segmentation_class_ids, test_split_objects
from mmfilter.engine.cli import model_run_parser, parse_model_run_args
from mmfilter.visualization.deletion import (DELETION_FRACTIONS, area_under_curve, cell_ranking,
                                             deletion_curve, normalised_curve,
                                             top_share_on_objects)

FLOOR = 'random'
REGION = 'region'  # the prediction's own box or mask: where rollout starts from


def objects_on_grid(objects: np.ndarray, meta: dict, input_hw, grid) -> np.ndarray:
    """The ground-truth object mask (original image size) as cells of the input grid:
    resized as the image was, padded like it, a cell on objects if half of it is."""
    img_h, img_w = meta['img_shape'][:2]
    resized = mmcv.imresize(objects.astype(np.uint8), (img_w, img_h), interpolation='nearest')
    padded = np.zeros(input_hw, np.float32)
    padded[:img_h, :img_w] = resized
    pooled = F.adaptive_avg_pool2d(torch.from_numpy(padded)[None, None], grid)[0, 0]
    return pooled.numpy() >= 0.5


def evaluate(model, samples, methods: List[str], num_images: int, cell: int, seed: int,
             class_ids=None) -> Dict[str, dict]:
    """Per method (and ``region``, ``random``): the mean normalised deletion curve, its AUC
    with standard error, and the mean share of top cells on objects, over ``num_images``."""
    from mmfilter.visualization.explain import prepare_inputs, attribution_maps, prediction_target
    generator = torch.Generator().manual_seed(seed)
    curves: Dict[str, list] = {m: [] for m in methods + [REGION, FLOOR]}
    on_objects: Dict[str, list] = {m: [] for m in curves}
    area = []
    for n, (path, objects) in enumerate(samples):
        if n >= num_images:
            break
        data = prepare_inputs(model, mmcv.imread(path, channel_order='rgb'))
        inputs, data_samples = data['inputs'], data['data_samples']
        with torch.no_grad():
            prediction = model.predict(inputs, data_samples)[0]
        target = prediction_target(model, inputs, data_samples, prediction, candidates=class_ids)
        grid = (-(-inputs.shape[2] // cell), -(-inputs.shape[3] // cell))
        maps = attribution_maps(model, inputs, target, methods)
        maps[REGION] = target.region
        maps[FLOOR] = torch.rand(grid, generator=generator)
        truth = objects_on_grid(objects, prediction.metainfo, tuple(inputs.shape[2:]), grid)
        area.append(truth.mean())
        for method, saliency in maps.items():
            ranking = cell_ranking(saliency, grid)
            curve = deletion_curve(target.score, inputs, ranking, grid)
            curves[method].append(normalised_curve(curve))
            on_objects[method].append(top_share_on_objects(ranking.numpy(), truth))
    report = {}
    for method, per_image in curves.items():
        if not per_image:  # a method the model lacks: no mask without a scorer
            continue
        aucs = np.array([area_under_curve(c) for c in per_image])
        report[method] = dict(
            auc=float(aucs.mean()), auc_sem=float(aucs.std(ddof=1) / np.sqrt(len(aucs)))
            if len(aucs) > 1 else 0., on_objects=float(np.nanmean(on_objects[method])),
            curve=np.mean(per_image, axis=0).tolist(), images=len(aucs))
    report['_objects_area'] = float(np.mean(area))
    return report


def render(report: Dict[str, dict], title: str) -> str:
    area = report['_objects_area']
    lines = [f'{title}: {report[FLOOR]["images"]} images; objects cover {area:.1%} of the cells.',
             '', '| method | deletion AUC (lower = more faithful) | vs random | '
             'top cells on objects |', '|---|---:|---:|---:|']
    floor = report[FLOOR]['auc']
    for method, r in report.items():
        if method.startswith('_'):
            continue
        lines.append(f"| {method} | {r['auc']:.3f} ± {r['auc_sem']:.3f} | "
                     f"{r['auc'] - floor:+.3f} | {r['on_objects']:.1%} |")
    return '\n'.join(lines) + '\n'


def plot(report: Dict[str, dict], path: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for method, r in report.items():
        if method.startswith('_'):
            continue
        ax.plot(DELETION_FRACTIONS, r['curve'], '--' if method == FLOOR else '-', marker='o',
                markersize=3, label=f"{method} (AUC {r['auc']:.3f})")
    ax.set_xlabel('fraction of input cells removed (most relevant first)')
    ax.set_ylabel('normalised prediction score')
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> Dict[str, dict]:
    from mmfilter.visualization.explain import METHODS
    parser = model_run_parser(__doc__.split('\n')[0], num_images=50)
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    parser.add_argument('--cell', type=int, default=4, help='side of a removed cell in input pixels')
    parser.add_argument('--object-classes', nargs='+', default=list(OBJECT_CLASSES),
                        help='segmentation: the classes that are objects (and may be explained)')
    parser.add_argument('--seed', type=int, default=0, help='of the random ranking')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-dir', default='results/faithfulness')
    args = parse_model_run_args(parser, argv)
    from mmfilter.apis import scope_of
    from mmfilter.engine.cli import exit_on_error, init_model_or_exit
    model = init_model_or_exit(args.config, args.checkpoint, device=args.device)
    scope = scope_of(model.cfg)
    with exit_on_error():
        samples = test_split_objects(model.cfg, scope, args.object_classes)
        class_ids = segmentation_class_ids(model.cfg, args.object_classes) \
            if scope == 'mmseg' else None
    model.eval()
    report = evaluate(model, samples, args.methods, args.num_images, args.cell, args.seed,
                      class_ids)
    title = f"{osp.basename(args.config)} ({osp.basename(args.checkpoint or 'initial weights')})"
    table = render(report, title)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'faithfulness.md'), 'w') as f:
        f.write(table)
    with open(osp.join(args.out_dir, 'faithfulness.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint, cell=args.cell,
                       seed=args.seed, fractions=list(DELETION_FRACTIONS), methods=report), f,
                  indent=1)
    plot(report, osp.join(args.out_dir, 'deletion.png'), title)
    print(table)
    return report


if __name__ == '__main__':
    main()
