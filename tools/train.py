"""Train a detector or segmentor from an MMDetection or MMSegmentation config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]] [--amp]
                          [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm]

The config's ``default_scope`` (mmdet or mmseg) decides which library runs it.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout
from mmfilter.datasets import DatasetError  # noqa: E402
from mmfilter.engine import (CheckpointError, add_malloc_argument, check_checkpoint,  # noqa: E402
                             configure_malloc, latest_checkpoint, write_checkpoints_atomically)
from mmfilter.engine.cli import load_config, run_or_exit  # noqa: E402
from mmfilter.engine.preflight import (check_data, existing_checkpoints,  # noqa: E402
                                       handle_bad_images)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector or segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate with the total batch size')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='auto|PATH',
                        help="resume from PATH, or with no value (or 'auto') from the "
                        'latest complete checkpoint in the work dir')
    parser.add_argument('--fresh-if-none', action='store_true',
                        help='with --resume auto: start from scratch when there is nothing to '
                        'resume (otherwise that stops the run)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher for distributed training')
    parser.add_argument('--sync-bn', action='store_true',
                        help='SyncBatchNorm across processes (distributed training on CUDA)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_malloc_argument(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.sync_bn:
        cfg.sync_bn = 'torch'
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    if args.resume == 'auto':
        latest = latest_checkpoint(cfg.work_dir)
        if latest is None and not args.fresh_if_none:
            raise CheckpointError(f'--resume auto: no complete checkpoint in {cfg.work_dir} '
                                  '(a mistyped --work-dir?); add --fresh-if-none to start from '
                                  'scratch when there is nothing to resume')
        cfg.resume, cfg.load_from = latest is not None, latest
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if cfg.get('load_from'):
        check_checkpoint(cfg.load_from)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_malloc(args.malloc)
    try:
        cfg = build_config(args)
    except CheckpointError as e:
        sys.exit(f'error: {e}')
    write_checkpoints_atomically()
    try:
        bad = check_data(cfg, splits=('train', 'val') if cfg.get('val_cfg') else ('train', ))
        warning = handle_bad_images(cfg, bad)
    except DatasetError as e:
        sys.exit(f'error: {e}')
    if warning:
        print(warning, file=sys.stderr)
    previous = existing_checkpoints(cfg.work_dir)
    if previous and not cfg.get('resume'):
        print(f'warning: {cfg.work_dir} already holds {len(previous)} checkpoint(s) '
              f'({osp.basename(previous[-1])}, ...); this run starts afresh and will overwrite '
              'those of the same name. Use --resume to continue or --work-dir for a new folder.',
              file=sys.stderr)
    run_or_exit(cfg, 'train')


if __name__ == '__main__':
    main()
