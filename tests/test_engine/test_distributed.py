"""Several processes on CPU (gloo): training through torchrun as tools/dist_train.sh runs
it, and what the ranks share (seeds, the divergence verdict, the data check)."""
import os
import subprocess
import textwrap

import pytest
from conftest import REPO, run_tool, tiny_detection_config

pytestmark = pytest.mark.slow  # tool runs, trainings, processes: integration tests

RECORDER = textwrap.dedent('''
    import torch
    from mmengine.dist import get_rank
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    from mmfilter.analysis import record_selections


    @HOOKS.register_module()
    class RecordSamples(Hook):
        """Appends the image ids of every training batch to samples_rank<r>.txt, and
        writes the tokens the backbone draws for one fixed image to tokens_rank<r>.txt."""

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            ids = [s.img_id for s in data_batch['data_samples']]
            with open(f'{runner.work_dir}/samples_rank{get_rank()}.txt', 'a') as f:
                f.write(' '.join(map(str, ids)) + '\\n')
            if batch_idx == 0 and runner.epoch == 0:
                backbone = getattr(runner.model, 'module', runner.model).backbone
                with torch.no_grad(), record_selections(backbone) as selections:
                    backbone(torch.ones(1, 3, 64, 64))
                indices = selections[0]['indices'][0].sort().values.tolist()
                with open(f'{runner.work_dir}/tokens_rank{get_rank()}.txt', 'w') as f:
                    f.write(' '.join(map(str, indices)))
''')


def test_two_processes_train_on_disjoint_samples_and_save_a_loadable_checkpoint(tmp_path):
    """Two gloo ranks through tools/dist_train.sh: disjoint samples, different random
    tokens on the same image (each rank seeds its own draws), a backbone that returns
    three of its four stages (DDP finds no unused parameter: the fourth is not built),
    and a checkpoint that tools/test.py evaluates."""
    (tmp_path / 'record_samples.py').write_text(RECORDER)
    cfg = tiny_detection_config(tmp_path)
    text = open(cfg).read().replace('train_dataloader = dict(batch_size=4',
                                    'train_dataloader = dict(batch_size=2')
    text = text.replace("backbone=dict(arch='xxs'), neck=dict(in_channels=[24, 48, 80, 112])",
                        "backbone=dict(arch='xxs', out_indices=(0, 1, 2), selection='random'), "
                        "neck=dict(in_channels=[24, 48, 80])")
    assert "out_indices=(0, 1, 2)" in text
    with open(cfg, 'w') as f:
        f.write(text + "custom_imports = dict(imports=['mmfilter', 'mmfilter.datasets.demo_coco', "
                "'record_samples'], allow_failed_imports=False)\n"
                "custom_hooks = [dict(type='StopOnNonFiniteLoss'), dict(type='RecordSamples')]\n")
    work = tmp_path / 'work'
    env = dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{REPO}', OMP_NUM_THREADS='1',
               PORT='29517')
    proc = subprocess.run(['bash', f'{REPO}/tools/dist_train.sh', cfg, '2', '--work-dir', work],
                          env=env, capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    ranks = [(work / f'samples_rank{r}.txt').read_text().split('\n')[:-1] for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 4  # 2 epochs x 2 iterations on each rank
    for epoch in range(2):  # per epoch, the two ranks share no image
        seen = [set(' '.join(lines[2 * epoch:2 * epoch + 2]).split()) for lines in ranks]
        assert seen[0] and seen[1] and not seen[0] & seen[1]
    tokens = [(work / f'tokens_rank{r}.txt').read_text().split() for r in (0, 1)]
    assert tokens[0] and len(tokens[0]) == len(tokens[1]) and tokens[0] != tokens[1]
    evaluated = run_tool('test.py', cfg, work / 'epoch_2.pth', '--work-dir', tmp_path / 'test',
                         env=env)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert 'coco/bbox_mAP' in evaluated.stdout + evaluated.stderr


def test_teardown_destroys_the_process_group_the_tools_leave(tmp_path):
    """tools/train.py and test.py call it after the run: exiting with a live gloo group can
    abort the process (SIGABRT) after a finished run."""
    import torch.distributed as dist
    from mmfilter.engine.distributed import teardown_distributed
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    assert dist.is_initialized()
    teardown_distributed()
    assert not dist.is_initialized()
    teardown_distributed()  # nothing to do: no error


def test_a_launcher_the_machine_cannot_run_is_a_one_line_error(trained_detector, tmp_path,
                                                               monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)  # on CUDA MMEngine decides
    cfg, work, _ = trained_detector
    for tool, args in (('train.py', (cfg, )), ('test.py', (cfg, work / 'epoch_2.pth'))):
        proc = run_tool(tool, *args, '--work-dir', tmp_path / tool, '--launcher', 'slurm')
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert proc.stderr.strip().splitlines()[-1] == (
            "error: launcher 'slurm' needs CUDA here; on CPU use 'pytorch' (tools/dist_train.sh)")


def test_the_configs_own_ddp_and_seed_settings_stand():
    """``setup_distributed`` seeds each rank apart unless the config says otherwise and
    leaves ``find_unused_parameters`` to the config (every built parameter of a
    backbone takes part in the loss)."""
    from unittest import mock

    from mmengine.config import Config

    from mmfilter.engine.distributed import setup_distributed
    implicit = Config(dict(launcher='pytorch', model=dict(backbone=dict(type='FilterViT'))))
    explicit = Config(dict(launcher='pytorch', find_unused_parameters=True, randomness=dict(
        seed=3, diff_rank_seed=False), model=implicit.model))
    with mock.patch('torch.distributed.is_initialized', return_value=True), \
            mock.patch('torch.cuda.is_available', return_value=False):
        setup_distributed(implicit)
        setup_distributed(explicit)
    assert 'find_unused_parameters' not in implicit and implicit.randomness.diff_rank_seed is True
    assert implicit.model_wrapper_cfg.find_unused_parameters is False
    assert explicit.model_wrapper_cfg.find_unused_parameters is True
    assert explicit.randomness.diff_rank_seed is False and explicit.randomness.seed == 3


def _diverge_on_rank_1(rank: int, store: str, results) -> None:
    """One rank of a two-process gloo group: rank 1's loss is nan, rank 0's finite."""
    from types import SimpleNamespace

    import torch
    import torch.distributed as dist

    from mmfilter.engine.hooks import DivergedError, StopOnNonFiniteLoss
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=2)
    runner = SimpleNamespace(iter=6, work_dir='work')
    loss = torch.tensor(float('nan') if rank == 1 else 0.5)
    try:
        StopOnNonFiniteLoss().after_train_iter(runner, 0, outputs=dict(loss_cls=loss))
        results[rank] = 'went on'
    except DivergedError as e:
        results[rank] = str(e)
    finally:
        dist.destroy_process_group()


def test_a_loss_that_diverges_on_one_rank_stops_every_rank_naming_it(tmp_path):
    """The ranks share the verdict: rank 0, whose loss is finite, stops at the same
    iteration as rank 1 instead of waiting for it in the next collective."""
    import torch.multiprocessing as mp
    results = mp.Manager().dict()
    mp.start_processes(_diverge_on_rank_1, args=(str(tmp_path / 'store'), results), nprocs=2,
                       start_method='fork', join=True)
    assert results[1].startswith('training diverged at iteration 7 on rank 1: loss_cls=nan')
    assert results[0].startswith("training diverged at iteration 7 on rank 1 (this rank's "
                                 'losses were finite)')


def _check_missing_data(rank: int, store: str, folder: str, results) -> None:
    """One rank of a two-process gloo group running the tools' pre-flight data check
    on a config whose annotation file is missing."""
    import torch.distributed as dist
    from mmengine.config import Config

    from mmfilter.datasets import DatasetError
    from mmfilter.engine import preflight
    checked = []
    original = preflight.check_data
    preflight.check_data = lambda *args, **kwargs: checked.append(rank) or original(*args, **kwargs)
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=2)
    cfg = Config(dict(default_scope='mmdet', train_dataloader=dict(dataset=dict(
        type='CocoDataset', data_root=f'{folder}/', ann_file='missing.json',
        data_prefix=dict(img='images/')))))
    try:
        preflight.checked_data(cfg, ('train', ))
        results[rank] = (checked, 'no error')
    except DatasetError as e:
        results[rank] = (checked, str(e))
    finally:
        dist.destroy_process_group()


def test_rank_zero_alone_checks_the_data_and_every_rank_gets_its_verdict(tmp_path):
    import torch.multiprocessing as mp
    results = mp.Manager().dict()
    mp.start_processes(_check_missing_data, nprocs=2, start_method='fork', join=True,
                       args=(str(tmp_path / 'store'), str(tmp_path), results))
    (checked_0, error_0), (checked_1, error_1) = results[0], results[1]
    assert checked_0 == [0] and checked_1 == []  # one process reads the files
    assert 'missing.json' in error_0 and error_1 == error_0


def test_remote_datasets_and_the_switch_skip_the_local_checks(tmp_path):
    """A dataset on a storage backend is read through MMEngine's backends, not checked
    on the local disk; ``data_check = False`` (``--no-data-check``) skips every check."""
    from mmengine.config import Config

    from mmfilter.datasets import DatasetError
    from mmfilter.engine.preflight import checked_data
    missing = dict(type='CocoDataset', data_root=f'{tmp_path}/', ann_file='missing.json',
                   data_prefix=dict(img='images/'))
    local = Config(dict(default_scope='mmdet', train_dataloader=dict(dataset=missing)))
    with pytest.raises(DatasetError, match='missing.json'):
        checked_data(local, ('train', ))
    for remote in (dict(missing, data_root='s3://bucket/coco/'),
                   dict(missing, backend_args=dict(backend='petrel'))):
        cfg = Config(dict(default_scope='mmdet', train_dataloader=dict(dataset=remote)))
        assert checked_data(cfg, ('train', )) == {}
    local.data_check = False
    assert checked_data(local, ('train', )) == {}
