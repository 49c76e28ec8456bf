"""Checkpoints: loading mmengine's on torch ≥ 2.6, checking files before a run, atomic writes.

Loading mmengine checkpoints on torch ≥ 2.6, whose ``torch.load`` defaults to ``weights_only=True``.

mmengine 0.10.7 checkpoints carry the message hub (``HistoryBuffer`` objects,
numpy arrays and scalars) in ``meta``, which the weights-only unpickler refuses,
so ``--resume`` fails. Rather than switching the safe loader off, we allow the
few globals those checkpoints are known to hold: ``HistoryBuffer``, numpy arrays,
dtypes and scalars (``_codecs.encode`` rebuilds their bytes) and ``getattr``,
with which a ``HistoryBuffer`` refers to its own statistics methods. The
weights-only unpickler still refuses to call anything not on that list.
"""
import codecs
import glob
import importlib
import os
import tempfile
import warnings
import zipfile
from typing import Optional

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend


def _numpy_globals() -> list:
    major = int(np.__version__.split('.')[0])
    multiarray = importlib.import_module('numpy._core.multiarray' if major >= 2 else
                                         'numpy.core.multiarray')
    dtype_classes = [type(np.dtype(t)) for t in
                     ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
                      'uint8', 'bool')]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def allow_mmengine_checkpoints() -> None:
    """Register the types of mmengine checkpoints as safe for weights-only loading."""
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # torch < 2.4 loads everything anyway
    from mmengine.logging import HistoryBuffer
    torch.serialization.add_safe_globals([HistoryBuffer, getattr, codecs.encode, *_numpy_globals()])


class CheckpointError(ValueError):
    """A checkpoint file that is missing, incomplete or not a checkpoint."""


def check_checkpoint(path: str) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a complete PyTorch checkpoint.

    Reads only the zip archive's directory (what ``torch.save`` writes since
    torch 1.6), not the tensors: fast on files of any size.
    """
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


class AtomicLocalBackend(LocalBackend):
    """Local files written to a temporary name and renamed into place, so an
    interrupted write never leaves a partial file under the checkpoint's name."""

    def put(self, obj: bytes, filepath) -> None:
        filepath = str(filepath)
        os.makedirs(os.path.dirname(filepath) or '.', exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(filepath) or '.', suffix='.part')
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


def write_checkpoints_atomically() -> None:
    """Make mmengine's local file backend (checkpoints among its writes) atomic."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
