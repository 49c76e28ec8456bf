"""Reading a config for a run, and refusing the mistakes MMEngine would find late.

:func:`read_config` names the file and line of a Python syntax error (MMEngine's
parser names neither); :func:`load_config` applies the tools' options;
:func:`check_loop_options` compares the loops' settings with the loop classes'
arguments and :func:`check_auto_scale_lr` the ``auto_scale_lr`` section, before
the runner is built. Each raises :class:`ConfigError`, a configuration mistake
the tools end with exit status 2.
"""
import ast
import inspect
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.config import Config


class ConfigError(ValueError):
    """A config that cannot be read, or whose values the libraries refuse."""


def error_message(error: BaseException) -> str:
    """An exception's own message (a KeyError's without the quotes ``str`` adds)."""
    message = str(error.args[0]) if len(error.args) == 1 else str(error)
    return message or type(error).__name__


def _base_files(path: str, tree: ast.Module) -> List[str]:
    """The ``_base_`` files a parsed config names (literal paths, relative to it)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_'
                                                for t in node.targets):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                return []
            bases = [bases] if isinstance(bases, str) else list(bases)
            return [osp.join(osp.dirname(path), base) for base in bases]
    return []


def _syntax_error_line(path: str) -> Optional[str]:
    """``'FILE:LINE: MESSAGE'`` for the first file of ``path`` and its ``_base_``
    files (depth first) that is not valid Python, or None."""
    try:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
    except SyntaxError as e:
        return f'{path}:{e.lineno}: {e.msg}'
    except OSError:
        return None
    return next(filter(None, map(_syntax_error_line, _base_files(path, tree))), None)


def read_config(path: str) -> Config:
    """``Config.fromfile(path)``; raises :class:`ConfigError` naming the file for one
    that does not exist, and the file and line for a Python syntax error."""
    if not osp.isfile(path):
        raise ConfigError(f'config not found: {path}')
    try:
        return Config.fromfile(path)
    except SyntaxError as e:
        where = _syntax_error_line(path) or f'{path} or a file it reads, line {e.lineno}: {e.msg}'
        raise ConfigError(f'invalid Python syntax in config {where}') from None
    except FileNotFoundError as e:  # a _base_ file
        raise ConfigError(f'{path}: {e.strerror or e}: {e.filename}') from None


def load_config(path: str, cfg_options: Optional[dict] = None, launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and settle the launcher and work dir
    (``--work-dir``, else the config's, else ``./work_dirs/<config name>``).

    ``data_root=DIR`` among the options moves every path under the config's
    ``data_root`` (datasets and evaluators) to ``DIR``: the top-level variable has
    already been substituted into them when the config was read.

    Raises :class:`ConfigError` naming the file for a config that does not exist,
    does not parse, or whose options do not merge into it.
    """
    cfg = read_config(path)
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


#: the arguments the runner passes to each loop itself
RUNNER_LOOP_ARGUMENTS = ('self', 'runner', 'dataloader', 'evaluator')
#: the loop MMEngine builds for a loop config without ``type``
DEFAULT_LOOPS = {'train_cfg': None, 'val_cfg': 'ValLoop', 'test_cfg': 'TestLoop'}


def _loop_class(cfg: Config, key: str):
    """The class MMEngine's runner builds for ``cfg[key]`` (a loop config)."""
    from mmengine.registry import LOOPS
    loop = cfg[key]
    name = loop.get('type') or DEFAULT_LOOPS[key]
    if name is None:  # train_cfg = dict(by_epoch=..., ...)
        name = 'EpochBasedTrainLoop' if loop.get('by_epoch') else 'IterBasedTrainLoop'
    if not isinstance(name, str):
        return name
    with LOOPS.switch_scope_and_registry(loop.get('_scope_', cfg.get('default_scope'))) \
            as registry:
        found = registry.get(name)
    if found is None:
        raise ConfigError(f'{cfg.filename}: {key}: loop type {name!r} is not registered')
    return found


def check_loop_options(cfg: Config, keys: Sequence[str] = ('train_cfg', 'val_cfg')) -> None:
    """Raise :class:`ConfigError` naming the config, the key and the option for a loop
    setting its loop class does not take (``train_cfg.max_epochs`` on an
    ``IterBasedTrainLoop``) or a required one it lacks: MMEngine finds either only
    when it builds the loop, after the work dir and the logs are created."""
    for key in keys:
        if not isinstance(cfg.get(key), dict):
            continue
        cls = _loop_class(cfg, key)
        parameters = inspect.signature(cls.__init__).parameters
        if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            continue
        accepted = [name for name in parameters if name not in RUNNER_LOOP_ARGUMENTS]
        given = [k for k in cfg[key] if k not in ('type', 'by_epoch', '_scope_')]
        unknown = [k for k in given if k not in accepted]
        if unknown:
            raise ConfigError(f'{cfg.filename}: {key}.{unknown[0]}: {cls.__name__} takes no '
                              f'option {unknown[0]!r} (it takes {", ".join(accepted)})')
        required = [name for name in accepted if parameters[name].default is inspect._empty
                    and name not in given]
        if required:
            raise ConfigError(f'{cfg.filename}: {key}: {cls.__name__} needs '
                              f'{", ".join(required)}')


def enable_auto_scale_lr(cfg: Config) -> None:
    """Switch on ``auto_scale_lr`` (``--auto-scale-lr``); raise :class:`ConfigError`
    if the config gives no ``auto_scale_lr.base_batch_size``, the total batch size
    its learning rate was set for (MMDetection's tools refuse it too)."""
    section = cfg.get('auto_scale_lr') or {}
    if 'base_batch_size' not in section:
        raise ConfigError(f'{cfg.filename}: --auto-scale-lr needs auto_scale_lr.base_batch_size '
                          '(the total batch size the learning rate was set for) in the config')
    cfg.auto_scale_lr = dict(section, enable=True)


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
