"""Checkpoint files: complete or not, the newest complete one of a work dir, their tensors."""
import glob
import os
import re
import warnings
import zipfile
from typing import Dict, Optional

import torch

from .safe_loading import allow_mmengine_checkpoints


class CheckpointError(ValueError):
    """A checkpoint file that is missing, incomplete or not a checkpoint."""


def is_local(path: str) -> bool:
    """Whether ``path`` names a local file rather than a URL or a storage backend's
    path (``https://``, ``s3://``, ``open-mmlab://`` ...: MMEngine's loaders)."""
    return '://' not in str(path)


def check_checkpoint(path: str) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a complete PyTorch checkpoint.

    Reads only the zip archive's directory (what ``torch.save`` writes since
    torch 1.6), not the tensors: fast on files of any size. A URL or a storage
    backend's path is left to MMEngine's loaders (:func:`read_state_dict` reads it
    through them).
    """
    if not is_local(path):
        return
    if not os.path.isfile(path):
        raise CheckpointError(f'checkpoint not found: {path}')
    if os.path.getsize(path) == 0:
        raise CheckpointError(f'checkpoint {path} is empty')
    with open(path, 'rb') as f:
        head = f.read(4)
    if head != b'PK\x03\x04':
        raise CheckpointError(f'{path} is not a PyTorch checkpoint (no zip archive from '
                              'torch.save)')
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise CheckpointError(f'checkpoint {path} is truncated: its archive ends before '
                              'its directory (an interrupted write?)') from None
    if not any(name.endswith('/data.pkl') or name == 'data.pkl' for name in names):
        raise CheckpointError(f'{path} is a zip archive but not a PyTorch checkpoint')


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete checkpoint of ``work_dir``, or None.

    ``last_checkpoint`` is read first; a path in it that no longer exists (a
    copied or moved work dir) is looked up by name in ``work_dir``. Incomplete
    files are skipped with a warning, falling back to the previous complete one.
    """
    candidates = []
    pointer = os.path.join(work_dir, 'last_checkpoint')
    if os.path.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named:
            candidates.append(named if os.path.isfile(named) else
                              os.path.join(work_dir, os.path.basename(named)))
    candidates += sorted(glob.glob(os.path.join(work_dir, '*.pth')), key=os.path.getmtime,
                         reverse=True)
    for path in dict.fromkeys(candidates):
        try:
            check_checkpoint(path)
            return path
        except CheckpointError as e:
            warnings.warn(f'skipping {e}')
    return None


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint (its ``state_dict`` entry, or the whole file if it
    has none) as MMEngine's loader would see them: ``module.`` prefixes stripped.

    A local file is memory-mapped (weights-only loading), so reading keys and
    shapes costs little whatever its size; a URL is downloaded once into torch's
    hub cache (where MMEngine's loader then finds it), a backend path read through
    MMEngine's loaders. Raises :class:`CheckpointError` if the file
    is not a complete checkpoint or holds no tensors.
    """
    check_checkpoint(path)
    allow_mmengine_checkpoints()
    try:
        if is_local(path):
            checkpoint = torch.load(path, map_location='cpu', mmap=True, weights_only=True)
        else:  # downloaded once into torch's hub cache, where MMEngine's loader finds it
            from mmengine.runner.checkpoint import CheckpointLoader
            checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except Exception as error:  # noqa: BLE001 - any unpickling failure means the same here
        first = str(error).strip().splitlines()[0] if str(error).strip() else ''
        if not is_local(path):
            raise CheckpointError(f'checkpoint {path} cannot be loaded ({type(error).__name__}: '
                                  f'{first})') from None
        raise CheckpointError(f'{path} cannot be read with weights-only loading '
                              f'({type(error).__name__}: {first})') from None
    state_dict = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise CheckpointError(f'{path} holds a {type(checkpoint).__name__}, not a state dict')
    tensors = {re.sub(r'^module\.', '', k): v for k, v in state_dict.items() if torch.is_tensor(v)}
    if not tensors:
        raise CheckpointError(f'{path} holds no weights (an empty state dict)')
    return tensors
