"""The whole model as the graph runs it: the image (pixel values 0-255, already
resized and padded) to the task's outputs, in MMDeploy's conventions.

- a dense detector (RetinaNet, SSD / SSDLite) returns ``dets`` ``[1, N, 5]``
  (x1, y1, x2, y2 in the input's pixels, score) and ``labels`` ``[1, N]``, N at
  most the head's ``max_per_img``: the head's ``test_cfg`` applied as MMDetection
  applies it (``nms_pre`` best (anchor, class) pairs per level, boxes decoded and
  clipped to the input, ``min_bbox_size``, then per-class NMS above ``score_thr``),
  with ONNX's ``TopK`` and ``NonMaxSuppression``;
- a segmentor (``EncoderDecoder``: UPerNet, DeepLabv3, ...) returns ``seg``
  ``[1, 1, H, W]``, the class of every input pixel (the decode head's logits
  resized to the input, then argmax).

Both start with what the config's ``data_preprocessor`` does to such a batch
(:class:`Normalize`: the channel flip and the mean/std normalisation).
"""
import copy
from typing import Callable, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .rewrites import NonMaxSuppression, with_fixed_size_pooling

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


def classes_apart(boxes: Tensor, labels: Tensor) -> Tensor:
    """``boxes`` ``[M, 4]`` (x1, y1, x2, y2) moved by ``labels`` ``[M]``
    times (the largest coordinate + 1), so that boxes of different classes never
    overlap: one NMS over them is per-class NMS, as MMCV's ``batched_nms`` runs it
    (without scores expanded to ``[C, M]``)."""
    return boxes + (labels.to(boxes.dtype) * (boxes.max() + 1))[:, None]


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
        selected = NonMaxSuppression.apply(classes_apart(boxes, labels)[None], scores[None, None],
                                           cfg['max_per_img'], cfg['iou_threshold'],
                                           cfg['score_thr'])
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
