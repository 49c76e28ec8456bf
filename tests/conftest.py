import os.path as osp

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
torch.set_num_threads(2)


def config_path(name: str) -> str:
    return osp.join(REPO, 'configs', name)


@pytest.fixture
def repo_root() -> str:
    return REPO
