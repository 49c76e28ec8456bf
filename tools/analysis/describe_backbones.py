"""Parameter counts and, per attention stage, tokens and K at given input sizes.

    python tools/analysis/describe_backbones.py [--sizes 512x512 800x1344]
        [--models FilterViT-xs ...]

Needs torch and mmengine only. The backbones are the catalogue's
(:mod:`mmfilter.benchmark.backbones`). K is computed from each block's rule, exactly as
the forward pass computes it.
"""
import argparse
import math

from mmfilter.benchmark import MMFILTER_BACKBONES, build_backbone
from mmfilter.models.layers import (FilterMobileViTBlock, MobileViTBlock,
                                    PooledAttentionBlock, TokenSelectingBlock)
from mmfilter.models.token_selection import pool_stride_for_budget

#: The catalogue's names described by default: mmfilter's backbones at each size.
DESCRIBED = [f'{name}-{arch}' for name in MMFILTER_BACKBONES for arch in ('xxs', 'xs', 's')]


def stage_map_size(height: int, width: int, stage: int):
    for _ in range(stage + 2):  # stem and each stage halve the size, rounding up
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return height, width


def attention_tokens(model, height: int, width: int) -> list:
    """``(stage, kind, map pixels, tokens attended per sequence)`` per attention block
    (a MobileViT block's sequences hold one pixel of each 2×2 patch)."""
    rows = []
    for i, stage in enumerate(model.stages):
        h, w = stage_map_size(height, width, i)
        block = getattr(stage, 'attention', None)
        if isinstance(block, FilterMobileViTBlock):  # K of the 2×2 patches, per sequence
            p = block.patch_size
            grid_h, grid_w = math.ceil(h / p), math.ceil(w / p)
            rows.append((i, f'filter {p}x{p}', h * w, block.num_tokens(grid_h, grid_w)))
        elif isinstance(block, TokenSelectingBlock):
            rows.append((i, 'filter', h * w, block.num_tokens(h, w)))
        elif isinstance(block, PooledAttentionBlock):
            s = pool_stride_for_budget(h, w, block.token_budget)
            rows.append((i, f'pooled/{s}', h * w, math.ceil(h / s) * math.ceil(w / s)))
        elif isinstance(block, MobileViTBlock):
            p = block.patch_size
            rows.append((i, f'mobilevit {p}x{p}', h * w, math.ceil(h / p) * math.ceil(w / p)))
    return rows


def classifier_head_params(channels: int, num_classes: int = 1000) -> int:
    """MobileViT's head: 1×1 conv to 4C with BN, pooling, linear layer."""
    wide = 4 * channels
    return channels * wide + 2 * wide + wide * num_classes + num_classes


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', default=['512x512', '800x1344'], help='HxW')
    parser.add_argument('--models', nargs='+', default=DESCRIBED, choices=DESCRIBED,
                        help="the catalogue's names (mmfilter.benchmark). Default: all sizes of "
                        "mmfilter's backbones")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split('x')) for s in args.sizes]
    print('| backbone | params (backbone) | params (+1000-class head) | '
          + ' | '.join(f'{h}x{w}: stage kind tokens→K' for h, w in sizes) + ' |')
    print('|---|---|---|' + '---|' * len(sizes))
    for name in args.models:
        model = build_backbone(name, row_bands=False)
        params = sum(p.numel() for p in model.parameters())
        with_head = params + classifier_head_params(model.stage_channels[-1])
        cells = []
        for h, w in sizes:
            cells.append('<br>'.join(f's{i} {kind} {n}→{k}' for i, kind, n, k in attention_tokens(model, h, w)))
        print(f'| {name} | {params / 1e6:.2f} M | {with_head / 1e6:.2f} M | '
              + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
