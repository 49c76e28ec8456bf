"""The tools' one exit path, and what their runs share.

The library raises; a tool runs its work inside :func:`exit_on_error`, which ends
it with one ``error: ...`` line and the exit status of :data:`EXIT_STATUS` for
the errors a user can act on (2 for a configuration mistake, as argparse's for a
bad argument; 1 for the rest). Any other exception is a bug and keeps its
traceback.
"""
import argparse
import contextlib
import os
import sys
from typing import Iterator, NoReturn, Optional, Sequence, Tuple

from mmengine.config import Config, DictAction

from ..datasets.checks import DatasetError
from .allocator import add_malloc_argument
from .checkpoint import CheckpointError, SaveError, WeightsMismatchError
from .config import ConfigError, error_message
from .hooks import DivergedError
from .image_inputs import ImageReadError
from .workdir import WorkDirBusyError, WorkDirError


class LaunchError(RuntimeError):
    """A launcher (``--launcher``) this machine cannot run."""


#: ``(error class, exit status)``: the first class an error is an instance of decides
EXIT_STATUS = (
    (WorkDirBusyError, 1),  # another training holds the folder: not a mistake in the config
    (ConfigError, 2),
    (WorkDirError, 2),  # a folder the tool cannot create or write in, or too full
    (CheckpointError, 1),
    (DatasetError, 1),
    (ImageReadError, 1),
    (SaveError, 1),
    (DivergedError, 1),
    (LaunchError, 1),
)

PARTIAL_LOAD_HELP = ('load a checkpoint that does not fit the model (missing, unexpected or '
                     'differently shaped tensors): only the tensors that fit are loaded. '
                     'Without it such a checkpoint stops the run with one line naming the '
                     'mismatch')
PARTIAL_LOAD_HINT = 'pass --partial-load to load only the tensors that fit'


def exit_with(error: BaseException, status: int, hint: str = '') -> NoReturn:
    """End the tool with ``error: <message>[; hint]`` on one line and ``status``."""
    message = ' '.join(error_message(error).split()) + (f'; {hint}' if hint else '')
    print(f'error: {message}', file=sys.stderr)
    sys.exit(status)


@contextlib.contextmanager
def exit_on_error(partial_load_flag: bool = False,
                  layer_errors: Sequence[Tuple[type, int]] = ()) -> Iterator[None]:
    """Within this context an error of :data:`EXIT_STATUS` ends the tool with one
    ``error:`` line and its status. ``partial_load_flag``: the tool has
    ``--partial-load``, which the line of a checkpoint that does not fit names.
    ``layer_errors``: ``(error class, exit status)`` of a layer above the engine
    that the tool uses (e.g. ``mmfilter.deploy``'s ``ExportError``), tried first."""
    table = tuple(layer_errors) + EXIT_STATUS
    try:
        yield
    except tuple(cls for cls, _ in table) as error:
        status = next(status for cls, status in table if isinstance(error, cls))
        hint = PARTIAL_LOAD_HINT if partial_load_flag and isinstance(
            error, WeightsMismatchError) else ''
        exit_with(error, status, hint)


def init_model_or_exit(config: str, checkpoint: Optional[str],
                       partial_load: Optional[bool] = None, **kwargs):
    """:func:`mmfilter.apis.init_model` for a tool: on the CPU with the tools'
    settings unless ``kwargs`` say otherwise (row bands and the ``'reuse'`` malloc
    mode; ``cpu_optimize=False`` for a model to export), its errors ending the tool
    through :func:`exit_on_error`. ``partial_load``: the tool's ``--partial-load``
    (None: the tool has no such flag; the load is strict)."""
    from ..apis import init_model
    kwargs = dict(dict(cpu_optimize=True, malloc='reuse'), **kwargs)
    with exit_on_error(partial_load_flag=partial_load is not None):
        return init_model(config, checkpoint, partial_load=bool(partial_load), **kwargs)


def model_run_parser(description: str, num_images: Optional[int] = None
                     ) -> argparse.ArgumentParser:
    """The arguments of a script that runs a model over a config's test images:
    ``config``, ``checkpoint`` (optional with ``--dry-run``), ``--num-images``
    (default ``num_images``; None: the whole split) and ``--dry-run`` (one image,
    without a checkpoint the initial weights). Parse with :func:`parse_model_run_args`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='required unless --dry-run')
    parser.add_argument('--num-images', type=int, default=num_images,
                        help='default: the whole split' if num_images is None else None)
    parser.add_argument('--dry-run', action='store_true',
                        help='one image; without CHECKPOINT the initial weights')
    return parser


def parse_model_run_args(parser: argparse.ArgumentParser,
                         argv: Optional[list] = None) -> argparse.Namespace:
    """``argv`` parsed by a :func:`model_run_parser`: a run needs the checkpoint
    or ``--dry-run``, which sets ``num_images`` to 1."""
    args = parser.parse_args(argv)
    if not (args.checkpoint or args.dry_run):
        parser.error('give the CHECKPOINT, or --dry-run')
    if args.dry_run:
        args.num_images = 1
    return args


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``tools/train.py`` and ``tools/test.py`` after their own:
    ``--cfg-options``, ``--launcher``, ``--no-data-check``, ``--local-rank`` (set by
    PyTorch's launcher) and the malloc mode. Parse with :func:`parse_runner_args`."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher for a distributed run')
    parser.add_argument('--no-data-check', action='store_true',
                        help='skip the pre-flight check of annotation files and image headers '
                        '(as data_check = False in the config); made on rank 0 only otherwise')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_malloc_argument(parser)


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[list] = None) -> argparse.Namespace:
    """``argv`` parsed by a parser with :func:`add_runner_arguments`; ``LOCAL_RANK``
    set from ``--local-rank`` unless the launcher set it."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


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


@contextlib.contextmanager
def distributed(cfg: Config) -> Iterator[None]:
    """Within this context the process group of ``cfg``'s launcher is set up (once:
    the pre-flight checks then run on rank 0 alone); it is torn down after,
    however the context ends. Raises :class:`LaunchError` for a launcher the
    machine cannot run."""
    from .distributed import setup_distributed, teardown_distributed
    try:
        setup_distributed(cfg)
    except ValueError as e:
        raise LaunchError(str(e)) from None
    try:
        yield
    finally:
        teardown_distributed()


def run_runner(cfg: Config, method: str):
    """``Runner.<method>()`` (``'train'`` or ``'test'``) for ``cfg`` (its
    ``runner_type`` if it names one); call it within :func:`distributed`."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    return getattr(runner, method)()
