"""Run a detector or segmentor on one image and collect what its filter blocks chose.

Needs MMDetection or MMSegmentation (whichever the model comes from).
"""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate

from .selection_maps import InputGeometry, heatmap_overlay, mark_tokens, topk_agreement

NOT_FOR_INFERENCE = ('LoadAnnotations', 'ValidateSegMap')


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


def _inference_pipeline(cfg) -> Compose:
    steps = [dict(s) for s in cfg.test_dataloader.dataset.pipeline
             if not any(name in s['type'] for name in NOT_FOR_INFERENCE)]
    steps[0]['type'] = 'LoadImageFromNDArray'
    return Compose(steps)


def _prepare(model, image_rgb: np.ndarray) -> dict:
    data = _inference_pipeline(model.cfg)(dict(img=np.ascontiguousarray(image_rgb[..., ::-1]), img_id=0))
    return model.data_preprocessor(pseudo_collate([data]), False)


def selections_of(backbone, batch_index: int = 0) -> List[dict]:
    """The recorded selections of one image as numpy arrays."""
    out = []
    for record in backbone.last_selections():
        mask = record['mask']
        out.append(dict(stage=record['stage'], size=record['size'],
                        mask=None if mask is None else mask[batch_index, 0].float().cpu().numpy(),
                        indices=record['indices'][batch_index].cpu().numpy()))
    return out


def _class_score(model, inputs: torch.Tensor, data_samples, class_id: int) -> torch.Tensor:
    """A scalar that grows with the evidence for ``class_id``."""
    if hasattr(model, 'encode_decode'):  # segmentor: mean logit where the class is predicted
        logits = model.encode_decode(inputs, [s.metainfo for s in data_samples])[0]
        where = logits.argmax(0) == class_id
        chosen = logits[class_id][where] if where.any() else logits[class_id]
        return chosen.mean()
    feats = model.extract_feat(inputs)
    if hasattr(model, 'bbox_head'):  # single-stage detector: top anchor logits of the class
        scores = []
        for level in model.bbox_head(feats)[0]:
            num_classes = model.bbox_head.cls_out_channels
            per_class = level[0].view(-1, num_classes, *level.shape[-2:])[:, class_id]
            scores.append(per_class.flatten())
        all_scores = torch.cat(scores)
        return all_scores.topk(min(20, all_scores.numel())).values.sum()
    objectness = torch.cat([o.flatten() for o in model.rpn_head(feats)[0]])  # two-stage: RPN
    return objectness.topk(min(20, objectness.numel())).values.sum()


def _predicted_class(prediction) -> int:
    if hasattr(prediction, 'pred_sem_seg'):
        labels = prediction.pred_sem_seg.data.flatten()
        return int(labels.bincount().argmax())
    instances = prediction.pred_instances
    return int(instances.labels[instances.scores.argmax()]) if len(instances) else 0


def grad_cam(model, data: dict, stage: int, class_id: int) -> np.ndarray:
    """Grad-CAM at the output of backbone stage ``stage``: ``[h, w]`` in [0, 1]."""
    captured = {}

    def keep(_, __, output):
        output.retain_grad()
        captured['act'] = output

    handle = model.backbone.stages[stage].register_forward_hook(keep)
    try:
        with torch.enable_grad():
            inputs = data['inputs'].detach().requires_grad_()
            _class_score(model, inputs, data['data_samples'], class_id).backward()
    finally:
        handle.remove()
    act, grad = captured['act'], captured['act'].grad
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(1))[0].detach()
    cam = cam / cam.max().clamp_min(1e-12)
    return cam.cpu().numpy()


def explain(model, image_rgb: np.ndarray, gradcam_stage: Optional[int] = None,
            class_id: Optional[int] = None) -> Explanation:
    """Predict on ``image_rgb`` recording every filter block's mask and tokens; optionally
    add Grad-CAM at a backbone stage for ``class_id`` (default: the top predicted class)."""
    model.eval()
    data = _prepare(model, image_rgb)
    with torch.no_grad(), model.backbone.record_selections():
        prediction = model.predict(data['inputs'], data['data_samples'])[0]
    selections = selections_of(model.backbone)
    geometry = InputGeometry.from_metainfo(prediction.metainfo, tuple(data['inputs'].shape[-2:]))
    result = Explanation(image_rgb, geometry, selections, prediction)
    if gradcam_stage is not None:
        cls = _predicted_class(prediction) if class_id is None else class_id
        cam = grad_cam(model, data, gradcam_stage, cls)
        result.gradcam = GradCam(gradcam_stage, cls, cam)
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
