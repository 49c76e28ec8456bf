"""How many of float32's tokens a backbone still selects under mixed precision.

    python tools/analysis/precision_overlap.py [CONFIG CHECKPOINT] [--num-images 8]
    python tools/analysis/precision_overlap.py --backbone FilterViT --arch xs \\
        [--shape 256 256] [--batch-size 2] [--seed 0]

Runs the backbone in evaluation twice on the same images: in float32, then under
``torch.autocast`` (bfloat16 on CPU, float16 on CUDA unless ``--dtype`` says
otherwise). Per token-selecting stage it prints the share of float32's K
selected pixels that the low-precision forward selects too (mean over the
images, and the worst image), and per output map how far the low-precision map
lies from float32's (mean absolute difference over mean absolute value).

With a config and a checkpoint (needs MMDetection or MMSegmentation) the images
are the first ``--num-images`` of the config's test split, through the model's
data preprocessor; without them a randomly initialised backbone (``--backbone``,
``--arch``, from the catalogue ``mmfilter.benchmark``) sees uniform noise of
``--shape``. The measurement is :mod:`mmfilter.benchmark.precision` (the GPU check
uses it too).
"""
import argparse
import sys
from typing import Dict, List, Sequence

import torch
from torch import Tensor, nn

from mmfilter.benchmark import build_backbone, catalogue_name
from mmfilter.benchmark.precision import selection_overlap
from mmfilter.benchmark.timing import AMP_DTYPES


def format_report(result: Dict[str, list], dtype_name: str) -> List[str]:
    """Markdown lines: one table of the stages' overlaps, one of the maps' changes."""
    lines = [f'| stage | stride | K | tokens kept under {dtype_name} (mean) | worst image |',
             '|---:|---:|---:|---:|---:|']
    lines += [f"| {s['stage']} | {s['stride']} | {s['k']} | {s['overlap']:.1%} | "
              f"{s['worst']:.1%} |" for s in result['stages']]
    lines += ['', '| output | change of the map (mean relative) |', '|---:|---:|']
    lines += [f"| {m['index']} | {m['change']:.2%} |" for m in result['maps']]
    return lines


def test_split_images(model: nn.Module, num_images: int, batch_size: int) -> List[Tensor]:
    """The first ``num_images`` of the config's test split, preprocessed, in batches."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DATASETS
    dataset = DATASETS.build(model.cfg.test_dataloader.dataset)
    count = min(num_images, len(dataset))
    return [model.data_preprocessor(pseudo_collate(
        [dataset[j] for j in range(i, min(i + batch_size, count))]), False)['inputs']
        for i in range(0, count, batch_size)]


def average(results: Sequence[Dict[str, list]]) -> Dict[str, list]:
    """Batches' results merged: means of the means, minimum of the minima."""
    stages = [dict(s, overlap=sum(r['stages'][i]['overlap'] for r in results) / len(results),
                   worst=min(r['stages'][i]['worst'] for r in results))
              for i, s in enumerate(results[0]['stages'])]
    maps = [dict(m, change=sum(r['maps'][i]['change'] for r in results) / len(results))
            for i, m in enumerate(results[0]['maps'])]
    return dict(stages=stages, maps=maps)


def main(argv=None) -> Dict[str, list]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='a model config (with CHECKPOINT)')
    parser.add_argument('checkpoint', nargs='?', help='its trained checkpoint')
    parser.add_argument('--backbone', default='FilterViT',
                        help='without a config: the backbone type. Default: FilterViT')
    parser.add_argument('--arch', default='xs', help='without a config: its arch. Default: xs')
    parser.add_argument('--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'),
                        help='without a config: the input size. Default: 256 256')
    parser.add_argument('--batch-size', type=int, default=2, help='Default: 2')
    parser.add_argument('--num-images', type=int, default=8,
                        help='with a config: images of the test split. Default: 8')
    parser.add_argument('--seed', type=int, default=0, help='weights and noise. Default: 0')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--dtype', choices=sorted(AMP_DTYPES),
                        help='Default: bf16 on CPU, fp16 on CUDA')
    args = parser.parse_args(argv)
    if (args.config is None) != (args.checkpoint is None):
        parser.error('give a config and its checkpoint, or neither (a random-init backbone)')
    dtype_name = args.dtype or ('bf16' if args.device == 'cpu' else 'fp16')
    if args.config:
        from mmfilter.engine.cli import init_model_or_exit
        model = init_model_or_exit(args.config, args.checkpoint, device=args.device)
        backbone = model.backbone.eval()
        batches = test_split_images(model, args.num_images, args.batch_size)
        source = f'{args.config} with {args.checkpoint}, {args.num_images} test images'
    else:
        try:
            name = catalogue_name(args.backbone, args.arch)
        except ValueError as e:
            parser.error(str(e))
        backbone = build_backbone(name, seed=args.seed, device=args.device, row_bands=False)
        generator = torch.Generator().manual_seed(args.seed)
        batches = [torch.rand(args.batch_size, 3, *args.shape, generator=generator)]
        source = (f'{args.backbone}-{args.arch}, random init (seed {args.seed}), '
                  f'{args.batch_size}x3x{args.shape[0]}x{args.shape[1]} noise')
    if next(iter(getattr(backbone, 'selecting_blocks', tuple)()), None) is None:
        sys.exit(f'error: {type(backbone).__name__} selects no tokens; nothing to compare')
    result = average([selection_overlap(backbone, x.to(args.device), AMP_DTYPES[dtype_name])
                      for x in batches])
    print(f'{source}; float32 against {dtype_name} autocast on {args.device}, evaluation')
    print('\n'.join(format_report(result, dtype_name)))
    return result


if __name__ == '__main__':
    main()
