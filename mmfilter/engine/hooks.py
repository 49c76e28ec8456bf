"""Training hooks that need mmengine only."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


class DivergedError(RuntimeError):
    """Training produced a loss that is not finite."""


@HOOKS.register_module()
class StopOnNonFiniteLoss(Hook):
    """Stop training at the first iteration whose loss terms are not finite.

    Raises :class:`DivergedError` naming the iteration and every loss term, so
    the run exits non-zero before the next checkpoint would store the diverged
    weights: the last checkpoint on disk is the last good one. Checking every
    iteration costs one host read of a few scalars per step.
    """
    priority = 'ABOVE_NORMAL'  # before the checkpoint hook of the same iteration

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        terms = {k: float(v.detach() if torch.is_tensor(v) else v)
                 for k, v in outputs.items() if 'loss' in k}
        if all(math.isfinite(v) for v in terms.values()):
            return
        listed = ', '.join(f'{k}={v:.4g}' for k, v in terms.items())
        raise DivergedError(
            f'training diverged at iteration {runner.iter + 1}: {listed}. Lower the learning '
            f'rate (optim_wrapper.optimizer.lr) or clip gradients; the checkpoints in '
            f'{runner.work_dir} predate the divergence.')


def resident_memory_mb() -> float:
    """This process's resident set size in MiB (psutil: installed with mmcv's build helpers)."""
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
