"""Training hooks that need mmengine only."""
import math
import re
from typing import List, Optional

import torch
from mmengine.dist import all_reduce, get_comm_device, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from .checkpoint import compare_weights, describe_mismatch, keys_kept_initial


class DivergedError(RuntimeError):
    """Training produced a loss that is not finite."""


@HOOKS.register_module()
class StopOnNonFiniteLoss(Hook):
    """Stop training at the first iteration whose loss terms are not finite.

    Raises :class:`DivergedError` naming the iteration, the rank(s) whose loss
    diverged and that rank's loss terms, so the run exits non-zero before the
    next checkpoint would store the diverged weights: the last checkpoint on disk
    is the last good one. In a distributed run the ranks share the verdict every
    iteration (one all-reduce of a flag per rank), so all stop together instead
    of waiting for the diverged one in the next collective. Checking costs one
    host read of a few scalars per step.
    """
    priority = 'ABOVE_NORMAL'  # before the checkpoint hook of the same iteration

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        terms = {k: float(v.detach() if torch.is_tensor(v) else v)
                 for k, v in (outputs or {}).items() if 'loss' in k}
        finite = all(math.isfinite(v) for v in terms.values())
        diverged = diverged_ranks(not finite)
        if not diverged:
            return
        listed = ', '.join(f'{k}={v:.4g}' for k, v in terms.items())
        where = f' on rank {", ".join(map(str, diverged))}' if get_world_size() > 1 else ''
        own = f': {listed}' if not finite else ' (this rank\'s losses were finite)'
        raise DivergedError(
            f'training diverged at iteration {runner.iter + 1}{where}{own}. Lower the learning '
            f'rate (optim_wrapper.optimizer.lr) or clip gradients; the checkpoints in '
            f'{runner.work_dir} predate the divergence.')


def diverged_ranks(diverged_here: bool) -> List[int]:
    """The ranks whose flag is set, gathered from every rank of a distributed run
    (an all-reduce of one flag per rank); ``[0]`` or ``[]`` in a single process."""
    world_size = get_world_size()
    if world_size == 1:
        return [0] if diverged_here else []
    flags = torch.zeros(world_size, device=get_comm_device())
    flags[get_rank()] = float(diverged_here)
    all_reduce(flags, op='sum')
    return [rank for rank, flag in enumerate(flags.tolist()) if flag]


def resident_memory_mb() -> float:
    """This process's resident set size in MiB (psutil: a requirement of mmfilter,
    requirements/runtime.txt)."""
    import psutil
    return psutil.Process().memory_info().rss / 2**20


@HOOKS.register_module()
class ResidentMemoryHook(Hook):
    """Log the process's resident memory after every training and validation epoch.

    The figures go to the log (``resident memory after training epoch 3: 1234 MiB``)
    and to the message hub as ``train/rss_mib`` and ``val/rss_mib``, so a soak
    can check that memory stays flat from epoch to epoch.
    """
    priority = 'LOW'

    def after_train_epoch(self, runner) -> None:
        # runner.epoch counts finished epochs only after this hook.
        self._log(runner, 'train', f'training epoch {runner.epoch + 1}')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._log(runner, 'val', f'validation at epoch {runner.epoch}')

    @staticmethod
    def _log(runner, phase: str, when: str) -> None:
        rss = resident_memory_mb()
        runner.message_hub.update_scalar(f'{phase}/rss_mib', rss)
        runner.logger.info(f'resident memory after {when}: {rss:.0f} MiB')


@HOOKS.register_module()
class KeepInitialWeights(Hook):
    """Complete a checkpoint, as it is loaded, with the model's own values for the keys
    it lacks on purpose: those a module declares may be absent (see
    :func:`~mmfilter.engine.checkpoint.check_weights_fit`) and, with
    ``allow_absent_modules``, those of top-level modules it holds nothing for. The
    tools list such keys once before the run; MMEngine's loader then finds nothing
    missing. A checkpoint that does not fit otherwise (a partial load the user
    asked for) is left alone, for MMEngine to report what it skips.

    Args:
        allow_absent_modules (bool): also complete whole top-level modules the
            checkpoint lacks (``load_from`` a pretrained backbone). Default: False.
    """

    def __init__(self, allow_absent_modules: bool = False) -> None:
        self.allow_absent_modules = allow_absent_modules

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state_dict = checkpoint.get('state_dict', checkpoint)
        tensors = {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()
                   if torch.is_tensor(v)}
        fit = compare_weights(model, tensors, self.allow_absent_modules)
        if describe_mismatch(fit):
            return
        own = model.state_dict()
        for key in keys_kept_initial(fit):
            state_dict[key] = own[key]
