"""Evaluate a checkpoint with an MMDetection or MMSegmentation config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--filter-masks N]
                         [--out FILE.pkl] [--partial-load] [--no-data-check]
                         [--cfg-options KEY=VALUE ...]
                         [--launcher none|pytorch|slurm]

Before anything is built the run checks, each failure one ``error:`` line: the
model's values (exit status 2), that the checkpoint is complete and its tensors
fit the model, that the work dir is writable (exit status 2), and the test split's
files.
"""
import argparse
import os
import sys

from mmengine.config import DictAction

from mmfilter.datasets import DatasetError
from mmfilter.engine import (CheckpointError, WeightsMismatchError, WorkDirError,
                             add_malloc_argument, check_weights_fit)
from mmfilter.engine.cli import (PARTIAL_LOAD_HELP, PARTIAL_LOAD_HINT, ConfigError,
                                 exit_config_error, load_config, run_or_exit,
                                 setup_distributed_or_exit, use_cpu_inference_settings)
from mmfilter.engine.distributed import teardown_distributed
from mmfilter.engine.preflight import build_model, checked_data, handle_bad_images
from mmfilter.engine.workdir import check_work_dir


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
    parser.add_argument('--partial-load', action='store_true', help=PARTIAL_LOAD_HELP)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--no-data-check', action='store_true',
                        help='skip the pre-flight check of annotation files and image headers '
                        '(as data_check = False in the config); made on rank 0 only otherwise')
    parser.add_argument('--out', metavar='FILE.pkl',
                        help='also dump the raw predictions to this pickle file (as '
                        "MMDetection's --out)")
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_malloc_argument(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
        model = build_model(cfg)  # its values checked before anything runs
        notes = check_weights_fit(model, args.checkpoint, partial=args.partial_load,
                                  model_name=f'the model of {args.config}')
        del model
        check_work_dir(cfg.work_dir)
    except (ConfigError, WorkDirError) as e:
        exit_config_error(e)
    except WeightsMismatchError as e:
        sys.exit(f'error: {e}; {PARTIAL_LOAD_HINT}')
    except CheckpointError as e:
        sys.exit(f'error: {e}')
    cfg.load_from = args.checkpoint
    if args.no_data_check:
        cfg.data_check = False
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            exit_config_error(ConfigError(f'--out {args.out}: the dump file must end in .pkl'))
        dump = 'DumpResults' if cfg.get('default_scope') == 'mmseg' else 'DumpDetResults'
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type=dump, out_file_path=args.out)]
    use_cpu_inference_settings(cfg, args.malloc)  # on the CPU only: row bands, malloc mode
    if notes:  # MMEngine's loader then does not list again the keys kept on purpose
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='KeepInitialWeights')]
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
    setup_distributed_or_exit(cfg)  # so that rank 0 alone checks the data
    try:
        handle_bad_images(cfg, checked_data(cfg, splits=('test', )))
    except DatasetError as e:
        teardown_distributed()
        sys.exit(f'error: {e}')
    for note in notes:
        print(note, file=sys.stderr)
    return run_or_exit(cfg, 'test')


if __name__ == '__main__':
    main()
