"""Run-time support that needs torch and mmengine only. The tools' helpers live in
``mmfilter.engine.cli`` and ``mmfilter.engine.preflight`` (they need mmcv)."""
from .allocator import MALLOC_MODES, add_malloc_argument, configure_malloc
from .checkpoint import (CheckpointError, SaveError, WeightsMismatchError,
                         allow_mmengine_checkpoints, check_checkpoint, check_weights_fit,
                         latest_checkpoint, write_checkpoints_atomically)
from .fusion import FuseConvBNHook, fuse_conv_bn
from .hooks import DivergedError, KeepInitialWeights, ResidentMemoryHook, StopOnNonFiniteLoss
from .row_bands import CPUInferenceHook, apply_row_bands, optimize_for_cpu
from .workdir import WorkDirError

__all__ = ['allow_mmengine_checkpoints', 'check_checkpoint', 'CheckpointError', 'DivergedError',
           'FuseConvBNHook', 'fuse_conv_bn', 'MALLOC_MODES', 'add_malloc_argument',
           'configure_malloc', 'latest_checkpoint', 'CPUInferenceHook', 'apply_row_bands',
           'optimize_for_cpu',
           'ResidentMemoryHook', 'StopOnNonFiniteLoss', 'check_weights_fit',
           'KeepInitialWeights', 'SaveError', 'WeightsMismatchError', 'WorkDirError',
           'write_checkpoints_atomically']
