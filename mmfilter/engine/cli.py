"""What the command-line tools share."""
import os.path as osp
import sys
from typing import Dict, List, NoReturn, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.config import Config


class ConfigError(ValueError):
    """A config that cannot be read, or whose values the libraries refuse."""


def exit_config_error(error: Exception) -> NoReturn:
    """End a tool with ``error: ...`` (one line) and exit status 2, as argparse
    does for a bad argument."""
    print('error: ' + ' '.join(str(error).split()), file=sys.stderr)
    sys.exit(2)


def load_config(path: str, cfg_options: Optional[dict] = None, launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and settle the launcher and work dir
    (``--work-dir``, else the config's, else ``./work_dirs/<config name>``).

    ``data_root=DIR`` among the options moves every path under the config's
    ``data_root`` (datasets and evaluators) to ``DIR``: the top-level variable has
    already been substituted into them when the config was read.

    Raises :class:`ConfigError` naming the file for a config that does not exist
    or options that do not merge into it.
    """
    if not osp.isfile(path):
        raise ConfigError(f'config not found: {path}')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    cfg_options = dict(cfg_options or {})
    new_root = cfg_options.pop('data_root', None)
    if new_root is not None:
        old_root = cfg.get('data_root')
        if not old_root:
            raise ConfigError(f'{path} has no data_root to replace')
        cfg.data_root = new_root
        for key in [k for k in cfg.keys() if k.endswith(('_dataloader', '_evaluator'))]:
            cfg[key] = _rebase(cfg[key], old_root, new_root)
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f'{path}: --cfg-options do not apply: {error_message(e)}') from None
    cfg.work_dir = work_dir or cfg.get('work_dir') or \
        osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def error_message(error: BaseException) -> str:
    """An exception's own message (a KeyError's without the quotes ``str`` adds)."""
    message = str(error.args[0]) if len(error.args) == 1 else str(error)
    return message or type(error).__name__


PARTIAL_LOAD_HELP = ('load a checkpoint that does not fit the model (missing, unexpected or '
                     'differently shaped tensors): only the tensors that fit are loaded. '
                     'Without it such a checkpoint stops the run with one line naming the '
                     'mismatch')
PARTIAL_LOAD_HINT = 'pass --partial-load to load only the tensors that fit'


def use_cpu_inference_settings(cfg: Config, malloc: str) -> bool:
    """Where MMEngine will run on the CPU (no CUDA or other accelerator): the glibc
    malloc ``malloc`` mode now, and row bands for validation and testing
    (``CPUInferenceHook``), the CPU optimisations of :mod:`mmfilter.engine.row_bands`.
    Elsewhere nothing. Returns whether they were applied."""
    import torch
    from mmengine.device import get_device

    from .allocator import configure_malloc
    if get_device() != 'cpu' or torch.cuda.is_available():
        return False
    configure_malloc(malloc)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='CPUInferenceHook',
                                                                 malloc=malloc)]
    return True


def setup_distributed_or_exit(cfg: Config) -> None:
    """:func:`~mmfilter.engine.distributed.setup_distributed`: the process group of a
    multi-process run started, once; a launcher the machine cannot run ends the
    tool with ``error: ...``."""
    from .distributed import setup_distributed
    try:
        setup_distributed(cfg)
    except ValueError as e:
        sys.exit(f'error: {e}')


def run_or_exit(cfg: Config, method: str):
    """``Runner.<method>()`` (``'train'`` or ``'test'``) for ``cfg`` (its
    ``runner_type`` if it names one), with the process group set up for this
    machine and torn down after; a launcher the machine cannot run ends the tool
    with ``error: ...``."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from .distributed import teardown_distributed
    setup_distributed_or_exit(cfg)
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


#: the image files a folder given to a tool stands for (MMDetection's image demo's list)
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


def expand_image_inputs(inputs: Sequence[str]) -> List[str]:
    """The inputs with every folder replaced by the image files directly in it
    (extensions of :data:`IMG_EXTENSIONS`, any case), sorted by name; raises
    :class:`ImageReadError` for a folder that holds none."""
    from mmengine.fileio import list_dir_or_file
    paths = []
    for path in inputs:
        if not osp.isdir(path):
            paths.append(path)
            continue
        names = sorted(name for name in list_dir_or_file(path, list_dir=False)
                       if name.lower().endswith(IMG_EXTENSIONS))
        if not names:
            raise ImageReadError(f'no images ({", ".join(IMG_EXTENSIONS)}) in folder {path}')
        paths += [osp.join(path, name) for name in names]
    return paths


def readable_images(paths: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """``(readable paths, {unreadable path: why})`` (each image is decoded once)."""
    readable, unreadable = [], {}
    for path in paths:
        try:
            read_rgb(path)
            readable.append(path)
        except ImageReadError as e:
            unreadable[path] = str(e)
    return readable, unreadable


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
