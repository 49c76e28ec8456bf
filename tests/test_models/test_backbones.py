"""Backbone behaviour with torch and mmengine only (no mmcv, mmdet or mmseg)."""
import math

import pytest
import torch

from mmfilter import DropoutViT, FilterMobileViT, FilterViT, MobileViT
from mmfilter.analysis import override_selection, record_selections
from mmfilter.models.backbones.filtervit import FILTERVIT_ARCHS
from mmfilter.models.layers import FilterAttentionBlock

BACKBONES = [FilterViT, DropoutViT, MobileViT, FilterMobileViT]


def small(cls, **kwargs):
    return cls(arch='xxs', **kwargs)


@pytest.mark.parametrize('cls', BACKBONES)
@pytest.mark.parametrize('size', [(64, 64), (97, 131), (33, 47)])
def test_output_shapes_and_strides(cls, size):
    model = small(cls).eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, *size))
    assert len(outs) == 4
    for i, (out, channels) in enumerate(zip(outs, model.stage_channels)):
        stride = 2**(i + 2)
        assert out.shape == (2, channels, math.ceil(size[0] / stride), math.ceil(size[1] / stride))


@pytest.mark.parametrize('cls', BACKBONES)
def test_channels_last_changes_speed_not_results(cls):
    torch.manual_seed(0)
    fast = small(cls).eval()
    plain = small(cls, channels_last=False).eval()
    plain.load_state_dict(fast.state_dict())
    x = torch.rand(2, 3, 75, 101)
    with torch.no_grad():
        for a, b in zip(fast(x), plain(x)):
            assert a.is_contiguous()  # NCHW for the necks, whatever ran inside
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('cls', BACKBONES)
def test_large_odd_input_and_batch_of_one(cls):
    model = small(cls).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 511, 511))
    assert [o.shape[-1] for o in outs] == [128, 64, 32, 16]
    assert all(torch.isfinite(o).all() for o in outs)


def test_out_indices_and_channel_list():
    model = FilterViT(arch='xs', out_indices=(1, 3))
    assert model.stage_channels == [32, 64, 96, 160]
    assert model.out_channels == [64, 160]
    assert not hasattr(model, 'channels')  # necks read out_channels; no ambiguous list
    outs = model.eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 160]
    single = FilterViT(arch='xs', out_indices=3)  # an int, as ResNet's configs write it
    assert single.out_indices == (3, ) and single.out_channels == [160]


def test_scorer_receives_gradient():
    model = small(FilterViT).train()
    sum(o.mean() for o in model(torch.rand(2, 3, 64, 64))).backward()
    scorers = [b.scorer for _, b in model.selecting_blocks()]
    assert len(scorers) == 3
    for scorer in scorers:
        grad = scorer.logit.weight.grad
        assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize('selection', ['topk', 'random'])
def test_exactly_k_tokens_attended_and_others_change_only_through_mask(selection):
    torch.manual_seed(0)
    block = FilterAttentionBlock(16, 32, 1, 4, token_ratio=0.25, token_budget=40,
                                 selection=selection,
                                 mask_mode='scale' if selection == 'topk' else 'gate').eval()
    x = torch.randn(3, 16, 13, 17)  # 221 pixels: the budget (40) binds
    with torch.no_grad(), record_selections(block) as records:
        out = block(x)
    record, = records
    k = record['indices'].shape[1]
    assert k == block.selector.num_tokens(13, 17) == 40
    assert record['indices'].shape == (3, 40) and record['stage'] is None
    base = x if record['mask'] is None else x * record['mask']
    changed = (out != base).any(dim=1).flatten(1)
    assert changed.sum(dim=1).tolist() == [k] * 3
    selected = torch.zeros_like(changed).scatter_(1, record['indices'], True)
    assert torch.equal(changed, selected)


def test_topk_selects_the_most_salient_pixels():
    block = FilterAttentionBlock(8, 16, 1, 4, token_budget=5).eval()
    with torch.no_grad(), record_selections(block) as records:
        block(torch.randn(2, 8, 6, 6))
    record, = records
    flat = record['mask'].flatten(1)
    chosen = flat.gather(1, record['indices'])
    assert torch.all(chosen.min(dim=1).values >= flat.topk(5, dim=1).values[:, -1])


@pytest.mark.parametrize('cls', BACKBONES)
def test_evaluation_is_deterministic(cls):
    model = small(cls).eval()
    x = torch.rand(2, 3, 80, 96)
    with torch.no_grad():
        first = model(x)
        torch.manual_seed(123)
        second = model(x)
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_dropoutvit_is_random_in_training_and_optionally_at_evaluation():
    x = torch.rand(1, 3, 64, 64).expand(2, -1, -1, -1)
    model = small(DropoutViT).train()
    with record_selections(model) as selections:
        model(x)
    train_idx = selections[0]['indices']
    assert not torch.equal(train_idx[0].sort().values, train_idx[1].sort().values)

    model.eval()
    with torch.no_grad(), override_selection(model, selection='random'):
        a, b = model(x)[0], model(x)[0]
    assert not torch.equal(a, b)


def test_dense_twin_matches_topk_when_every_token_is_selected():
    sparse = small(FilterViT, token_rule=dict(ratio=1.0, budget=None), mask_mode='scale').eval()
    block = next(b for _, b in sparse.selecting_blocks())
    x = torch.randn(2, block.scorer.reduce.conv.in_channels, 5, 6)
    with torch.no_grad():
        dense_out = block(x)
        mask = block.scorer(x).sigmoid()
        idx = torch.randperm(30).expand(2, 30)  # any order of all pixels: same result
        from mmfilter.models.token_selection import gather_tokens, scatter_tokens
        xm = x * mask
        tokens = gather_tokens(xm, idx)
        perm_out = scatter_tokens(xm, idx, tokens + block.transformer(tokens, idx, 5, 6))
    assert torch.allclose(dense_out, perm_out, atol=1e-5)


@pytest.mark.parametrize('cls', BACKBONES)
def test_frozen_stages_get_no_gradient_and_stay_in_eval(cls):
    model = small(cls, frozen_stages=2).train()
    for module in [model.stem, model.stages[0], model.stages[1]]:
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    assert model.stages[2].training
    sum(o.mean() for o in model(torch.rand(2, 3, 64, 64))).backward()
    assert all(p.grad is None for p in model.stages[1].parameters())
    assert any(p.grad is not None for p in model.stages[2].parameters())


def test_norm_eval_keeps_batch_norms_frozen():
    model = small(FilterViT, norm_eval=True).train()
    bn = model.stages[2].blocks[0].expand.bn
    before = bn.running_mean.clone()
    model(torch.rand(2, 3, 64, 64))
    assert not bn.training
    assert torch.equal(bn.running_mean, before)


@pytest.mark.parametrize('cls', [FilterViT, MobileViT, DropoutViT])
def test_with_cp_gives_same_outputs_and_gradients(cls):
    torch.manual_seed(0)
    plain = small(cls, drop_path_rate=0.1).train()
    ckpt = small(cls, drop_path_rate=0.1, with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 64, 64)
    results = []
    for model in (plain, ckpt):
        torch.manual_seed(1)  # same drop-path and random-token draws
        outs = model(x)
        sum(o.square().mean() for o in outs).backward()
        results.append((outs, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (outs_a, grads_a), (outs_b, grads_b) = results
    for a, b in zip(outs_a, outs_b):
        assert torch.allclose(a, b, atol=1e-5)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        assert torch.allclose(grads_a[name], grads_b[name], atol=1e-5), name


def test_pretrained_loading_round_trips_with_prefix(tmp_path):
    source = small(FilterViT)
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['neck.lateral.weight'] = torch.zeros(1)  # ignored: outside the prefix
    path = tmp_path / 'detector.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    target = small(FilterViT, init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                            prefix='backbone.'))
    assert not torch.equal(target.stem.conv.conv.weight, source.stem.conv.conv.weight)
    target.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def hook_count(model):
    return sum(len(m._forward_hooks) for m in model.modules())


@pytest.mark.parametrize('cls, stages', [(FilterViT, [0, 1, 2]), (DropoutViT, [0, 1, 2]),
                                         (FilterMobileViT, [1, 2, 3])])
def test_records_every_selecting_block_per_forward_and_leaves_no_hook(cls, stages):
    """Through forward hooks, on a backbone inside another module (as in a
    detector): one record per token-selecting block and forward, nothing kept
    outside the context."""
    model = small(cls).eval()
    detector = torch.nn.ModuleDict(dict(backbone=model))
    x = torch.rand(2, 3, 96, 64)
    with torch.no_grad():
        with record_selections(detector) as records:
            assert hook_count(model) == len(stages)
            model(x)
            model(x)
        model(x)
    assert hook_count(model) == 0
    assert [r['stage'] for r in records] == stages * 2
    for r in records:
        h, w = r['size']
        assert r['mask'] is None if cls is DropoutViT else r['mask'].shape == (2, 1, h, w)
        assert r['indices'].shape[0] == 2
    assert records[0]['size'] == ((24, 16) if stages[0] == 0 else (6, 4))


@pytest.mark.parametrize('cls', BACKBONES)
def test_wrong_input_channels_is_a_clear_error(cls):
    with pytest.raises(ValueError, match=r'expects \[B, 3, H, W\] input, got shape \(1, 4, 32, 32\)'):
        small(cls)(torch.rand(1, 4, 32, 32))


def test_invalid_arguments_are_clear_errors():
    with pytest.raises(KeyError, match="unknown FilterViT arch 'xl'"):
        FilterViT(arch='xl')
    with pytest.raises(ValueError, match=r'out_indices \(0, 4\) out of range'):
        FilterViT(out_indices=(0, 4))
    with pytest.raises(ValueError, match=r'token ratio must lie in \(0, 1\]'):
        FilterViT(token_rule=dict(ratio=1.5))
    with pytest.raises(ValueError, match='token ratio'):
        FilterViT(token_rule=dict(ratio=0))
    with pytest.raises(KeyError, match='unknown token_rule keys'):
        FilterViT(token_rule=dict(k=5))
    with pytest.raises(TypeError, match='MobileViT has no token-selecting attention'):
        MobileViT(token_rule=dict(ratio=0.5))
    with pytest.raises(TypeError, match="unexpected keyword argument 'selection'"):
        MobileViT(selection='topk')
    with pytest.raises(TypeError, match=r"MobileViT stage 1: MobileViTBlock takes no \['mask_mode'\]"):
        MobileViT(arch=dict(MobileViT.arch_settings['xxs'], stages=[
            dict(s, attention=s.get('attention') and dict(s['attention'], mask_mode='gate'))
            for s in MobileViT.arch_settings['xxs']['stages']]))
    with pytest.raises(ValueError, match="unknown mask_mode 'half'"):
        FilterViT(mask_mode='half')
    with pytest.raises(ValueError, match="unknown attention type 'swin'"):
        FilterViT(arch=dict(stages=[dict(channels=8, attention=dict(type='swin'))] * 4))
    with pytest.raises(ValueError, match='frozen_stages'):
        MobileViT(frozen_stages=7)


def test_token_rule_sets_k_per_stage():
    model = FilterViT(arch='xxs', token_rule=[dict(budget=10), None, dict(ratio=1.0, budget=None), None])
    selectors = [b.selector for _, b in model.selecting_blocks()]
    assert selectors[0].num_tokens(16, 16) == 10
    assert selectors[1].num_tokens(8, 8) == 32  # arch default ratio 0.5
    assert selectors[2].num_tokens(4, 4) == 16


@pytest.mark.parametrize('cls, arch, low, high', [
    (MobileViT, 'xxs', 0.9e6, 0.96e6), (MobileViT, 'xs', 1.85e6, 1.95e6), (MobileViT, 's', 4.75e6, 4.9e6),
])
def test_mobilevit_matches_paper_sizes(cls, arch, low, high):
    """Backbone-only counts: the paper's 1.3 M / 2.3 M / 5.6 M less the classifier."""
    assert low < sum(p.numel() for p in cls(arch=arch).parameters()) < high


@pytest.mark.slow
def test_backbones_need_only_torch_and_mmengine():
    """mmcv, mmdet and mmseg blocked: the package, the backbones and the ONNX tool still work."""
    import subprocess
    import sys
    code = (
        "import sys\n"
        "for name in ('mmcv', 'mmdet', 'mmseg', 'mmpretrain', 'torchvision'): sys.modules[name] = None\n"
        "import torch, mmfilter\n"
        "from mmengine.registry import MODELS\n"
        "for t in ('FilterViT', 'DropoutViT', 'MobileViT'):\n"
        "    outs = MODELS.build(dict(type=t, arch='xxs')).eval()(torch.rand(1, 3, 40, 56))\n"
        "    assert len(outs) == 4\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr[-2000:]


LISTS = {'stages', 'blocks', 'layers'}  # the only modules whose children are a homogeneous list


@pytest.mark.parametrize('cls', BACKBONES)
def test_checkpoint_keys_are_names_not_positions(cls):
    for key in cls(arch='xs').state_dict():
        parts = key.split('.')
        for parent, part in zip(parts, parts[1:]):
            assert not part.isdigit() or parent in LISTS, f'positional segment in {key}'
    keys = set(cls(arch='xs').state_dict())
    assert 'stem.conv.conv.weight' in keys and 'stem.block.depthwise.bn.running_mean' in keys
    assert 'stages.1.blocks.0.project.conv.weight' in keys


def without_filter_attention(arch):
    """FilterViT's arch table with no attention at strides 4-16: the ablation of the
    filter stages, as a custom arch."""
    stages = FILTERVIT_ARCHS[arch]['stages']
    return dict(FILTERVIT_ARCHS[arch], stages=[dict(s, attention=None) for s in stages[:3]]
                + stages[3:])


def test_a_custom_arch_drops_the_filter_attention():
    full, ablation = FilterViT(arch='xs'), FilterViT(arch=without_filter_attention('xs'))
    assert ['attention' in stage._modules for stage in ablation.stages] == [False] * 3 + [True]
    full_keys, ablation_keys = set(full.state_dict()), set(ablation.state_dict())
    dropped = full_keys - ablation_keys
    assert ablation_keys < full_keys and dropped
    assert all(k.split('.')[:3] in (['stages', str(i), 'attention'] for i in range(3))
               for k in dropped)
    with torch.no_grad():
        outs = ablation.eval()(torch.rand(1, 3, 96, 128))
    assert [o.shape[1] for o in outs] == full.stage_channels


def test_key_names_of_each_block_kind():
    filter_keys = set(FilterViT(arch='xxs').stages[0].state_dict())
    assert {'attention.scorer.reduce.conv.weight', 'attention.scorer.logit.weight',
            'attention.transformer.encoder.layers.0.attn.qkv.weight',
            'attention.transformer.encoder.layers.0.mlp.fc2.bias',
            'attention.transformer.encoder.norm.weight',
            'attention.transformer.pos_embed.proj.weight'} <= filter_keys
    assert 'attention.transformer.proj_out.weight' in FilterViT(arch='xxs').stages[3].state_dict()
    mobilevit_keys = set(MobileViT(arch='xxs').stages[1].state_dict())
    assert {'attention.local_conv.conv.weight', 'attention.local_proj.weight',
            'attention.encoder.layers.1.norm2.weight', 'attention.encoder.norm.weight',
            'attention.proj.conv.weight', 'attention.fusion.bn.weight'} <= mobilevit_keys


def test_gate_mode_leaves_unselected_pixels_untouched_and_trains_the_scorer():
    torch.manual_seed(0)
    block = FilterAttentionBlock(16, 32, 1, 4, token_budget=20, mask_mode='gate').train()
    x = torch.randn(2, 16, 9, 11, requires_grad=True)
    with record_selections(block) as records:
        out = block(x)
    record, = records
    changed = (out != x).any(dim=1).flatten(1)
    selected = torch.zeros_like(changed).scatter_(1, record['indices'], True)
    assert torch.equal(changed, selected)  # only the K attended pixels differ from x
    out.square().sum().backward()
    assert block.scorer.logit.weight.grad.abs().sum() > 0


def test_gate_mode_at_a_zero_logit_is_dropoutvit_with_the_same_tokens():
    torch.manual_seed(0)
    gated = FilterAttentionBlock(8, 16, 1, 4, token_budget=6, mask_mode='gate').eval()
    torch.nn.init.zeros_(gated.scorer.logit.weight)
    torch.nn.init.zeros_(gated.scorer.logit.bias)  # gate = 2 * sigmoid(0) = 1 everywhere
    plain = FilterAttentionBlock(8, 16, 1, 4, token_budget=6, selection='uniform').eval()
    plain.transformer.load_state_dict(gated.transformer.state_dict())
    x = torch.randn(2, 8, 6, 7)
    with torch.no_grad():
        with record_selections(gated) as records:
            a = gated(x)
        index = records[0]['indices']
        with_same_tokens = plain.merge(x.clone(), index, *_tokens(plain, x, index))
    assert torch.allclose(a, with_same_tokens, atol=1e-6)


def _tokens(block, x, index):
    base, tokens, gate = block.split(x, None, index)
    return tokens, block.transformer(tokens, index, *x.shape[2:]), gate


def test_override_selection_changes_k_and_rule_and_restores_them():
    model = small(FilterViT).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        with record_selections(model) as trained:
            model(x)
        with override_selection(model, token_rule=dict(budget=7), selection='uniform'), \
                record_selections(model) as overridden:
            model(x)
        assert [r['indices'].shape[1] for r in overridden] == [7, 7, 7]
        from mmfilter.models.token_selection import uniform_indices
        h, w = overridden[0]['size']
        assert torch.equal(overridden[0]['indices'][0], uniform_indices(h, w, 7, 'cpu'))
        with record_selections(model) as after:
            outs = model(x)
    assert hook_count(model) == 0
    assert all(torch.equal(a['indices'], r['indices']) for a, r in zip(trained, after))
    assert all(torch.equal(a, b) for a, b in zip(expected, outs))
    with pytest.raises(ValueError, match="cannot select tokens by 'nearest'"):
        with override_selection(model, selection='nearest'):
            pass
    with pytest.raises(KeyError, match='unknown token_rule keys'):
        with override_selection(model, token_rule=dict(k=3)):
            pass
    with pytest.raises(ValueError, match="selection='topk' needs a scorer"):
        with override_selection(small(DropoutViT), selection='topk'):
            pass
    with pytest.raises(ValueError, match='MobileViT holds no mmfilter backbone with token'):
        with override_selection(small(MobileViT)):
            pass
    assert hook_count(model) == 0


def test_override_selection_restores_after_an_error_and_records_inside_or_around_it():
    model = small(FilterMobileViT).eval()
    x = torch.rand(1, 3, 128, 128)  # at least 4 patches per block
    with pytest.raises(RuntimeError, match='interrupted'):
        with override_selection(model, attention=False):
            raise RuntimeError('interrupted')
    assert hook_count(model) == 0
    with torch.no_grad():
        with record_selections(model) as around, override_selection(model, dict(budget=3)):
            model(x)
        with override_selection(model, dict(budget=3)), record_selections(model) as inside:
            model(x)
    assert [r['indices'].shape[1] for r in around] == [r['indices'].shape[1] for r in inside] \
        == [3, 3, 3]


def test_attention_off_passes_every_pixel_through_and_comes_back():
    model = small(FilterViT).eval()
    x = torch.rand(1, 3, 64, 64)
    block = next(b for _, b in model.selecting_blocks())
    feature = torch.rand(1, block.scorer.reduce.conv.in_channels, 16, 16)
    with torch.no_grad():
        attended = block(feature)
        with override_selection(model, attention=False), record_selections(model) as records:
            assert torch.equal(block(feature), feature)  # 'gate': the map unchanged
            model(x)
        assert [r['indices'].shape[1] for r in records] == [0, 0, 0, 0]
        assert torch.equal(block(feature), attended)
    mobile = small(FilterMobileViT).eval()
    with torch.no_grad(), override_selection(mobile, attention=False):
        assert mobile(x)[-1].isfinite().all()


def test_attention_off_is_the_model_without_its_filter_attention():
    """The override's ablation on trained weights computes what the custom arch
    without filter attention computes with the same remaining weights."""
    torch.manual_seed(0)
    full = small(FilterViT).eval()
    ablation = FilterViT(arch=without_filter_attention('xxs')).eval()
    missing, unexpected = ablation.load_state_dict(full.state_dict(), strict=False)
    assert not missing and all('.attention.' in k for k in unexpected)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad(), override_selection(full, attention=False):
        assert all(torch.equal(a, b) for a, b in zip(full(x), ablation(x)))


def test_attn_drop_reaches_every_attention():
    model = small(FilterViT, attn_drop_rate=0.2)
    from mmfilter.models.layers import MultiheadSelfAttention
    rates = {m.attn_drop for m in model.modules() if isinstance(m, MultiheadSelfAttention)}
    assert rates == {0.2}


@pytest.mark.parametrize('cls', BACKBONES)
def test_dilated_backbones_keep_the_stated_output_strides(cls):
    """DeepLabv3's output stride 16 (and 8): the last strides traded for dilation."""
    x = torch.rand(1, 3, 97, 131)  # odd sides
    for strides, dilations, expected in (((2, 2, 2, 1), (1, 1, 1, 2), [4, 8, 16, 16]),
                                         ((2, 2, 1, 1), (1, 1, 2, 4), [4, 8, 8, 8])):
        model = small(cls, strides=strides, dilations=dilations).eval()
        assert model.stage_strides == expected
        with torch.no_grad():
            outs = model(x)
        assert [o.shape[2:] for o in outs] == [
            (math.ceil(97 / s), math.ceil(131 / s)) for s in expected]
        assert model.stages[3].blocks[0].depthwise.conv.dilation == (dilations[3], ) * 2
    with pytest.raises(ValueError, match='strides must be 1 or 2'):
        small(cls, strides=(2, 2, 2, 3))
    with pytest.raises(ValueError, match='needs 4 strides and 4 dilations'):
        small(cls, dilations=(1, 2))


@pytest.mark.parametrize('cls, kind', [(FilterViT, 'filter'), (FilterMobileViT, 'filter_mobilevit')])
def test_selection_is_set_by_the_constructor_only(cls, kind):
    """What the user passes is what the blocks get; an arch dict that sets it too
    is refused (one place for each setting)."""
    model = small(cls, selection='random')
    selectors = [b.selector for _, b in model.selecting_blocks()]
    assert selectors and all(s.selection == 'random' for s in selectors)
    assert all(b.scorer is None for _, b in model.selecting_blocks())
    assert all(s.active_selection() == 'random' for s in selectors)  # training mode
    assert all(s.active_selection() == 'uniform' for s in model.eval() and selectors)
    model = small(cls, selection='uniform')
    assert all(b.selector.selection == 'uniform' for _, b in model.selecting_blocks())
    if cls is FilterViT:
        model = small(cls, mask_mode='scale')
        assert all(b.mask_mode == 'scale' for _, b in model.selecting_blocks())
    arch = cls.arch_settings['xxs']
    with_selection = dict(arch, stages=[
        dict(s, attention=dict(s['attention'], selection='uniform'))
        if s.get('attention') and s['attention']['type'] == kind else s for s in arch['stages']])
    with pytest.raises(ValueError, match=rf"{cls.__name__} arch sets \['selection'\] in its "
                       rf"'{kind}' attention; pass {cls.__name__}\(selection=...\) instead"):
        cls(arch=with_selection)


def test_dropoutvit_refuses_scored_settings_and_filtervit_random_is_dropoutvit():
    with pytest.raises(TypeError, match=r"DropoutViT draws its tokens at random and scores none: "
                       r"it takes no \['mask_mode', 'selection'\]"):
        small(DropoutViT, selection='topk', mask_mode='scale')
    with pytest.raises(ValueError, match="mask_mode='scale' masks by the scorer"):
        small(FilterViT, selection='random', mask_mode='scale')
    torch.manual_seed(0)
    dropout = small(DropoutViT).eval()
    random_filter = small(FilterViT, selection='random').eval()
    assert dropout.state_dict().keys() == random_filter.state_dict().keys()
    random_filter.load_state_dict(dropout.state_dict())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(dropout(x), random_filter(x)):
            assert torch.equal(a, b)


def test_tied_logits_spread_over_the_map():
    """A fresh FilterMobileViT scores every patch alike (its logit conv starts at
    zero): the tie-break spreads its picks from the top eighth of the rows to the
    bottom eighth instead of one clump."""
    model = FilterMobileViT(arch='xxs')
    model.init_weights()
    with torch.no_grad(), record_selections(model.eval()) as selections:
        model(torch.rand(1, 3, 256, 256))
    first = selections[0]
    height, width = first['size']
    rows = first['indices'][0] // width
    assert rows.min() < height / 8 and rows.max() >= height * 7 / 8
    assert first['indices'].shape[1] < height * width  # a real choice, not every patch


@pytest.mark.parametrize('cls', BACKBONES)
def test_bfloat16_autocast_trains_and_evaluates_finitely(cls):
    torch.manual_seed(0)
    model = small(cls, drop_path_rate=0.1)
    x = torch.rand(2, 3, 64, 80)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = sum(o.float().square().mean() for o in model.train()(x))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        assert all(torch.isfinite(o).all() for o in model.eval()(x))
    if cls in (FilterViT, FilterMobileViT):
        scorer = next(b for _, b in model.selecting_blocks()).scorer
        seen = []
        handle = scorer.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
            model(x)
        handle.remove()
        assert seen == [torch.float32]  # the logits that pick the tokens, outside autocast


def test_positions_of_a_bfloat16_model_match_float32():
    """The Fourier phases are computed in float32 and only their sines and cosines
    cast: a bfloat16 model's position codes are float32's up to bfloat16 rounding."""
    from mmfilter.models.layers import CoordinatePositionEncoding
    encoding = CoordinatePositionEncoding(32)
    indices = torch.arange(0, 200 * 336, 97).unsqueeze(0)
    reference = encoding(indices, 200, 336)
    low = encoding.to(torch.bfloat16)(indices, 200, 336).float()
    assert (low - reference).abs().max() < 0.05 * reference.abs().max()


@pytest.mark.parametrize('cls', BACKBONES)
def test_norm_cfg_and_act_cfg_reach_every_convolution_and_keep_the_keys(cls):
    from mmfilter.models.layers import ConvNormAct
    model = small(cls, norm_cfg=dict(type='GN', num_groups=2, eps=1e-3), act_cfg=dict(type='ReLU'))
    convs = [m for m in model.modules() if isinstance(m, ConvNormAct)]
    assert convs and all(isinstance(m.bn, torch.nn.GroupNorm) and m.bn.eps == 1e-3 for m in convs)
    activations = {type(m.act) for m in convs}
    assert activations == {torch.nn.ReLU, torch.nn.Identity}  # projections have none
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert all(isinstance(layer.mlp.act, torch.nn.SiLU) for layer in model.modules()
               if hasattr(layer, 'mlp'))  # the transformers' own
    reference = small(cls)
    weights = {k for k in reference.state_dict() if 'running_' not in k and 'num_batches' not in k}
    assert set(model.state_dict()) == weights
    with torch.no_grad():
        assert all(o.isfinite().all() for o in model.eval()(torch.rand(1, 3, 64, 64)))
    frozen = small(cls, norm_cfg=dict(type='BN', requires_grad=False))
    assert not any(p.requires_grad for m in frozen.modules() if isinstance(m, ConvNormAct)
                   for p in m.bn.parameters())


def test_bad_norm_and_activation_configs_are_refused_naming_the_backbone():
    with pytest.raises(ValueError, match=r"FilterViT: unknown norm_cfg type 'XN'; choose from "
                       r"\['BN', 'BN2d', 'SyncBN', 'GN'\]"):
        FilterViT(norm_cfg=dict(type='XN'))
    with pytest.raises(ValueError, match="MobileViT: unknown act_cfg type 'Swish'"):
        MobileViT(act_cfg=dict(type='Swish'))
    with pytest.raises(TypeError, match='DropoutViT: norm_cfg must be a dict with a "type"'):
        DropoutViT(norm_cfg='BN')
    with pytest.raises(TypeError, match=r"FilterMobileViT: norm_cfg \{'type': 'BN', 'mom': 0.1\}"):
        FilterMobileViT(norm_cfg=dict(type='BN', mom=0.1))


@pytest.mark.parametrize('cls', BACKBONES)
def test_init_weights_initialises_every_layer_and_zeroes_filtermobilevits_scorers(cls):
    torch.manual_seed(0)
    model = small(cls)
    for m in model.modules():  # as if trained
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.normal_(m.weight, mean=1.0)
    model.init_weights()
    linear = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert all(abs(w.mean()) < 0.01 and abs(w.std() - 0.02) < 0.005 for w in linear
               if w.numel() >= 1000)  # truncated normal, std 0.02
    conv = model.stem.conv.conv.weight  # Kaiming normal, fan out
    assert abs(conv.std().item() - (2 / (conv.shape[0] * 9)) ** 0.5) < 0.05
    logits = [b.scorer.logit for _, b in model.selecting_blocks() if b.scorer is not None]
    if cls is FilterMobileViT:
        assert len(logits) == 3 and not any(c.weight.any() or c.bias.any() for c in logits)
    else:
        assert all(c.weight.abs().sum() > 0 for c in logits)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()  # a second call initialises nothing again (a loaded init_cfg stays)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_filtermobilevit_at_full_budget_after_init_weights_is_mobilevit():
    """The scorers start at gates of 1 (``init_weights`` as the runner calls it), so
    with K covering every patch the model is MobileViT with the same weights."""
    torch.manual_seed(0)
    mobilevit = MobileViT(arch='xxs')
    mobilevit.init_weights()
    model = FilterMobileViT(arch='xxs', token_rule=dict(ratio=1.0, budget=None))
    model.init_weights()
    missing, unexpected = model.load_state_dict(mobilevit.state_dict(), strict=False)
    assert not unexpected and missing and all('.scorer.' in k for k in missing)
    x = torch.rand(1, 3, 96, 64)
    with torch.no_grad():
        for a, b in zip(mobilevit.eval()(x), model.eval()(x)):
            torch.testing.assert_close(a, b)


def test_importing_mmfilter_leaves_the_analysis_out():
    """The analysis override and recording are for the tools; the model and the
    package import nothing of them."""
    import subprocess
    import sys
    code = ("import sys, mmfilter, mmfilter.models, mmfilter.engine, mmfilter.apis\n"
            "print(sorted(m for m in sys.modules if m.startswith('mmfilter.analysis')))")
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == '[]', proc.stderr[-2000:]
