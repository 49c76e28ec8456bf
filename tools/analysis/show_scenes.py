"""Draw generated scenes with their labels: boxes and classes, and the label map.

    python tools/analysis/show_scenes.py [--scenes clutter] [--seeds 3 5] [--size 384]
        [--out docs/images/clutter_samples.png]

Each row: the image, the image with every annotated box (class-coloured, named),
and the segmentation label map (ignore in black). Needs numpy and OpenCV only.
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np

from mmfilter.datasets.scene import SCENES, generate_scene, object_palette, seg_palette


def draw_row(seed: int, size: int, scenes: str) -> np.ndarray:
    settings = SCENES[scenes]
    image, objects, labels = generate_scene(seed, size, size, settings)
    colours = dict(zip(settings.object_classes, object_palette(settings)))
    boxes = image.copy()
    for obj in objects:
        x, y, w, h = (int(v) for v in obj.bbox_xywh)
        cv2.rectangle(boxes, (x, y), (x + w - 1, y + h - 1), colours[obj.category], 1)
        cv2.putText(boxes, obj.category, (x, max(8, y - 2)), cv2.FONT_HERSHEY_PLAIN, 0.7,
                    (255, 255, 255), 1, cv2.LINE_AA)
    palette = np.array([(0, 0, 0)] + seg_palette(settings), np.uint8)
    return np.concatenate([image, boxes, palette[labels]], axis=1)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--scenes', default='clutter', choices=sorted(SCENES))
    parser.add_argument('--seeds', nargs='+', type=int, default=[3, 5])
    parser.add_argument('--size', type=int, default=384)
    parser.add_argument('--out', default=osp.join('docs', 'images', 'clutter_samples.png'))
    args = parser.parse_args(argv)
    sheet = np.concatenate([draw_row(s, args.size, args.scenes) for s in args.seeds], axis=0)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    if not cv2.imwrite(args.out, sheet[..., ::-1]):
        sys.exit(f'error: cannot write {args.out}')
    print(f'wrote {args.out}')
    return args.out


if __name__ == '__main__':
    main()
