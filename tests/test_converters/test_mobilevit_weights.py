"""ImageNet MobileViT weights: conversion of four public layouts, equivalence with Hugging
Face's reference implementation, and FilterMobileViT starting from them."""
import re
from typing import Callable

import pytest
import torch
import transformers  # the reference implementation: a test dependency (requirements/tests.txt)
from conftest import run_tool
from mmengine.runner import load_checkpoint

from mmfilter import FilterMobileViT, MobileViT
from mmfilter.analysis import override_selection, record_selections
from mmfilter.converters import ConversionError, convert_mobilevit, guess_mobilevit_arch

# Hugging Face's configs of apple/mobilevit-{xx-small,x-small,small}.
HF_CONFIGS = {
    'xxs': dict(hidden_sizes=[64, 80, 96], neck_hidden_sizes=[16, 16, 24, 48, 64, 80, 320],
                expand_ratio=2.0),
    'xs': dict(hidden_sizes=[96, 120, 144], neck_hidden_sizes=[16, 32, 48, 64, 80, 96, 384]),
    's': dict(hidden_sizes=[144, 192, 240], neck_hidden_sizes=[16, 32, 64, 96, 128, 160, 640]),
}
# (224, 224): the stride-32 map is 7×7 (odd); (256, 256): every map even; (200, 328):
# odd at strides 8 and 32; (800, 1344): a detection size, odd at stride 32.
SIZES = [(224, 224), (256, 256), (200, 328), (800, 1344)]


def hf_reference(arch: str, seed: int = 0):
    """Hugging Face's MobileViTModel with random weights and random BatchNorm statistics."""
    torch.manual_seed(seed)
    model = transformers.MobileViTModel(transformers.MobileViTConfig(**HF_CONFIGS[arch]))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 2.)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.2)
    return model.eval()


def relative_error(reference: torch.Tensor, output: torch.Tensor) -> float:
    return float((reference - output).abs().max() / reference.abs().max())


@pytest.fixture(scope='module', params=['xxs', 'xs', 's'])
def converted(request):
    """``(arch, reference, MobileViT with the converted weights)``."""
    arch = request.param
    reference = hf_reference(arch)
    state_dict, layout, dropped = convert_mobilevit(reference.state_dict())
    assert layout == 'huggingface' and guess_mobilevit_arch(state_dict) == arch
    assert dropped and all(k.startswith('conv_1x1_exp.') for k in dropped)
    model = MobileViT(arch=arch).eval()
    model.load_state_dict(state_dict, strict=True)
    return arch, reference, model


@pytest.mark.slow
@pytest.mark.parametrize('size', SIZES)
def test_converted_mobilevit_matches_the_reference(converted, size):
    arch, reference, model = converted
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        expected = reference(x, output_hidden_states=True).hidden_states[1:5]  # strides 4-32
        outputs = model(x)
    errors = [relative_error(e, o) for e, o in zip(expected, outputs)]
    print(f'MobileViT-{arch} {size[0]}x{size[1]} max relative error per stage: '
          + ' '.join(f'{e:.1e}' for e in errors))
    assert all(e.shape == o.shape for e, o in zip(expected, outputs))
    assert max(errors) <= 1e-4


@pytest.mark.parametrize('converted', ['xxs'], indirect=True)  # every arch resizes: the test above
def test_padding_instead_of_resizing_would_not_match(converted, monkeypatch):
    """The odd-map handling matters: zero padding (what mmfilter did before) departs from
    the reference, which resizes."""
    import torch.nn.functional as F
    from mmfilter.models.layers import mobilevit_block
    _, reference, model = converted
    x = torch.rand(1, 3, 200, 328)  # 25×41 at stride 8
    with torch.no_grad():
        expected = reference(x, output_hidden_states=True).hidden_states[2]
        assert relative_error(expected, model(x)[1]) <= 1e-4
        monkeypatch.setattr(mobilevit_block, 'resize_to_multiple', lambda y, p: F.pad(
            y, (0, -y.shape[3] % p, 0, -y.shape[2] % p)))
        monkeypatch.setattr(mobilevit_block, 'resize_to',
                            lambda y, size: y[:, :, :size[0], :size[1]])
        assert relative_error(expected, model(x)[1]) > 1e-3


# -- the other public layouts, written out from their published key names ----------------
def _rename_units(key: str, stem: str, stage: Callable[[int], str]) -> str:
    """mmfilter's unit prefixes → a source's: its ``stem`` conv, then ``stage(i)``'s
    modules ``.0`` (the strided block) and ``.1`` (the MobileViT block); source
    stage 0 holds the stem block, source stage 1 mmfilter's stage 0."""
    key = re.sub(r'^stem\.conv\.', f'{stem}.', key)
    key = re.sub(r'^stem\.block\.', f'{stage(0)}.0.', key)
    key = re.sub(r'^stages\.0\.blocks\.(\d+)\.', lambda m: f'{stage(1)}.{m[1]}.', key)
    key = re.sub(r'^stages\.(\d)\.blocks\.0\.', lambda m: f'{stage(int(m[1]) + 1)}.0.', key)
    return re.sub(r'^stages\.(\d)\.attention\.', lambda m: f'{stage(int(m[1]) + 1)}.1.', key)


def _cvnets_key(key: str, depths) -> str:
    conv = {'conv.weight': 'block.conv.weight'}
    key = _rename_units(key, 'conv_1', lambda i: f'layer_{i + 1}')
    key = re.sub(r'\.(expand|depthwise|project)\.',
                 lambda m: {'expand': '.block.exp_1x1.', 'depthwise': '.block.conv_3x3.',
                            'project': '.block.red_1x1.'}[m[1]], key)
    key = key.replace('local_conv.', 'local_rep.conv_3x3.').replace(
        'local_proj.weight', 'local_rep.conv_1x1.block.conv.weight')
    key = key.replace('.proj.conv', '.conv_proj.conv').replace('.proj.bn', '.conv_proj.bn')
    stage = int(key[6]) - 2 if key.startswith('layer_') else 0
    key = key.replace('encoder.norm.', f'global_rep.{depths[stage]}.')
    for mmfilter_name, theirs in [('norm1', 'pre_norm_mha.0'), ('attn.qkv', 'pre_norm_mha.1.qkv_proj'),
                         ('attn.proj', 'pre_norm_mha.1.out_proj'), ('norm2', 'pre_norm_ffn.0'),
                         ('mlp.fc1', 'pre_norm_ffn.1'), ('mlp.fc2', 'pre_norm_ffn.4')]:
        key = re.sub(rf'encoder\.layers\.(\d+)\.{re.escape(mmfilter_name)}\.', rf'global_rep.\1.{theirs}.',
                     key)
    key = re.sub(r'\.conv\.weight$', '.' + conv['conv.weight'], key) \
        if not key.endswith('conv_1x1.block.conv.weight') else key
    return re.sub(r'\.bn\.', '.block.norm.', key)


def _timm_key(key: str, depths) -> str:
    key = _rename_units(key, 'stem', lambda i: f'stages.{i}')
    for mmfilter_name, theirs in [('expand', 'conv1_1x1'), ('depthwise', 'conv2_kxk'),
                         ('project', 'conv3_1x1'), ('local_conv', 'conv_kxk'),
                         ('local_proj', 'conv_1x1'), ('fusion', 'conv_fusion'),
                         ('encoder.layers', 'transformer'), ('encoder.norm', 'norm')]:
        key = key.replace(f'.{mmfilter_name}.', f'.{theirs}.')
    return re.sub(r'^(stages\.\d\.1)\.proj\.', r'\1.conv_proj.', key)


def _mmpretrain_key(key: str, depths) -> str:
    key = _rename_units(key, 'stem', lambda i: f'layers.{i}')
    stage = int(key[7]) - 1 if key.startswith('layers.') else 0
    for mmfilter_name, theirs in [('expand', 'conv.0'), ('depthwise', 'conv.1'), ('project', 'conv.2'),
                         ('local_conv', 'local_rep.0'), ('fusion', 'conv_fusion'),
                         ('encoder.layers', 'global_rep'),
                         ('norm1', 'ln1'), ('norm2', 'ln2'), ('mlp.fc1', 'ffn.layers.0.0'),
                         ('mlp.fc2', 'ffn.layers.1'), ('encoder.norm', f'global_rep.{depths[stage]}')]:
        key = key.replace(f'.{mmfilter_name}.', f'.{theirs}.')
    key = re.sub(r'^(layers\.\d\.1)\.proj\.', r'\1.conv_proj.', key)
    return 'backbone.' + key.replace('.local_proj.weight', '.local_rep.1.conv.weight')


LAYOUT_WRITERS = {
    'ml-cvnets': (_cvnets_key, ['classifier.fc.weight', 'conv_1x1_exp.block.conv.weight']),
    'timm': (_timm_key, ['head.fc.weight', 'final_conv.conv.weight']),
    'mmpretrain': (_mmpretrain_key, ['head.fc.weight', 'backbone.conv_1x1_exp.conv.weight']),
}


def _in_layout(model: MobileViT, layout: str) -> dict:
    writer, extra = LAYOUT_WRITERS[layout]
    depths = [0] + [spec.depth for spec in model.stage_specs[1:]]
    state_dict = {writer(k, depths): v for k, v in model.state_dict().items()}
    state_dict.update({k: torch.zeros(1) for k in extra})
    return state_dict


@pytest.mark.parametrize('layout', sorted(LAYOUT_WRITERS))
@pytest.mark.parametrize('arch', ['xxs', 's'])
def test_each_public_layout_converts_to_the_same_tensors(layout, arch):
    torch.manual_seed(0)
    model = MobileViT(arch=arch)
    source = _in_layout(model, layout)
    assert not set(source) & set(model.state_dict())  # really another naming
    state_dict, found, dropped = convert_mobilevit(source, prefix='backbone.')
    assert found == layout and len(dropped) == 2
    expected = model.state_dict()
    assert set(state_dict) == {'backbone.' + k for k in expected}
    for key, value in expected.items():
        assert torch.equal(state_dict['backbone.' + key], value), key


def test_unknown_layout_is_refused_naming_the_closest_and_the_unmapped_keys():
    source = _in_layout(MobileViT(arch='xxs'), 'timm')
    source['stages.2.1.transformer.0.attn.extra.weight'] = torch.zeros(1)
    with pytest.raises(ConversionError, match=r'closest is timm .*stages\.2\.1\.transformer\.0'
                                              r'\.attn\.extra\.weight'):
        convert_mobilevit(source)
    with pytest.raises(ConversionError, match='no key matches any known layout'):
        convert_mobilevit({'fc.weight': torch.zeros(1)})


def test_converter_tool_writes_a_checkpoint_that_pretrained_init_loads(tmp_path):
    reference = hf_reference('xxs')
    source = tmp_path / 'pytorch_model.bin'
    torch.save({'mobilevit.' + k: v for k, v in reference.state_dict().items()}, source)
    target = tmp_path / 'mobilevit-xxs_mmfilter.pth'
    result = run_tool('model_converters/mobilevit_to_mmfilter.py', source, target)
    assert result.returncode == 0, result.stderr
    assert 'huggingface layout, MobileViT-xxs' in result.stdout
    assert torch.load(target, weights_only=True)['meta']['arch'] == 'xxs'  # plain weights-only

    for cls in (MobileViT, FilterMobileViT):
        model = cls(arch='xxs', init_cfg=dict(type='Pretrained', checkpoint=str(target)))
        model.init_weights()
        loaded = torch.load(target, weights_only=True)['state_dict']
        state = model.state_dict()
        missing = set(state) - set(loaded)
        assert all('.scorer.' in k for k in missing) and (cls is MobileViT) == (not missing)
        assert not set(loaded) - set(state)  # nothing unexpected
        assert all(torch.equal(state[k], v) for k, v in loaded.items())
        logits = [v for k, v in state.items() if '.scorer.logit.' in k]
        assert (cls is MobileViT) == (not logits) and not any(v.any() for v in logits)  # gates 1
        load_checkpoint(MobileViT(arch='xxs'), str(target), strict=True)

    bad = tmp_path / 'resnet.pth'
    torch.save({'conv1.weight': torch.zeros(1)}, bad)
    result = run_tool('model_converters/mobilevit_to_mmfilter.py', bad, tmp_path / 'x.pth')
    assert result.returncode != 0 and f'error: {bad}: not a MobileViT checkpoint' in result.stderr
    assert not (tmp_path / 'x.pth').exists()


# -- FilterMobileViT ------------------------------------------------------------------------
@pytest.mark.parametrize('converted', ['xxs'], indirect=True)  # the blocks of every arch alike
@pytest.mark.parametrize('size', [(224, 224), (200, 328)])
def test_filtermobilevit_at_full_budget_is_mobilevit(converted, size):
    arch, reference, mobilevit = converted
    model = FilterMobileViT(arch=arch, token_rule=dict(ratio=1.0, budget=None)).eval()
    missing, unexpected = model.load_state_dict(mobilevit.state_dict(), strict=False)
    assert not unexpected and all('.scorer.' in k for k in missing)
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        expected = reference(x, output_hidden_states=True).hidden_states[1:5]
        errors = [relative_error(e, o) for e, o in zip(expected, model(x))]
    assert max(errors) <= 1e-3
    with torch.no_grad(), override_selection(model, dict(ratio=0.25)):
        smaller = model(x)
    assert relative_error(expected[1], smaller[1]) > 1e-3  # a real trade-off, not a no-op


def test_filtermobilevit_selects_patches_and_trains_its_scorer():
    torch.manual_seed(0)
    model = FilterMobileViT(arch='xxs', token_rule=[None, dict(ratio=0.25), dict(budget=5), None])
    x = torch.rand(2, 3, 128, 96)
    with record_selections(model) as records:
        outs = model(x)
    selections = {s['stage']: s for s in records}
    assert selections[1]['size'] == (8, 6) and selections[1]['indices'].shape == (2, 12)
    assert selections[2]['indices'].shape == (2, 5)
    assert selections[3]['indices'].shape == (2, 4)  # stride 32: 4×3 map → 4×4 → all 2×2 patches
    sum(o.mean() for o in outs).backward()
    for stage in (1, 2):
        assert model.stages[stage].attention.scorer.logit.weight.grad.abs().sum() > 0
    with override_selection(model, selection='random'), record_selections(model) as records:
        model.eval()(x[:1].expand(2, -1, -1, -1))
    assert not torch.equal(*records[0]['indices'].sort(dim=1).values)  # drawn per image
    assert model.stages[1].attention.selector.selection == 'topk'
