from .allocator import keep_freed_memory
from .checkpoint import allow_mmengine_checkpoints
from .cli import load_config, read_rgb
from .preflight import check_data, existing_checkpoints

__all__ = ['allow_mmengine_checkpoints', 'check_data', 'existing_checkpoints', 'keep_freed_memory',
           'load_config', 'read_rgb']
