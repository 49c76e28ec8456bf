"""Run-time support that needs torch and mmengine only: checkpoint safety
(:mod:`.checkpoint`), work dirs (:mod:`.workdir`), config reading (:mod:`.config`),
hooks and CPU settings. The tools' pre-flight checks (:mod:`.preflight`) and their
one exit path (:mod:`.cli`) need mmcv and are imported from there."""
from .allocator import MALLOC_MODES, add_malloc_argument, configure_malloc
from .checkpoint import (CheckpointError, SaveError, WeightsMismatchError,
                         allow_mmengine_checkpoints, check_checkpoint, check_weights_fit,
                         latest_checkpoint, write_checkpoints_atomically)
from .fusion import FuseConvBNHook, fuse_conv_bn
from .hooks import DivergedError, KeepInitialWeights, ResidentMemoryHook, StopOnNonFiniteLoss
from .row_bands import CPUInferenceHook, apply_row_bands, optimize_for_cpu
from .workdir import WorkDirBusyError, WorkDirError

__all__ = ['allow_mmengine_checkpoints', 'check_checkpoint', 'CheckpointError', 'DivergedError',
           'FuseConvBNHook', 'fuse_conv_bn', 'MALLOC_MODES', 'add_malloc_argument',
           'configure_malloc', 'latest_checkpoint', 'CPUInferenceHook', 'apply_row_bands',
           'optimize_for_cpu',
           'ResidentMemoryHook', 'StopOnNonFiniteLoss', 'check_weights_fit',
           'KeepInitialWeights', 'SaveError', 'WeightsMismatchError', 'WorkDirBusyError',
           'WorkDirError',
           'write_checkpoints_atomically']
