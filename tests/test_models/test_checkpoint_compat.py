"""Checkpoints written by earlier mmfilter versions load into today's backbones and
give the same outputs. Fixtures in ``tests/test_models/data/``: small backbones of
each kind, every tensor moved off its initial value as training moves it, saved
with their outputs for one input by mmfilter 0.1.0 and by 0.3.0 (FilterViT there
with ``mask_mode='scale'``, its constructor setting, kept under ``settings``)."""
import os.path as osp

import pytest
import torch

from mmfilter import DropoutViT, FilterMobileViT, FilterViT, MobileViT

DATA = osp.join(osp.dirname(__file__), 'data')


@pytest.mark.parametrize('version', ['0.1', '0.3'])
@pytest.mark.parametrize('cls', [FilterViT, DropoutViT, MobileViT, FilterMobileViT])
def test_an_earlier_checkpoint_loads_and_gives_its_outputs(cls, version):
    saved = torch.load(osp.join(DATA, f'backbones_mmfilter_{version}.pth'), weights_only=False)
    assert saved['version'] == f'{version}.0'
    entry = saved['backbones'][cls.__name__]
    model = cls(arch=saved['archs'][cls.__name__], **entry.get('settings', {}))
    state = {k: v.float() if v.is_floating_point() else v for k, v in entry['state_dict'].items()}
    assert model.load_state_dict(state, strict=True)  # every key, no extra one
    model.eval()
    with torch.no_grad():
        outputs = model(saved['input'].float())
    assert len(outputs) == len(entry['outputs']) == 4
    for out, expected in zip(outputs, entry['outputs']):
        torch.testing.assert_close(out, expected.float(), rtol=2e-3, atol=2e-3)
