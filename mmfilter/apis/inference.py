"""One way to build a detector or segmentor from a config, whatever its library.

The functions raise (:class:`~mmfilter.engine.config.ConfigError`,
:class:`~mmfilter.engine.CheckpointError`, ``ValueError``); the tools turn those
into one ``error:`` line and an exit status (:mod:`mmfilter.engine.cli`).
"""
import logging
import os
from typing import Optional, Union

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ..engine import fuse_conv_bn as fuse  # the argument of init_model shadows the name
from ..engine import optimize_for_cpu
from ..engine.checkpoint import check_weights_fit, init_weights_quietly
from ..engine.config import ConfigError, read_config
from ..engine.image_inputs import read_rgb

SCOPES = ('mmdet', 'mmseg')


def scope_of(cfg: Config) -> str:
    """The library that runs ``cfg``: its ``default_scope``, MMDetection if unset."""
    scope = cfg.get('default_scope', 'mmdet')
    if scope not in SCOPES:
        raise ConfigError(f'{cfg.filename}: default_scope {scope!r} is neither of {SCOPES}')
    return scope


def default_device() -> str:
    """``'cuda'`` where a GPU is available, else ``'cpu'``."""
    import torch
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: Optional[str] = None, fuse_conv_bn: bool = False,
               partial_load: bool = False, cpu_optimize: bool = False,
               malloc: Optional[str] = None):
    """A detector or segmentor in eval mode on ``device`` (default: CUDA where
    available, else the CPU), built once, as ``mmdet.apis.init_detector`` and
    ``mmseg.apis.init_model`` build it, with ``checkpoint`` loaded when given and,
    with ``fuse_conv_bn``, BatchNorm folded into the convolutions (inference only).

    Its ``dataset_meta`` (classes and palette) is the checkpoint's, else the
    config's test dataset's: a model without a checkpoint (random weights) names
    the config's classes, not COCO's. With ``cpu_optimize`` and on the CPU the
    model runs its convolutions in row bands and, with ``malloc``, the process
    takes that glibc malloc mode (:func:`~mmfilter.engine.optimize_for_cpu`);
    by default the model runs as built and the allocator is left alone.

    Before anything is loaded, raises :class:`~mmfilter.engine.config.ConfigError`
    for a config that does not parse or whose model the libraries refuse;
    :class:`~mmfilter.engine.CheckpointError` if the checkpoint is not a complete
    one, and :class:`~mmfilter.engine.checkpoint.WeightsMismatchError` if its
    tensors do not fit the model (keys missing, unexpected or of another shape;
    keys the model declares may be absent are logged once), unless ``partial_load``.
    """
    from mmengine.logging import print_log
    from mmengine.model import revert_sync_batchnorm
    from mmengine.runner import load_checkpoint

    from ..engine.preflight import build_model, dataset_meta
    cfg = config if isinstance(config, Config) else read_config(config)
    init_default_scope(scope_of(cfg))
    if scope_of(cfg) == 'mmseg':
        cfg.model.train_cfg = None  # as mmseg.apis.init_model
    model = revert_sync_batchnorm(build_model(cfg))
    meta = {}
    if checkpoint is None:
        init_weights_quietly(model)  # the weights a training run starts from
    else:
        for note in check_weights_fit(model, checkpoint, partial=partial_load,
                                      model_name=f'the model of {cfg.filename}'):
            print_log(note, logger='current', level=logging.WARNING)
        meta = load_checkpoint(model, checkpoint, map_location='cpu').get('meta', {})
    model.dataset_meta = {k.lower(): v for k, v in meta.get('dataset_meta', {}).items()} \
        or dataset_meta(cfg)
    model.cfg = cfg
    model.to(device or default_device()).eval()
    if fuse_conv_bn:
        fuse(model)
    if cpu_optimize:
        optimize_for_cpu(model, malloc)
    return model


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


def as_rgb_image(image: Union[np.ndarray, str, os.PathLike]) -> np.ndarray:
    """``image`` as an RGB ``uint8 [H, W, 3]`` array: a path is read (with its EXIF
    orientation); an array must be one already. Raises ``ValueError`` saying what
    was given otherwise (an RGBA, grey or float array would give other predictions
    without a word)."""
    if isinstance(image, (str, os.PathLike)):
        return read_rgb(os.fspath(image))
    if not isinstance(image, np.ndarray):
        raise ValueError(f'expected an RGB uint8 [H, W, 3] array or an image path, got a '
                         f'{type(image).__name__}')
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an RGB uint8 [H, W, 3] array or an image path, got a '
                         f'{image.dtype} array of shape {list(image.shape)}')
    return image


def predict(model, image: Union[np.ndarray, str, os.PathLike]):
    """The model's prediction (a data sample) for one image: an RGB ``uint8
    [H, W, 3]`` array or an image file's path (as ``mmdet.apis.inference_detector``
    takes); anything else raises ``ValueError`` (see :func:`as_rgb_image`)."""
    bgr = np.ascontiguousarray(as_rgb_image(image)[..., ::-1])  # the pipelines expect BGR
    if scope_of(model.cfg) == 'mmseg':
        from mmseg.apis import inference_model
        return inference_model(model, bgr)
    from mmdet.apis import inference_detector
    return inference_detector(model, bgr)


def require_token_selection(model) -> None:
    """Raise :class:`~mmfilter.engine.config.ConfigError` unless the model's backbone
    has blocks that select tokens."""
    backbone = model.backbone
    blocks = backbone.selecting_blocks() if hasattr(backbone, 'selecting_blocks') else ()
    if next(iter(blocks), None) is None:
        raise ConfigError(f'{type(backbone).__name__} has no token-selecting blocks; use a '
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
