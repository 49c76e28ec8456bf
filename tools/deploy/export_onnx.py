"""Export a detector, segmentor or backbone to ONNX at one input size, checked against PyTorch.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT --shape H W [--out MODEL.onnx] [--opset 17]
        [--int8 [--calib-images 100]] [--normalize-outside] [--standard-ops]
    python tools/deploy/export_onnx.py CONFIG [CHECKPOINT] --backbone-only --shape H W ...
    python tools/deploy/export_onnx.py --backbone FilterViT --arch xs --shape 800 1344 \
        [--checkpoint CKPT [--prefix backbone.]] [--batch-size 1] ...

With a config, the whole model is exported (:mod:`mmfilter.deploy`): one input
``input`` ``[1, 3, H, W]`` (the image resized and padded, pixel values 0-255 in
the pipeline's channel order; the graph normalises it), and ``dets`` ``[1, N, 5]``
with ``labels`` ``[1, N]`` for a single-stage detector with an anchor head
(RetinaNet, SSD / SSDLite), ``seg`` ``[1, 1, H, W]`` for an ``EncoderDecoder``
segmentor (UPerNet, DeepLabv3). Class names, palette, mean, std, channel order,
input size and test resize go into the file's metadata, which
``tools/deploy/onnx_infer.py`` reads. ``H`` and ``W`` must be multiples of the
data preprocessor's ``pad_size_divisor``. Two-stage detectors are refused (their
backbone exports with ``--backbone-only``). ``--normalize-outside`` leaves the
channel flip and ``(x - mean) / std`` out of the graph, as MMDeploy's graphs do:
the input is then the normalised image, and the metadata's ``normalization``
(``outside``) and ``normalize`` (MMDeploy's ``Normalize`` step: ``mean``, ``std``,
``to_rgb``) tell the runner to normalise. ``--int8`` also writes ``MODEL-int8.onnx``,
the graph statically quantised (:mod:`mmfilter.deploy.quantize`: QDQ, int8 weights
per channel, activations calibrated on the first ``--calib-images`` images of the
config's test split), which ``tools/deploy/check_onnx.py`` checks against the
float32 graph.

With ``--backbone-only`` or ``--backbone``, the backbone alone is exported, with
one input ``input`` and outputs ``out0``... (one per ``out_indices``). A
detector's or segmentor's checkpoint (keys under ``backbone.``) gives its
backbone without ``--prefix``.

The transformer layers' self-attention is exported as ONNX Runtime's fused
``MultiHeadAttention`` kernel (``com.microsoft`` domain); ``--standard-ops`` keeps
to standard ONNX ops, for other runtimes.

K and the pooling strides follow from the input size, so the graph is exported
for one size (export again for another). The check runs ONNX Runtime and PyTorch
on one random image and prints the largest difference per output;
``tools/deploy/check_onnx.py`` compares a whole model on real images. A fault
ends the export with one ``error:`` line: exit status 2 for a bad argument or a
config the export cannot read, 1 for weights that do not fit the model (the line
names the mismatch), a model the export cannot write as a graph, a graph whose
outputs differ from PyTorch's (the file is removed) or a test split that cannot be
read for ``--int8``'s calibration.
"""
import argparse
import contextlib
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch

from mmfilter.benchmark.backbones import (MMFILTER_BACKBONES, build_backbone, catalogue_name,
                                          registry)
from mmfilter.datasets import DatasetError
from mmfilter.deploy import ExportError
from mmfilter.deploy.quantize import MAX_CALIBRATION_IMAGES
from mmfilter.engine.checkpoint import (check_weights_fit, init_weights_quietly, read_state_dict,
                                        select_prefix)
from mmfilter.engine.cli import exit_on_error, init_model_or_exit
from mmfilter.engine.config import ConfigError, read_config


def backbone_for_export(name: Optional[str], arch: str, config: Optional[str],
                        checkpoint: Optional[str], prefix: Optional[str] = None) -> torch.nn.Module:
    """The backbone in eval mode, as built (no row bands): the config's, or the
    catalogue's ``name``-``arch`` (:mod:`mmfilter.benchmark.backbones`); with the
    weights of ``checkpoint`` under ``prefix`` (None: ``'backbone.'`` if the
    checkpoint has such keys, as a detector's or segmentor's has, else none). Raises
    :class:`~mmfilter.engine.config.ConfigError` for a config whose backbone is not
    mmfilter's, ``ValueError`` for a name or arch the catalogue does not hold and
    :class:`~mmfilter.engine.checkpoint.CheckpointError` for weights that do not fit."""
    if config:
        cfg = read_config(config).model.backbone
        if cfg.type not in MMFILTER_BACKBONES:
            raise ConfigError(f'{config}: its backbone {cfg.type!r} is not one of '
                              f'mmfilter\'s ({", ".join(MMFILTER_BACKBONES)})')
        if checkpoint:
            cfg.pop('init_cfg', None)  # the weights come from the checkpoint
        model_name = f"{cfg.type}-{cfg.get('arch', 'xs')}"
        model = registry(None).build(cfg).eval()
    else:
        model_name = catalogue_name(name, arch)
        model = build_backbone(model_name, row_bands=False)
    if not checkpoint:
        model.init_weights()  # the config's init_cfg, if any
        return model.eval()
    state_dict = read_state_dict(checkpoint)
    if prefix is None:  # a detector's or segmentor's checkpoint: its backbone
        prefix = 'backbone.' if any(k.startswith('backbone.') for k in state_dict) else ''
    notes = check_weights_fit(model, checkpoint, prefix=prefix, model_name=model_name)
    for note in notes:
        print(note, file=sys.stderr)
    model.load_state_dict(select_prefix(state_dict, prefix), strict=False)  # fits: checked
    return model.eval()


def build_model_for_export(config: str, checkpoint: Optional[str]) -> torch.nn.Module:
    """The config's detector or segmentor on the CPU in eval mode, as built (no row
    bands), with the checkpoint's weights, or the weights training starts from."""
    model = init_model_or_exit(config, checkpoint, device='cpu', cpu_optimize=False)
    if checkpoint is None:  # the heads' priors: few scores above the test threshold
        init_weights_quietly(model)
    return model.eval()


def export_backbone(model: torch.nn.Module, image: torch.Tensor, path: str,
                    opset: int = 17, runtime_kernels: bool = True) -> List[str]:
    """Write ``model`` traced on ``image`` to ``path`` (with ONNX Runtime's fused
    kernels unless ``runtime_kernels`` is False); return the output names."""
    from mmfilter.deploy import export_to_onnx
    with torch.no_grad():
        num_outputs = len(model(image))
    names = [f'out{i}' for i in range(num_outputs)]
    export_to_onnx(model, image, path, opset, output_names=names,
                   runtime_kernels=runtime_kernels)
    return names


def run_both(model: torch.nn.Module, path: str, image: torch.Tensor):
    """``(ONNX Runtime's outputs, PyTorch's outputs)`` for ``image``, as numpy arrays."""
    import onnxruntime as ort

    from mmfilter.deploy import INPUT_NAME
    runtime = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    onnx_outs = runtime.run(None, {INPUT_NAME: image.numpy()})
    with torch.no_grad():
        torch_outs = model(image)
    torch_outs = torch_outs if isinstance(torch_outs, (list, tuple)) else [torch_outs]
    return onnx_outs, [t.numpy() for t in torch_outs]


def max_relative_errors(model: torch.nn.Module, path: str, image: torch.Tensor) -> List[float]:
    """``max |onnx - torch| / max |torch|`` per output, from ONNX Runtime on the CPU."""
    return [float(np.abs(o - t).max() / max(np.abs(t).max(), 1e-12))
            for o, t in zip(*run_both(model, path, image))]


def whole_model_differences(wrapper: torch.nn.Module, path: str, image: torch.Tensor,
                            task: str) -> List[str]:
    """Lines comparing the graph's outputs with the wrapped model's on ``image``;
    :class:`~mmfilter.deploy.ExportError` if they differ (a detection without a counterpart of its class within
    0.01 px and 1e-4 of score, or classes of 0.1% of the pixels)."""
    from mmfilter.deploy import cut_score, match_detections
    onnx_outs, torch_outs = run_both(wrapper, path, image)
    if task == 'segmentation':
        agreement = float((onnx_outs[0] == torch_outs[0]).mean())
        if agreement < 0.999:
            raise ExportError(f'ONNX Runtime and PyTorch agree on {agreement:.4%} of pixels')
        return [f'seg: ONNX Runtime and PyTorch agree on {agreement:.4%} of the pixels']
    (onnx_dets, onnx_labels), (torch_dets, torch_labels) = onnx_outs, torch_outs
    results = [dict(bboxes=d[0, :, :4], scores=d[0, :, 4], labels=l[0])
               for d, l in ((torch_dets, torch_labels), (onnx_dets, onnx_labels))]
    cut = wrapper.test_cfg['score_thr'], wrapper.test_cfg['max_per_img']
    floor = max(cut_score(r, *cut) for r in results)
    stats = match_detections(*results, floor, box_tol=0.01, score_tol=1e-4)
    line = (f"dets: PyTorch {stats['ref']}, ONNX Runtime {stats['got']} detections, "
            f"{stats['matched']} matched (box {stats['box_diff']:.1e} px, score "
            f"{stats['score_diff']:.1e})")
    if stats['missed'] or stats['extra']:
        raise ExportError(f'{line}, {stats["missed"] + stats["extra"]} unmatched')
    return [line]


def export_whole_model(args) -> List[str]:
    from mmfilter.deploy import check_input_size, export_model, task_of
    model = build_model_for_export(args.config, args.checkpoint)
    height, width = args.shape
    out = args.out or f'{osp.splitext(osp.basename(args.config))[0]}_{height}x{width}.onnx'
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 255
    try:
        check_input_size(model, height, width)
        wrapper = export_model(model, image, out, args.opset, config=args.config,
                               checkpoint=osp.basename(args.checkpoint or ''),
                               normalize_outside=args.normalize_outside,
                               runtime_kernels=not args.standard_ops)
    except ExportError as e:
        raise ExportError(f'{args.config}: {e}') from None
    with removed_on_failure(out):
        for line in whole_model_differences(wrapper, out, image, task_of(model)):
            print(line)
    print(f'wrote {out}')
    return [out, write_int8(model.cfg, args.config, out, args.calib_images)] if args.int8 \
        else [out]


def write_int8(cfg, config: str, path: str, count: int) -> str:
    """Write ``path``'s static int8 graph beside it (``-int8.onnx``), calibrated on
    the first ``count`` images of the config's test split; returns its path. Raises
    :class:`~mmfilter.datasets.DatasetError` where the split cannot be read."""
    from mmfilter.deploy.quantize import quantize_int8, split_image_paths
    try:
        images = split_image_paths(cfg, count)
    except ValueError as e:
        raise DatasetError(str(e)) from None
    out = f'{osp.splitext(path)[0]}-int8.onnx'
    quantize_int8(path, out, images, config)
    print(f'wrote {out} (int8, calibrated on {len(images)} images of the test split)')
    return out


@contextlib.contextmanager
def removed_on_failure(path: str):
    """Delete ``path`` (a graph that failed its check) if the block exits with an error."""
    try:
        yield
    except BaseException:
        os.remove(path)
        raise


def export_backbone_alone(args: argparse.Namespace) -> List[float]:
    """Export the config's or the catalogue's backbone; return the largest relative
    error per output. Raises :class:`~mmfilter.deploy.ExportError` (the graph removed)
    where one exceeds the tolerance."""
    checkpoint = args.checkpoint if args.config else args.backbone_checkpoint
    arch, tolerance = args.arch or 'xs', 1e-4 if args.tolerance is None else args.tolerance
    model = backbone_for_export(args.backbone or 'FilterViT', arch, args.config, checkpoint,
                                args.prefix)
    height, width = args.shape or (800, 1344)
    default = (f'{osp.splitext(osp.basename(args.config))[0]}_backbone' if args.config
               else f'{type(model).__name__.lower()}_{arch}')
    out = args.out or f'{default}_{height}x{width}.onnx'
    image = torch.rand(args.batch_size or 1, model.in_channels, height, width,
                       generator=torch.Generator().manual_seed(0))
    names = export_backbone(model, image, out, args.opset, not args.standard_ops)
    errors = max_relative_errors(model, out, image)
    for name, err in zip(names, errors):
        print(f'{name}: max relative error onnxruntime vs torch = {err:.2e}')
    with removed_on_failure(out):
        if max(errors) > tolerance:
            raise ExportError(f'onnxruntime differs from torch by {max(errors):.2e} > '
                              f'{tolerance}')
    print(f'wrote {out}')
    return errors


def check_whole_model_options(parser: argparse.ArgumentParser, args) -> None:
    """Refuse the whole-model options for a backbone export, and a calibration set
    outside 1-:data:`MAX_CALIBRATION_IMAGES` or without ``--int8``; fill its default."""
    given = [option for option, value in (('--int8', args.int8),
                                          ('--normalize-outside', args.normalize_outside),
                                          ('--calib-images', args.calib_images is not None))
             if value]
    if given and (args.backbone_only or not args.config):
        parser.error(f'{", ".join(given)}: for a whole-model export only (a config, without '
                     '--backbone-only)')
    if args.calib_images is not None and not args.int8:
        parser.error('--calib-images calibrates the int8 graph: give --int8 with it')
    if args.calib_images is None:
        args.calib_images = MAX_CALIBRATION_IMAGES
    if not 1 <= args.calib_images <= MAX_CALIBRATION_IMAGES:
        parser.error(f'--calib-images {args.calib_images}: give 1 to {MAX_CALIBRATION_IMAGES}')


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='a detector or segmentor config')
    parser.add_argument('checkpoint', nargs='?', help="its checkpoint (default: the weights "
                        'training starts from)')
    parser.add_argument('--backbone-only', action='store_true',
                        help="export the config's backbone alone")
    parser.add_argument('--backbone', choices=MMFILTER_BACKBONES,
                        help='without a config: export this backbone (default FilterViT)')
    parser.add_argument('--arch', help='with --backbone. Default: xs')
    parser.add_argument('--checkpoint', dest='backbone_checkpoint', metavar='CKPT',
                        help="with --backbone: the backbone's weights, or a detector's / "
                        "segmentor's checkpoint (its backbone is taken)")
    parser.add_argument('--prefix', help="key prefix of the backbone's weights in the checkpoint "
                        "(default: 'backbone.' if it has such keys, else none)")
    parser.add_argument('--shape', nargs=2, type=int, metavar=('H', 'W'),
                        help='the input size: for a whole model the padded test size (required); '
                        'for a backbone default 800 1344')
    parser.add_argument('--batch-size', type=int, help='backbones only. Default: 1')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--standard-ops', action='store_true',
                        help="standard ONNX ops only: the self-attention without ONNX Runtime's "
                        'fused MultiHeadAttention (com.microsoft), for other runtimes')
    parser.add_argument('--out', help='ONNX file (default: CONFIG_HxW.onnx, '
                        'CONFIG_backbone_HxW.onnx or BACKBONE_ARCH_HxW.onnx)')
    parser.add_argument('--normalize-outside', action='store_true',
                        help='whole models: leave the normalisation to the runner (MMDeploy\'s '
                        'input contract), stated in the metadata')
    parser.add_argument('--int8', action='store_true', help='whole models: also write the '
                        'static int8 (QDQ) graph, MODEL-int8.onnx')
    parser.add_argument('--calib-images', type=int, metavar='N',
                        help='with --int8: calibration images of the test split (1-'
                        f'{MAX_CALIBRATION_IMAGES}). Default: {MAX_CALIBRATION_IMAGES}')
    parser.add_argument('--tolerance', type=float,
                        help='largest relative error accepted for a backbone. Default: 1e-4')
    args = parser.parse_args(argv)
    if args.config and (args.backbone or args.backbone_checkpoint):
        parser.error('give a config (and its checkpoint after it), or --backbone, not both')
    if args.backbone_only and not args.config:
        parser.error('--backbone-only exports the backbone of a config: give the config')
    check_whole_model_options(parser, args)
    if args.config and not args.backbone_only:
        backbone_options = [f'--{name.replace("_", "-")}' for name in
                            ('arch', 'prefix', 'batch_size', 'tolerance')
                            if getattr(args, name) is not None]
        if backbone_options:
            parser.error(f'{", ".join(backbone_options)}: for a backbone export only '
                         '(--backbone, or --backbone-only with a config)')
        if args.shape is None:
            parser.error('a whole model is exported at one size: give --shape H W, the size '
                         'its test pipeline pads to (COCO: 800 1344; SSDLite: 320 320)')
    elif not args.config:
        try:
            catalogue_name(args.backbone or 'FilterViT', args.arch or 'xs')
        except ValueError as e:
            parser.error(str(e))
    with exit_on_error(layer_errors=[(ExportError, 1)]):
        if args.config and not args.backbone_only:
            return export_whole_model(args)
        return export_backbone_alone(args)


if __name__ == '__main__':
    main()
