"""How much of what the filter selects lies on objects, against how much of the image objects cover.

    python tools/analysis/research/filter_focus.py CONFIG CHECKPOINT [--num-images N]
        [--object-classes circle square ...] [--dry-run]

Runs the model over the config's test split. Object pixels come from the
ground truth: the instance masks of a COCO annotation file (detection) or the
label-map pixels of ``--object-classes`` (segmentation; default: the demo's
object classes). For every filter block it prints the mean fraction of selected
tokens that fall on objects and the mean share of the image that objects cover;
a filter that focuses on objects has the first well above the second.
``--dry-run``: one image, with the checkpoint's weights where one is given, else
its random initial weights.
"""
import sys
from collections import defaultdict

import mmcv
import numpy as np

from mmfilter.datasets.scene import OBJECT_CLASSES
from mmfilter.datasets.objects import on_object_fraction, test_split_objects
from mmfilter.engine.cli import model_run_parser, parse_model_run_args


def main(argv=None) -> dict:
    parser = model_run_parser(__doc__.split('\n')[0])
    parser.add_argument('--object-classes', nargs='+', default=list(OBJECT_CLASSES))
    parser.add_argument('--device', default='cpu')
    args = parse_model_run_args(parser, argv)
    from mmfilter.apis import scope_of
    from mmfilter.engine.cli import init_model_or_exit
    from mmfilter.visualization.explain import explain
    model = init_model_or_exit(args.config, args.checkpoint, device=args.device)
    try:
        samples = test_split_objects(model.cfg, scope_of(model.cfg), args.object_classes)
    except ValueError as e:
        sys.exit(f'error: {e}')

    on_object, area, tokens = defaultdict(list), [], {}
    for n, (path, objects) in enumerate(samples):
        if args.num_images is not None and n >= args.num_images:
            break
        image = mmcv.imread(path, channel_order='rgb')
        result = explain(model, image)
        area.append(objects.mean())
        for sel in result.selections:
            points = result.geometry.token_pixels(sel['indices'], sel['size'])
            on_object[sel['stage']].append(on_object_fraction(points, objects))
            tokens[sel['stage']] = (len(sel['indices']), sel['size'][0] * sel['size'][1])
    share = float(np.mean(area))
    print(f'{len(area)} images; objects cover {share:.1%} of the image on average')
    print('| stage | K of N (last image) | selected tokens on objects | object area share | ratio |')
    print('|---|---|---|---|---|')
    report = {}
    for stage, fractions in sorted(on_object.items()):
        frac = float(np.mean(fractions))
        k, n = tokens[stage]
        report[stage] = frac
        print(f'| {stage} | {k} of {n} | {frac:.1%} | {share:.1%} | {frac / share:.2f}x |')
    return dict(on_object=report, area_share=share)


if __name__ == '__main__':
    main()
