"""Checks a training or test run makes before building anything."""
import glob
import inspect
import importlib
import os.path as osp
from typing import Iterator, Optional, Sequence

from mmengine.config import Config, ConfigDict

from ..datasets.checks import check_coco_annotations, check_segmentation_folders

DEMO_HINTS = {
    'mmdet': 'python tools/train.py configs/retinanet_filtervit_demo.py',
    'mmseg': 'python tools/train.py configs/upernet_filtervit_demo.py',
}


SPLITS = ('train', 'val', 'test')


def _datasets(cfg: Config, splits: Sequence[str] = SPLITS) -> Iterator[ConfigDict]:
    """Every leaf dataset config of the given splits' loaders, in that order."""
    stack = [(cfg.get(f'{split}_dataloader') or {}).get('dataset') for split in reversed(splits)]
    while stack:
        ds = stack.pop()
        if not ds:
            continue
        if 'dataset' in ds:  # wrappers such as RepeatDataset
            stack.append(ds.dataset)
        elif 'datasets' in ds:  # ConcatDataset
            stack.extend(reversed(ds.datasets))
        else:
            yield ds


def _dataset_class(scope: Optional[str], type_name: str):
    if not isinstance(type_name, str):
        return type_name
    registry = importlib.import_module(f'{scope}.registry').DATASETS if scope else None
    return registry.get(type_name) if registry is not None else None


def check_data(cfg: Config, splits: Sequence[str] = SPLITS) -> None:
    """Raise :class:`DatasetError` naming the first missing or malformed dataset file
    of the ``splits`` a run will read (training: train and val; testing: test).

    Demo datasets (types starting with ``Demo``) generate their files on first
    use and check them themselves, so they are skipped here.
    """
    scope = cfg.get('default_scope')
    hint = ''
    if scope in DEMO_HINTS:
        hint = (f'\nPut the dataset there in its standard layout (see README.md), set '
                f'data_root with --cfg-options, or run the embedded demo instead: {DEMO_HINTS[scope]}')
    for ds in _datasets(cfg, splits):
        type_name = ds.get('type', '')
        if isinstance(type_name, str) and type_name.startswith('Demo'):
            continue
        root = ds.get('data_root') or ''
        prefix = ds.get('data_prefix') or {}
        cls = _dataset_class(scope, type_name)
        if str(ds.get('ann_file', '')).endswith('.json'):
            classes = (ds.get('metainfo') or {}).get('classes') or \
                getattr(cls, 'METAINFO', {}).get('classes')
            check_coco_annotations(osp.join(root, ds.ann_file), osp.join(root, prefix.get('img', '')),
                                   classes, hint)
        elif 'seg_map_path' in prefix:
            defaults = {} if cls is None else {
                k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                if k.endswith('suffix')}
            check_segmentation_folders(
                osp.join(root, prefix.get('img_path', '')), osp.join(root, prefix['seg_map_path']),
                ds.get('img_suffix', defaults.get('img_suffix', '.jpg')),
                ds.get('seg_map_suffix', defaults.get('seg_map_suffix', '.png')), hint)


def existing_checkpoints(work_dir: str) -> list:
    """Checkpoint files a new run in ``work_dir`` could overwrite."""
    return sorted(glob.glob(osp.join(work_dir, '*.pth')))
