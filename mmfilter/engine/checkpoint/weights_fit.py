"""A checkpoint's fit to a model, checked before it is loaded.

MMEngine's loader (``load_checkpoint(strict=False)``, what ``load_from`` and
``init_detector`` use) only logs the keys that do not match and carries on with a
partly loaded model. :func:`check_weights_fit` compares keys and shapes first and
raises one :class:`WeightsMismatchError` naming the mismatch. Keys a model adds on
purpose to the architecture its checkpoints come from are declared by the module
that adds them, as ``keys_absent_in_pretrained()`` (e.g. FilterMobileViT's
scorers, which MobileViT checkpoints lack); those may be absent.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .files import CheckpointError, read_state_dict


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
