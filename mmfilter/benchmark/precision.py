"""How far mixed precision moves a backbone: the change of its output maps and the
share of float32's selected tokens a low-precision forward selects too."""
from contextlib import nullcontext
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn


def recorded_forward(backbone: nn.Module, x: Tensor,
                     dtype: Optional[torch.dtype] = None) -> Tuple[List[Tensor], List[dict]]:
    """The backbone's outputs (as float32) and its recorded selections for ``x``
    ``[B, 3, H, W]``, under autocast to ``dtype`` (None: none)."""
    autocast = nullcontext() if dtype is None else torch.autocast(x.device.type, dtype=dtype)
    with torch.no_grad(), autocast, backbone.record_selections():
        outs = backbone(x)
    return [o.float() for o in outs], backbone.last_selections()


def selection_agreement(backbone: nn.Module, reference: List[dict],
                        other: List[dict]) -> List[dict]:
    """Per token-selecting block, how many of the ``reference`` selections' K
    tokens ``other`` selects too (both as :func:`recorded_forward` gives them, on
    the same images): ``dict(stage, stride, k, overlap, worst)``, the share
    averaged over the batch and its minimum."""
    stages = []
    for ref, got in zip(reference, other):
        height, width = ref['size']
        indices = ref['indices'], got['indices'].to(ref['indices'].device)
        chosen = [torch.zeros(len(i), height * width, dtype=torch.bool,
                              device=i.device).scatter_(1, i, True) for i in indices]
        share = (chosen[0] & chosen[1]).sum(1) / indices[0].shape[1]
        stages.append(dict(stage=ref['stage'], stride=backbone.stage_strides[ref['stage']],
                           k=indices[0].shape[1], overlap=share.mean().item(),
                           worst=share.min().item()))
    return stages


def map_change(reference: Sequence[Tensor], other: Sequence[Tensor]) -> List[float]:
    """Per output map: mean |other - reference| / mean |reference|."""
    return [((b.to(a.device) - a).abs().mean() / a.abs().mean().clamp_min(1e-12)).item()
            for a, b in zip(reference, other)]


def selection_overlap(backbone: nn.Module, x: Tensor, dtype: torch.dtype) -> Dict[str, list]:
    """Float32 against autocast to ``dtype`` on ``x`` ``[B, 3, H, W]``, in the
    backbone's current mode: ``stages`` (:func:`selection_agreement`) and ``maps``
    (per output ``dict(index, change)``, :func:`map_change`)."""
    reference, ref_selections = recorded_forward(backbone, x)
    low, low_selections = recorded_forward(backbone, x, dtype)
    return dict(stages=selection_agreement(backbone, ref_selections, low_selections),
                maps=[dict(index=i, change=c)
                      for i, c in zip(backbone.out_indices, map_change(reference, low))])
