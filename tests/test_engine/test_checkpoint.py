"""Checkpoint safety, unit by unit: complete files, the newest complete one, atomic
writes that survive an interruption and follow the umask, the fit to a model."""
import os

import pytest
import torch
from torch import nn

from mmfilter.engine.checkpoint import (CheckpointError, SaveError, WeightsMismatchError,
                                        check_checkpoint, check_weights_fit, latest_checkpoint,
                                        read_state_dict, write_checkpoints_atomically)


def _save(path, module: nn.Module) -> str:
    torch.save(dict(state_dict=module.state_dict(), meta=dict()), path)
    return str(path)


@pytest.fixture
def good(tmp_path) -> str:
    return _save(tmp_path / 'good.pth', nn.Linear(4, 2))


def test_incomplete_files_are_named_with_what_is_wrong(tmp_path, good):
    truncated = tmp_path / 'truncated.pth'
    data = open(good, 'rb').read()
    truncated.write_bytes(data[:len(data) // 2])
    (tmp_path / 'empty.pth').write_bytes(b'')
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    expected = {'missing.pth': 'checkpoint not found', 'empty.pth': 'is empty',
                'truncated.pth': 'is truncated', 'text.pth': 'is not a PyTorch checkpoint'}
    for name, message in expected.items():
        with pytest.raises(CheckpointError, match=message) as caught:
            check_checkpoint(str(tmp_path / name))
        assert str(tmp_path / name) in str(caught.value)
    check_checkpoint(good)  # complete: no error
    assert set(read_state_dict(good)) == {'weight', 'bias'}


def test_latest_checkpoint_skips_a_truncated_newest_and_follows_a_moved_work_dir(tmp_path):
    first = _save(tmp_path / 'epoch_1.pth', nn.Linear(4, 2))
    second = tmp_path / 'epoch_2.pth'
    second.write_bytes(open(first, 'rb').read()[:100])  # killed mid-write
    os.utime(second, (os.path.getmtime(first) + 10, ) * 2)
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/epoch_2.pth')  # an old absolute path
    with pytest.warns(UserWarning, match='epoch_2.pth is truncated'):
        assert latest_checkpoint(str(tmp_path)) == first
    assert latest_checkpoint(str(tmp_path / 'nothing')) is None


def _atomic_backend(path):
    from mmengine.fileio import get_file_backend
    write_checkpoints_atomically()
    return get_file_backend(str(path))


def test_an_interrupted_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    backend = _atomic_backend(path)
    backend.put(b'the previous checkpoint', path)

    def killed(fd):
        raise KeyboardInterrupt  # the run stopped while the bytes were being flushed

    monkeypatch.setattr(os, 'fsync', killed)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'half of the next one', path)
    assert path.read_bytes() == b'the previous checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']


def test_a_failed_write_is_a_save_error_naming_the_file(tmp_path, monkeypatch):
    import errno
    path = tmp_path / 'epoch_1.pth'
    backend = _atomic_backend(path)

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, 'fsync', disk_full)
    with pytest.raises(SaveError, match=f'could not save {path}: No space left on device'):
        backend.put(b'x', path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('umask, mode', [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask_as_mmengines_do(tmp_path, umask, mode):
    path = tmp_path / 'epoch_1.pth'
    backend = _atomic_backend(path)
    previous = os.umask(umask)
    try:
        backend.put(b'weights', path)
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode


def test_the_fit_check_names_missing_unexpected_and_misshapen_keys(tmp_path):
    model = nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2))
    other = nn.Sequential(nn.Linear(4, 3), nn.Identity(), nn.Linear(3, 1))
    path = _save(tmp_path / 'other.pth', other)
    with pytest.raises(WeightsMismatchError) as caught:
        check_weights_fit(model, path, model_name='the test model')
    message = str(caught.value)
    assert message.startswith(f'checkpoint {path} does not fit the test model: ')
    assert "4 of the model's keys missing (1.weight, 1.bias, 1.running_mean, ...)" in message
    assert '2 unexpected (2.weight, 2.bias)' in message
    assert '2 of the wrong shape (0.weight: [3, 4] in the checkpoint, [2, 4] in the model' \
        in message
    notes = check_weights_fit(model, path, partial=True)
    assert len(notes) == 1 and notes[0].startswith(f'warning: loading only the tensors of {path}')
    assert check_weights_fit(model, _save(tmp_path / 'own.pth', model)) == []


def test_a_pretrained_backbone_may_lack_whole_modules_and_a_prefix_selects_keys(tmp_path):
    model = nn.ModuleDict(dict(backbone=nn.Linear(4, 2), head=nn.Linear(2, 1)))
    path = str(tmp_path / 'backbone.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v
                                for k, v in nn.Linear(4, 2).state_dict().items()}), path)
    with pytest.raises(WeightsMismatchError, match=r"2 of the model's keys missing \(head\."):
        check_weights_fit(model, path)
    assert check_weights_fit(model, path, allow_absent_modules=True) == [
        f'note: {path} holds no weights for head (2 keys); they keep their initial values']
    assert check_weights_fit(nn.Linear(4, 2), path, prefix='backbone.') == []
    with pytest.raises(CheckpointError, match="no key of .* starts with 'neck.'"):
        check_weights_fit(nn.Linear(4, 2), path, prefix='neck.')
