"""Atomic local writes: a checkpoint is complete under its name or absent."""
import errno
import os
import shutil
import uuid

from mmengine.fileio import LocalBackend, register_backend


class SaveError(OSError):
    """A file (a checkpoint) that could not be written; the file of that name, if
    any, is left as it was."""


#: the names of the temporary files :class:`AtomicLocalBackend` writes
PART_PATTERN = 'tmp*.part'


class AtomicLocalBackend(LocalBackend):
    """Local files written to a temporary name (``tmp*.part`` in the same folder) and
    renamed into place, so an interrupted write never leaves a partial file under
    the checkpoint's name. The file's mode follows the umask (``0644`` under the
    usual ``022``), as MMEngine's own writes do. A write that fails (a full disk) raises
    :class:`SaveError` naming the file and the reason; the temporary file is
    removed and the earlier files are left as they were."""

    def put(self, obj: bytes, filepath) -> None:
        filepath = str(filepath)
        folder = os.path.dirname(filepath) or '.'
        tmp = None
        try:
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f'tmp{uuid.uuid4().hex}.part')
            with open(tmp, 'xb') as f:  # mode 0666 less the umask, as MMEngine's own writes
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
