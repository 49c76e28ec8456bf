"""One way to build a detector or segmentor from a config, whatever its library."""
import logging
import sys
from typing import Optional, Union

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ..engine import CheckpointError, check_checkpoint
from ..engine import fuse_conv_bn as fuse  # the argument of init_model shadows the name
from ..engine import optimize_for_cpu
from ..engine.checkpoint import WeightsMismatchError, check_weights_fit
from ..engine.cli import PARTIAL_LOAD_HINT, ConfigError, exit_config_error

SCOPES = ('mmdet', 'mmseg')


def scope_of(cfg: Config) -> str:
    """The library that runs ``cfg``: its ``default_scope``, MMDetection if unset."""
    scope = cfg.get('default_scope', 'mmdet')
    if scope not in SCOPES:
        raise ValueError(f'default_scope {scope!r} is neither of {SCOPES}')
    return scope


def default_device() -> str:
    """``'cuda'`` where a GPU is available, else ``'cpu'``."""
    import torch
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: Optional[str] = None, fuse_conv_bn: bool = False,
               partial_load: bool = False, malloc: Optional[str] = 'reuse',
               cpu_inference: bool = True):
    """A detector (``mmdet.apis.init_detector``) or segmentor (``mmseg.apis.init_model``)
    in eval mode on ``device`` (default: CUDA where available, else the CPU), with
    ``checkpoint`` loaded when given and, with ``fuse_conv_bn``, BatchNorm folded
    into the convolutions (inference only). On the CPU the model runs its
    convolutions in row bands and the process takes the glibc ``malloc`` mode
    (:func:`~mmfilter.engine.optimize_for_cpu`; ``malloc=None`` leaves the
    allocator alone); on any other device, or with ``cpu_inference=False`` (a
    model to export), it runs as built.

    Before anything is loaded, raises :class:`~mmfilter.engine.CheckpointError` if
    the checkpoint is not a complete one, and
    :class:`~mmfilter.engine.checkpoint.WeightsMismatchError` if its tensors do not
    fit the config's model (keys missing, unexpected or of another shape; keys the
    model declares may be absent are logged once), unless ``partial_load``;
    :class:`~mmfilter.engine.cli.ConfigError` if the libraries refuse the config's
    model.
    """
    if checkpoint is not None:
        check_checkpoint(checkpoint)
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    scope = scope_of(cfg)
    if checkpoint is not None:
        from mmengine.logging import print_log

        from ..engine.preflight import build_model
        notes = check_weights_fit(build_model(cfg), checkpoint, partial=partial_load,
                                  model_name=f'the model of {cfg.filename}')
        for note in notes:
            print_log(note, logger='current', level=logging.WARNING)
    init_default_scope(scope)
    device = device or default_device()
    if scope == 'mmseg':
        from mmseg.apis import init_model as init_segmentor
        model = init_segmentor(cfg, checkpoint, device=device)
    else:
        from mmdet.apis import init_detector
        model = init_detector(cfg, checkpoint, device=device)
    if fuse_conv_bn:
        fuse(model)
    if cpu_inference:
        optimize_for_cpu(model, malloc)
    return model


def init_model_or_exit(config: str, checkpoint: str, partial_load: Optional[bool] = None,
                       **kwargs):
    """:func:`init_model` for a tool: a checkpoint that is not a complete one, or
    whose weights do not fit the config's model, ends the tool with ``error: ...``
    naming the file (status 1); a config whose model the libraries refuse ends it
    with status 2. ``partial_load``: the tool's ``--partial-load`` (None: the tool
    has no such flag; the load is strict)."""
    try:
        return init_model(config, checkpoint, partial_load=bool(partial_load), **kwargs)
    except ConfigError as e:
        exit_config_error(e)
    except WeightsMismatchError as e:
        sys.exit(f'error: {e}' + ('' if partial_load is None else f'; {PARTIAL_LOAD_HINT}'))
    except CheckpointError as e:
        sys.exit(f'error: {e}')


def build_visualizer(model, opacity: Optional[float] = None):
    """The config's visualizer, knowing the model's classes and palette."""
    if scope_of(model.cfg) == 'mmseg':
        from mmseg.registry import VISUALIZERS
    else:
        from mmdet.registry import VISUALIZERS
    visualizer = VISUALIZERS.build(model.cfg.visualizer)
    visualizer.dataset_meta = model.dataset_meta
    if opacity is not None and hasattr(visualizer, 'alpha'):
        visualizer.alpha = opacity
    return visualizer


def predict(model, image_rgb: np.ndarray):
    """The model's prediction for one RGB ``uint8 [H, W, 3]`` image (a data sample)."""
    bgr = np.ascontiguousarray(image_rgb[..., ::-1])  # the pipelines expect BGR arrays
    if scope_of(model.cfg) == 'mmseg':
        from mmseg.apis import inference_model
        return inference_model(model, bgr)
    from mmdet.apis import inference_detector
    return inference_detector(model, bgr)


def require_token_selection(model) -> None:
    """Raise ValueError unless the model's backbone has blocks that select tokens."""
    backbone = model.backbone
    blocks = backbone.selecting_blocks() if hasattr(backbone, 'selecting_blocks') else ()
    if next(iter(blocks), None) is None:
        raise ValueError(f'{type(backbone).__name__} has no token-selecting blocks; use a '
                         'FilterViT or DropoutViT config')


MAX_DRAW_SIDE = 2048


def bounded_for_drawing(image_rgb: np.ndarray, sample, max_side: int = MAX_DRAW_SIDE):
    """``(image, sample)`` scaled down so that the longer side is at most
    ``max_side``: drawing a 6000×4000 photo at full size costs gigabytes and
    writes files nobody opens at that size. Predictions are made before, at the
    model's own resolution; only the drawing is smaller."""
    height, width = image_rgb.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image_rgb, sample
    import cv2
    import torch.nn.functional as F
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image_rgb, size, interpolation=cv2.INTER_AREA)
    sample = sample.clone()
    if 'pred_instances' in sample:
        sample.pred_instances.bboxes = sample.pred_instances.bboxes * scale
        if 'masks' in sample.pred_instances:
            masks = sample.pred_instances.masks[None].float()
            sample.pred_instances.masks = F.interpolate(masks, size[::-1])[0] > 0.5
    if 'pred_sem_seg' in sample:
        labels = sample.pred_sem_seg.data[None].float()
        sample.pred_sem_seg.data = F.interpolate(labels, size[::-1], mode='nearest')[0].long()
        if 'seg_logits' in sample:
            del sample.seg_logits
    sample.set_metainfo(dict(ori_shape=small.shape[:2], img_shape=small.shape[:2]))
    return small, sample
