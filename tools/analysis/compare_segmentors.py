"""Draw images of a split, their ground truth and several segmentors' predictions side by side.

    python tools/analysis/compare_segmentors.py \
        --model FilterViT-xs CONFIG CHECKPOINT [--model NAME CONFIG CHECKPOINT ...] \
        [--split test] [--indices 0 60 120 180] --out FILE.jpg

The images and label maps are those of the first model's config (its ``test`` or
``val`` dataset, rows ``--indices`` of it); every map is drawn in that dataset's
palette, ignored pixels black. One row per image: photo, ground truth, then each
model's prediction. Works for any MMSegmentation config, e.g. the CamVid ones:
docs/findings/camvid.md.
"""
import argparse
import os
import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from mmfilter.engine.config import load_config
from mmfilter.engine.image_inputs import read_rgb
from mmfilter.visualization import sheet

IGNORE_INDEX = 255


def colourise(labels: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """``[H, W]`` class indices → ``[H, W, 3]`` RGB in ``palette``; other values black."""
    lookup = np.zeros((256, 3), np.uint8)
    lookup[:len(palette)] = np.asarray(palette, np.uint8)
    return lookup[labels]


def load_split(config: str, split: str):
    """The config's ``split`` dataset (files listed, no pipeline)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    cfg = load_config(config)
    init_default_scope('mmseg')
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise SystemExit(f'error: {config} has no {split}_dataloader')
    return DATASETS.build(dict(loader.dataset, pipeline=[]))


def ground_truth(info: dict) -> np.ndarray:
    """The label map of one data info, mapped as the dataset maps it (``label_map``,
    ``reduce_zero_label``)."""
    raw = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise SystemExit(f"error: cannot read label map {info['seg_map_path']}")
    labels = raw.copy()
    if info.get('reduce_zero_label'):  # in MMSegmentation's LoadAnnotations' order
        labels[raw == 0] = IGNORE_INDEX
        labels[raw != 0] -= 1
    shifted = labels.copy()
    for old, new in (info.get('label_map') or {}).items():
        labels[shifted == old] = new
    return labels


def predict(models: List[Tuple[str, str, str]], paths: Sequence[str]) -> List[List[np.ndarray]]:
    """Per model, the predicted class map of each image."""
    from mmseg.apis import inference_model

    from mmfilter.apis import init_model
    out = []
    for _, config, checkpoint in models:
        model = init_model(config, checkpoint, device='cpu', cpu_optimize=True, malloc='reuse')
        out.append([inference_model(model, path).pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
                    for path in paths])
    return out


def main(argv=None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'))
    parser.add_argument('--split', default='test', choices=['test', 'val'])
    parser.add_argument('--indices', nargs='+', type=int, default=[0, 60, 120, 180])
    parser.add_argument('--tile-width', type=int, default=320)
    parser.add_argument('--out', required=True, help='image file to write (.jpg or .png)')
    args = parser.parse_args(argv)
    for name, config, checkpoint in args.model:
        for path in (config, checkpoint):
            if not osp.isfile(path):
                raise SystemExit(f'error: {name}: file not found: {path}')
    dataset = load_split(args.model[0][1], args.split)
    outside = [i for i in args.indices if not 0 <= i < len(dataset)]
    if outside:
        raise SystemExit(f'error: indices {outside} outside the {len(dataset)} images of the '
                         f'{args.split} split')
    infos = [dataset.get_data_info(i) for i in args.indices]
    palette = dataset.metainfo['palette']
    predictions = predict(args.model, [info['img_path'] for info in infos])
    panels = []
    for row, info in enumerate(infos):
        name = osp.basename(info['img_path'])
        panels += [(name, read_rgb(info['img_path'])),
                   ('ground truth', colourise(ground_truth(info), palette))]
        panels += [(model[0], colourise(maps[row], palette))
                   for model, maps in zip(args.model, predictions)]
    picture = sheet(panels, columns=2 + len(args.model), tile_width=args.tile_width)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f'error: cannot write {args.out} (use .jpg or .png)')
    print(f'{args.out}: {len(infos)} images x {len(args.model)} models')
    return picture


if __name__ == '__main__':
    main()
