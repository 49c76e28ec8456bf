"""What the command-line tools share."""
import os.path as osp
from typing import Optional

import mmcv
import numpy as np
from mmengine.config import Config


def load_config(path: str, cfg_options: Optional[dict] = None, launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and settle the launcher and work dir
    (``--work-dir``, else the config's, else ``./work_dirs/<config name>``)."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir or cfg.get('work_dir') or \
        osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def read_rgb(path: str) -> np.ndarray:
    """An image file as RGB ``uint8 [H, W, 3]``; exits naming the file if it cannot be read."""
    if not osp.isfile(path):
        raise SystemExit(f'error: image not found: {path}')
    image = mmcv.imread(path)  # None when the bytes do not decode
    if image is None:
        raise SystemExit(f'error: cannot read image {path}: not a decodable image file')
    return mmcv.bgr2rgb(image)
