"""Evaluate a checkpoint with an MMDetection or MMSegmentation config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl|DIR]
                         [--show] [--show-dir DIR] [--wait-time S] [--filter-masks N]
                         [--partial-load] [--no-data-check] [--cfg-options KEY=VALUE ...]
                         [--launcher none|pytorch|slurm]

``--out``, ``--show``, ``--show-dir`` and ``--wait-time`` take the config's library's
form: a detector's ``--out`` is a pickle of the raw predictions and its
``--show-dir`` a folder below ``WORK_DIR/TIMESTAMP`` (MMDetection's tools/test.py);
a segmentor's ``--out`` is a folder of predicted label maps (PNG, one per image)
and its ``--show-dir`` the visualizer's folder (MMSegmentation's). Either draws
every test image. Before anything
is built the run checks, each failure one ``error:`` line: the config's syntax,
the model's values and the test loop's options (exit status 2), that the
checkpoint is complete and its tensors fit the model, that the work dir is
writable (exit status 2), and the test split's files. A run over part of a COCO
split (``test_dataloader.dataset.indices``) is scored on those images only.
"""
import argparse
import sys

from mmengine.config import Config

from mmfilter.engine import check_weights_fit
from mmfilter.engine.cli import (PARTIAL_LOAD_HELP, add_runner_arguments, distributed,
                                 exit_on_error, parse_runner_args, run_runner,
                                 use_cpu_inference_settings)
from mmfilter.engine.config import ConfigError, check_loop_options, load_config
from mmfilter.engine.preflight import (build_model, checked_data, handle_bad_images,
                                       restrict_coco_metrics_to_subsets)
from mmfilter.engine.workdir import check_work_dir


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a detector or segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the evaluation log and metrics')
    parser.add_argument('--show', action='store_true', help='show the drawn predictions')
    parser.add_argument('--show-dir',
                        help='save the drawn prediction of every image: below '
                        "WORK_DIR/TIMESTAMP (detection, MMDetection's form) or in "
                        "SHOW_DIR/vis_data/vis_image (segmentation, MMSegmentation's form)")
    parser.add_argument('--wait-time', type=float, default=2,
                        help='seconds each picture is shown with --show')
    parser.add_argument('--filter-masks', type=int, metavar='N',
                        help='save filter-mask sheets of the first N images (FilterMaskHook)')
    parser.add_argument('--fuse-conv-bn', action='store_true',
                        help='fold BatchNorm into the convolutions once the weights are loaded')
    parser.add_argument('--partial-load', action='store_true', help=PARTIAL_LOAD_HELP)
    parser.add_argument('--out', metavar='FILE.pkl|DIR',
                        help="detection: dump the raw predictions to this pickle file "
                        "(MMDetection's --out); segmentation: save the predicted label maps "
                        "in this folder (MMSegmentation's --out)")
    add_runner_arguments(parser)
    return parse_runner_args(parser, argv)


def add_outputs(cfg: Config, args: argparse.Namespace) -> None:
    """``--out`` and the drawing flags, in the form of the config's library."""
    segmentation = cfg.get('default_scope') == 'mmseg'
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
        else [cfg.test_evaluator]
    if args.out and segmentation:  # MMSegmentation: IoUMetric writes one PNG per image
        for evaluator in evaluators:
            evaluator['output_dir'] = args.out
    elif args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ConfigError(f'--out {args.out}: the dump file must end in .pkl')
        cfg.test_evaluator = list(evaluators) + [dict(type='DumpDetResults',
                                                      out_file_path=args.out)]
    if not (args.show or args.show_dir):
        return
    hook = (cfg.get('default_hooks') or {}).get('visualization')
    if hook is None:
        raise ConfigError(f'{args.config}: --show and --show-dir need '
                          'default_hooks.visualization in the config')
    hook.update(draw=True, show=args.show, wait_time=args.wait_time)
    if args.show_dir and segmentation:  # every image, as MMDetection's hook draws in testing
        cfg.visualizer.save_dir = args.show_dir
        hook.interval = 1
    elif args.show_dir:
        hook.test_out_dir = args.show_dir


def add_hooks(cfg: Config, args: argparse.Namespace, notes: list) -> None:
    if notes:  # MMEngine's loader then does not list again the keys kept on purpose
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='KeepInitialWeights')]
    if args.filter_masks:
        import mmfilter.visualization.hook  # noqa: F401  registers FilterMaskHook
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='FilterMaskHook', num_images=args.filter_masks)]
    if args.fuse_conv_bn:
        import mmfilter.engine.fusion  # noqa: F401  registers FuseConvBNHook
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='FuseConvBNHook')]


def main(argv=None) -> dict:
    args = parse_args(argv)
    with exit_on_error(partial_load_flag=True):
        cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
        check_loop_options(cfg, ('test_cfg', ))
        model = build_model(cfg)  # its values checked before anything runs
        notes = check_weights_fit(model, args.checkpoint, partial=args.partial_load,
                                  model_name=f'the model of {args.config}')
        del model
        add_outputs(cfg, args)
        check_work_dir(cfg.work_dir)
        cfg.load_from = args.checkpoint
        if args.no_data_check:
            cfg.data_check = False
        use_cpu_inference_settings(cfg, args.malloc)  # on the CPU only: row bands, malloc mode
        add_hooks(cfg, args, notes)
        with distributed(cfg):  # set up first, so that rank 0 alone checks the data
            handle_bad_images(cfg, checked_data(cfg, splits=('test', )))
            for note in notes + restrict_coco_metrics_to_subsets(cfg, ('test', )):
                print(note, file=sys.stderr)
            return run_runner(cfg, 'test')


if __name__ == '__main__':
    main()
