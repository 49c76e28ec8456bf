"""The work dir of a training run: writable, with room for checkpoints, one run at a time.

:func:`check_work_dir` creates the folder and writes a file in it;
:func:`check_free_space` compares its free space with a few checkpoints of the
model; :func:`hold_work_dir` takes an exclusive lock on ``.mmfilter-train.lock``
in it (``fcntl.flock``, with the holder's pid, host, start time and config
written into the file) for as long as the run lasts. The kernel drops a flock
when its process ends, however it ends, so the lock of a killed run is taken
over by the next one; only a live run holds it. With the lock held, no other
training writes into the folder, so the ``tmp*.part`` files there are the
unfinished checkpoint writes of an interrupted run: :func:`remove_stale_parts`
deletes them.
"""
import contextlib
import datetime
import errno
import fcntl
import glob
import os
import os.path as osp
import socket
import tempfile
import time
from typing import Iterator, List, Optional

from torch import nn

from .checkpoint import PART_PATTERN, format_mib

LOCK_NAME = '.mmfilter-train.lock'
#: checkpoints a work dir must have room for, at most (fewer if max_keep_ckpts keeps fewer)
CHECKPOINTS_TO_FIT = 3


class WorkDirError(OSError):
    """A work dir that cannot be used: not creatable, not writable, too full, or
    held by a live training."""


class WorkDirBusyError(WorkDirError):
    """A work dir held by a live training."""


def check_work_dir(work_dir: str, what: str = 'work dir') -> None:
    """Create ``work_dir`` if needed and write (then delete) a file in it; raise
    :class:`WorkDirError` naming the folder (as ``what``: ``'work dir'``,
    ``'--out-dir'``) and the reason if either fails."""
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as e:
        raise WorkDirError(f'cannot create {what} {work_dir}: {e.strerror or e}') from None
    try:
        with tempfile.TemporaryFile(dir=work_dir) as f:
            f.write(b'0')
    except OSError as e:
        raise WorkDirError(f'cannot write in {what} {work_dir}: {e.strerror or e}') from None


def checkpoint_bytes(model: nn.Module, optimizer_states: int = 2) -> int:
    """About the size of one training checkpoint of ``model``: its state dict plus
    ``optimizer_states`` tensors per trainable parameter (Adam's two moments)."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return weights + optimizer_states * trainable


def check_free_space(work_dir: str, per_checkpoint: int, count: int = CHECKPOINTS_TO_FIT) -> None:
    """Raise :class:`WorkDirError` unless ``work_dir``'s file system has room for
    ``count`` checkpoints of ``per_checkpoint`` bytes."""
    import shutil
    free = shutil.disk_usage(work_dir).free
    needed = count * per_checkpoint
    if free < needed:
        raise WorkDirError(
            f'work dir {work_dir} has {format_mib(free)} free, too little for {count} '
            f'checkpoint(s) of this model (about {format_mib(per_checkpoint)} each: weights and '
            'optimizer state); free some space or choose another --work-dir')


def checkpoints_to_fit(cfg) -> int:
    """:data:`CHECKPOINTS_TO_FIT`, or the config's ``max_keep_ckpts`` if it keeps fewer
    (MMEngine deletes the oldest before writing the next)."""
    keep = ((cfg.get('default_hooks') or {}).get('checkpoint') or {}).get('max_keep_ckpts', -1)
    return min(CHECKPOINTS_TO_FIT, keep) if keep and keep > 0 else CHECKPOINTS_TO_FIT


def is_main_process(launcher: str = 'none') -> bool:
    """Whether this process is rank 0 of its job, from the launcher's environment
    (the process group does not exist yet when the tools check the work dir)."""
    variable = 'SLURM_PROCID' if launcher == 'slurm' else 'RANK'
    return launcher == 'none' or os.environ.get(variable, '0') == '0'


@contextlib.contextmanager
def hold_work_dir(work_dir: str, what: str = '') -> Iterator[float]:
    """Within this context this process holds ``work_dir``'s training lock; yields
    the time it was taken. Raises :class:`WorkDirError` naming the folder and
    the holder (pid, host, since when, ``what`` it runs) if a live process holds
    it (:class:`WorkDirBusyError`). The lock file is removed when the context ends."""
    path = osp.join(work_dir, LOCK_NAME)
    while True:
        f = open(path, 'a+')
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            f.seek(0)
            holder = f.read().strip() or 'a process that has not written its name yet'
            f.close()
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise WorkDirBusyError(f'work dir {work_dir} is in use by another training '
                                   f'({holder}); wait for it to end or choose another '
                                   '--work-dir') from None
            raise WorkDirError(f'cannot lock work dir {work_dir}: {e.strerror or e}') from None
        try:
            same = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        f.close()  # the previous holder removed the file between open and flock: again
    taken = time.time()
    since = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC')
    f.seek(0)
    f.truncate()
    f.write(f'pid {os.getpid()} on {socket.gethostname()} since {since}'
            f'{", " + what if what else ""}\n')
    f.flush()
    try:
        yield taken
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)  # before the lock goes: a waiting opener then retries
        f.close()


def remove_stale_parts(work_dir: str, before: Optional[float] = None) -> List[str]:
    """Delete the ``tmp*.part`` files in ``work_dir`` last modified before ``before``
    (default: now): checkpoint writes a killed run left unfinished. Call it while
    holding the folder's lock (:func:`hold_work_dir`); returns the paths removed."""
    before = time.time() if before is None else before
    removed = []
    for path in sorted(glob.glob(osp.join(work_dir, PART_PATTERN))):
        with contextlib.suppress(OSError):
            if os.path.getmtime(path) <= before:
                os.remove(path)
                removed.append(path)
    return removed


def describe_removed(paths: List[str]) -> str:
    names = ', '.join(osp.basename(p) for p in paths[:3]) + (', ...' if len(paths) > 3 else '')
    return (f'note: removed {len(paths)} unfinished checkpoint write(s) an interrupted run left '
            f'in {osp.dirname(paths[0])}: {names}')
