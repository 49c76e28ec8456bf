"""A table-driven CNN/transformer hybrid backbone with the OpenMMLab knobs.

A stem (stride 2) and four stages of inverted residuals, each stage optionally
ending in a stage-attention block of a registered kind (``ATTENTION_BLOCKS``:
``'filter'``, ``'pooled'``, ``'mobilevit'``). FilterViT, DropoutViT and MobileViT
are arch tables plus the keyword arguments of their block kinds.
"""
import operator
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from inspect import signature
from itertools import accumulate
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import (ATTENTION_BLOCKS, ConvNormAct, InvertedResidual, TokenSelectingBlock,
                      build_activation, build_norm)

NUM_STAGES = 4
TokenRule = Union[None, dict, Sequence[Optional[dict]]]


@dataclass(frozen=True)
class StemSpec:
    """Stride-2 stem: 3×3 conv to ``channels``, then an inverted residual to ``out_channels``."""
    channels: int = 16
    out_channels: int = 16
    expand_ratio: float = 2


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``blocks`` inverted residuals (the first with stride 2), then
    optionally a stage-attention block.

    ``attention`` is None or a dict with the block kind as ``type`` (a key of
    ``ATTENTION_BLOCKS``) and its arguments, e.g. ``dict(type='filter',
    embed_dim=64, depth=1, num_heads=4, token_ratio=0.25, token_budget=1024)``.
    ``channels``, ``drop_path``, ``attn_drop``, ``norm_cfg`` and ``act_cfg`` are
    filled in by the backbone, and the selection settings by the backbone's own
    arguments (e.g. ``FilterViT(selection=...)``).
    """
    channels: int
    blocks: int = 1
    expand_ratio: float = 4
    attention: Optional[Mapping[str, Any]] = None

    def __post_init__(self) -> None:
        if self.blocks < 1:
            raise ValueError(f'a stage needs at least one (strided) block, got blocks={self.blocks}')
        if self.attention is None:
            return
        kind = self.attention.get('type')
        if kind not in ATTENTION_BLOCKS.module_dict:
            raise ValueError(f'unknown attention type {kind!r}; choose from '
                             f'{sorted(ATTENTION_BLOCKS.module_dict)}')
        if self.attention.get('embed_dim', 0) < 1 or self.attention.get('depth', 0) < 1:
            raise ValueError(f'{kind} attention needs embed_dim and depth ≥ 1')

    @property
    def depth(self) -> int:
        """Transformer layers in this stage."""
        return self.attention['depth'] if self.attention else 0

    @property
    def block_class(self) -> Optional[type]:
        return ATTENTION_BLOCKS.get(self.attention['type']) if self.attention else None

    @property
    def selects_tokens(self) -> bool:
        cls = self.block_class
        return cls is not None and issubclass(cls, TokenSelectingBlock)


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


def with_block_settings(arch: Union[str, dict], arch_settings: Dict[str, dict], kind: str,
                        settings: dict, backbone: str) -> dict:
    """``arch`` as a dict of specs whose attention blocks of ``kind`` get
    ``settings``: how a backbone hands its own arguments (FilterViT's
    ``selection``, ``mask_mode``) to its blocks. An arch that sets them itself
    is refused: they have one place, the backbone's arguments."""
    stem, stages = resolve_arch(arch, arch_settings, backbone)
    of_kind = [spec.attention is not None and spec.attention['type'] == kind for spec in stages]
    set_in_arch = {k for spec, own in zip(stages, of_kind) if own for k in spec.attention}
    given = sorted(set_in_arch & set(settings))
    if given:
        raise ValueError(f'{backbone} arch sets {given} in its {kind!r} attention; pass '
                         f'{backbone}({given[0]}=...) instead')
    return dict(stem=stem, stages=[
        replace(spec, attention=dict(spec.attention, **settings)) if own else spec
        for spec, own in zip(stages, of_kind)])


class HybridBackbone(BaseModule):
    """Stem (stride 2) and four stages (strides 4, 8, 16, 32) returning NCHW maps.

    Args:
        arch (str | dict): a name from ``arch_settings`` or a custom dict (see
            :class:`StageSpec`). Default: ``'xs'``.
        in_channels (int): image channels. Default: 3.
        out_indices (int | Sequence[int]): stages whose outputs are returned, in
            ``[0, 3]``; stages after the last of them are not built (nothing would
            use them: no wasted time, no unused parameters under DDP).
            Default: ``(0, 1, 2, 3)``.
        frozen_stages (int): stages up to this one get no gradient and stay in
            eval mode; 0 freezes the stem only, -1 nothing. Default: -1.
        norm_eval (bool): keep every BatchNorm in eval mode while training.
            Default: False.
        with_cp (bool): activation checkpointing per stage (saves memory, costs
            time). Default: False.
        drop_path_rate (float): stochastic depth, rising linearly over all
            transformer layers. Default: 0.
        attn_drop_rate (float): dropout on the attention weights of every
            transformer layer. Default: 0.
        token_rule (dict | Sequence[dict], optional): K of the stages whose
            blocks select tokens, ``dict(ratio=..., budget=...)`` replacing the
            arch table's ``token_ratio`` / ``token_budget``: one dict for all or
            a list, one per stage. Default: None (the arch table's).
        norm_cfg (dict): the norm of every convolution, ``BN``, ``SyncBN`` or
            ``GN`` (see :func:`~mmfilter.models.layers.build_norm`); the
            transformers keep their LayerNorms. Default: ``dict(type='BN')``.
        act_cfg (dict): the activation after every convolution but the
            projections, a ``torch.nn`` activation by name (see
            :func:`~mmfilter.models.layers.build_activation`); the transformers'
            MLPs keep SiLU. Default: ``dict(type='SiLU')``.
        channels_last (bool): run in channels-last memory layout (faster on
            CPU); the returned maps are contiguous NCHW either way. Default: True.
        strides (Sequence[int]): the stride of each stage's first block, 2 or 1;
            as ResNet's, with ``dilations``, ``strides=(2, 2, 2, 1),
            dilations=(1, 1, 1, 2)`` gives output stride 16 for DeepLabv3.
            Attention then sees the larger map (K follows it).
            Default: ``(2, 2, 2, 2)`` (output strides 4, 8, 16, 32).
        dilations (Sequence[int]): the dilation of each stage's depthwise convs.
            Default: ``(1, 1, 1, 1)``.
        init_cfg (dict | list[dict], optional): e.g. ``dict(type='Pretrained',
            checkpoint=..., prefix='backbone.')``. Default: None.
    """

    arch_settings: Dict[str, dict] = {}

    def __init__(self,
                 arch: Union[str, dict] = 'xs',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 drop_path_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 token_rule: TokenRule = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='SiLU'),
                 channels_last: bool = True,
                 strides: Sequence[int] = (2, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        name = type(self).__name__
        check_strides_and_dilations(strides, dilations, name)
        check_layer_cfgs(norm_cfg, act_cfg, name)
        stem, stages = resolve_arch(arch, self.arch_settings, name)
        stages = apply_token_rule(stages, token_rule, name)
        self.out_indices = normalize_out_indices(out_indices, name)
        if not -1 <= frozen_stages <= NUM_STAGES:
            raise ValueError(f'frozen_stages must lie in [-1, {NUM_STAGES}], got {frozen_stages}')
        self.in_channels = in_channels
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.channels_last = channels_last
        self.stage_specs = stages
        self.stage_channels: List[int] = [s.channels for s in stages]
        self.stage_strides: List[int] = [2 * s for s in accumulate(strides, operator.mul)]

        layer = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stem = nn.Sequential(OrderedDict(
            conv=ConvNormAct(in_channels, stem.channels, 3, stride=2, **layer),
            block=InvertedResidual(stem.channels, stem.out_channels, 1, stem.expand_ratio,
                                   **layer)))
        depths = [s.depth for s in stages]
        rates = torch.linspace(0, drop_path_rate, max(sum(depths), 1)).tolist()
        self.stages = nn.ModuleList()
        in_ch = stem.out_channels
        built = stages[:max(self.out_indices) + 1]  # later stages would feed no output
        for i, (spec, start) in enumerate(zip(built, accumulate([0] + depths[:-1]))):
            self.stages.append(build_stage(
                in_ch, spec, dict(drop_path=rates[start:start + spec.depth],
                                  attn_drop=attn_drop_rate, **layer),
                f'{name} stage {i}', strides[i], dilations[i]))
            in_ch = spec.channels
        self._freeze_stages()

    def init_weights(self) -> None:
        """Initialise every layer, then apply ``init_cfg`` (e.g. ``Pretrained``) on top.

        MMEngine's runner calls it before training; a model built otherwise keeps
        torch's default initialisation until it is called. Convolutions get
        Kaiming normal (fan out), linear layers a truncated normal (std 0.02),
        norms unit weights and zero biases; then each submodule's own
        ``init_weights`` (FilterMobileViT's scorers start at zero). Keys a
        ``Pretrained`` checkpoint lacks keep these values.
        """
        if not self.is_init:
            self.apply(init_layer)
            for module in self.modules():
                if module is not self and callable(getattr(module, 'init_weights', None)):
                    module.init_weights()
        super().init_weights()

    @property
    def out_channels(self) -> List[int]:
        """Channels of the returned maps, in ``out_indices`` order: what a neck's
        ``in_channels`` must be. ``stage_channels`` lists all four stages."""
        return [self.stage_channels[i] for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``[B, in_channels, H, W]`` → one ``[B, C_i, ceil(H / s_i), ...]`` map per out
        index, ``s_i = stage_strides[i]`` (4, 8, 16, 32 by default)."""
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

    def selecting_blocks(self) -> Iterator[Tuple[int, TokenSelectingBlock]]:
        """``(stage index, block)`` for every block that attends a selected subset."""
        for i, stage in enumerate(self.stages):
            for module in stage.modules():
                if isinstance(module, TokenSelectingBlock):
                    yield i, module


def check_layer_cfgs(norm_cfg: dict, act_cfg: dict, backbone: str) -> None:
    """Raise, naming ``backbone``, unless both configs build a layer."""
    try:
        build_norm(norm_cfg, 8)
        build_activation(act_cfg)
    except (TypeError, ValueError) as e:
        raise type(e)(f'{backbone}: {e}') from None


def check_strides_and_dilations(strides: Sequence[int], dilations: Sequence[int],
                                backbone: str) -> None:
    if len(strides) != NUM_STAGES or len(dilations) != NUM_STAGES:
        raise ValueError(f'{backbone} needs {NUM_STAGES} strides and {NUM_STAGES} dilations, got '
                         f'{tuple(strides)} and {tuple(dilations)}')
    if any(s not in (1, 2) for s in strides) or any(int(d) != d or d < 1 for d in dilations):
        raise ValueError(f'{backbone}: strides must be 1 or 2 and dilations positive integers, '
                         f'got {tuple(strides)} and {tuple(dilations)}')


class HybridStage(nn.Sequential):
    """One stage: ``blocks`` (inverted residuals), then optionally ``attention``:
    ``[B, C_in, H, W] -> [B, C, H / stride, W / stride]``."""


def build_stage(in_channels: int, spec: StageSpec, filled: dict, where: str, stride: int = 2,
                dilation: int = 1) -> HybridStage:
    """``blocks``: inverted residuals (the first with ``stride``, all with
    ``dilation``); ``attention``: the stage's block. ``filled``: the block
    arguments the backbone fills in (``drop_path``, ``attn_drop``, ``norm_cfg``,
    ``act_cfg``; the last two reach the inverted residuals too), each given to
    the blocks that take it."""
    layer = dict(norm_cfg=filled['norm_cfg'], act_cfg=filled['act_cfg'])
    blocks = [InvertedResidual(in_channels, spec.channels, stride, spec.expand_ratio, dilation,
                               **layer)]
    blocks += [
        InvertedResidual(spec.channels, spec.channels, 1, spec.expand_ratio, dilation, **layer)
        for _ in range(spec.blocks - 1)
    ]
    stage = OrderedDict(blocks=nn.Sequential(*blocks))
    if spec.attention is not None:
        known = signature(spec.block_class).parameters
        cfg = dict(spec.attention, channels=spec.channels,
                   **{k: v for k, v in filled.items() if k in known})
        unknown = sorted(set(cfg) - {'type'} - set(known))
        if unknown:
            raise TypeError(f'{where}: {spec.block_class.__name__} takes no {unknown}; '
                            f'its arguments: {sorted(known)}')
        cfg.pop('type')
        stage['attention'] = spec.block_class(**cfg)  # not .build: no scope switch, no warning
    return HybridStage(stage)


def token_rules_per_stage(token_rule: TokenRule, backbone: str) -> List[Optional[dict]]:
    """A ``token_rule`` (None, one dict or one per stage) as one rule per stage,
    each None or a dict of ``ratio`` and / or ``budget``."""
    if token_rule is None or isinstance(token_rule, dict):
        rules = [token_rule] * NUM_STAGES
    else:
        rules = list(token_rule)
    if len(rules) != NUM_STAGES:
        raise ValueError(f'{backbone} token_rule has {len(rules)} entries for {NUM_STAGES} stages')
    for rule in rules:
        unknown = set(rule or {}) - {'ratio', 'budget'}
        if unknown:
            raise KeyError(f'unknown token_rule keys {sorted(unknown)}; use ratio and budget')
    return rules


def apply_token_rule(stages: List[StageSpec], token_rule: TokenRule,
                     backbone: str) -> List[StageSpec]:
    """Replace ``token_ratio`` / ``token_budget`` of the stages whose blocks select tokens."""
    if token_rule is None:
        return stages
    if not any(spec.selects_tokens for spec in stages):
        raise TypeError(f'{backbone} has no token-selecting attention; drop token_rule')
    return [
        replace(spec, attention=dict(spec.attention, **{f'token_{k}': v for k, v in rule.items()}))
        if rule and spec.selects_tokens else spec
        for spec, rule in zip(stages, token_rules_per_stage(token_rule, backbone))
    ]


def normalize_out_indices(out_indices: Union[int, Sequence[int]], backbone: str) -> Tuple[int, ...]:
    indices = (out_indices, ) if isinstance(out_indices, int) else tuple(out_indices)
    bad = [i for i in indices if not isinstance(i, int) or not -NUM_STAGES <= i < NUM_STAGES]
    if bad or not indices:
        raise ValueError(f'{backbone} out_indices {indices} out of range: '
                         f'{NUM_STAGES} stages, indices must lie in [0, {NUM_STAGES - 1}]')
    return tuple(sorted({i % NUM_STAGES for i in indices}))


def init_layer(m: nn.Module) -> None:
    """Kaiming normal for convolutions, truncated normal for linear layers, unit norms."""
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (_BatchNorm, nn.GroupNorm, nn.LayerNorm)) and m.weight is not None:
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
