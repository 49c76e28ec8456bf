"""Loading mmengine checkpoints on torch ≥ 2.6, whose ``torch.load`` defaults to ``weights_only=True``.

mmengine 0.10.7 checkpoints carry the message hub (``HistoryBuffer`` objects,
numpy arrays and scalars) in ``meta``, which the weights-only unpickler refuses,
so ``--resume`` fails. Rather than switching the safe loader off, we allow the
few types those checkpoints are known to hold.
"""
import numpy as np
import torch


def _numpy_globals() -> list:
    multiarray = getattr(np, '_core', np.core).multiarray
    dtype_classes = [type(np.dtype(t)) for t in
                     ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
                      'uint8', 'bool')]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def allow_mmengine_checkpoints() -> None:
    """Register the types of mmengine checkpoints as safe for weights-only loading."""
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # torch < 2.4 loads everything anyway
    from mmengine.logging import HistoryBuffer
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])
