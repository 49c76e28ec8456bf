"""The work dir of tools/train.py: one training at a time, unfinished writes cleaned up,
writable with room for checkpoints, and a failed save that keeps the previous checkpoint."""
import collections
import errno
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import TINY_SPLITS, own_lines, run_tool, tiny_detection_config


def _broken_annotations(folder) -> str:
    """A tiny detection config whose training annotations are truncated: a run stops
    at the data check, after the work dir checks and before anything is built."""
    from mmfilter.datasets import make_demo_coco
    cfg = tiny_detection_config(folder)
    make_demo_coco(str(folder / 'coco'), TINY_SPLITS, 128)
    ann = folder / 'coco' / 'annotations' / 'instances_train2017.json'
    ann.write_text(ann.read_text()[:100])
    return cfg


def _hold_lock_in_another_process(work) -> subprocess.Popen:
    """A process that takes the work dir's lock as a training would and keeps it."""
    from mmfilter.engine.workdir import LOCK_NAME
    code = ('import fcntl, sys, time\n'
            f'f = open({str(work / LOCK_NAME)!r}, "a+")\n'
            'fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n'
            'f.write("pid 4242 on other-host since 2026-01-01 00:00:00 UTC, config first.py\\n")\n'
            'f.flush()\n'
            'print("held", flush=True)\n'
            'time.sleep(600)\n')
    holder = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == 'held'
    return holder


@pytest.mark.slow  # a tool run
def test_a_second_training_into_a_held_work_dir_stops_at_once_and_a_dead_holder_is_taken_over(
        tmp_path):
    cfg = _broken_annotations(tmp_path)
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'the first run\'s checkpoint')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    holder = _hold_lock_in_another_process(work)
    try:
        before = {p.name: p.read_bytes() for p in work.iterdir()}
        proc = run_tool('train.py', cfg, '--work-dir', work)
        after = {p.name: p.read_bytes() for p in work.iterdir()}
    finally:
        holder.send_signal(signal.SIGKILL)  # the first run dies without releasing anything
        holder.wait()
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert own_lines(proc.stderr) == [
        f'error: work dir {work} is in use by another training (pid 4242 on other-host since '
        '2026-01-01 00:00:00 UTC, config first.py); wait for it to end or choose another '
        '--work-dir']
    assert after == before  # nothing of the first run touched

    # The lock file of the killed run stays behind; the next run takes it over.
    proc = run_tool('train.py', cfg, '--work-dir', work)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith('error: annotation file is not valid')
    assert not list(work.glob('.*.lock'))  # released at exit
    assert (work / 'epoch_1.pth').read_bytes() == b'the first run\'s checkpoint'


def test_the_lock_is_held_for_the_run_and_released_after(tmp_path):
    from mmfilter.engine import WorkDirError
    from mmfilter.engine.workdir import LOCK_NAME, hold_work_dir
    with hold_work_dir(str(tmp_path), 'config a.py'):
        assert f'pid {os.getpid()} on ' in (tmp_path / LOCK_NAME).read_text()
        with pytest.raises(WorkDirError, match=r'is in use by another training \(pid \d+ on .*'
                           r'config a\.py\)'):
            with hold_work_dir(str(tmp_path)):
                pass
    assert not (tmp_path / LOCK_NAME).exists()
    with hold_work_dir(str(tmp_path)):  # free again
        pass


@pytest.mark.slow  # a tool run
def test_unfinished_checkpoint_writes_are_removed_with_one_line(tmp_path):
    cfg = _broken_annotations(tmp_path)
    work = tmp_path / 'work'
    work.mkdir()
    for name in ('tmpa1b2c3.part', 'tmpz9y8x7.part'):  # left by a run killed while saving
        (work / name).write_bytes(b'\0' * 4096)
    (work / 'epoch_1.pth').write_bytes(b'kept')
    proc = run_tool('train.py', cfg, '--work-dir', work)
    assert proc.returncode == 1  # at the broken annotations, after the clean-up
    notes = [line for line in proc.stderr.splitlines() if line.startswith('note: removed')]
    assert notes == [f'note: removed 2 unfinished checkpoint write(s) an interrupted run left in '
                     f'{work}: tmpa1b2c3.part, tmpz9y8x7.part']
    assert sorted(p.name for p in work.iterdir()) == ['epoch_1.pth']


def _unwritable_folder(tmp_path) -> str:
    folder = tmp_path / 'read-only'
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / 'probe').write_bytes(b'')
    except OSError:
        return str(folder)
    (folder / 'probe').unlink()  # root writes anyway: take a folder the kernel refuses
    for candidate in ('/sys/kernel', '/sys'):
        try:
            with open(os.path.join(candidate, 'mmfilter-probe'), 'wb'):
                pass
        except OSError:
            return candidate
    pytest.skip('no folder that refuses writes on this machine')


@pytest.mark.slow  # a tool run
@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_a_work_dir_that_cannot_be_created_or_written_is_one_line_with_status_2(tmp_path, tool):
    cfg = tiny_detection_config(tmp_path)
    checkpoint = () if tool == 'train.py' else (_fitting_checkpoint(cfg, tmp_path), )
    for work, reason in (('/proc/mmfilter-work', 'cannot create work dir /proc/mmfilter-work: '),
                         (_unwritable_folder(tmp_path), 'cannot write in work dir ')):
        proc = run_tool(tool, cfg, *checkpoint, '--work-dir', work)
        assert proc.returncode == 2, proc.stderr[-2000:]
        lines = own_lines(proc.stderr)
        assert len(lines) == 1 and lines[0].startswith(f'error: {reason}'), lines
        assert proc.stdout == ''  # stopped before MMEngine's environment dump


def _fitting_checkpoint(cfg: str, folder) -> str:
    from mmengine.config import Config
    from mmengine.runner.checkpoint import save_checkpoint

    from mmfilter.engine.preflight import build_model
    path = str(folder / 'fits.pth')
    save_checkpoint(dict(meta=dict(), state_dict=build_model(Config.fromfile(cfg)).state_dict()),
                    path)
    return path


@pytest.mark.slow  # a tool run
def test_too_little_free_space_stops_before_training(tmp_path, monkeypatch):
    cfg = tiny_detection_config(tmp_path)
    work = tmp_path / 'work'
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage(2**30, 2**30 - 2**20, 2**20))
    proc = run_tool('train.py', cfg, '--work-dir', work)
    assert proc.returncode == 2
    lines = own_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith(
        f'error: work dir {work} has 1 MiB free, too little for 2 checkpoint(s) of this model '
        '(about '), lines  # the config keeps 2 (max_keep_ckpts)
    assert 'free some space or choose another --work-dir' in lines[0]
    assert not list(work.glob('*.pth')) and not list(work.glob('*/*.log'))


def test_work_dir_checks_name_the_folder_and_the_reason(tmp_path, monkeypatch):
    from mmfilter.engine import WorkDirError
    from mmfilter.engine.workdir import check_free_space, check_work_dir
    check_work_dir(str(tmp_path / 'new' / 'work'))  # created
    assert (tmp_path / 'new' / 'work').is_dir() and not list((tmp_path / 'new' / 'work').iterdir())
    with pytest.raises(WorkDirError, match='^cannot create --out-dir /proc/mmfilter-out: '):
        check_work_dir('/proc/mmfilter-out', what='--out-dir')
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(shutil, 'disk_usage', lambda path: usage(2**30, 2**30 - 2**21, 2**21))
    check_free_space(str(tmp_path), per_checkpoint=2**19, count=4)  # 2 MiB: room for 4
    with pytest.raises(WorkDirError, match=f'work dir {tmp_path} has 2 MiB free, too little for '
                       r'5 checkpoint\(s\) of this model \(about 0.50 MiB each'):
        check_free_space(str(tmp_path), per_checkpoint=2**19, count=5)


def test_the_checkpoints_to_fit_follow_max_keep_ckpts_and_rank_zero_checks(monkeypatch):
    from mmengine.config import Config

    from mmfilter.engine.workdir import CHECKPOINTS_TO_FIT, checkpoints_to_fit, is_main_process
    for keep, expected in ((1, 1), (-1, CHECKPOINTS_TO_FIT), (None, CHECKPOINTS_TO_FIT)):
        hooks = {} if keep is None else dict(checkpoint=dict(max_keep_ckpts=keep))
        assert checkpoints_to_fit(Config(dict(default_hooks=hooks))) == expected
    monkeypatch.delenv('RANK', raising=False)
    assert is_main_process('none') and is_main_process('pytorch')
    monkeypatch.setenv('RANK', '1')
    assert is_main_process('none') and not is_main_process('pytorch')


def test_stale_parts_older_than_the_lock_are_removed_and_newer_ones_kept(tmp_path):
    import time

    from mmfilter.engine.workdir import describe_removed, remove_stale_parts
    for name in ('tmpa.part', 'tmpb.part', 'epoch_1.pth'):
        (tmp_path / name).write_bytes(b'0')
    taken = time.time()
    os.utime(tmp_path / 'tmpb.part', (taken + 60, taken + 60))  # written after the lock
    removed = remove_stale_parts(str(tmp_path), before=taken)
    assert removed == [str(tmp_path / 'tmpa.part')]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth', 'tmpb.part']
    assert describe_removed(removed) == (f'note: removed 1 unfinished checkpoint write(s) an '
                                         f'interrupted run left in {tmp_path}: tmpa.part')


def test_checkpoint_size_estimate_counts_weights_and_adam_state():
    from torch import nn

    from mmfilter.engine.workdir import checkpoint_bytes
    model = nn.BatchNorm2d(8)  # 16 parameters and 17 buffers (num_batches_tracked is int64)
    assert checkpoint_bytes(model) == (16 + 16) * 4 + 8 + 2 * 16 * 4


@pytest.mark.slow  # a tool run
def test_a_failed_save_ends_in_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    cfg = tiny_detection_config(tmp_path)
    work = tmp_path / 'work'
    fsync, saves = os.fsync, []

    def disk_full_at_the_second_save(fd):
        if os.readlink(f'/proc/self/fd/{fd}').endswith('.part'):
            saves.append(fd)
            if len(saves) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(os, 'fsync', disk_full_at_the_second_save)
    proc = run_tool('train.py', cfg, '--work-dir', work, '--cfg-options',
                    'train_cfg.val_interval=5')
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'error: could not save {work}/epoch_2.pth: No space left on device (')
    assert last.endswith(f'; the files already in {work} (the previous checkpoints) are unchanged')
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_1.pth']
    assert not list(work.glob('tmp*.part'))
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    from mmfilter.engine import check_checkpoint
    check_checkpoint(str(work / 'epoch_1.pth'))  # complete
