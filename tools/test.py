"""Evaluate a checkpoint with an MMDetection or MMSegmentation config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--filter-masks N]
                         [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm]
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
from mmfilter.datasets import DatasetError  # noqa: E402
from mmfilter.engine import (CheckpointError, add_malloc_argument,  # noqa: E402
                             check_checkpoint, configure_malloc)
from mmfilter.engine.cli import load_config, run_or_exit  # noqa: E402
from mmfilter.engine.preflight import check_data, handle_bad_images  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a detector or segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the evaluation log and metrics')
    parser.add_argument('--show-dir', help='save drawn predictions in WORK_DIR/TIMESTAMP/SHOW_DIR')
    parser.add_argument('--filter-masks', type=int, metavar='N',
                        help='save filter-mask sheets of the first N images (FilterMaskHook)')
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='fold BatchNorm into the convolutions once the weights are loaded')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_malloc_argument(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    configure_malloc(args.malloc)
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        hook = cfg.default_hooks.visualization
        hook.draw = True
        if cfg.get('default_scope') == 'mmseg':
            cfg.visualizer.save_dir = args.show_dir
        else:
            hook.test_out_dir = args.show_dir
    if args.filter_masks:
        import mmfilter.visualization.hook  # noqa: F401  registers FilterMaskHook
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='FilterMaskHook', num_images=args.filter_masks)]
    if args.fuse_conv_bn:
        import mmfilter.engine.fusion  # noqa: F401  registers FuseConvBNHook
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='FuseConvBNHook')]
    try:
        check_checkpoint(args.checkpoint)
        handle_bad_images(cfg, check_data(cfg, splits=('test', )))
    except (CheckpointError, DatasetError) as e:
        sys.exit(f'error: {e}')
    return run_or_exit(cfg, 'test')


if __name__ == '__main__':
    main()
