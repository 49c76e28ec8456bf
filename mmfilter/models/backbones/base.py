"""A table-driven CNN/transformer hybrid backbone with the OpenMMLab knobs.

FilterViT, DropoutViT and MobileViT differ only in their arch tables and in the
token selection of their filter-attention stages; everything else lives here.
"""
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from itertools import accumulate
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import (ConvNormAct, FilterAttentionBlock, InvertedResidual, MobileViTBlock,
                      PooledAttentionBlock)

ATTENTION_KINDS = (None, 'filter', 'pooled', 'mobilevit')
NUM_STAGES = 4


@dataclass(frozen=True)
class StemSpec:
    """Stride-2 stem: 3×3 conv to ``channels``, then an inverted residual to ``out_channels``."""
    channels: int = 16
    out_channels: int = 16
    expand_ratio: float = 2


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``blocks`` inverted residuals (the first with stride 2), then attention.

    ``attention`` is None, ``'filter'`` (top-K or random tokens, K from
    ``token_ratio`` / ``token_budget``), ``'pooled'`` (global attention over at
    most ``token_budget`` pooled cells) or ``'mobilevit'`` (2×2-patch attention).
    """
    channels: int
    blocks: int = 1
    expand_ratio: float = 4
    attention: Optional[str] = None
    embed_dim: int = 0
    depth: int = 0
    num_heads: int = 4
    mlp_ratio: float = 2.
    token_ratio: Optional[float] = None
    token_budget: Optional[int] = None

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f'unknown attention {self.attention!r}; choose from {ATTENTION_KINDS}')
        if self.blocks < 1:
            raise ValueError(f'a stage needs at least one (strided) block, got blocks={self.blocks}')
        if self.attention is not None and (self.embed_dim < 1 or self.depth < 1):
            raise ValueError(f'{self.attention} attention needs embed_dim and depth ≥ 1')


def _spec(cls, cfg, where: str):
    if isinstance(cfg, cls):
        return cfg
    known = {f.name for f in fields(cls)}
    unknown = set(cfg) - known
    if unknown:
        raise KeyError(f'unknown keys {sorted(unknown)} in {where}; known: {sorted(known)}')
    return cls(**cfg)


def resolve_arch(arch: Union[str, dict], arch_settings: Dict[str, dict],
                 backbone: str) -> Tuple[StemSpec, List[StageSpec]]:
    """Turn an arch name or a custom ``dict(stem=..., stages=[...])`` into specs."""
    if isinstance(arch, str):
        if arch not in arch_settings:
            raise KeyError(f'unknown {backbone} arch {arch!r}; choose from '
                           f'{sorted(arch_settings)} or pass a dict(stem=..., stages=[...])')
        arch = arch_settings[arch]
    if not isinstance(arch, dict) or 'stages' not in arch:
        raise TypeError(f'{backbone} arch must be a name or a dict with "stages", got {arch!r}')
    stem = _spec(StemSpec, arch.get('stem', {}), f'{backbone} stem')
    stages = [_spec(StageSpec, s, f'{backbone} stage {i}') for i, s in enumerate(arch['stages'])]
    if len(stages) != NUM_STAGES:
        raise ValueError(f'{backbone} needs {NUM_STAGES} stages (strides 4-32), got {len(stages)}')
    return stem, stages


class HybridBackbone(BaseModule):
    """Stem (stride 2) and four stages (strides 4, 8, 16, 32) returning NCHW maps.

    Args:
        arch: a name from ``arch_settings`` or a custom dict (see :class:`StageSpec`).
        in_channels: image channels.
        out_indices: stages whose outputs are returned, in ``[0, 3]``.
        frozen_stages: stages up to this one get no gradient and stay in eval
            mode; 0 freezes the stem only, -1 nothing.
        norm_eval: keep every BatchNorm in eval mode while training.
        with_cp: activation checkpointing per stage (saves memory, costs time).
        drop_path_rate: stochastic depth, rising linearly over all transformer layers.
        token_rule: overrides ``token_ratio`` / ``token_budget`` of the
            filter-attention stages: one dict for all or a list, one per stage.
        selection: ``'topk'`` (FilterViT) or ``'random'`` (DropoutViT).
        random_eval: keep random selection at evaluation (DropoutViT only).
        channels_last: run in channels-last memory layout (faster on CPU:
            FilterViT-xs at 1600×2688 takes 1.5 s instead of 2.3 s); the
            returned maps are contiguous NCHW either way.
        init_cfg: e.g. ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """

    arch_settings: Dict[str, dict] = {}

    def __init__(self,
                 arch: Union[str, dict] = 'xs',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 drop_path_rate: float = 0.,
                 token_rule: Union[None, dict, Sequence[Optional[dict]]] = None,
                 selection: str = 'topk',
                 random_eval: bool = False,
                 channels_last: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        stem, stages = resolve_arch(arch, self.arch_settings, name)
        stages = apply_token_rule(stages, token_rule)
        self.out_indices = normalize_out_indices(out_indices, name)
        if not -1 <= frozen_stages <= NUM_STAGES:
            raise ValueError(f'frozen_stages must lie in [-1, {NUM_STAGES}], got {frozen_stages}')
        self.in_channels = in_channels
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.channels_last = channels_last
        self.stage_specs = stages
        self.channels: List[int] = [s.channels for s in stages]

        self.stem = nn.Sequential(
            ConvNormAct(in_channels, stem.channels, 3, stride=2),
            InvertedResidual(stem.channels, stem.out_channels, 1, stem.expand_ratio))
        depths = [s.depth if s.attention else 0 for s in stages]
        rates = torch.linspace(0, drop_path_rate, max(sum(depths), 1)).tolist()
        self.stages = nn.ModuleList()
        in_ch = stem.out_channels
        for spec, start in zip(stages, accumulate([0] + depths[:-1])):
            self.stages.append(
                build_stage(in_ch, spec, rates[start:start + spec.depth], selection, random_eval))
            in_ch = spec.channels
        self.apply(_init_module)
        self._freeze_stages()

    @property
    def out_channels(self) -> List[int]:
        """Channels of the returned maps, in ``out_indices`` order (for necks)."""
        return [self.channels[i] for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``[B, in_channels, H, W]`` → one ``[B, C_i, ceil(H / 2^(i+2)), ...]`` map per out index."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects [B, {self.in_channels}, H, W] '
                             f'input, got shape {tuple(x.shape)}')
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            if self.with_cp and self.training:
                x = cp.checkpoint(stage, x, use_reentrant=False)
            else:
                x = stage(x)
            if i in self.out_indices:
                outs.append(x.contiguous())
        return tuple(outs)

    def train(self, mode: bool = True) -> 'HybridBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def _freeze_stages(self) -> None:
        frozen = ([self.stem] if self.frozen_stages >= 0 else []) + \
            list(self.stages[:max(self.frozen_stages, 0)])
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    # -- token selections, for visualisation ---------------------------------
    def filter_blocks(self) -> Iterator[Tuple[int, FilterAttentionBlock]]:
        """``(stage index, block)`` for every filter-attention block."""
        for i, stage in enumerate(self.stages):
            for module in stage.modules():
                if isinstance(module, FilterAttentionBlock):
                    yield i, module

    @contextmanager
    def record_selections(self) -> Iterator[None]:
        """Within this context, filter blocks keep their masks and token indices."""
        blocks = [b for _, b in self.filter_blocks()]
        for block in blocks:
            block.record = True
        try:
            yield
        finally:
            for block in blocks:
                block.record = False

    def last_selections(self) -> List[dict]:
        """Per filter block of the last recorded forward: ``stage``, ``mask``
        (``[B, 1, h, w]``, None for random selection), ``indices`` ``[B, K]``,
        ``size`` ``(h, w)`` of the map the tokens were picked from."""
        return [
            dict(stage=i, mask=b.last_mask, indices=b.last_indices, size=b.last_size)
            for i, b in self.filter_blocks() if b.last_indices is not None
        ]


def build_stage(in_channels: int, spec: StageSpec, drop_path: List[float], selection: str,
                random_eval: bool) -> nn.Sequential:
    """Inverted residuals (first strided), then the stage's attention block."""
    blocks: List[nn.Module] = [InvertedResidual(in_channels, spec.channels, 2, spec.expand_ratio)]
    blocks += [
        InvertedResidual(spec.channels, spec.channels, 1, spec.expand_ratio)
        for _ in range(spec.blocks - 1)
    ]
    attention = dict(channels=spec.channels, embed_dim=spec.embed_dim, depth=spec.depth,
                     num_heads=spec.num_heads, mlp_ratio=spec.mlp_ratio, drop_path=drop_path)
    if spec.attention == 'filter':
        blocks.append(FilterAttentionBlock(
            **attention, token_ratio=spec.token_ratio, token_budget=spec.token_budget,
            selection=selection, random_eval=random_eval))
    elif spec.attention == 'pooled':
        blocks.append(PooledAttentionBlock(**attention, token_budget=spec.token_budget))
    elif spec.attention == 'mobilevit':
        blocks.append(MobileViTBlock(**attention))
    return nn.Sequential(*blocks)


def apply_token_rule(stages: List[StageSpec],
                     token_rule: Union[None, dict, Sequence[Optional[dict]]]) -> List[StageSpec]:
    """Replace ``token_ratio`` / ``token_budget`` of the filter-attention stages."""
    if token_rule is None:
        return stages
    rules = [token_rule] * len(stages) if isinstance(token_rule, dict) else list(token_rule)
    if len(rules) != len(stages):
        raise ValueError(f'token_rule has {len(rules)} entries for {len(stages)} stages')
    out = []
    for spec, rule in zip(stages, rules):
        if rule and spec.attention == 'filter':
            unknown = set(rule) - {'ratio', 'budget'}
            if unknown:
                raise KeyError(f'unknown token_rule keys {sorted(unknown)}; use ratio and budget')
            spec = replace(spec, **{f'token_{key}': value for key, value in rule.items()})
        out.append(spec)
    return out


def normalize_out_indices(out_indices: Sequence[int], backbone: str) -> Tuple[int, ...]:
    indices = tuple(out_indices)
    bad = [i for i in indices if not -NUM_STAGES <= i < NUM_STAGES]
    if bad or not indices:
        raise ValueError(f'{backbone} out_indices {indices} out of range: '
                         f'{NUM_STAGES} stages, indices must lie in [0, {NUM_STAGES - 1}]')
    return tuple(sorted({i % NUM_STAGES for i in indices}))


def _init_module(m: nn.Module) -> None:
    """Kaiming for convolutions, truncated normal for linear layers, unit norms."""
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (_BatchNorm, nn.LayerNorm)):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
