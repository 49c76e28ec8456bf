"""What the command-line tools share."""
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import cv2
import mmcv
import numpy as np
from mmengine.config import Config


def load_config(path: str, cfg_options: Optional[dict] = None, launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and settle the launcher and work dir
    (``--work-dir``, else the config's, else ``./work_dirs/<config name>``).

    ``data_root=DIR`` among the options moves every path under the config's
    ``data_root`` (datasets and evaluators) to ``DIR``: the top-level variable has
    already been substituted into them when the config was read.
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    cfg_options = dict(cfg_options or {})
    new_root = cfg_options.pop('data_root', None)
    if new_root is not None:
        old_root = cfg.get('data_root')
        if not old_root:
            raise ValueError(f'{path} has no data_root to replace')
        cfg.data_root = new_root
        for key in [k for k in cfg.keys() if k.endswith(('_dataloader', '_evaluator'))]:
            cfg[key] = _rebase(cfg[key], old_root, new_root)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir or cfg.get('work_dir') or \
        osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def init_model_or_exit(config: str, checkpoint: str, **kwargs):
    """:func:`mmfilter.apis.init_model` for a tool: a checkpoint that is not a
    complete one ends the tool with ``error: ...`` naming the file."""
    from ..apis import init_model
    from .checkpoint import CheckpointError
    try:
        return init_model(config, checkpoint, **kwargs)
    except CheckpointError as e:
        sys.exit(f'error: {e}')


def run_or_exit(cfg: Config, method: str):
    """``Runner.<method>()`` (``'train'`` or ``'test'``) for ``cfg`` (its
    ``runner_type`` if it names one), with the process group set up for this
    machine and torn down after; a launcher the machine cannot run ends the tool
    with ``error: ...``."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from .distributed import setup_distributed, teardown_distributed
    try:
        setup_distributed(cfg)
    except ValueError as e:
        sys.exit(f'error: {e}')
    try:
        runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
        return getattr(runner, method)()
    finally:
        teardown_distributed()


class ImageReadError(ValueError):
    """An input image that is missing or does not decode."""


def read_rgb(path: str) -> np.ndarray:
    """An image file as RGB ``uint8 [H, W, 3]``, turned by its EXIF orientation;
    raises :class:`ImageReadError` naming the file if it cannot be read."""
    if not osp.isfile(path):
        raise ImageReadError(f'image not found: {path}')
    if osp.getsize(path) == 0:
        raise ImageReadError(f'cannot read image {path}: the file is empty')
    try:
        image = mmcv.imread(path, flag='color')  # OpenCV applies the EXIF orientation
    except cv2.error:
        image = None
    if image is None:  # the bytes do not decode
        raise ImageReadError(f'cannot read image {path}: not a decodable image file')
    return mmcv.bgr2rgb(image)


def output_paths(inputs: Sequence[str], out_dir: str, suffix: str = '.png') -> Dict[str, str]:
    """One output file per input, mirroring the inputs' paths below their common
    folder, so ``a/x.png`` and ``b/x.png`` never write the same file."""
    folders = [osp.dirname(osp.abspath(p)) for p in inputs]
    root = osp.commonpath(folders) if folders else ''
    return {p: osp.join(out_dir, osp.splitext(osp.relpath(osp.abspath(p), root))[0] + suffix)
            for p in inputs}


def _rebase(value, old_root: str, new_root: str):
    """``value`` with every string under ``old_root`` moved under ``new_root``."""
    if isinstance(value, str):
        old = old_root.rstrip('/')
        if value == old or value.startswith(old + '/'):
            return osp.join(new_root, value[len(old):].lstrip('/'))
        return value
    if isinstance(value, dict):
        return type(value)({k: _rebase(v, old_root, new_root) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return type(value)(_rebase(v, old_root, new_root) for v in value)
    return value
