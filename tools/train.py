"""Train a detector or segmentor from an MMDetection or MMSegmentation config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]] [--amp]
                          [--auto-scale-lr] [--partial-load] [--cfg-options KEY=VALUE ...]
                          [--launcher none|pytorch|slurm]

The config's ``default_scope`` (mmdet or mmseg) decides which library runs it.
Before anything is built the run checks, each failure one ``error:`` line: the
config's syntax, the model's values and the loops' options (exit status 2), that
``load_from`` / the resumed checkpoint fits the model, that the work dir is
writable, not held by another training and has room for a few checkpoints, and
the dataset files (images that do not decode or have another size than annotated).
"""
import argparse
import contextlib
import os.path as osp
import sys

from mmengine.config import Config

from mmfilter.engine import check_weights_fit, latest_checkpoint, write_checkpoints_atomically
from mmfilter.engine.cli import (PARTIAL_LOAD_HELP, add_runner_arguments, distributed,
                                 exit_on_error, parse_runner_args, run_runner,
                                 use_cpu_inference_settings)
from mmfilter.engine.config import check_loop_options, enable_auto_scale_lr, load_config
from mmfilter.engine.preflight import (build_model, checked_data, existing_checkpoints,
                                       handle_bad_images, restrict_coco_metrics_to_subsets)
from mmfilter.engine.workdir import (check_free_space, check_work_dir,
                                     checkpoint_bytes, checkpoints_to_fit, describe_removed,
                                     hold_work_dir, is_main_process, remove_stale_parts)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector or segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate with the total batch size (needs '
                        'auto_scale_lr.base_batch_size in the config)')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='auto|PATH',
                        help="resume from PATH, or with no value (or 'auto') from the "
                        'latest complete checkpoint in the work dir (none: start afresh)')
    parser.add_argument('--partial-load', action='store_true',
                        help=f'with load_from or --resume: {PARTIAL_LOAD_HELP}')
    parser.add_argument('--sync-bn', action='store_true',
                        help='SyncBatchNorm across processes (distributed training on CUDA)')
    add_runner_arguments(parser)
    return parse_runner_args(parser, argv)


def build_config(args: argparse.Namespace) -> Config:
    """The config with the flags applied; raises
    :class:`~mmfilter.engine.config.ConfigError` for a flag it cannot take."""
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    check_loop_options(cfg, ('train_cfg', 'val_cfg'))
    if args.no_data_check:
        cfg.data_check = False
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.sync_bn:
        cfg.sync_bn = 'torch'
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    if args.resume == 'auto':
        latest = latest_checkpoint(cfg.work_dir)
        if latest is None:  # as MMDetection's tools: nothing to resume, a fresh start
            print(f'note: --resume: no complete checkpoint in {cfg.work_dir}; starting afresh',
                  file=sys.stderr)
        cfg.resume, cfg.load_from = latest is not None, latest
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def check_load_from(cfg: Config, model, partial: bool) -> list:
    """Check that ``load_from`` (or the checkpoint resumed) fits the model; return the
    lines to show. A ``load_from`` may hold whole top-level modules only (a
    pretrained backbone); a resumed checkpoint must hold every key."""
    if not cfg.get('load_from'):
        return []
    resume = bool(cfg.get('resume'))
    notes = check_weights_fit(model, cfg.load_from, partial=partial,
                              allow_absent_modules=not resume,
                              model_name=f'the model of {cfg.filename}')
    if notes:  # MMEngine's loader then does not list again the keys kept on purpose
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='KeepInitialWeights', allow_absent_modules=not resume)]
    return notes


def main(argv=None) -> None:
    args = parse_args(argv)
    with exit_on_error(partial_load_flag=True):
        cfg = build_config(args)
        model = build_model(cfg)  # its values checked before anything runs
        notes = check_load_from(cfg, model, args.partial_load)
        check_work_dir(cfg.work_dir)
        per_checkpoint = checkpoint_bytes(model)
        del model
        with contextlib.ExitStack() as held:
            if is_main_process(cfg.launcher):  # one training per work dir
                taken = held.enter_context(hold_work_dir(cfg.work_dir, f'config {args.config}'))
                removed = remove_stale_parts(cfg.work_dir, before=taken)
                if removed:
                    print(describe_removed(removed), file=sys.stderr)
                check_free_space(cfg.work_dir, per_checkpoint, checkpoints_to_fit(cfg))
            use_cpu_inference_settings(cfg, args.malloc)  # on the CPU only: row bands
            train(cfg, notes)


def train(cfg: Config, notes: list) -> None:
    """Check the data, warn before overwriting checkpoints, and run (the work dir held)."""
    write_checkpoints_atomically()
    with distributed(cfg):  # set up first, so that rank 0 alone checks the data
        bad = checked_data(cfg, splits=('train', 'val') if cfg.get('val_cfg') else ('train', ))
        warning = handle_bad_images(cfg, bad)
        notes = notes + restrict_coco_metrics_to_subsets(cfg, ('val', ))
        for line in notes + ([warning] if warning else []):
            print(line, file=sys.stderr)
        previous = existing_checkpoints(cfg.work_dir)
        if previous and not cfg.get('resume'):
            print(f'warning: {cfg.work_dir} already holds {len(previous)} checkpoint(s) '
                  f'({osp.basename(previous[-1])}, ...); this run starts afresh and will '
                  'overwrite those of the same name. Use --resume to continue or --work-dir '
                  'for a new folder.', file=sys.stderr)
        run_runner(cfg, 'train')


if __name__ == '__main__':
    main()
