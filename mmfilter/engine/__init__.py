"""Run-time support that needs torch and mmengine only. The tools' helpers live in
``mmfilter.engine.cli`` and ``mmfilter.engine.preflight`` (they need mmcv)."""
from .allocator import MALLOC_MODES, add_malloc_argument, configure_malloc
from .checkpoint import (CheckpointError, allow_mmengine_checkpoints, check_checkpoint,
                         latest_checkpoint, write_checkpoints_atomically)
from .fusion import FuseConvBNHook, fuse_conv_bn
from .hooks import DivergedError, ResidentMemoryHook, StopOnNonFiniteLoss
from .row_bands import CPUInferenceHook, apply_row_bands, optimize_for_cpu

__all__ = ['allow_mmengine_checkpoints', 'check_checkpoint', 'CheckpointError', 'DivergedError',
           'FuseConvBNHook', 'fuse_conv_bn', 'MALLOC_MODES', 'add_malloc_argument',
           'configure_malloc', 'latest_checkpoint', 'CPUInferenceHook', 'apply_row_bands',
           'optimize_for_cpu',
           'ResidentMemoryHook', 'StopOnNonFiniteLoss',
           'write_checkpoints_atomically']
