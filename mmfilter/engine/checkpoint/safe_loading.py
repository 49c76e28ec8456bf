"""Weights-only loading of mmengine checkpoints on torch >= 2.6.

torch >= 2.6's ``torch.load`` defaults to ``weights_only=True``: mmengine 0.10.7
checkpoints carry the message hub (``HistoryBuffer`` objects, numpy arrays and
scalars) in ``meta``, which the weights-only unpickler refuses, so ``--resume``
fails. Rather than switching the safe loader off, :func:`allow_mmengine_checkpoints`
allows the few globals those checkpoints are known to hold: ``HistoryBuffer``,
numpy arrays, dtypes and scalars (``_codecs.encode`` rebuilds their bytes) and
``getattr``, with which a ``HistoryBuffer`` refers to its own statistics methods.
The weights-only unpickler still refuses to call anything not on that list.
"""
import codecs
import importlib

import numpy as np
import torch


def _numpy_globals() -> list:
    major = int(np.__version__.split('.')[0])
    multiarray = importlib.import_module('numpy._core.multiarray' if major >= 2 else
                                         'numpy.core.multiarray')
    dtype_classes = [type(np.dtype(t)) for t in
                     ('float64', 'float32', 'float16', 'int64', 'int32', 'int16', 'int8',
                      'uint8', 'bool')]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtype_classes]


def allow_mmengine_checkpoints() -> None:
    """Register the types of mmengine checkpoints as safe for weights-only loading."""
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # torch < 2.4 loads everything anyway
    from mmengine.logging import HistoryBuffer
    torch.serialization.add_safe_globals([HistoryBuffer, getattr, codecs.encode, *_numpy_globals()])
