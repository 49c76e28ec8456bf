"""An mmengine hook that saves filter-mask sheets for the first images of a test run."""
import os
import os.path as osp
from contextlib import ExitStack
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from ..analysis import record_selections
from .selection_maps import InputGeometry, sheet


@HOOKS.register_module()
class FilterMaskHook(Hook):
    """Write, for the first ``num_images`` test images, one PNG with the model's
    predictions beside every filter block's mask and selected tokens.

    Enable it with ``tools/test.py ... --filter-masks N`` or
    ``custom_hooks=[dict(type='FilterMaskHook', num_images=N)]``. Files go to
    ``{log_dir}/{out_dir}``.
    """
    priority = 'LOW'

    def __init__(self, num_images: int = 8, out_dir: str = 'filter_masks') -> None:
        self.num_images = num_images
        self.out_dir = out_dir
        self._written = 0
        self._recording = ExitStack()
        self._selections: list = []

    def before_test(self, runner) -> None:
        self._written = 0
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._selections = self._recording.enter_context(record_selections(model))

    def after_test(self, runner) -> None:
        self._recording.close()

    def after_test_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        selections = list(self._selections)  # this iteration's forward
        self._selections.clear()
        if self._written >= self.num_images:
            self._recording.close()
            return
        if not outputs:
            return
        from .explain import selection_panels, selections_of
        out_dir = osp.join(runner.log_dir, self.out_dir)
        os.makedirs(out_dir, exist_ok=True)
        for i, sample in enumerate(outputs):
            if self._written >= self.num_images:
                break
            image = mmcv.imread(sample.img_path, channel_order='rgb')
            meta = sample.metainfo
            geometry = InputGeometry.from_metainfo(meta, meta.get('batch_input_shape', meta['img_shape']))
            runner.visualizer.add_datasample('prediction', image, data_sample=sample, draw_gt=False,
                                             show=False)
            prediction = runner.visualizer.get_image()
            panels = [('prediction', prediction)] + selection_panels(image, geometry, selections_of(selections, i))
            name = osp.splitext(osp.basename(sample.img_path))[0] + '.png'
            mmcv.imwrite(np.ascontiguousarray(sheet(panels)[..., ::-1]), osp.join(out_dir, name))
            self._written += 1
