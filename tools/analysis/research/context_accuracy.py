"""Does a detector read context? How it names the stars of scenes with and without a flag.

    python tools/analysis/research/context_accuracy.py CONFIG CHECKPOINT [--num-images N]
        [--iou 0.5] [--dry-run]

On the clutter benchmark a star is a ``flagged star`` when a small flag lies anywhere in the
image: what separates the two classes is context alone. For every annotated star of the config's
test split (either class), the highest-scoring detection of either star class that overlaps it
(IoU ≥ ``--iou``) names it. The tool prints, for scenes with a flag and scenes without, how many
stars were found and how often the name is right. A detector blind to context names a star alike
in both kinds of scene, so its two rates sum to 1 and their mean (the balanced accuracy) is 0.5;
a detector that reads the flag scores above 0.5. ``--dry-run``: one image, with the
checkpoint's weights where one is given, else its random initial weights.
"""
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import mmcv
import torch

from mmfilter.datasets.scene import FLAGGED_STAR
from mmfilter.engine.cli import model_run_parser, parse_model_run_args

STAR = 'star'


def name_objects(gt_boxes: torch.Tensor, gt_labels: torch.Tensor, det_boxes: torch.Tensor,
                 det_scores: torch.Tensor, det_labels: torch.Tensor, labels: Sequence[int],
                 iou_thr: float = 0.5) -> List[Tuple[int, Optional[int]]]:
    """``(true label, named label)`` for every ground-truth box whose label is in ``labels``:
    the label of the highest-scoring detection with a label in ``labels`` that overlaps it by
    IoU ≥ ``iou_thr``, None when there is none. Boxes ``[N, 4]`` xyxy, labels and scores ``[N]``."""
    from mmdet.structures.bbox import bbox_overlaps
    keep_gt = torch.isin(gt_labels, torch.as_tensor(labels))
    keep_det = torch.isin(det_labels, torch.as_tensor(labels))
    gt_boxes, gt_labels = gt_boxes[keep_gt], gt_labels[keep_gt]
    det_boxes, det_scores, det_labels = (det_boxes[keep_det], det_scores[keep_det],
                                         det_labels[keep_det])
    if len(det_boxes) == 0:
        return [(int(label), None) for label in gt_labels]
    overlapping = bbox_overlaps(gt_boxes.float(), det_boxes.float()) >= iou_thr  # [G, D]
    scores = torch.where(overlapping, det_scores.float()[None], torch.tensor(-1.))
    best = scores.argmax(dim=1)
    return [(int(label), int(det_labels[b]) if overlapping[g, b] else None)
            for g, (label, b) in enumerate(zip(gt_labels, best))]


def summarise(named: List[Tuple[int, Optional[int]]], labels: Sequence[int],
              names: Sequence[str]) -> dict:
    """Per true label: objects, found (named by some detection), right (named correctly),
    and the share right among those found; ``balanced_accuracy``: the mean of those shares."""
    report = {}
    for label, name in zip(labels, names):
        calls = [n for t, n in named if t == label]
        found = [n for n in calls if n is not None]
        right = sum(n == label for n in found)
        report[name] = dict(objects=len(calls), found=len(found), right=right,
                            accuracy=right / len(found) if found else float('nan'))
    report['balanced_accuracy'] = sum(report[n]['accuracy'] for n in names) / len(names)
    return report


def main(argv=None) -> dict:
    parser = model_run_parser(__doc__.split('\n')[0])
    parser.add_argument('--iou', type=float, default=0.5, help='overlap that makes a detection '
                        'name a star')
    parser.add_argument('--device', default='cpu')
    args = parse_model_run_args(parser, argv)
    from pycocotools.coco import COCO

    from mmfilter.apis import predict
    from mmfilter.engine.cli import init_model_or_exit
    model = init_model_or_exit(args.config, args.checkpoint, device=args.device)
    ds = model.cfg.test_dataloader.dataset
    classes = list(model.dataset_meta['classes'])  # without a checkpoint: the config's
    names = (FLAGGED_STAR, STAR)
    if not set(names) <= set(classes):
        sys.exit(f'error: {args.config} has no {names[0]!r} and {names[1]!r} classes (its classes: '
                 f'{classes}); the context test needs the clutter benchmark')
    labels = [classes.index(n) for n in names]
    coco = COCO(osp.join(ds.data_root, ds.ann_file))
    label_of_category = {c['id']: classes.index(c['name']) for c in coco.loadCats(coco.getCatIds())}

    named = []
    img_ids = coco.getImgIds()[:args.num_images]
    for img_id in img_ids:
        info = coco.loadImgs(img_id)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False))
        gt_boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in
                                 (a['bbox'] for a in anns)]).reshape(-1, 4)
        gt_labels = torch.tensor([label_of_category[a['category_id']] for a in anns],
                                 dtype=torch.long)
        image = mmcv.imread(osp.join(ds.data_root, ds.data_prefix['img'], info['file_name']),
                            channel_order='rgb')
        pred = predict(model, image).pred_instances.cpu()
        named += name_objects(gt_boxes, gt_labels, pred.bboxes, pred.scores, pred.labels, labels,
                              args.iou)

    report = summarise(named, labels, names)
    print(f'{len(img_ids)} images; a star is named by the best detection of either star class '
          f'at IoU >= {args.iou}')
    print('| scene (true class) | stars | found | named right | right among found |')
    print('|---|---:|---:|---:|---:|')
    for name in names:
        r = report[name]
        print(f"| {'with a flag' if name == FLAGGED_STAR else 'without'} ({name}) | "
              f"{r['objects']} | {r['found']} | {r['right']} | {r['accuracy']:.1%} |")
    print(f"balanced accuracy {report['balanced_accuracy']:.1%} (blind to context: 50%)")
    return report


if __name__ == '__main__':
    main()
