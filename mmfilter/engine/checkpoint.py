"""Checkpoints: loading mmengine's on torch ≥ 2.6, checking files and their fit to a
model before a run, atomic writes.

Loading mmengine checkpoints on torch ≥ 2.6, whose ``torch.load`` defaults to
``weights_only=True``: mmengine 0.10.7 checkpoints carry the message hub
(``HistoryBuffer`` objects, numpy arrays and scalars) in ``meta``, which the
weights-only unpickler refuses, so ``--resume`` fails. Rather than switching the
safe loader off, :func:`allow_mmengine_checkpoints` allows the few globals those
checkpoints are known to hold: ``HistoryBuffer``, numpy arrays, dtypes and
scalars (``_codecs.encode`` rebuilds their bytes) and ``getattr``, with which a
``HistoryBuffer`` refers to its own statistics methods. The weights-only
unpickler still refuses to call anything not on that list.

Fit to a model: MMEngine's loader (``load_checkpoint(strict=False)``, what
``load_from`` and ``init_detector`` use) only logs the keys that do not match and
carries on with a partly loaded model. :func:`check_weights_fit` compares keys and
shapes first and raises one :class:`CheckpointError` naming the mismatch. Keys a
model adds on purpose to the architecture its checkpoints come from are declared
by the module that adds them, as ``keys_absent_in_pretrained()`` (e.g.
FilterMobileViT's scorers, which MobileViT checkpoints lack); those may be absent.
"""
import codecs
import errno
import glob
import importlib
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from torch import nn


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


class SaveError(OSError):
    """A file (a checkpoint) that could not be written; the file of that name, if
    any, is left as it was."""


#: the names of the temporary files :class:`AtomicLocalBackend` writes
PART_PATTERN = 'tmp*.part'


class AtomicLocalBackend(LocalBackend):
    """Local files written to a temporary name (``tmp*.part`` in the same folder) and
    renamed into place, so an interrupted write never leaves a partial file under
    the checkpoint's name. A write that fails (a full disk) raises
    :class:`SaveError` naming the file and the reason; the temporary file is
    removed and the earlier files are left as they were."""

    def put(self, obj: bytes, filepath) -> None:
        filepath = str(filepath)
        folder = os.path.dirname(filepath) or '.'
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, suffix='.part')
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException as error:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
            if isinstance(error, OSError) and not isinstance(error, SaveError):
                raise SaveError(_save_failure(filepath, len(obj), error)) from error
            raise


def _save_failure(filepath: str, size: int, error: OSError) -> str:
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = shutil.disk_usage(os.path.dirname(filepath) or '.').free
            reason += f' ({format_mib(size)} to write, {format_mib(free)} free)'
        except OSError:
            pass
    return (f'could not save {filepath}: {reason}; the files already in '
            f'{os.path.dirname(filepath) or "."} (the previous checkpoints) are unchanged')


def format_mib(size: float) -> str:
    """``size`` bytes in MiB, for messages (two decimals below 1 MiB)."""
    return f'{size / 2**20:.0f} MiB' if size >= 2**20 else f'{size / 2**20:.2f} MiB'


def write_checkpoints_atomically() -> None:
    """Make mmengine's local file backend (checkpoints among its writes) atomic."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')


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


def init_weights_quietly(model: nn.Module) -> nn.Module:
    """``model.init_weights()`` (the weights a training run starts from) without
    MMEngine's log line per initialised parameter; returns the model."""
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model


def keys_absent_in_pretrained(model: nn.Module) -> Dict[str, List[str]]:
    """Keys of ``model``'s state dict that may be absent from a checkpoint, per the
    class of the module that declares them with a ``keys_absent_in_pretrained()``
    method (keys relative to that module)."""
    declared: Dict[str, List[str]] = {}
    for name, module in model.named_modules():
        method = getattr(module, 'keys_absent_in_pretrained', None)
        if callable(method):
            prefix = f'{name}.' if name else ''
            declared.setdefault(type(module).__name__, []).extend(prefix + k for k in method())
    return declared


@dataclass
class WeightsFit:
    """How a checkpoint's tensors match a model's state dict.

    ``missing``: model keys the checkpoint lacks (BatchNorm's ``num_batches_tracked``
    excepted, as MMEngine's loader does); ``unexpected``: checkpoint keys the model
    lacks; ``wrong_shape``: ``(key, checkpoint shape, model shape)``; ``declared``:
    the absent keys that modules declare may be absent (per declaring class);
    ``absent_modules``: top-level submodules none of whose keys the checkpoint holds.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    wrong_shape: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    declared: Dict[str, List[str]] = field(default_factory=dict)
    absent_modules: Dict[str, List[str]] = field(default_factory=dict)


def compare_weights(model: nn.Module, state_dict: Dict[str, torch.Tensor],
                    allow_absent_modules: bool = False) -> WeightsFit:
    """Compare ``state_dict`` with ``model``'s keys and shapes.

    With ``allow_absent_modules``, top-level submodules none of whose keys are in
    ``state_dict`` (the neck and head of a detector when the checkpoint holds a
    pretrained backbone only) are reported in ``absent_modules`` instead of
    ``missing``.
    """
    own = model.state_dict()
    fit = WeightsFit()
    fit.unexpected = [k for k in state_dict if k not in own]
    fit.wrong_shape = [(k, tuple(state_dict[k].shape), tuple(v.shape)) for k, v in own.items()
                       if k in state_dict and state_dict[k].shape != v.shape]
    absent = [k for k in own if k not in state_dict and not k.endswith('num_batches_tracked')]
    for owner, keys in keys_absent_in_pretrained(model).items():
        lacking = [k for k in keys if k in own and k not in state_dict]
        if lacking:
            fit.declared[owner] = lacking
    declared = {k for keys in fit.declared.values() for k in keys}
    absent = [k for k in absent if k not in declared]
    if allow_absent_modules:
        held = {k.split('.')[0] for k in state_dict}
        for key in absent:
            if key.split('.')[0] not in held:
                fit.absent_modules.setdefault(key.split('.')[0], []).append(key)
        absent = [k for k in absent if k.split('.')[0] in held]
    fit.missing = absent
    return fit


def keys_kept_initial(fit: WeightsFit) -> List[str]:
    """The model keys a checkpoint lacks on purpose (declared, or of absent modules)."""
    return [k for keys in (*fit.declared.values(), *fit.absent_modules.values()) for k in keys]


def _first(items: List[str], limit: int = 3, sep: str = ', ') -> str:
    return sep.join(items[:limit]) + (f'{sep}...' if len(items) > limit else '')


def describe_mismatch(fit: WeightsFit) -> Optional[str]:
    """``'N missing (a, b, c, ...), M unexpected (...), L of the wrong shape (...)'``,
    or None when every key fits."""
    parts = []
    if fit.missing:
        parts.append(f'{len(fit.missing)} of the model\'s keys missing ({_first(fit.missing)})')
    if fit.unexpected:
        parts.append(f'{len(fit.unexpected)} unexpected ({_first(fit.unexpected)})')
    if fit.wrong_shape:
        shapes = [f'{k}: {list(a)} in the checkpoint, {list(b)} in the model'
                  for k, a, b in fit.wrong_shape]
        parts.append(f'{len(fit.wrong_shape)} of the wrong shape ({_first(shapes, 2, "; ")})')
    return ', '.join(parts) or None


class WeightsMismatchError(CheckpointError):
    """A checkpoint whose tensors do not fit the model it is meant for."""


def select_prefix(state_dict: Dict[str, torch.Tensor], prefix: str,
                  path: str = 'the checkpoint') -> Dict[str, torch.Tensor]:
    """The tensors whose keys start with ``prefix``, with it removed (all for ``''``);
    raises :class:`CheckpointError` if there are none."""
    if not prefix:
        return state_dict
    selected = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not selected:
        raise CheckpointError(f'no key of {path} starts with {prefix!r}; its first keys: '
                              f'{_first(list(state_dict))}')
    return selected


def check_weights_fit(model: nn.Module, path: str, partial: bool = False,
                      allow_absent_modules: bool = False, model_name: str = 'the model',
                      prefix: str = '') -> List[str]:
    """Check that the checkpoint ``path`` fits ``model`` before it is loaded.

    Raises :class:`WeightsMismatchError` with one line naming the mismatch (how
    many keys missing, unexpected and of the wrong shape, the first few of each),
    unless ``partial``; :class:`CheckpointError` if the file is not a complete
    checkpoint. Returns the lines to show the user
    (each once): the declared keys the checkpoint lacks and, with
    ``allow_absent_modules``, the top-level modules it holds nothing for (both
    keep their initial values); with ``partial``, the mismatch as a warning.

    Args:
        model (nn.Module): the model the checkpoint will be loaded into.
        path (str): the checkpoint file.
        partial (bool): accept a mismatch (load the tensors that fit). Default: False.
        allow_absent_modules (bool): accept a checkpoint that holds whole top-level
            submodules only (a pretrained backbone for ``load_from``). Default: False.
        model_name (str): how the model is named in the messages. Default: 'the model'.
        prefix (str): compare only the checkpoint's keys under this prefix (e.g.
            ``'backbone.'`` for a backbone), with it removed. Default: ''.
    """
    state_dict = select_prefix(read_state_dict(path), prefix, path)
    fit = compare_weights(model, state_dict, allow_absent_modules)
    mismatch = describe_mismatch(fit)
    if mismatch and not partial:
        raise WeightsMismatchError(f'checkpoint {path} does not fit {model_name}: {mismatch}')
    notes = []
    for owner, keys in fit.declared.items():
        notes.append(f'note: {path} lacks the {len(keys)} key(s) that {owner} adds on purpose '
                     f'({_first(keys)}); they keep their initial values')
    if fit.absent_modules:
        modules = ', '.join(f'{name} ({len(keys)} keys)'
                            for name, keys in fit.absent_modules.items())
        notes.append(f'note: {path} holds no weights for {modules}; they keep their initial '
                     'values')
    if mismatch:
        notes.append(f'warning: loading only the tensors of {path} that fit {model_name}: '
                     f'{mismatch}')
    return notes
