"""Whole detectors and segmentors as users run them: built from a config with any
backbone, fed one image at the model's test size, timed end to end (post-processing
included) and split into backbone / neck / head / the rest.

The rest is what ``predict`` does beyond the three modules' forwards: box
decoding and NMS for RetinaNet, the RoI head and its post-processing for Faster
R-CNN (its ``head`` is the RPN), resizing the logits and the argmax for UPerNet.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from ..engine.checkpoint import init_weights_quietly
from ..engine.row_bands import apply_row_bands
from .backbones import BACKBONES, build_backbone, registry
from .timing import Runner

#: The checkout this package runs from, whose ``configs/`` the whole models' configs are in.
CHECKOUT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: mmfilter's backbones' per-stage ``strides`` / ``dilations`` (stem included in the first) as
#: ResNet's (stem excluded): output stride 16.
RESNET_STRIDES = {'ResNet': {(2, 2, 2, 1): dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))}}


@dataclass(frozen=True)
class WholeModel:
    """A named config at its standard test size ``(height, width)``, with config overrides."""
    config: str
    size: Tuple[int, int]
    overrides: Tuple[Tuple[str, object], ...] = ()


#: RetinaNet with MMDetection's COCO head (FPN 256, 4 convs), with the demo's light head
#: (FPN 128, 2 convs) and with that head depthwise-separable; Faster R-CNN; SSDLite at
#: 320×320; UPerNet and DeepLabv3 (output stride 16) at 512×512. COCO sizes: 800×1333.
WHOLE_MODELS: Dict[str, WholeModel] = {
    'retinanet': WholeModel('configs/retinanet_filtervit_coco.py', (800, 1333)),
    'retinanet-light': WholeModel('configs/retinanet_filtervit_coco.py', (800, 1333), (
        ('model.neck.out_channels', 128), ('model.bbox_head.in_channels', 128),
        ('model.bbox_head.feat_channels', 128), ('model.bbox_head.stacked_convs', 2))),
    'retinanet-dw': WholeModel('configs/filtervit/retinanet-dw_filtervit-xs-scratch_fpn_1x_coco.py', (800, 1333)),
    'faster-rcnn': WholeModel('configs/filtervit/faster-rcnn_filtervit-xs-scratch_fpn_1x_coco.py', (800, 1333)),
    'ssdlite': WholeModel('configs/filtervit/ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py', (320, 320)),
    'upernet': WholeModel('configs/filtervit/upernet_filtervit-xs-scratch_160k_ade20k-512x512.py', (512, 512)),
    'deeplabv3': WholeModel('configs/filtervit/deeplabv3_filtervit-xs-scratch_160k_ade20k-512x512.py', (512, 512)),
}
PARTS = ('backbone', 'neck', 'head', 'rest')


def backbone_out_channels(name: str, scope: str) -> List[int]:
    """Widths of the four maps (strides 4-32) the named backbone returns, from a probe forward."""
    with torch.no_grad():
        return [o.shape[1] for o in build_backbone(name, scope)(torch.zeros(1, 3, 64, 64))]


def with_backbone(cfg: Config, backbone: dict, stage_channels: Sequence[int]) -> Config:
    """``cfg`` with ``backbone`` (no pretrained weights, the config's ``out_indices``,
    ``strides`` and ``dilations``) and the neck or heads resized to the widths of its
    stages ``stage_channels`` (the four maps at strides 4-32)."""
    model = cfg.model
    kept = {k: model.backbone[k] for k in ('out_indices', 'strides', 'dilations')
            if k in model.backbone}
    kept.setdefault('out_indices', (0, 1, 2, 3))
    if 'strides' in kept and backbone['type'] in RESNET_STRIDES:  # its strides exclude the stem
        kept.update(RESNET_STRIDES[backbone['type']][tuple(kept['strides'])])
    out_channels = [stage_channels[i] for i in kept['out_indices']]
    if 'out_indices' in backbone:  # its own indices of the four maps: the config's index those
        kept['out_indices'] = tuple(backbone['out_indices'][i] for i in kept['out_indices'])
    model.backbone = ConfigDict(backbone, init_cfg=None, **kept)
    model.pop('pretrained', None)
    neck = model.get('neck')
    if neck is not None:
        neck.in_channels = out_channels
        if neck.type == 'SSDNeck':  # its first levels are the backbone's maps, passed through
            neck.out_channels = out_channels + list(neck.out_channels[len(out_channels):])
            model.bbox_head.in_channels = neck.out_channels
    heads = [model.get(name) for name in ('decode_head', 'auxiliary_head')]
    for head in heads:
        if head is None:
            continue
        if isinstance(head.in_channels, int):  # one map: the in_index-th returned
            head.in_channels = out_channels[head.in_index]
        else:
            head.in_channels = out_channels
    return cfg


def build_whole_model(spec: WholeModel, backbone_name: str, repo: str = CHECKOUT,
                      device: str = 'cpu', seed: int = 0,
                      row_bands: bool = True) -> Tuple[nn.Module, str]:
    """The model of ``spec`` with the named backbone, in eval mode, and its scope; on
    the CPU with the tools' row bands (except a ``-whole`` backbone, or with
    ``row_bands=False``: a model to export).

    Its weights are those a training run starts from (``init_weights`` after seeding):
    the classifiers of the detection heads predict their prior probability (RetinaNet,
    SSDLite: 0.01), so that post-processing, like a trained model's, meets few scores
    above the test score threshold. Left at PyTorch's default initialisation, RetinaNet's
    logits sit near 0 (score 0.5), nearly all of its 16 M anchor-class scores at 800x1344
    pass 0.05, and the rest of ``predict`` is then seconds spent filtering them, which no
    trained detector pays.
    """
    cfg = Config.fromfile(osp.join(repo, spec.config))
    if spec.overrides:
        cfg.merge_from_dict(dict(spec.overrides))
    scope = cfg.default_scope
    cfg = with_backbone(cfg, BACKBONES[backbone_name], backbone_out_channels(backbone_name, scope))
    torch.manual_seed(seed)
    model = registry(scope).build(cfg.model)
    init_weights_quietly(model)
    model.to(device).eval()
    if row_bands and torch.device(device).type == 'cpu' and not backbone_name.endswith('-whole'):
        apply_row_bands(model)  # the tools' CPU path
    return model, scope


def build_config_model(config: str, device: str = 'cpu', seed: int = 0,
                       row_bands: bool = True) -> Tuple[nn.Module, str, Tuple[int, int]]:
    """The model of ``config`` as configured (its own backbone), with the weights a
    training run starts from, in eval mode; its scope; and the ``(height, width)``
    of its test pipeline's ``Resize`` scale. Row bands on the CPU as in
    :func:`build_whole_model`."""
    from ..deploy.metadata import pipeline_resize
    cfg = Config.fromfile(config)
    scope = cfg.get('default_scope', 'mmdet')
    torch.manual_seed(seed)
    model = registry(scope).build(cfg.model)
    init_weights_quietly(model)
    model.to(device).eval()
    if row_bands and torch.device(device).type == 'cpu':
        apply_row_bands(model)
    scale = pipeline_resize(cfg).get('scale')
    if scale is None:
        raise ValueError(f'{config}: its test pipeline has no Resize scale; give the size')
    return model, scope, (scale[1], scale[0])


def example_batch(model: nn.Module, scope: str, height: int, width: int,
                  seed: int = 0) -> Tuple[torch.Tensor, list]:
    """One random ``height x width`` image through the model's data preprocessor:
    the padded, normalised batch and its data samples (test mode)."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)
    meta = dict(img_shape=(height, width), ori_shape=(height, width), scale_factor=(1., 1.))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample as Sample
    else:
        from mmseg.structures import SegDataSample as Sample
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[Sample(metainfo=meta)]),
                                   False)
    return data['inputs'], data['data_samples']


def _head(model: nn.Module) -> Callable:
    for name in ('bbox_head', 'rpn_head', 'decode_head'):
        if getattr(model, name, None) is not None:
            return getattr(model, name)
    raise TypeError(f'{type(model).__name__} has no bbox_head, rpn_head or decode_head')


def part_runners(model: nn.Module, inputs: torch.Tensor, samples: list) -> Dict[str, Runner]:
    """Calls of the whole ``predict`` and of its backbone, neck and head forwards on
    the intermediate maps of one forward; the rest is ``total`` minus the three."""
    with torch.inference_mode():
        feats = model.backbone(inputs)
        neck_out = model.neck(feats) if getattr(model, 'neck', None) is not None else None
    head = _head(model)

    def call(fn: Callable, *args) -> Runner:
        def run():
            with torch.inference_mode():
                fn(*args)
        return run

    runners = {'total': call(model.predict, inputs, samples),
               'backbone': call(model.backbone, inputs),
               'head': call(head, feats if neck_out is None else neck_out)}
    if neck_out is not None:
        runners['neck'] = call(model.neck, feats)
    return runners


def split_times(times: Dict[str, float]) -> Dict[str, float]:
    """Seconds per part from the timed calls: ``rest = total - backbone - neck - head``
    (clamped at 0), ``neck`` 0 for a model without one."""
    parts = {p: times.get(p, 0.) for p in PARTS[:3]}
    parts['rest'] = max(times['total'] - sum(parts.values()), 0.)
    return dict(parts, total=times['total'])
