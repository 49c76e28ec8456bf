"""Checkpoints: weights-only loading of mmengine's (:mod:`.safe_loading`), complete
files and their tensors (:mod:`.files`), atomic writes (:mod:`.atomic`) and the fit
of a checkpoint to a model, checked before it is loaded (:mod:`.weights_fit`)."""
from .atomic import (PART_PATTERN, AtomicLocalBackend, SaveError, format_mib,
                     write_checkpoints_atomically)
from .files import (CheckpointError, check_checkpoint, is_local, latest_checkpoint,
                    read_state_dict)
from .safe_loading import allow_mmengine_checkpoints
from .weights_fit import (WeightsFit, WeightsMismatchError, check_weights_fit, compare_weights,
                          describe_mismatch, init_weights_quietly, keys_absent_in_pretrained,
                          keys_kept_initial, select_prefix)

__all__ = ['PART_PATTERN', 'AtomicLocalBackend', 'SaveError', 'format_mib',
           'write_checkpoints_atomically', 'CheckpointError', 'check_checkpoint', 'is_local',
           'latest_checkpoint', 'read_state_dict', 'allow_mmengine_checkpoints', 'WeightsFit',
           'WeightsMismatchError', 'check_weights_fit', 'compare_weights', 'describe_mismatch',
           'init_weights_quietly', 'keys_absent_in_pretrained', 'keys_kept_initial',
           'select_prefix']
