"""Where a backbone's time goes: per stage, per operator kind, and the achieved
GFLOP/s of each stage (FLOPs as mmengine counts them, one per multiply-accumulate,
as the benchmark's GFLOPs column); and per token-selecting block, each step of its
forward."""
import re
from typing import Dict, List, Tuple

import torch
from torch import nn

from ..models.backbones.base import HybridBackbone
from .timing import flops_of, time_interleaved

#: Operator kinds, matched in order against the ATen op names of the profile.
OP_KINDS: Tuple[Tuple[str, str], ...] = (
    ('attention', r'scaled_dot_product|softmax|flash|_efficient_attention'),
    ('normalisation', r'batch_norm|layer_norm|group_norm'),
    ('pool / resize', r'pool|upsample|interpolate|grid_sample'),
    ('selection', r'topk|gather|scatter|^aten::index|sort'),
    ('convolution', r'conv'),
    ('linear', r'linear|addmm|^aten::mm$|bmm|matmul'),
    ('memory', r'copy_|clone|contiguous|^aten::cat$|^aten::stack$|pad|empty|zeros|^aten::to$|'
               r'_to_copy|fill_|resize_|arange'),
    ('elementwise', r'add|mul|sub|div|sigmoid|silu|relu|gelu|hardswish|hardtanh|clamp|exp|'
                    r'sin|cos|pow|sqrt'),
    ('views / dispatch', r'view|transpose|as_strided|^aten::t$|permute|unbind|squeeze|select|'
                         r'flatten|reshape|narrow|slice|expand|split|chunk|resolve_|result_type|'
                         r'_nnpack'),
)


def op_kind(name: str) -> str:
    """The kind of an ATen op (``'other'`` when no pattern matches)."""
    for kind, pattern in OP_KINDS:
        if re.search(pattern, name):
            return kind
    return 'other'


def hybrid_stages(backbone: HybridBackbone) -> List[Tuple[str, nn.Module]]:
    """The steps of a :class:`HybridBackbone`'s ``forward``: the stem, then each
    stage's convolutions and its attention (as two steps)."""
    steps = [('stem', backbone.stem)]
    for i, stage in enumerate(backbone.stages):
        steps.append((f'stage {i} convs', stage.blocks))
        if 'attention' in stage._modules:
            steps.append((f'stage {i} attention', stage.attention))
    return steps


def backbone_stages(backbone: nn.Module) -> List[Tuple[str, nn.Module]]:
    """``(name, module)`` per stage in forward order: :func:`hybrid_stages` of a
    :class:`HybridBackbone`, or the stem and ``layer1``-``layer4`` of a ResNet."""
    if isinstance(backbone, HybridBackbone):
        return hybrid_stages(backbone)
    if hasattr(backbone, 'res_layers'):
        stem = nn.Sequential(backbone.conv1, backbone.norm1, backbone.relu, backbone.maxpool)
        return [('stem', stem)] + [(f'stage {i}', getattr(backbone, name))
                                   for i, name in enumerate(backbone.res_layers)]
    raise TypeError(f'cannot split {type(backbone).__name__} into stages')


def stage_inputs(stages: List[Tuple[str, nn.Module]], image: torch.Tensor) -> List[torch.Tensor]:
    """The input of every stage, from one forward through them in order."""
    inputs, x = [], image
    with torch.no_grad():  # not inference tensors: the FLOP counter traces the stages
        for _, module in stages:
            inputs.append(x)
            x = module(x)
    return inputs


def op_kind_times(module: nn.Module, x: torch.Tensor, repeats: int) -> Dict[str, float]:
    """Seconds per call of ``module(x)`` by operator kind (self CPU time of the ATen ops)."""
    from torch.profiler import ProfilerActivity, profile
    with torch.inference_mode():
        module(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(repeats):
                module(x)
    kinds: Dict[str, float] = {}
    for event in prof.key_averages():
        if event.key.startswith('aten::'):
            kind = op_kind(event.key)
            kinds[kind] = kinds.get(kind, 0.) + event.self_cpu_time_total / 1e6 / repeats
    return kinds


def profile_stages(backbone: nn.Module, image: torch.Tensor, repeats: int) -> List[dict]:
    """Per stage: map size, median seconds (stages interleaved), FLOPs, GFLOP/s and
    seconds per operator kind. The image takes the backbone's memory layout
    (channels-last where its ``forward`` converts to it)."""
    if getattr(backbone, 'channels_last', False):
        image = image.contiguous(memory_format=torch.channels_last)
    stages = backbone_stages(backbone)
    inputs = stage_inputs(stages, image)

    def call(module, x):
        def run():
            with torch.inference_mode():
                module(x)
        return run

    times = time_interleaved({name: call(m, x) for (name, m), x in zip(stages, inputs)},
                             'cpu', repeats)
    rows = []
    for (name, module), x in zip(stages, inputs):
        flops = flops_of(module, x)
        rows.append(dict(stage=name, input='x'.join(map(str, x.shape[1:])), seconds=times[name],
                         flops=flops,
                         gflops_per_s=None if flops is None else flops / times[name] / 1e9,
                         kinds=op_kind_times(module, x, repeats)))
    return rows


def selecting_block_inputs(backbone: nn.Module, image: torch.Tensor) -> list:
    """``(block, input map)`` for every token-selecting block, from one forward."""
    captured = []
    hooks = [block.register_forward_pre_hook(lambda b, args: captured.append((b, args[0])))
             for _, block in backbone.selecting_blocks()]
    try:
        backbone(image)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def profile_selecting_blocks(backbone: nn.Module, image: torch.Tensor, device: str,
                             repeats: int) -> List[Dict[str, float]]:
    """Per token-selecting block (filter-attention blocks only), in forward order:
    its ``stage``, ``channels``, ``map`` size, ``k``, and the median seconds of the
    whole ``block`` and of each step of its forward, called through the block's own
    methods (``score``, ``select``, ``split``, ``attention``: ``transformer.delta``,
    ``merge``)."""
    stage_of = {block: i for i, block in backbone.selecting_blocks()}
    profiles = []
    with torch.inference_mode():
        for block, x in selecting_block_inputs(backbone, image):
            batch_size, _, h, w = x.shape
            k = block.num_tokens(h, w)
            logits = block.score(x)
            indices = block.select(logits, batch_size, h, w, k, x.device)
            base, tokens, gate = block.split(x, logits, indices)
            delta = block.transformer.delta(tokens, indices, h, w)
            steps = {
                'block': lambda: block(x),
                'score': lambda: block.score(x),
                'select': lambda: block.select(logits, batch_size, h, w, k, x.device),
                'split': lambda: block.split(x, logits, indices),
                'attention': lambda: block.transformer.delta(tokens, indices, h, w),
                'merge': lambda: block.merge(base.clone(), indices, tokens, delta, gate),
                'copy': lambda: base.clone(),  # subtracted from merge below
            }
            times = time_interleaved(steps, device, repeats)
            times['merge'] = max(times['merge'] - times.pop('copy'), 0.)
            profiles.append(dict(times, stage=stage_of[block], map=f'{h}x{w}', channels=x.shape[1],
                                 k=k))
    return profiles
