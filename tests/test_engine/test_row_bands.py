"""Row bands, the CPU inference optimisation applied from outside the model
(``mmfilter.engine.apply_row_bands``): the same maps, smaller intermediate maps,
the same state dict, and applied by the tools on the CPU only."""
from unittest import mock

import pytest
import torch

from mmfilter import DropoutViT, FilterMobileViT, FilterViT, MobileViT
from mmfilter.engine import apply_row_bands, optimize_for_cpu
from mmfilter.engine.row_bands import CPUInferenceHook, RowBandedSequential

BACKBONES = [FilterViT, DropoutViT, MobileViT, FilterMobileViT]
BAND_MIB = 0.02


def conv_chains(model):
    """The stem and each stage's inverted residuals: what row bands split."""
    return [model.stem] + [stage.blocks for stage in model.stages]


def largest_conv_maps(model, x):
    """``model(x)`` and, per conv chain, the bytes of the largest map one of its
    BatchNorms returns."""
    chains = conv_chains(model)
    sizes = [[0] for _ in chains]

    def hook(index):
        return lambda m, i, o: sizes[index].append(o.numel() * o.element_size())

    hooks = [m.register_forward_hook(hook(i)) for i, chain in enumerate(chains)
             for m in chain.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    try:
        outs = model(x)
    finally:
        for h in hooks:
            h.remove()
    return outs, [max(s) for s in sizes]


def with_running_statistics(model):
    for m in model.modules():  # non-trivial statistics, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
    return model


#: Each backbone at its strides; dilated, one backbone per kind of conv chain (DropoutViT's
#: are FilterViT's, FilterMobileViT's MobileViT's).
BANDED_CASES = [(cls, (2, 2, 2, 2), (1, 1, 1, 1)) for cls in BACKBONES] + [
    (cls, (1, 2, 2, 2), (2, 1, 1, 1)) for cls in (FilterViT, MobileViT)]


@pytest.mark.parametrize('cls, strides, dilations', BANDED_CASES)
def test_row_bands_change_memory_not_results(cls, strides, dilations):
    """At inference the stem and each stage's convolutions run in bands of rows: the
    same maps as whole-map evaluation, NCHW or channels-last, batch 2, odd sides,
    with the bands' maps a fraction of the whole wherever they exceed the budget;
    training runs whole maps; the state dict keeps its keys."""
    torch.manual_seed(0)
    whole = with_running_statistics(cls(arch='xxs', strides=strides, dilations=dilations))
    x = torch.rand(2, 3, 97, 131)
    with torch.no_grad():
        expected, whole_bytes = largest_conv_maps(whole.eval(), x)
    over_budget = [i for i, b in enumerate(whole_bytes) if b > 4 * BAND_MIB * 2**20]
    assert over_budget[:3] == [0, 1, 2]  # the stem, stage 0 and stage 1 are banded
    for channels_last in (True, False):
        banded = cls(arch='xxs', strides=strides, dilations=dilations,
                     channels_last=channels_last)
        banded.load_state_dict(whole.state_dict())
        keys = list(banded.state_dict())
        apply_row_bands(banded.eval(), BAND_MIB)
        assert list(banded.state_dict()) == keys
        assert all(isinstance(chain, RowBandedSequential) for chain in conv_chains(banded))
        with torch.no_grad():
            outs, band_bytes = largest_conv_maps(banded, x)
        for i in over_budget:  # halo rows: a band of a few rows reads a few more
            assert band_bytes[i] < 0.6 * whole_bytes[i]
        for out, ref in zip(outs, expected):
            assert out.is_contiguous()
            torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.manual_seed(1)  # DropoutViT draws its tokens
    _, train_bytes = largest_conv_maps(banded.train(), x)
    torch.manual_seed(1)
    _, whole_train_bytes = largest_conv_maps(whole.train(), x)
    assert train_bytes == whole_train_bytes


def test_hooks_on_stages_fire_with_row_bands_and_a_second_call_sets_the_budget():
    """Grad-CAM and feature probes hook ``backbone.stages[i]``: a banded stage is
    still called as a module, and its output is the model's."""
    model = apply_row_bands(FilterViT(arch='xxs').eval(), BAND_MIB)
    outputs = {}
    for i, stage in enumerate(model.stages):
        stage.register_forward_hook(lambda m, args, out, i=i: outputs.setdefault(i, out))
    with torch.no_grad():
        maps = model(torch.rand(1, 3, 97, 131))
    assert sorted(outputs) == [0, 1, 2, 3]
    for i, out in enumerate(maps):
        torch.testing.assert_close(outputs[i], out, rtol=0, atol=0)
    apply_row_bands(model, 4.)
    assert {chain.band_mib for chain in conv_chains(model)} == {4.}
    with pytest.raises(ValueError, match='band_mib must be positive'):
        apply_row_bands(model, 0)


def test_chains_whose_norm_spans_the_map_stay_whole():
    """GroupNorm normalises over the whole map, so a band would see other statistics:
    such chains are not banded, and the outputs stay the model's."""
    torch.manual_seed(0)
    model = FilterViT(arch='xxs', norm_cfg=dict(type='GN', num_groups=2)).eval()
    x = torch.rand(1, 3, 97, 131)
    with torch.no_grad():
        expected = model(x)
        apply_row_bands(model, BAND_MIB)
        outs = model(x)
    assert not any(isinstance(m, RowBandedSequential) for m in model.modules())
    assert all(torch.equal(a, b) for a, b in zip(expected, outs))


def test_the_layers_know_nothing_of_bands():
    """The band arithmetic lives in the engine and reads the layers from outside."""
    from mmfilter.models.layers import ConvNormAct, InvertedResidual
    for cls in (ConvNormAct, InvertedResidual):
        assert not {'forward_rows', 'input_rows', 'largest_map', 'output_size'} & set(dir(cls))


def test_the_model_forward_is_plain_without_them():
    """A backbone as built runs whole maps on any device: nothing device- or
    allocator-specific inside the model."""
    model = FilterViT(arch='xxs').eval()
    assert not any(isinstance(m, RowBandedSequential) for m in model.modules())
    assert 'band' not in ' '.join(name for name, _ in model.named_modules())


def test_cpu_settings_apply_to_a_cpu_model_only():
    """``optimize_for_cpu`` (what the tools and ``init_model`` call) applies row bands and
    the malloc setting to a model on the CPU and leaves a model on another device alone."""
    model = FilterViT(arch='xxs').eval()
    with mock.patch('mmfilter.engine.row_bands.configure_malloc') as malloc, \
            mock.patch('mmfilter.engine.row_bands.model_device_type', return_value='cuda'):
        assert optimize_for_cpu(model) is False
    malloc.assert_not_called()
    assert not any(isinstance(m, RowBandedSequential) for m in model.modules())
    with mock.patch('mmfilter.engine.row_bands.configure_malloc') as malloc:
        assert optimize_for_cpu(model) is True
    malloc.assert_called_once_with('reuse')
    assert isinstance(model.stem, RowBandedSequential)

    runner = mock.Mock(model=FilterViT(arch='xxs').eval())
    with mock.patch('mmfilter.engine.row_bands.configure_malloc'):
        CPUInferenceHook().before_val(runner)
    assert isinstance(runner.model.stem, RowBandedSequential)
    runner.logger.info.assert_called_once()


@pytest.mark.parametrize('cuda', [False, True])
def test_the_tools_apply_cpu_settings_only_where_the_run_is_on_the_cpu(cuda):
    """tools/train.py and tools/test.py add the CPU inference hook and set the malloc
    mode only where MMEngine runs on the CPU; with a GPU they change nothing."""
    from mmengine.config import Config

    from mmfilter.engine.cli import use_cpu_inference_settings
    cfg = Config(dict(custom_hooks=[dict(type='StopOnNonFiniteLoss')]))
    with mock.patch('torch.cuda.is_available', return_value=cuda), \
            mock.patch('mmfilter.engine.allocator.configure_malloc') as malloc:
        applied = use_cpu_inference_settings(cfg, 'no-mmap')
    assert applied is not cuda
    hooks = [h['type'] for h in cfg.custom_hooks]
    if cuda:
        malloc.assert_not_called()
        assert hooks == ['StopOnNonFiniteLoss']
    else:
        malloc.assert_called_once_with('no-mmap')
        assert hooks == ['StopOnNonFiniteLoss', 'CPUInferenceHook']
        assert cfg.custom_hooks[-1]['malloc'] == 'no-mmap'
