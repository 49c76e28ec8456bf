"""Checkpoints written by mmfilter 0.1 load into today's backbones and give the
same outputs (``tests/test_models/data/backbones_mmfilter_0.1.pth``: small backbones of each
kind, weights as after training, saved with their outputs by mmfilter 0.1.0)."""
import os.path as osp

import pytest
import torch

from mmfilter import DropoutViT, FilterMobileViT, FilterViT, MobileViT

FIXTURE = osp.join(osp.dirname(__file__), 'data', 'backbones_mmfilter_0.1.pth')


@pytest.mark.parametrize('cls', [FilterViT, DropoutViT, MobileViT, FilterMobileViT])
def test_a_checkpoint_of_mmfilter_0_1_loads_and_gives_its_outputs(cls):
    saved = torch.load(FIXTURE, weights_only=False)
    assert saved['version'] == '0.1.0'
    entry = saved['backbones'][cls.__name__]
    model = cls(arch=saved['archs'][cls.__name__])
    state = {k: v.float() if v.is_floating_point() else v for k, v in entry['state_dict'].items()}
    assert model.load_state_dict(state, strict=True)  # every key, no extra one
    model.eval()
    with torch.no_grad():
        outputs = model(saved['input'].float())
    for out, expected in zip(outputs, entry['outputs']):
        torch.testing.assert_close(out, expected.float(), rtol=2e-3, atol=2e-3)
