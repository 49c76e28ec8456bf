"""Run a detector or segmentor on one image, collect what its filter blocks chose, and
explain one prediction (filter masks, Grad-CAM, attention rollout, LRP).

Needs MMDetection or MMSegmentation (whichever the model comes from).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate

from ..analysis import record_selections
from .attribution import ScoreFn, lrp, record_attention, rollout_maps
from .selection_maps import InputGeometry, heatmap_overlay, mark_tokens, topk_agreement

NOT_FOR_INFERENCE = ('LoadAnnotations', 'ValidateSegMap')
#: Attribution methods of :func:`attribution_maps`.
METHODS = ('mask', 'gradcam', 'rollout', 'lrp')


@dataclass
class GradCam:
    stage: int
    class_id: int
    cam: np.ndarray  # [h, w] in [0, 1], at the stage's resolution
    agreement: Optional[float] = None  # fraction of the stage's K tokens in the top-K of the CAM
    chance: Optional[float] = None  # K / (h * w): the agreement of a random choice


@dataclass
class Explanation:
    image: np.ndarray  # RGB, original size
    geometry: InputGeometry
    selections: List[dict]  # per filter block: stage, mask [h, w] or None, indices [K], size
    prediction: object  # DetDataSample or SegDataSample
    gradcam: Optional[GradCam] = None
    class_id: Optional[int] = None  # the explained class
    maps: Dict[str, np.ndarray] = field(default_factory=dict)  # method -> [h, w] (attribution_maps)


def _inference_pipeline(cfg) -> Compose:
    steps = [dict(s) for s in cfg.test_dataloader.dataset.pipeline
             if not any(name in s['type'] for name in NOT_FOR_INFERENCE)]
    steps[0]['type'] = 'LoadImageFromNDArray'
    return Compose(steps)


def prepare_inputs(model, image_rgb: np.ndarray) -> dict:
    """One RGB image through the config's test pipeline and the model's data preprocessor:
    ``inputs`` ``[1, 3, H, W]`` (normalised, padded) and ``data_samples``."""
    data = _inference_pipeline(model.cfg)(dict(img=np.ascontiguousarray(image_rgb[..., ::-1]), img_id=0))
    return model.data_preprocessor(pseudo_collate([data]), False)


def selections_of(records: List[dict], batch_index: int = 0) -> List[dict]:
    """The selections of one image as numpy arrays, from the ``records`` of
    :func:`mmfilter.analysis.record_selections`."""
    out = []
    for record in records:
        mask = record['mask']
        out.append(dict(stage=record['stage'], size=record['size'],
                        mask=None if mask is None else mask[batch_index, 0].float().cpu().numpy(),
                        indices=record['indices'][batch_index].cpu().numpy()))
    return out


@dataclass
class Target:
    """One prediction to explain: ``score`` maps normalised inputs ``[B, 3, H, W]`` to
    the prediction's score ``[B]`` (its evidence, re-measured on changed inputs at the
    positions of the original prediction), ``region`` ``[H, W]`` marks where it lies."""
    score: ScoreFn
    class_id: int
    region: torch.Tensor


def _top_class(prediction, candidates: Optional[Sequence[int]] = None) -> int:
    """The top-scoring box's class, or the segmentation class covering most pixels
    (among ``candidates`` when given and any of them is predicted)."""
    if hasattr(prediction, 'pred_sem_seg'):
        counts = prediction.pred_sem_seg.data.flatten().bincount()
        if candidates:
            allowed = torch.zeros_like(counts, dtype=torch.bool)
            allowed[[c for c in candidates if c < len(counts)]] = True
            if (counts * allowed).any():
                counts = counts * allowed
        return int(counts.argmax())
    instances = prediction.pred_instances
    return int(instances.labels[instances.scores.argmax()]) if len(instances) else 0


def _box_region(prediction, class_id: int, input_hw: Tuple[int, int],
                device: torch.device) -> torch.Tensor:
    """``[H, W]`` ones inside the best box of ``class_id`` (input coordinates), on
    ``device`` (the model's: every explanation runs there)."""
    region = torch.zeros(input_hw, device=device)
    instances = prediction.pred_instances
    boxes = instances.bboxes[instances.labels == class_id]
    if len(boxes):
        scale = prediction.metainfo.get('scale_factor', (1., 1.))
        x1, y1, x2, y2 = (boxes[0] * boxes.new_tensor([scale[0], scale[1]] * 2)).tolist()
        region[max(int(y1), 0):max(int(y2) + 1, 1), max(int(x1), 0):max(int(x2) + 1, 1)] = 1
    return region if region.any() else torch.ones(input_hw, device=device)


def prediction_target(model, inputs: torch.Tensor, data_samples, prediction,
                      class_id: Optional[int] = None,
                      candidates: Optional[Sequence[int]] = None, top: int = 20) -> Target:
    """The score of one prediction of ``model`` on ``inputs`` ``[1, 3, H, W]``.

    Segmentor: the mean logit of ``class_id`` (default: the class covering most
    pixels) over the pixels predicted as it. Single-stage detector: the sum of
    the ``top`` highest anchor logits of the class (default: the top box's). Two-stage
    detector: the ``top`` highest RPN objectness logits. The pixels and anchors
    are fixed on ``inputs``, so changed inputs are scored at the same places.
    """
    cls = _top_class(prediction, candidates) if class_id is None else class_id
    metas = [s.metainfo for s in data_samples]
    input_hw = tuple(inputs.shape[2:])
    with torch.no_grad():
        if hasattr(model, 'encode_decode'):
            region = (model.encode_decode(inputs, metas)[0].argmax(0) == cls).float()
            if not region.any():
                region = torch.ones(input_hw, device=inputs.device)

            def score(x: torch.Tensor) -> torch.Tensor:
                logits = model.encode_decode(x, metas * len(x))[:, cls]
                return (logits * region).flatten(1).sum(1) / region.sum()
            return Target(score, cls, region)

        def anchor_logits(x: torch.Tensor) -> torch.Tensor:  # [B, anchors]
            feats = model.extract_feat(x)
            if hasattr(model, 'bbox_head'):
                channels = model.bbox_head.cls_out_channels
                levels = [lv.view(len(x), -1, channels, *lv.shape[-2:])[:, :, cls]
                          for lv in model.bbox_head(feats)[0]]
            else:  # two-stage: the RPN's objectness
                levels = model.rpn_head(feats)[0]
            return torch.cat([lv.flatten(1) for lv in levels], dim=1)

        logits = anchor_logits(inputs)
        chosen = logits.topk(min(top, logits.shape[1]), dim=1).indices[0]

    def score(x: torch.Tensor) -> torch.Tensor:
        return anchor_logits(x)[:, chosen].sum(1)
    return Target(score, cls, _box_region(prediction, cls, input_hw, inputs.device))


def grad_cam(model, inputs: torch.Tensor, stage: int, score: ScoreFn) -> torch.Tensor:
    """Grad-CAM of ``score`` at the output of backbone stage ``stage``: ``[h, w]`` in [0, 1]."""
    captured = {}

    def keep(_, __, output):
        output.retain_grad()
        captured['act'] = output

    handle = model.backbone.stages[stage].register_forward_hook(keep)
    try:
        with torch.enable_grad():
            score(inputs.detach().requires_grad_()).sum().backward()
    finally:
        handle.remove()
    act, grad = captured['act'], captured['act'].grad
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(1))[0].detach()
    return cam / cam.max().clamp_min(1e-12)


def default_gradcam_stage(backbone) -> int:
    """The deepest stage with a token-selecting block (else the last stage)."""
    stages = [i for i, _ in backbone.selecting_blocks()] if hasattr(backbone, 'selecting_blocks') else []
    return max(stages) if stages else len(backbone.stages) - 1


def attribution_maps(model, inputs: torch.Tensor, target: Target, methods: Sequence[str],
                     gradcam_stage: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Maps ``[h, w]`` over the padded input of image 0 of ``inputs`` (each at its
    method's resolution, larger = more relevant): ``mask`` (the filter masks,
    averaged over blocks at the first block's grid), ``gradcam``, ``rollout``
    (chained through the filter blocks from ``target.region``), ``lrp`` (pixels).
    A method the model cannot give is left out: ``mask`` without a scorer
    (DropoutViT), ``rollout`` without filter-attention blocks."""
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f'unknown attribution methods {sorted(unknown)}; choose from {METHODS}')
    maps = {}
    selecting = hasattr(model.backbone, 'selecting_blocks') and any(model.backbone.selecting_blocks())
    if selecting and ('mask' in methods or 'rollout' in methods):
        with torch.no_grad(), record_selections(model.backbone) as selections, \
                record_attention(model.backbone) as records:
            model.backbone(inputs[:1])
        masks = [s['mask'] for s in selections_of(selections) if s['mask'] is not None]
        if 'mask' in methods and masks:
            grid = records[0]['size']
            maps['mask'] = torch.stack([
                F.interpolate(torch.as_tensor(m)[None, None], size=grid, mode='bilinear',
                              align_corners=False)[0, 0] for m in masks]).mean(0)
        if 'rollout' in methods and records:
            maps['rollout'] = rollout_maps(records, target.region[None])[1][0]
    if 'gradcam' in methods:
        stage = default_gradcam_stage(model.backbone) if gradcam_stage is None else gradcam_stage
        maps['gradcam'] = grad_cam(model, inputs[:1], stage, target.score)
    if 'lrp' in methods:
        maps['lrp'] = lrp(model, target.score, inputs[:1])[0]
    return maps


def for_display(saliency: np.ndarray, cell: int = 1) -> np.ndarray:
    """A map scaled to [0, 1] for a heat map (negative relevance shown as 0), averaged
    over ``cell x cell`` blocks first (pixel-level LRP is speckled)."""
    if cell > 1:
        saliency = F.avg_pool2d(torch.as_tensor(saliency)[None, None], cell, ceil_mode=True)[0, 0].numpy()
    positive = np.clip(saliency, 0, None)
    return positive / max(float(positive.max()), 1e-12)


def explain(model, image_rgb: np.ndarray, gradcam_stage: Optional[int] = None,
            class_id: Optional[int] = None, methods: Sequence[str] = ()) -> Explanation:
    """Predict on ``image_rgb`` recording every filter block's mask and tokens; optionally
    add Grad-CAM at a backbone stage for ``class_id`` (default: the top predicted class),
    and the attribution ``methods`` (:data:`METHODS`) of that prediction."""
    model.eval()
    data = prepare_inputs(model, image_rgb)
    inputs, samples = data['inputs'], data['data_samples']
    with torch.no_grad(), record_selections(model.backbone) as records:
        prediction = model.predict(inputs, samples)[0]
    selections = selections_of(records)
    geometry = InputGeometry.from_metainfo(prediction.metainfo, tuple(inputs.shape[-2:]))
    result = Explanation(image_rgb, geometry, selections, prediction)
    if gradcam_stage is None and not methods:
        return result
    target = prediction_target(model, inputs, samples, prediction, class_id)
    result.class_id = target.class_id
    result.maps = {k: v.cpu().numpy() for k, v in
                   attribution_maps(model, inputs, target, methods, gradcam_stage).items()}
    if gradcam_stage is not None:
        cam = grad_cam(model, inputs, gradcam_stage, target.score).cpu().numpy()
        result.gradcam = GradCam(gradcam_stage, target.class_id, cam)
        for sel in selections:
            if sel['stage'] == gradcam_stage and tuple(sel['size']) == cam.shape:
                result.gradcam.agreement = topk_agreement(sel['indices'], cam)
                result.gradcam.chance = len(sel['indices']) / cam.size
    return result


def selection_panels(image: np.ndarray, geometry: InputGeometry, selections: List[dict]) -> list:
    """``(caption, picture)`` pairs: per filter block its mask heat map and its tokens."""
    panels = []
    for sel in selections:
        h, w = sel['size']
        k = len(sel['indices'])
        if sel['mask'] is not None:
            heat = geometry.map_to_image(sel['mask'])
            panels.append((f"stage {sel['stage']} mask ({h}x{w})", heatmap_overlay(image, heat)))
        points = geometry.token_pixels(sel['indices'], (h, w))
        kind = 'top-K' if sel['mask'] is not None else 'random/uniform'
        panels.append((f"stage {sel['stage']} {kind}: K={k} of {h * w}", mark_tokens(image, points)))
    return panels
