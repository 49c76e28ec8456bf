"""Check an exported detector or segmentor against PyTorch on real images.

    python tools/deploy/check_onnx.py CONFIG CHECKPOINT MODEL.onnx [IMAGE|DIR ...]
        [--num-val 100] [--box-tol 1] [--score-tol 1e-3] [--map-tol 1e-3] [--pixel-tol 1e-3]
        [--reference FP32.onnx] [--miou-tol 0.5]

Every image (the first ``--num-val`` of the config's test split, then the given
files) is prepared once as ``tools/deploy/onnx_infer.py`` prepares it
(:mod:`mmfilter.deploy.runtime`: resized, padded with the mean colour to the
graph's input size) and that same input is fed
to the graph in ONNX Runtime and to the PyTorch model (its data preprocessor and
``predict``, the image shape being the input size). Detectors: each PyTorch
detection must have an ONNX one of the same class with every box coordinate
within ``--box-tol`` pixels and the score within ``--score-tol``, and the other
way round; a detection may go unmatched only where its score lies within
``--score-tol`` of the cut (the score threshold, or the last of a full
``max_per_img`` list). On the test split both predictions, scaled back to the
images, are evaluated with the config's test metric: the graph's mAP must equal
PyTorch's within ``--map-tol``. Segmentors: the two class maps must agree on all
but ``--pixel-tol`` of the pixels; on the test split the mIoU of both is printed.
Prints one line per image and a summary; exits 1 if a tolerance is exceeded.

An int8 graph (``export_onnx.py --int8``; its metadata says ``precision`` int8) is
compared with its float32 graph instead of PyTorch (the file its metadata names,
beside it, or ``--reference``), both in ONNX Runtime on the same input: the
detections are compared and reported as above, but only the metric is checked,
the change of the test split's mAP within ``--map-tol`` (default 0.005 here) or
of its mIoU within ``--miou-tol`` points (default 0.5).
"""
import argparse
import contextlib
import io
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from mmfilter.deploy import cut_score, match_detections
from mmfilter.deploy.runtime import (OnnxModelError, class_map_to_image, graph_input,
                                     load_runtime, read_image, resize_and_pad, resized_size)
from mmfilter.engine.image_inputs import ImageReadError, expand_image_inputs

#: An int8 graph against its float32 graph: the largest mAP change (detectors) and mIoU
#: change in points (segmentors) accepted.
INT8_MAP_TOL = 0.005
INT8_MIOU_TOL = 0.5


def torch_inputs(model, inputs: np.ndarray):
    """The PyTorch model's batch and data samples for the graph's input ``[1, 3, H, W]``."""
    height, width = inputs.shape[-2:]
    meta = dict(img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width),
                batch_input_shape=(height, width), scale_factor=(1., 1.))
    if hasattr(model, 'decode_head'):
        from mmseg.structures import SegDataSample as Sample
    else:
        from mmdet.structures import DetDataSample as Sample
    data = model.data_preprocessor(
        dict(inputs=[torch.from_numpy(inputs[0])], data_samples=[Sample(metainfo=meta)]), False)
    return data['inputs'], data['data_samples']


def torch_detect(model, inputs: np.ndarray, scale) -> Dict[str, np.ndarray]:
    """PyTorch's detections for the graph's input, in the graph's pixels and, as
    ``image_bboxes``, scaled back to the image as the runtime scales them."""
    with torch.no_grad():
        pred = model.predict(*torch_inputs(model, inputs), rescale=False)[0].pred_instances
    boxes = pred.bboxes.numpy()
    sx, sy = scale
    return dict(bboxes=boxes, scores=pred.scores.numpy(), labels=pred.labels.numpy(),
                image_bboxes=boxes / np.array([sx, sy, sx, sy], np.float32))


def onnx_detect(runtime, inputs: np.ndarray, scale) -> Dict[str, np.ndarray]:
    dets, labels = runtime.run(['dets', 'labels'], {'input': inputs})
    sx, sy = scale
    return dict(bboxes=dets[0, :, :4], scores=dets[0, :, 4], labels=labels[0],
                image_bboxes=dets[0, :, :4] / np.array([sx, sy, sx, sy], np.float32))


def sample_for_metric(result: Dict[str, np.ndarray], info: dict):
    """A data sample of ``result`` (boxes in the image's pixels, clipped) for the metric."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    height, width = info['height'], info['width']
    sample = DetDataSample(metainfo=dict(img_id=info['img_id'], ori_shape=(height, width)))
    boxes = result['image_bboxes'].clip(0, [width, height, width, height])
    sample.pred_instances = InstanceData(bboxes=torch.from_numpy(boxes),
                                         scores=torch.from_numpy(result['scores']),
                                         labels=torch.from_numpy(result['labels']))
    return sample


def load_reference(model: str, meta: dict, reference: Optional[str]):
    """ONNX Runtime on the float32 graph to compare ``model`` with: ``reference``,
    else, for an int8 graph, the file its metadata names beside it; None to compare
    with PyTorch. Raises :class:`OnnxModelError` for a reference of another input."""
    if reference is None and meta.get('precision') != 'int8':
        return None
    path = reference or osp.join(osp.dirname(model), meta['reference'])
    runtime, ref_meta = load_runtime(path)
    for key in ('task', 'input_size', 'input_channel_order', 'normalization'):
        if ref_meta.get(key) != meta.get(key):
            raise OnnxModelError(f'{path} is not the float32 graph of {model}: its {key} is '
                                 f'{ref_meta.get(key)!r}, not {meta.get(key)!r}')
    return runtime


def build_evaluator(model, dataset):
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(model.cfg.test_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    return evaluator


def miou_change_lines(areas: Dict[str, list], names: Dict[str, str], tolerance: float,
                      reference: bool) -> Tuple[dict, List[str], List[str]]:
    """``(summary entries, lines, failures)`` of the mIoU of each side from its
    per-image areas (MMSegmentation's ``IoUMetric``), the change checked against
    ``tolerance`` (points) when the reference is a float32 graph."""
    from mmseg.evaluation.metrics import IoUMetric
    summary = {}
    for side, per_image in areas.items():
        totals = [sum(parts) for parts in zip(*per_image)]
        summary[f'{side}_mIoU'] = 100 * float(np.nanmean(
            IoUMetric.total_area_to_metrics(*totals)['IoU']))
    change = summary['onnx_mIoU'] - summary['ref_mIoU']
    lines = [f"test split ({len(areas['ref'])} images): mIoU {names['ref']} "
             f"{summary['ref_mIoU']:.2f}, {names['onnx']} {summary['onnx_mIoU']:.2f} "
             f'(change {change:+.2f} points)']
    failed = reference and abs(change) > tolerance
    return summary, lines, [f'mIoU changes by {change:+.2f} > {tolerance} points'] if failed else []


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('model', help='the ONNX file export_onnx.py wrote from them')
    parser.add_argument('images', nargs='*', help='more image files or folders (no annotations)')
    parser.add_argument('--reference', metavar='FP32.onnx',
                        help='compare MODEL with this float32 graph instead of PyTorch (default '
                        "for an int8 graph: the float32 graph its metadata names, beside it)")
    parser.add_argument('--num-val', type=int, default=100,
                        help="images of the config's test split (0: none). Default: 100")
    parser.add_argument('--box-tol', type=float, default=1.0, help='pixels. Default: 1')
    parser.add_argument('--score-tol', type=float, default=1e-3, help='Default: 1e-3')
    parser.add_argument('--map-tol', type=float, help='largest mAP change. Default: 1e-3, '
                        f'against a float32 graph {INT8_MAP_TOL}')
    parser.add_argument('--miou-tol', type=float, default=INT8_MIOU_TOL,
                        help='against a float32 graph: largest mIoU change in points. '
                        f'Default: {INT8_MIOU_TOL}')
    parser.add_argument('--pixel-tol', type=float, default=1e-3,
                        help='share of pixels allowed to differ. Default: 1e-3')
    args = parser.parse_args(argv)

    if not args.num_val and not args.images:
        parser.error('nothing to check: give images, or --num-val above 0')
    try:
        runtime, meta = load_runtime(args.model)
        extra_images = expand_image_inputs(args.images)
        reference = load_reference(args.model, meta, args.reference)
    except (OnnxModelError, ImageReadError) as e:
        sys.exit(f'error: {e}')
    if args.map_tol is None:
        args.map_tol = INT8_MAP_TOL if reference else 1e-3
    names = dict(ref='float32 graph', onnx=f"{meta.get('precision', 'float32')} graph") \
        if reference else dict(ref='PyTorch', onnx='ONNX Runtime')
    short = {side: name.split()[0] for side, name in names.items()}
    from mmfilter.engine.cli import init_model_or_exit
    from mmfilter.deploy import task_of
    model = init_model_or_exit(args.config, args.checkpoint, device='cpu', cpu_optimize=False)
    if task_of(model) != meta['task']:
        sys.exit(f"error: {args.model} holds a {meta['task']} model, {args.config} a "
                 f'{task_of(model)} model')
    segmentation = meta['task'] == 'segmentation'
    if segmentation:
        from mmseg.evaluation.metrics import IoUMetric
    items = []  # (path, annotation info or None, index in the test split or None)
    if args.num_val:
        from mmengine.registry import DATASETS
        try:
            dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
        except (OSError, ValueError) as e:
            sys.exit(f"error: {args.config}: cannot read its test split ({e}); give images "
                     'and --num-val 0')
        for i in range(min(args.num_val, len(dataset))):
            info = dataset.get_data_info(i)
            items.append((info['img_path'], info, i))
    items += [(path, None, None) for path in extra_images]
    evaluators = None if segmentation or not args.num_val else \
        {name: build_evaluator(model, dataset) for name in ('torch', 'onnx')}
    areas = dict(ref=[], onnx=[])  # per annotated image: IoUMetric's areas

    failures, totals = [], dict(ref=0, got=0, matched=0, box_diff=0., score_diff=0., missed=0,
                                extra=0, pixels=0, agree=0)
    for path, info, index in items:
        try:
            image = read_image(path, meta['input_channel_order'])
        except ValueError as e:
            failures.append(str(e))
            print(f'{path}: {e}')
            continue
        raw, scale = resize_and_pad(image, meta)
        inputs = graph_input(raw, meta)
        if segmentation:
            got = runtime.run(['seg'], {'input': inputs})[0][0, 0]
            if reference:
                ref = reference.run(['seg'], {'input': inputs})[0][0, 0]
            else:
                with torch.no_grad():
                    ref = model.predict(*torch_inputs(model, raw))[0].pred_sem_seg.data[0].numpy()
            new_h, new_w = resized_size(*image.shape[:2], meta)
            agree = int((got[:new_h, :new_w] == ref[:new_h, :new_w]).sum())
            totals['pixels'] += new_h * new_w
            totals['agree'] += agree
            line = f'{path}: {agree / (new_h * new_w):.4%} of {new_h}x{new_w} pixels agree'
            if 1 - agree / (new_h * new_w) > args.pixel_tol and not reference:
                failures.append(line)
            print(line)
            if index is not None:
                gt = dataset[index]['data_samples'].gt_sem_seg.data[0]
                for side, seg in (('ref', ref), ('onnx', got)):
                    pred = torch.from_numpy(class_map_to_image(seg, image.shape[:2], scale))
                    areas[side].append(IoUMetric.intersect_and_union(
                        pred, gt.to(pred), len(meta['classes']), 255))
            continue
        got = onnx_detect(runtime, inputs, scale)
        ref = onnx_detect(reference, inputs, scale) if reference else \
            torch_detect(model, raw, scale)
        cut = meta['score_threshold'], meta['max_detections']
        floor = max(cut_score(ref, *cut), cut_score(got, *cut))
        stats = match_detections(ref, got, floor, args.box_tol, args.score_tol)
        for key in ('ref', 'got', 'matched', 'missed', 'extra'):
            totals[key] += stats[key]
        for key in ('box_diff', 'score_diff'):
            totals[key] = max(totals[key], stats[key])
        line = (f"{path}: {short['ref']} {stats['ref']} / {short['onnx']} {stats['got']} "
                f"detections, {stats['matched']} matched (box {stats['box_diff']:.2e} px, score "
                f"{stats['score_diff']:.1e}), {stats['missed'] + stats['extra']} unmatched "
                f'above the cut {floor:.3f}')
        if (stats['missed'] or stats['extra']) and not reference:
            failures.append(line)
        print(line)
        if info is not None and evaluators:
            info = dict(info, height=image.shape[0], width=image.shape[1])
            for name, result in (('torch', ref), ('onnx', got)):
                evaluators[name].process(data_samples=[sample_for_metric(result, info)])

    summary = dict(images=len(items), **totals)
    if segmentation:
        summary['agreement'] = totals['agree'] / max(totals['pixels'], 1)
        print(f"all {len(items)} images: {summary['agreement']:.4%} of the pixels agree")
        if areas['ref']:
            entries, lines, failed = miou_change_lines(areas, names, args.miou_tol,
                                                       bool(reference))
            summary.update(entries)
            print('\n'.join(lines))
            failures += failed
    else:
        print(f"all {len(items)} images: {short['ref']} {totals['ref']} / {short['onnx']} "
              f"{totals['got']} detections, {totals['matched']} matched; largest differences: "
              f"box {totals['box_diff']:.2e} px, score {totals['score_diff']:.1e}")
    if evaluators:
        for name, evaluator in evaluators.items():
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' tables
                metrics = evaluator.evaluate(sum(1 for _, info, _ in items if info is not None))
            keys = [k for k in metrics if k.endswith('bbox_mAP') or k.endswith('/mAP')]
            if not keys:
                sys.exit(f'error: the test metric gives no mAP (it gives {sorted(metrics)})')
            summary[f'{name}_mAP'] = metrics[keys[0]]
        difference = summary['onnx_mAP'] - summary['torch_mAP']
        print(f"test split ({sum(1 for _, i, _ in items if i is not None)} images): mAP "
              f"{names['ref']} {summary['torch_mAP']:.4f}, {names['onnx']} "
              f"{summary['onnx_mAP']:.4f} (difference {difference:+.4f})")
        if abs(difference) > args.map_tol:
            failures.append(f'mAP differs by {difference:+.4f} > {args.map_tol}')
    if failures:
        sys.exit(f'error: {len(failures)} check(s) failed, the first: {failures[0]}')
    return summary


if __name__ == '__main__':
    main()
