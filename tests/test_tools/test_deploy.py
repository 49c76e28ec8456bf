"""ONNX export and BatchNorm folding of the backbones (torch.compile: test_precision.py)."""
import pytest
import torch
from torch import nn

from conftest import load_tool
from mmfilter import FilterViT
from mmfilter.engine import CheckpointError

pytestmark = pytest.mark.slow  # tool runs, trainings, processes: integration tests


def _export_tool():
    return load_tool('deploy/export_onnx.py')


@pytest.mark.parametrize('backbone', ['FilterViT', 'DropoutViT', 'MobileViT'])
def test_onnx_export_matches_pytorch(tmp_path, backbone):
    out = tmp_path / 'model.onnx'
    errors = _export_tool().main(['--backbone', backbone, '--arch', 'xxs', '--shape', '97', '131',
                                  '--out', str(out)])
    assert out.stat().st_size > 100_000
    assert len(errors) == 4 and max(errors) < 1e-4


def test_filtermobilevit_onnx_export_matches_pytorch_with_a_trained_like_scorer(tmp_path):
    """A fresh scorer scores every patch 0 (ties, which torch and onnxruntime break
    differently), so the scorers get random weights first, as training gives them."""
    from mmfilter import FilterMobileViT
    torch.manual_seed(0)
    model = FilterMobileViT(arch='xxs')
    for _, block in model.selecting_blocks():
        torch.nn.init.normal_(block.scorer.logit.weight, std=0.5)
    ckpt = tmp_path / 'fmv.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in model.state_dict().items()}}, ckpt)
    errors = _export_tool().main(['--backbone', 'FilterMobileViT', '--arch', 'xxs', '--shape', '97',
                                  '131', '--checkpoint', str(ckpt), '--prefix', 'backbone.',
                                  '--out', str(tmp_path / 'model.onnx')])
    assert len(errors) == 4 and max(errors) < 1e-4


def test_onnx_export_takes_the_backbone_of_a_detector_checkpoint(tmp_path):
    source = FilterViT(arch='xxs').eval()
    ckpt = tmp_path / 'det.pth'
    head = {'bbox_head.retina_cls.weight': torch.zeros(36, 128, 3, 3)}
    torch.save({'state_dict': {**{f'backbone.{k}': v for k, v in source.state_dict().items()},
                               **head}, 'meta': {}}, ckpt)
    tool = _export_tool()
    for prefix in ('backbone.', None):  # given, and found without --prefix
        model = tool.backbone_for_export('FilterViT', 'xxs', None, str(ckpt), prefix)
        for key, value in source.state_dict().items():
            assert torch.equal(model.state_dict()[key], value)
    with pytest.raises(CheckpointError, match=r'^checkpoint .*det.pth does not fit '
                       r'MobileViT-xxs: \d+ of the model.s keys missing'):
        tool.backbone_for_export('MobileViT', 'xxs', None, str(ckpt), None)


@pytest.mark.parametrize('args,status,start', [
    (['--checkpoint', '{ckpt}'], 1, 'error: checkpoint '),  # weights of another backbone
    (['--arch', 'm'], 2, "error: no backbone 'MobileViT-m'"),
])
def test_onnx_export_faults_end_in_one_line_with_their_status(tmp_path, capsys, args, status,
                                                              start):
    ckpt = tmp_path / 'filtervit.pth'
    torch.save({'state_dict': FilterViT(arch='xxs').state_dict()}, ckpt)
    out = tmp_path / 'model.onnx'
    with pytest.raises(SystemExit) as caught:
        _export_tool().main(['--backbone', 'MobileViT', '--arch', 'xxs', '--shape', '64', '64',
                             '--out', str(out)] + [a.format(ckpt=ckpt) for a in args])
    assert caught.value.code == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert start in lines[-1], lines
    assert not out.exists()


@pytest.mark.parametrize('backbone', ['FilterViT', 'DropoutViT', 'MobileViT', 'FilterMobileViT'])
def test_folding_batch_norm_keeps_the_outputs(backbone):
    from mmengine.registry import MODELS

    from mmfilter.engine import apply_row_bands, fuse_conv_bn
    torch.manual_seed(0)
    model = MODELS.build(dict(type=backbone, arch='xxs'))
    for m in model.modules():  # non-trivial statistics, as after training
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    with pytest.raises(ValueError, match='call model.eval'):
        fuse_conv_bn(model)
    model.eval()
    image = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        expected = model(image)
        fuse_conv_bn(model)
        assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
        for layout in (torch.contiguous_format, torch.channels_last):
            for banded in (False, True):  # whole maps, and every stage's convs in row bands
                if banded:
                    apply_row_bands(model, 0.02)
                for out, ref in zip(model(image.contiguous(memory_format=layout)), expected):
                    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_export_rewrites_swap_the_token_write_back_for_the_export_only():
    """In PyTorch the filter blocks write their tokens back in place; the graph gets
    an out-of-place write (the exporter loses writes into views), only while exporting."""
    from mmfilter.deploy import export_rewrites
    from mmfilter.models.layers import filter_attention
    from mmfilter.models.token_selection import scatter_tokens_
    x = torch.rand(2, 3, 4, 5)
    indices, tokens = torch.tensor([[0, 7], [19, 3]]), torch.rand(2, 2, 3)
    with export_rewrites():
        out = filter_attention.scatter_tokens_(x, indices, tokens)
        assert out is not x and not torch.equal(out, x)
    torch.testing.assert_close(out, scatter_tokens_(x.clone(), indices, tokens))
    assert filter_attention.scatter_tokens_ is scatter_tokens_
