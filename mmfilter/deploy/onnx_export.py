"""Whole detectors and segmentors as ONNX graphs, in MMDeploy's conventions.

The graph takes one input ``input``, float32 ``[1, 3, H, W]``: an image already
resized and padded to ``H x W``, with pixel values 0-255 in the channel order the
config's pipeline loads (BGR for ``LoadImageFromFile``). It holds what the
config's ``data_preprocessor`` does to such a batch (the channel flip and the
mean/std normalisation), the backbone, neck and head, and the post-processing:

- a dense detector (RetinaNet, SSD / SSDLite) returns ``dets`` ``[1, N, 5]``
  (x1, y1, x2, y2 in the input's pixels, score) and ``labels`` ``[1, N]``, N at
  most the head's ``max_per_img``: the head's ``test_cfg`` applied as MMDetection
  applies it (``nms_pre`` best (anchor, class) pairs per level, boxes decoded and
  clipped to the input, ``min_bbox_size``, then per-class NMS above ``score_thr``),
  with ONNX's ``TopK`` and ``NonMaxSuppression``;
- a segmentor (``EncoderDecoder``: UPerNet, DeepLabv3, ...) returns ``seg``
  ``[1, 1, H, W]``, the class of every input pixel (the decode head's logits
  resized to the input, then argmax).

K and the pooling strides of mmfilter's backbones follow from the input size, so
a graph is exported for one size. What a runner needs besides the graph (task,
class names, palette, input size and channel order, mean and std, the test
resize) is written into the ONNX file's metadata (:func:`export_metadata`).
"""
import copy
import json
import warnings
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The graph's input and outputs, by task (MMDeploy's names).
INPUT_NAME = 'input'
OUTPUT_NAMES = {'detection': ['dets', 'labels'], 'segmentation': ['seg']}


class ExportError(ValueError):
    """A model or input size that cannot be exported, with the reason."""


class Normalize(nn.Module):
    """What a data preprocessor does to an image batch of pixel values 0-255:
    BGR to RGB where it converts, then ``(x - mean) / std`` where it normalises.

    Args:
        data_preprocessor: MMDetection's ``DetDataPreprocessor`` or
            MMSegmentation's ``SegDataPreProcessor`` (or a subclass).
    """

    def __init__(self, data_preprocessor: nn.Module) -> None:
        super().__init__()
        self.flip_channels = bool(getattr(data_preprocessor, '_channel_conversion',
                                          getattr(data_preprocessor, 'channel_conversion', False)))
        enabled = getattr(data_preprocessor, '_enable_normalize',
                          getattr(data_preprocessor, 'mean', None) is not None)
        mean = data_preprocessor.mean if enabled else torch.zeros(3, 1, 1)
        std = data_preprocessor.std if enabled else torch.ones(3, 1, 1)
        self.register_buffer('mean', mean.detach().float().reshape(1, -1, 1, 1).clone())
        self.register_buffer('std', std.detach().float().reshape(1, -1, 1, 1).clone())

    def forward(self, image: Tensor) -> Tensor:
        """``[1, 3, H, W]`` pixel values in the input's channel order -> the model's input."""
        if self.flip_channels:
            image = image.flip(1)
        return (image - self.mean) / self.std

    def in_input_order(self, per_channel: Tensor) -> List[float]:
        """``mean`` or ``std`` in the input's channel order (the mean: the raw pixel
        value that becomes 0)."""
        values = per_channel.flatten().tolist()
        return values[::-1] if self.flip_channels else values


def adaptive_pool_matrix(out_size: int, in_size: int, like: Tensor) -> Tensor:
    """``[out_size, in_size]``: row ``i`` averages the inputs ``floor(i * in / out)``
    to ``ceil((i + 1) * in / out)``, the cells of adaptive average pooling."""
    matrix = torch.zeros(out_size, in_size, dtype=like.dtype, device=like.device)
    for i in range(out_size):
        start, end = (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


class FixedSizeAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` as two matrix products, for a graph of fixed size.

    The exporter writes adaptive pooling only where the output size divides the
    input size (as an ``AveragePool``); pyramid pooling's 3x3 and 6x6 cells over a
    16x16 map are not. Traced at one size, the pooling matrices are constants.
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W]`` -> ``[N, C, out_h, out_w]``."""
        height, width = (int(s) for s in x.shape[-2:])
        size = self.output_size
        out_h, out_w = (size, size) if isinstance(size, int) else size
        rows = adaptive_pool_matrix(out_h or height, height, x)
        cols = adaptive_pool_matrix(out_w or width, width, x)
        return rows @ x @ cols.t()


def with_fixed_size_pooling(model: nn.Module) -> nn.Module:
    """``model`` with every ``nn.AdaptiveAvgPool2d`` replaced, in place, by
    :class:`FixedSizeAdaptiveAvgPool2d`."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.AdaptiveAvgPool2d):
                setattr(module, child_name, FixedSizeAdaptiveAvgPool2d(child.output_size))
    return model


def box_iou(boxes: Tensor) -> Tensor:
    """``[M, 4]`` boxes (x1, y1, x2, y2) -> ``[M, M]`` pairwise IoU."""
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    top_left = torch.max(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    return inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-12)


class NonMaxSuppression(torch.autograd.Function):
    """ONNX's ``NonMaxSuppression`` (opset 10+): per batch and class, the boxes kept
    by greedy NMS in score order, scores above ``score_threshold`` only, at most
    ``max_per_class``. ``forward`` computes the same in PyTorch, for tracing.

    Args (of ``apply``): boxes ``[B, M, 4]`` (x1, y1, x2, y2), scores ``[B, C, M]``,
    max_per_class (int), iou_threshold (float), score_threshold (float).
    Returns: ``[n, 3]`` int64 rows (batch, class, box index).
    """

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_per_class: int, iou_threshold: float,
                score_threshold: float) -> Tensor:
        selected = []
        for b in range(boxes.shape[0]):
            ious = box_iou(boxes[b])
            for c in range(scores.shape[1]):
                order = scores[b, c].argsort(descending=True)
                order = order[scores[b, c, order] > score_threshold]
                suppressed = torch.zeros(boxes.shape[1], dtype=torch.bool, device=boxes.device)
                kept = 0
                for i in order.tolist():
                    if suppressed[i]:
                        continue
                    selected.append((b, c, i))
                    kept += 1
                    if kept == max_per_class:
                        break
                    suppressed |= ious[i] > iou_threshold
        return torch.tensor(selected, dtype=torch.int64, device=boxes.device).reshape(-1, 3)

    @staticmethod
    def symbolic(g, boxes, scores, max_per_class: int, iou_threshold: float,
                 score_threshold: float):
        def constant(value, dtype):
            return g.op('Constant', value_t=torch.tensor([value], dtype=dtype))
        return g.op('NonMaxSuppression', boxes, scores, constant(max_per_class, torch.int64),
                    constant(iou_threshold, torch.float32),
                    constant(score_threshold, torch.float32))


#: ``test_cfg.nms`` keys the graph applies (``split_thr`` only changes how MMCV computes it).
EXPORTED_NMS_KEYS = ('type', 'iou_threshold', 'split_thr')


def dense_head_test_cfg(head: nn.Module) -> dict:
    """The settings of the head's ``test_cfg`` that the graph applies, refusing what it cannot."""
    cfg = head.test_cfg
    nms = cfg.get('nms') if cfg else None
    if nms is None or nms.get('type', 'nms') != 'nms':
        raise ExportError(f'{type(head).__name__}: only test_cfg.nms of type "nms" is exportable '
                          f'(got {nms})')
    others = sorted(set(nms) - set(EXPORTED_NMS_KEYS))
    if others:
        raise ExportError(f'{type(head).__name__}: test_cfg.nms settings {others} are not '
                          'exportable (per-class NMS with iou_threshold only)')
    return dict(nms_pre=cfg.get('nms_pre', -1), score_thr=float(cfg.get('score_thr', 0.)),
                min_bbox_size=cfg.get('min_bbox_size', -1),
                iou_threshold=float(nms['iou_threshold']),
                max_per_img=int(cfg.get('max_per_img', 100)))


def delta_decoder(coder) -> Callable[[Tensor, Tensor, Tuple[int, int]], Tensor]:
    """``decode(anchors [M, 4], deltas [M, 4], (H, W)) -> boxes [M, 4]`` of a
    ``DeltaXYWHBBoxCoder`` (RetinaNet's, SSD's), as its ``decode`` does outside an
    export: within one, ``decode`` takes a path of MMDetection 2.x that imports a
    module MMDetection 3.x no longer has."""
    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
    from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import delta2bbox
    if type(coder) is not DeltaXYWHBBoxCoder:
        raise ExportError(f'{type(coder).__name__}: only DeltaXYWHBBoxCoder boxes are exportable')

    def decode(anchors: Tensor, deltas: Tensor, max_shape: Tuple[int, int]) -> Tensor:
        return delta2bbox(anchors, deltas, coder.means, coder.stds, max_shape,
                          clip_border=coder.clip_border, add_ctr_clamp=coder.add_ctr_clamp,
                          ctr_clamp=coder.ctr_clamp)
    return decode


class DenseDetectorForExport(nn.Module):
    """A single-stage detector with an anchor head (RetinaNet, SSD, SSDLite) from the
    image to ``(dets [1, N, 5], labels [1, N])``, post-processing included."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        from mmdet.models.dense_heads import RetinaHead, SSDHead
        from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
        head = getattr(detector, 'bbox_head', None)
        if getattr(detector, 'roi_head', None) is not None or head is None:
            raise ExportError(f'{type(detector).__name__}: two-stage detectors (RoI heads) are not '
                              'exportable as a whole; single-stage detectors with an anchor head '
                              '(RetinaNet, SSD / SSDLite) are, and any backbone alone is '
                              '(--backbone-only)')
        own_post_processing = any(
            getattr(type(head), name) is not getattr(BaseDenseHead, name)
            for name in ('predict_by_feat', '_predict_by_feat_single', '_bbox_post_process'))
        if not isinstance(head, (RetinaHead, SSDHead)) or own_post_processing:
            raise ExportError(f'{type(head).__name__}: only the heads of RetinaNet and SSD / '
                              'SSDLite (RetinaHead, SSDHead and subclasses that keep their '
                              'post-processing) are exportable as a whole; export the backbone '
                              'alone (--backbone-only)')
        self.detector = detector
        self.normalize = Normalize(detector.data_preprocessor)
        self.test_cfg = dense_head_test_cfg(head)
        self.decode = delta_decoder(head.bbox_coder)

    @property
    def head(self) -> nn.Module:
        return self.detector.bbox_head

    def level_candidates(self, cls_score: Tensor, bbox_pred: Tensor,
                         priors: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """One level's ``nms_pre`` best (anchor, class) pairs, as MMDetection's
        ``filter_scores_and_topk`` takes them: ``(scores [k], labels [k],
        bbox_pred [k, 4], priors [k, 4])`` of ``cls_score`` ``[1, A * C, h, w]``,
        ``bbox_pred`` ``[1, A * 4, h, w]`` and ``priors`` ``[h * w * A, 4]``."""
        head = self.head
        logits = cls_score[0].permute(1, 2, 0).reshape(-1, head.cls_out_channels)
        scores = logits.sigmoid() if head.use_sigmoid_cls else logits.softmax(-1)[:, :-1]
        deltas = bbox_pred[0].permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
        num_classes = scores.shape[1]
        flat = scores.reshape(-1)
        k = flat.shape[0] if self.test_cfg['nms_pre'] < 0 else min(self.test_cfg['nms_pre'],
                                                                   flat.shape[0])
        top_scores, pairs = flat.topk(k)
        anchors = torch.div(pairs, num_classes, rounding_mode='floor')
        return top_scores, pairs % num_classes, deltas[anchors], priors[anchors]

    def forward(self, image: Tensor) -> Tuple[Tensor, Tensor]:
        """``[1, 3, H, W]`` pixel values -> ``dets [1, N, 5]``, ``labels [1, N]``."""
        cfg = self.test_cfg
        height, width = (int(s) for s in image.shape[-2:])
        cls_scores, bbox_preds = self.head(self.detector.extract_feat(self.normalize(image)))
        sizes = [tuple(int(s) for s in c.shape[-2:]) for c in cls_scores]
        priors = self.head.prior_generator.grid_priors(sizes, dtype=image.dtype,
                                                       device=image.device)
        candidates = [self.level_candidates(*level)
                      for level in zip(cls_scores, bbox_preds, priors)]
        scores, labels, deltas, anchors = (torch.cat(parts) for parts in zip(*candidates))
        boxes = self.decode(anchors, deltas, (height, width))
        if cfg['min_bbox_size'] >= 0:  # too small boxes score 0, which NMS drops
            sizes_ok = ((boxes[:, 2] - boxes[:, 0]) > cfg['min_bbox_size']) & \
                ((boxes[:, 3] - boxes[:, 1]) > cfg['min_bbox_size'])
            scores = torch.where(sizes_ok, scores, torch.zeros_like(scores))
        num_classes = self.head.num_classes
        class_scores = F.one_hot(labels, num_classes).t().to(scores.dtype) * scores  # [C, M]
        selected = NonMaxSuppression.apply(boxes[None], class_scores[None], cfg['max_per_img'],
                                           cfg['iou_threshold'], cfg['score_thr'])
        kept = selected[:, 2]
        order = scores[kept].argsort(descending=True)[:cfg['max_per_img']]
        kept = kept[order]
        dets = torch.cat([boxes[kept], scores[kept, None]], dim=1)
        return dets[None], labels[kept][None]


class SegmentorForExport(nn.Module):
    """An ``EncoderDecoder`` segmentor from the image to ``seg [1, 1, H, W]``; a copy
    of it, with adaptive pooling as fixed-size matrix products."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        kind = type(segmentor).__name__
        if kind != 'EncoderDecoder':
            raise ExportError(f'{kind}: only EncoderDecoder segmentors are exportable as a whole; '
                              'export the backbone alone (--backbone-only)')
        mode = segmentor.test_cfg.get('mode', 'whole') if segmentor.test_cfg else 'whole'
        if mode != 'whole':
            raise ExportError(f'{kind}: test_cfg.mode={mode!r} is not exportable; the graph runs '
                              "the whole input at once (test_cfg.mode='whole')")
        self.segmentor = with_fixed_size_pooling(copy.deepcopy(segmentor))
        self.normalize = Normalize(segmentor.data_preprocessor)

    def forward(self, image: Tensor) -> Tensor:
        """``[1, 3, H, W]`` pixel values -> ``[1, 1, H, W]`` int64 classes."""
        head = self.segmentor.decode_head
        logits = head(self.segmentor.extract_feat(self.normalize(image)))
        logits = F.interpolate(logits, size=image.shape[-2:], mode='bilinear',
                               align_corners=head.align_corners)
        if logits.shape[1] == 1:  # one output channel: a threshold on the sigmoid
            return (logits.sigmoid() > head.threshold).long()
        return logits.argmax(1, keepdim=True)


def task_of(model: nn.Module) -> str:
    """``'segmentation'`` for a model with a decode head, else ``'detection'``."""
    return 'segmentation' if hasattr(model, 'decode_head') else 'detection'


def wrap_for_export(model: nn.Module) -> nn.Module:
    """The whole-model graph's module for a detector or segmentor in eval mode."""
    if task_of(model) == 'segmentation':
        return SegmentorForExport(model).eval()
    return DenseDetectorForExport(model).eval()


def check_input_size(model: nn.Module, height: int, width: int) -> None:
    """Refuse a size that the config's test pipeline never feeds the model: one that
    is not a multiple of the data preprocessor's ``pad_size_divisor`` (MMDetection)
    or ``test_cfg.size_divisor`` (MMSegmentation)."""
    preprocessor = model.data_preprocessor
    divisor = getattr(preprocessor, 'pad_size_divisor', None) or \
        (getattr(preprocessor, 'test_cfg', None) or {}).get('size_divisor') or 1
    if height % divisor or width % divisor:
        raise ExportError(f'input size {height}x{width} is not a multiple of the data '
                          f"preprocessor's pad_size_divisor {divisor}: the model only sees "
                          f'padded sizes such as {-(-height // divisor) * divisor}x'
                          f'{-(-width // divisor) * divisor}')


def pipeline_steps(cfg) -> list:
    """The steps of the config's test pipeline (none for a model without a config)."""
    return cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', []) if cfg else []


def loaded_channel_order(cfg) -> str:
    """The channel order the test pipeline loads images in (``LoadImageFromFile``'s
    ``channel_order``, BGR by default): the order the graph's input takes."""
    for step in pipeline_steps(cfg):
        if step.get('type') == 'LoadImageFromFile':
            return step.get('channel_order', 'bgr')
    return 'bgr'


def pipeline_resize(cfg) -> dict:
    """The ``Resize`` of the config's test pipeline: ``dict(scale=(w, h), keep_ratio)``
    (empty where it has none)."""
    for step in pipeline_steps(cfg):
        if step.get('type') == 'Resize' and 'scale' in step:
            return dict(scale=list(step['scale']), keep_ratio=bool(step.get('keep_ratio', False)))
    return {}


def export_metadata(model: nn.Module, wrapper: nn.Module, height: int, width: int,
                    config: str = '', checkpoint: str = '') -> Dict[str, str]:
    """What a runner needs besides the graph, as ONNX metadata (string values,
    JSON where structured)."""
    from .. import __version__
    meta = getattr(model, 'dataset_meta', None) or {}
    task = task_of(model)
    cfg = getattr(model, 'cfg', None)
    normalize = wrapper.normalize
    values = dict(
        task=task, input_size=[height, width],
        input_channel_order=loaded_channel_order(cfg),
        mean=normalize.in_input_order(normalize.mean), std=normalize.in_input_order(normalize.std),
        classes=list(meta.get('classes', ())), palette=[list(c) for c in meta.get('palette', ())],
        resize=pipeline_resize(cfg),
        config=config, checkpoint=checkpoint, exporter=f'mmfilter {__version__}')
    if task == 'detection':
        values['score_threshold'] = wrapper.test_cfg['score_thr']
        values['max_detections'] = wrapper.test_cfg['max_per_img']
    return {key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}


def export_to_onnx(wrapper: nn.Module, image: Tensor, path: str, opset: int = 17,
                   metadata: Dict[str, str] = None, output_names: Sequence[str] = ()) -> None:
    """Trace ``wrapper`` on ``image`` with torch's TorchScript exporter (the one that
    honours ``autograd.Function.symbolic``) and write ``path``, with ``metadata``
    where given."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')  # sizes are fixed on purpose; the exporter is deprecated
        torch.onnx.export(wrapper, (image, ), path, opset_version=opset, dynamo=False,
                          input_names=[INPUT_NAME], output_names=list(output_names))
    if not metadata:
        return
    import onnx
    graph = onnx.load(path)
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, path)
