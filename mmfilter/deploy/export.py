"""Whole detectors and segmentors as ONNX graphs, and the export itself.

The graph takes one input ``input``, float32 ``[1, 3, H, W]``: an image already
resized and padded to ``H x W``, with pixel values 0-255 in the channel order the
config's pipeline loads (BGR for ``LoadImageFromFile``), and holds the whole model
(:mod:`.wrappers`); exported with ``normalize_outside``, the image normalised
instead, in the model's channel order (MMDeploy's contract). K and the pooling
strides of mmfilter's backbones follow from
the input size, so a graph is exported for one size. The export runs under the
export-time rewrites (:mod:`.rewrites`) and writes the runner's metadata
(:mod:`.metadata`) into the file.
"""
import warnings
from typing import Dict, Optional, Sequence

import torch
from torch import Tensor, nn

from .metadata import export_metadata
from .rewrites import export_rewrites
from .wrappers import INPUT_NAME, OUTPUT_NAMES, task_of, wrap_for_export


def export_to_onnx(wrapper: nn.Module, image: Tensor, path: str, opset: int = 17,
                   metadata: Optional[Dict[str, str]] = None,
                   output_names: Sequence[str] = (), runtime_kernels: bool = True) -> None:
    """Trace ``wrapper`` on ``image`` with torch's TorchScript exporter (the one that
    honours ``autograd.Function.symbolic``), under :func:`~.rewrites.export_rewrites`
    (with ONNX Runtime's fused kernels unless ``runtime_kernels`` is False: standard
    ONNX ops only), and write ``path``, with ``metadata`` where given."""
    with warnings.catch_warnings(), torch.no_grad(), export_rewrites(runtime_kernels):
        warnings.simplefilter('ignore')  # sizes are fixed on purpose; the exporter is deprecated
        torch.onnx.export(wrapper, (image, ), path, opset_version=opset, dynamo=False,
                          input_names=[INPUT_NAME], output_names=list(output_names))
    if not metadata:
        return
    import onnx
    graph = onnx.load(path)
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, path)


def export_model(model: nn.Module, image: Tensor, path: str, opset: int = 17, config: str = '',
                 checkpoint: str = '', normalize_outside: bool = False,
                 runtime_kernels: bool = True) -> nn.Module:
    """Write the whole-model graph of a detector or segmentor in eval mode, traced on
    ``image`` ``[1, 3, H, W]``, with its metadata (``config`` and ``checkpoint``
    named there), with ONNX Runtime's fused kernels unless ``runtime_kernels`` is
    False (:func:`export_to_onnx`); returns the wrapper the graph was traced from
    (:func:`~.wrappers.wrap_for_export`). With ``normalize_outside`` the graph
    leaves the channel flip and ``(x - mean) / std`` to the runner, as MMDeploy's
    graphs do, and the metadata states them. Raises
    :class:`~.wrappers.ExportError` for a model it cannot export."""
    wrapper = wrap_for_export(model)
    height, width = (int(s) for s in image.shape[-2:])
    metadata = export_metadata(model, wrapper, height, width, config=config,
                               checkpoint=checkpoint, normalize_outside=normalize_outside)
    if normalize_outside:
        wrapper.normalize = nn.Identity()
    export_to_onnx(wrapper, image, path, opset, metadata, OUTPUT_NAMES[task_of(model)],
                   runtime_kernels)
    return wrapper
