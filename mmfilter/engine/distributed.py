"""Distributed training and testing with MMEngine's runner on CPU as well as GPU.

MMEngine 0.10's ``init_dist`` calls ``torch.cuda.set_device`` whatever the
backend, and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which DDP
refuses for CPU modules. On a machine without CUDA this module starts the
process group with gloo (the runner then skips ``init_dist``) and wraps the model
without device ids. On CUDA the config's backend stands (nccl in the
MMDetection / MMSegmentation runtimes).
"""
import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_distributed(cfg: Config) -> str:
    """Prepare ``cfg`` for a multi-process run on this machine; returns the backend.

    Every launcher: each rank draws its own random numbers (DropoutViT's tokens,
    drop-path masks) unless the config sets ``randomness.diff_rank_seed``. The
    process group is started here, once, so that the tools' pre-flight checks can
    run on rank 0 alone: with MMEngine's ``init_dist`` on CUDA, with gloo on a CPU
    machine (``launcher='pytorch'`` only).
    """
    if cfg.get('launcher', 'none') == 'none':
        return 'none'
    randomness = cfg.get('randomness') or {}
    cfg.randomness = dict(randomness, diff_rank_seed=randomness.get('diff_rank_seed', True))
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if torch.cuda.is_available():
        backend = dist_cfg.setdefault('backend', 'nccl')
        if not torch_dist.is_initialized():  # the runner then skips its own init_dist
            from mmengine.dist import init_dist
            init_dist(cfg.launcher, **dist_cfg)
        return backend
    if cfg.launcher != 'pytorch':
        raise ValueError(f"launcher {cfg.launcher!r} needs CUDA here; on CPU use 'pytorch' "
                         '(tools/dist_train.sh)')
    if cfg.get('sync_bn'):
        raise ValueError('SyncBN needs CUDA; drop --sync-bn on a CPU machine')
    dist_cfg['backend'] = 'gloo'  # the runtimes' nccl cannot run without CUDA
    if not torch_dist.is_initialized():
        torch_dist.init_process_group('gloo')  # rank and world size from torchrun's env
    wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                   find_unused_parameters=cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = {**wrapper, **cfg.get('model_wrapper_cfg', {}), 'device_ids': None}
    return 'gloo'


def teardown_distributed() -> None:
    """Destroy the default process group, if one is live, before the process exits.

    A process that exits with a live gloo group can have the group's worker threads
    destroyed while still joinable (``terminate called without an active
    exception``, SIGABRT): torchrun then reports a finished run as failed.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
