"""The backbones inside MMDetection and MMSegmentation models built from mmfilter's configs."""
import copy
import functools
import glob
import importlib
import os.path as osp
import re

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from conftest import config_path

BACKBONES = {
    'FilterViT': dict(type='FilterViT', arch='xxs'),
    'DropoutViT': dict(type='DropoutViT', arch='xxs'),
    'MobileViT': dict(type='MobileViT', arch='xxs'),
}
XXS_CHANNELS = {'FilterViT': [24, 48, 80, 112], 'DropoutViT': [24, 48, 80, 112],
                'MobileViT': [24, 48, 64, 80]}


@functools.lru_cache(maxsize=None)
def _parsed(config: str) -> Config:
    return Config.fromfile(config_path(config))


def _config(config: str) -> Config:
    """A copy of ``configs/<config>``, parsed once per run (parsing takes about a second)."""
    return copy.deepcopy(_parsed(config))


def _load(config: str, backbone: str) -> Config:
    cfg = _config(config)
    assert cfg.model.backbone.type == 'FilterViT'  # what the shipped config holds
    cfg.model.backbone = dict(BACKBONES[backbone], out_indices=(0, 1, 2, 3))
    init_default_scope(cfg.default_scope)
    return cfg


def _total(losses: dict) -> torch.Tensor:
    return sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)


#: Each backbone in RetinaNet; Faster R-CNN, whose FPN takes the backbone as RetinaNet's
#: does, with the backbone it ships with.
DETECTOR_CASES = [('retinanet_filtervit_coco.py', backbone) for backbone in BACKBONES] + [
    ('filtervit/faster-rcnn_filtervit-xs-scratch_fpn_1x_coco.py', 'FilterViT')]


@pytest.mark.parametrize('config, backbone', DETECTOR_CASES)
def test_detector_builds_and_computes_losses(config, backbone):
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    cfg = _load(config, backbone)
    cfg.model.neck.in_channels = XXS_CHANNELS[backbone]
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.backbone).__name__ == backbone
    packed = demo_mm_inputs(2, [[3, 128, 160], [3, 97, 131]], num_items=[3, 2], num_classes=80)
    data = model.data_preprocessor(packed, True)
    loss = _total(model(**data, mode='loss'))
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert model.backbone.stem.conv.conv.weight.grad.abs().sum() > 0


def _seg_training_batch(model, side: int, num_classes: int) -> dict:
    """Two random ``side``² images with random label maps, through the model's data preprocessor."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(2):
        labels = torch.randint(0, num_classes, (1, side, side))
        sample = SegDataSample(gt_sem_seg=PixelData(data=labels))
        sample.set_metainfo(dict(img_shape=(side, side), ori_shape=(side, side),
                                 pad_shape=(side, side)))
        samples.append(sample)
    packed = dict(inputs=[torch.randint(0, 256, (3, side, side), dtype=torch.uint8)] * 2,
                  data_samples=samples)
    return model.data_preprocessor(packed, True)


@pytest.mark.parametrize('backbone', BACKBONES)
def test_segmentor_builds_and_computes_losses(backbone):
    from mmseg.registry import MODELS
    cfg = _load('filtervit/upernet_filtervit-xs-scratch_160k_ade20k-512x512.py', backbone)
    cfg.model.decode_head.update(in_channels=XXS_CHANNELS[backbone], channels=32)
    cfg.model.auxiliary_head.update(in_channels=XXS_CHANNELS[backbone][2], channels=16)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))  # SyncBN needs a process group
    model.init_weights()
    data = _seg_training_batch(model, 128, 150)
    loss = _total(model(**data, mode='loss'))
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert model.backbone.stem.conv.conv.weight.grad.abs().sum() > 0


#: Every config, as its path under ``configs/``: ``<backbone>/<name>.py``, and the entry
#: point ``retinanet_filtervit_coco.py``.
ALL_CONFIGS = sorted(osp.relpath(p, config_path('')) for p in glob.glob(config_path('*.py'))
                     + glob.glob(config_path('[!_]*/*.py')))
#: The backbone a config's name announces (``head_backbone[-size...]_...``).
NAMED_BACKBONES = {'filtervit': ('FilterViT', ), 'dropoutvit': ('DropoutViT', ),
                   'mobilevit': ('MobileViT', ), 'filtermobilevit': ('FilterMobileViT', ),
                   'r18': ('ResNet', 'ResNetV1c')}  # MMDetection's; MMSegmentation's deep stem
PRETRAINED = dict(type='Pretrained', checkpoint='checkpoints/mobilevit-xs_mmfilter.pth')


def _load_without_weights(config: str) -> Config:
    """The config with its backbone's ``Pretrained`` init dropped, for tests that call
    ``init_weights`` without the converted checkpoint."""
    cfg = _config(config)
    cfg.model.backbone.init_cfg = None
    return cfg


def _build(cfg: Config) -> torch.nn.Module:
    """The model through its library's registry (MMDetection's or MMSegmentation's)."""
    init_default_scope(cfg.default_scope)
    return importlib.import_module(f'{cfg.default_scope}.registry').MODELS.build(cfg.model)


def test_configs_readme_lists_every_config():
    """configs/README.md links every config, and every config it names exists."""
    with open(config_path('README.md'), encoding='utf-8') as f:
        text = f.read()
    linked = set(re.findall(r'\]\(([\w/.-]+\.py)\)', text))
    named = linked | set(re.findall(r'configs/([\w/.-]+\.py)', text))
    assert sorted(set(ALL_CONFIGS) - linked) == []
    assert sorted(n for n in named if not osp.isfile(config_path(n))) == []


@pytest.mark.parametrize('config', [c for c in ALL_CONFIGS if '/' in c])
def test_each_config_sits_in_the_folder_of_its_backbone(config):
    folder, name = config.split('/')
    named = name.split('_')[1].split('-')[0]
    assert folder == {'r18': 'resnet'}.get(named, named)


MODEL_FOLDERS = sorted({c.split('/')[0] for c in ALL_CONFIGS if '/' in c})


@pytest.mark.parametrize('folder', MODEL_FOLDERS)
def test_each_model_folder_has_a_readme_and_a_metafile_naming_its_configs(folder):
    """``configs/<backbone>/README.md`` links each config of the folder and
    ``metafile.yml`` lists each of them once (OpenMMLab's model index form), with
    nothing that does not exist."""
    configs = sorted(c for c in ALL_CONFIGS if c.startswith(folder + '/'))
    with open(config_path(osp.join(folder, 'README.md')), encoding='utf-8') as f:
        linked = {f'{folder}/{n}' for n in re.findall(r'\]\(([\w.-]+\.py)\)', f.read())}
    assert sorted(set(configs) - linked) == [] and sorted(linked - set(configs)) == []
    with open(config_path(osp.join(folder, 'metafile.yml')), encoding='utf-8') as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    models = meta['Models']
    assert sorted(m['Config'] for m in models) == [f'configs/{c}' for c in configs]
    assert len({m['Name'] for m in models}) == len(models)
    for model in models:
        assert model['In Collection'] in collections, model['Name']
        for result in model.get('Results', []):
            assert result['Task'] and result['Dataset'] and result['Metrics'], model['Name']
        assert 'Weights' not in model, 'no weights are published'


def test_model_index_lists_every_metafile():
    with open(osp.join(config_path(''), '..', 'model-index.yml'), encoding='utf-8') as f:
        imports = yaml.safe_load(f)['Import']
    assert imports == [f'configs/{folder}/metafile.yml' for folder in MODEL_FOLDERS]


@pytest.mark.slow
@pytest.mark.parametrize('config', ALL_CONFIGS)
def test_every_config_builds_with_the_backbone_its_name_says(config):
    """Each config's whole model builds (no weights loaded) with the backbone, size and
    pretraining its name announces, and its neck or heads take the widths that backbone returns."""
    cfg = _config(config)
    model = _build(cfg)
    backbone_name = osp.basename(config).split('_')[1].split('-')
    assert type(model.backbone).__name__ in NAMED_BACKBONES[backbone_name[0]]
    if backbone_name[1:2] in (['xs'], ['s']):
        assert cfg.model.backbone.arch == backbone_name[1]
    if '-in1k-pre' in config:  # the converted MobileViT-xs weights take RGB in [0, 1]
        assert cfg.model.backbone.init_cfg == PRETRAINED
        preprocessor = cfg.model.data_preprocessor
        assert (preprocessor.mean, preprocessor.std, preprocessor.bgr_to_rgb) == (
            [0., 0., 0.], [255., 255., 255.], True)
    else:
        assert cfg.model.backbone.init_cfg is None
    model.eval()
    with torch.no_grad():
        widths = [f.shape[1] for f in model.backbone(torch.zeros(1, 3, 64, 64))]
    if 'neck' in cfg.model:
        neck = cfg.model.neck
        assert list(neck.in_channels) == widths
        if isinstance(neck.out_channels, int):  # an FPN: the heads take its maps
            widths = [neck.out_channels] * neck.get('num_outs', len(widths))
    for key in ('decode_head', 'auxiliary_head'):
        if key in cfg.model:
            head = cfg.model[key]
            index = head.get('in_index', -1)
            expected = [widths[i] for i in index] if isinstance(index, list) else widths[index]
            assert head.in_channels == expected, key


SSDLITE_CONFIGS = [c for c in ALL_CONFIGS if osp.basename(c).startswith('ssdlite_')]


@pytest.mark.parametrize('config', SSDLITE_CONFIGS)
def test_ssdlite_configs_train_a_step_and_predict(config):
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs

    import mmfilter.models.heads  # noqa: F401
    cfg = _load_without_weights(config)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone
    assert cfg.model.neck.in_channels == tuple(backbone.out_channels)
    assert backbone.stage_strides[2:] == [16, 32] and backbone.out_indices == (2, 3)
    num_classes = cfg.model.bbox_head.num_classes
    packed = demo_mm_inputs(2, [[3, 160, 160], [3, 160, 160]], num_items=[3, 2],
                            num_classes=num_classes)
    data = model.data_preprocessor(packed, True)
    loss = _total(model(**data, mode='loss'))
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert backbone.stem.conv.conv.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():  # MMDetection 3.3's own SSDHead fails here (no loss_cls)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2 and results[0].pred_instances.bboxes.shape[1] == 4


def test_depthwise_retina_head_matches_retina_head_in_shapes_at_a_fraction_of_the_work():
    """Same outputs' shapes as RetinaHead (so anchors, losses and NMS are RetinaNet's), the
    classifier at its prior, 8x fewer multiply-adds; the config trains a step and predicts."""
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.analysis import FlopAnalyzer

    import mmfilter.models.heads  # noqa: F401
    cfg = _config('filtervit/retinanet-dw_filtervit-xs-scratch_fpn_1x_coco.py')
    init_default_scope('mmdet')
    light = MODELS.build(dict(cfg.model.bbox_head, type='RetinaHead'))
    head = MODELS.build(cfg.model.bbox_head)
    head.init_weights()
    x = torch.randn(1, 128, 20, 24)
    for depthwise, dense in zip(head.forward_single(x), light.forward_single(x)):
        assert depthwise.shape == dense.shape
    scores = head.forward_single(x)[0].sigmoid()
    assert 0.005 < scores.median() < 0.02  # the prior 0.01, not 0.5
    macs = [FlopAnalyzer(h, ((x,),)).total() for h in (head, light)]  # forward takes the levels
    assert macs[1] / macs[0] > 8

    model = MODELS.build(cfg.model)
    model.init_weights()
    packed = demo_mm_inputs(2, [[3, 128, 160], [3, 128, 160]], num_items=[3, 2], num_classes=80)
    data = model.data_preprocessor(packed, True)
    loss = _total(model(**data, mode='loss'))
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert model.bbox_head.cls_depthwise.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2 and results[0].pred_instances.bboxes.shape[1] == 4


@pytest.mark.parametrize('config', ALL_CONFIGS)
def test_optimizer_exempts_every_norm_and_bias_from_weight_decay(config):
    """The built optimizer's groups: weight decay on conv/linear weights only."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS

    import mmfilter  # noqa: F401
    cfg = _config(config)
    init_default_scope(cfg.default_scope)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    norms = {f'{m}.{p}' for m, module in model.named_modules()
             if isinstance(module, (torch.nn.modules.batchnorm._NormBase, torch.nn.LayerNorm,
                                    torch.nn.GroupNorm))
             for p, _ in module.named_parameters(recurse=False)}
    names = {id(p): n for n, p in model.named_parameters()}
    decay = cfg.optim_wrapper.optimizer.weight_decay
    assert decay > 0
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    for group in groups:
        for param in group['params']:
            name = names[id(param)]
            if not param.requires_grad:  # frozen (ResNet's stem): never updated
                continue
            exempt = name in norms or name.endswith('.bias')
            assert group['weight_decay'] == (0 if exempt else decay), name
    assert sum(len(g['params']) for g in groups) == len(names)


@pytest.mark.slow
@pytest.mark.parametrize('config', [c for c in ALL_CONFIGS if osp.basename(c).startswith('deeplabv3_')])
def test_deeplabv3_configs_run_a_training_step_at_output_stride_16(config):
    from mmseg.registry import MODELS

    import mmfilter.datasets.seg_transforms  # noqa: F401
    cfg = _load_without_weights(config)
    init_default_scope('mmseg')
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    backbone, head, aux = model.backbone, model.decode_head, model.auxiliary_head
    assert backbone.stage_strides == [4, 8, 16, 16] and type(head).__name__ == 'ASPPHead'
    assert head.in_channels == backbone.out_channels[head.in_index]
    assert aux.in_channels == backbone.out_channels[aux.in_index]
    data = _seg_training_batch(model, 96, 6)
    assert model(data['inputs'], mode='tensor').shape[2:] == (data['inputs'].shape[2] // 16,
                                                                data['inputs'].shape[3] // 16)
    loss = _total(model(**data, mode='loss'))
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert backbone.stem.conv.conv.weight.grad.abs().sum() > 0
