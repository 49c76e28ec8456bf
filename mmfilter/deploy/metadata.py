"""What a runner needs besides the graph, written into the ONNX file's metadata:
task, class names, palette, input size and channel order, mean and std, whether
the graph normalises its input, the test resize, and for detectors the score
threshold and detection cap."""
import json
from typing import Dict

from torch import nn

from .wrappers import task_of


def pipeline_steps(cfg) -> list:
    """The steps of the config's test pipeline (none for a model without a config)."""
    return cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', []) if cfg else []


def loaded_channel_order(cfg) -> str:
    """The channel order the test pipeline loads images in (``LoadImageFromFile``'s
    ``channel_order``, BGR by default): the order the graph's input takes."""
    for step in pipeline_steps(cfg):
        if step.get('type') == 'LoadImageFromFile':
            return step.get('channel_order', 'bgr')
    return 'bgr'


def pipeline_resize(cfg) -> dict:
    """The ``Resize`` of the config's test pipeline: ``dict(scale=(w, h), keep_ratio)``
    (empty where it has none)."""
    for step in pipeline_steps(cfg):
        if step.get('type') == 'Resize' and 'scale' in step:
            return dict(scale=list(step['scale']), keep_ratio=bool(step.get('keep_ratio', False)))
    return {}


def normalize_step(normalize: nn.Module) -> dict:
    """The graph's normalisation as MMDeploy's ``pipeline.json`` states its
    ``Normalize`` step: ``mean`` and ``std`` in the model's channel order, applied
    after the channel flip that ``to_rgb`` asks for."""
    return dict(type='Normalize', mean=normalize.mean.flatten().tolist(),
                std=normalize.std.flatten().tolist(), to_rgb=normalize.flip_channels)


def export_metadata(model: nn.Module, wrapper: nn.Module, height: int, width: int,
                    config: str = '', checkpoint: str = '',
                    normalize_outside: bool = False) -> Dict[str, str]:
    """What a runner needs besides the graph, as ONNX metadata (string values,
    JSON where structured). ``normalization`` says whether the graph normalises its
    input (``'in-graph'``) or takes it normalised (``'outside'``, MMDeploy's
    contract); ``normalize`` states the step either way."""
    from .. import __version__
    meta = getattr(model, 'dataset_meta', None) or {}
    task = task_of(model)
    cfg = getattr(model, 'cfg', None)
    normalize = wrapper.normalize
    values = dict(
        task=task, input_size=[height, width],
        input_channel_order=loaded_channel_order(cfg),
        mean=normalize.in_input_order(normalize.mean), std=normalize.in_input_order(normalize.std),
        normalization='outside' if normalize_outside else 'in-graph',
        normalize=normalize_step(normalize),
        classes=list(meta.get('classes', ())), palette=[list(c) for c in meta.get('palette', ())],
        resize=pipeline_resize(cfg),
        config=config, checkpoint=checkpoint, exporter=f'mmfilter {__version__}')
    if task == 'detection':
        values['score_threshold'] = wrapper.test_cfg['score_thr']
        values['max_detections'] = wrapper.test_cfg['max_per_img']
    return {key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}
