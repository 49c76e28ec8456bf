"""Checks a training or test run makes before building anything."""
import glob
import inspect
import importlib
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

from mmengine.config import Config, ConfigDict
from torch import nn

from ..datasets.checks import (DatasetError, check_coco_annotations, check_segmentation_folders,
                               find_bad_images)
from .config import ConfigError, error_message

DEMO_HINTS = {
    'mmdet': 'python tools/train.py configs/filtervit/retinanet_filtervit_demo.py',
    'mmseg': 'python tools/train.py configs/filtervit/upernet_filtervit_demo.py',
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


def check_data(cfg: Config, splits: Sequence[str] = SPLITS) -> Dict[str, List[Tuple[str, str]]]:
    """Check the dataset files of the ``splits`` a run will read (training: train
    and val; testing: test) before anything is built.

    Raises :class:`DatasetError` naming the first missing or malformed annotation
    file or folder. Then checks that every image would decode (header and end
    marker, see :func:`find_bad_images`) and has the size its COCO annotation gives
    it, and returns the bad ones per split.

    Demo datasets (types starting with ``Demo``) generate their files on first
    use; once generated they are checked like any other. A dataset on remote
    storage (``backend_args`` naming a backend, or a ``data_root`` URI such as
    ``s3://...``) is not checked here: its files are read through MMEngine's file
    backends when the dataset is built.
    """
    scope = cfg.get('default_scope')
    hint = ''
    if scope in DEMO_HINTS:
        hint = (f'; put the dataset there in its standard layout (see docs/get_started.md), set '
                f'data_root with --cfg-options, or run the embedded demo instead: {DEMO_HINTS[scope]}')
    bad = {}
    for split in splits:
        for ds in _datasets(cfg, (split, )):
            type_name = ds.get('type', '')
            root = ds.get('data_root') or ''
            if isinstance(type_name, str) and type_name.startswith('Demo') and not osp.isdir(root):
                continue  # generated, and checked, when the dataset is built
            if is_remote(ds):
                continue
            images = _dataset_images(ds, scope, hint)
            bad.setdefault(split, []).extend(find_bad_images(list(images),
                                                             annotated_sizes=images))
    return {split: found for split, found in bad.items() if found}


def is_remote(ds: ConfigDict) -> bool:
    """Whether a dataset's files live on a storage backend rather than a local disk."""
    backend_args = ds.get('backend_args') or {}
    backend = backend_args.get('backend', 'local')
    return backend not in ('local', 'disk') or '://' in str(ds.get('data_root') or '')


def checked_data(cfg: Config, splits: Sequence[str]) -> Dict[str, List[Tuple[str, str]]]:
    """:func:`check_data` where a run should make it: not at all with
    ``data_check = False`` in the config (``--no-data-check``); in a distributed run
    on rank 0 only, the other ranks waiting for its verdict, so that one process
    reads the annotations and image headers and every rank stops with the same
    :class:`DatasetError` (or gets the same bad images to skip)."""
    from mmengine.dist import broadcast_object_list, get_rank, is_distributed
    if cfg.get('data_check', True) is False:
        return {}
    if not is_distributed():
        return check_data(cfg, splits)
    verdict = [None]
    if get_rank() == 0:
        try:
            verdict = [('bad images', check_data(cfg, splits))]
        except DatasetError as e:
            verdict = [('error', str(e))]
    broadcast_object_list(verdict, src=0)
    kind, value = verdict[0]
    if kind == 'error':
        raise DatasetError(value)
    return value


def _dataset_images(ds: ConfigDict, scope: Optional[str],
                    hint: str) -> Dict[str, Optional[Tuple[int, int]]]:
    """Check one dataset's annotation files and folders; return ``{image path:
    (width, height) its annotation gives, or None}``."""
    root = ds.get('data_root') or ''
    prefix = ds.get('data_prefix') or {}
    cls = _dataset_class(scope, ds.get('type', ''))
    if str(ds.get('ann_file', '')).endswith('.json'):
        classes = (ds.get('metainfo') or {}).get('classes') or \
            getattr(cls, 'METAINFO', {}).get('classes')
        return check_coco_annotations(osp.join(root, ds.ann_file),
                                      osp.join(root, prefix.get('img', '')), classes, hint)
    if 'seg_map_path' in prefix:
        defaults = {} if cls is None else {
            k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}

        def setting(name: str, default):  # the config's value, else the class's default
            return ds.get(name, defaults.get(name, default))

        return dict.fromkeys(check_segmentation_folders(
            osp.join(root, prefix.get('img_path', '')), osp.join(root, prefix['seg_map_path']),
            setting('img_suffix', '.jpg'), setting('seg_map_suffix', '.png'), hint,
            valid_labels=_valid_labels(cls, ds, setting('reduce_zero_label', False))))
    return {}


def _valid_labels(cls, ds: ConfigDict, reduce_zero_label: bool) -> Optional[Set[int]]:
    """The values a label map of an MMSegmentation dataset may hold: the class
    indices (those its ``label_map`` maps, such as CamVid's unlabelled 11), 0 where
    ``reduce_zero_label`` shifts them, and the ignore index. None where the class
    and its classes are unknown (no label maps are then read)."""
    stored = getattr(cls, 'METAINFO', {}).get('classes')  # the indices in the files
    classes = (ds.get('metainfo') or {}).get('classes') or stored
    if not classes or not hasattr(cls, 'get_label_map'):
        return None
    labels = set(range(len(stored or classes))) | set(cls.get_label_map(classes) or ())
    if reduce_zero_label:  # MMSegmentation shifts the labels before mapping them
        labels = {0} | {label + 1 for label in labels}
    return labels | {ds.get('ignore_index', 255)}


def handle_bad_images(cfg: Config, bad: Dict[str, List[Tuple[str, str]]]) -> Optional[str]:
    """Raise :class:`DatasetError` naming the images that would not decode or do not
    have their annotated size, unless
    the config sets ``skip_bad_images = True`` and they are all training images:
    then the training pipeline skips them and a warning (returned) counts them.
    Evaluation splits are never skipped: their metric would silently change."""
    if not bad:
        return None
    listed = '; '.join(f'{path} ({why})' for found in bad.values() for path, why in found[:5])
    total = sum(len(found) for found in bad.values())
    if not cfg.get('skip_bad_images') or set(bad) != {'train'}:
        advice = ('set skip_bad_images = True in the config to train without them'
                  if set(bad) == {'train'} else 'evaluation needs every image of its split')
        raise DatasetError(f'{total} image(s) of the {"/".join(bad)} split are unusable: '
                           f'{listed}{" ..." if total > 5 else ""}; replace or remove them '
                           f'({advice})')
    paths = [path for path, _ in bad['train']]
    for ds in _datasets(cfg, ('train', )):
        for transform in ds.get('pipeline') or []:
            if transform.get('type') in ('LoadImageFromFile', 'LoadImageSkippingBad'):
                transform.type = 'LoadImageSkippingBad'
                transform.bad_images = paths
    import mmfilter.datasets.loading  # noqa: F401  registers LoadImageSkippingBad
    return (f'warning: skipping {total} unusable training image(s) '
            f'(skip_bad_images = True): {listed}{" ..." if total > 5 else ""}')


def dataset_meta(cfg: Config, split: str = 'test') -> dict:
    """``{'classes': ..., 'palette': ...}`` of the ``split``'s dataset as the config
    gives them (its ``metainfo``, else its class's ``METAINFO``), for a model
    built without a checkpoint that would hold them."""
    ds = next(_datasets(cfg, (split, )), None) or {}
    cls = _dataset_class(cfg.get('default_scope'), ds.get('type', ''))
    meta = dict(getattr(cls, 'METAINFO', {}), **(ds.get('metainfo') or {}))
    return {k: meta[k] for k in ('classes', 'palette') if k in meta}


def restrict_coco_metrics_to_subsets(cfg: Config, splits: Sequence[str]) -> List[str]:
    """For each split whose dataset sets ``indices`` (part of the dataset), score
    its ``CocoMetric`` on the images run (:class:`~mmfilter.evaluation.SubsetCocoMetric`)
    rather than on every image of the annotation file; returns a note per split."""
    notes = []
    for split in splits:
        dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
        evaluator = cfg.get(f'{split}_evaluator')
        metrics = evaluator if isinstance(evaluator, list) else [evaluator]
        coco = [m for m in metrics if isinstance(m, dict)
                and m.get('type') in ('CocoMetric', 'mmdet.CocoMetric')]
        if dataset.get('indices') is None or not coco:
            continue
        for metric in coco:
            metric['type'] = 'SubsetCocoMetric'
        notes.append(f'note: {split}_dataloader.dataset.indices runs part of the {split} split: '
                     'its COCO metric scores those images only, a figure not comparable with '
                     "the whole split's")
    if notes:
        import mmfilter.evaluation  # noqa: F401  registers SubsetCocoMetric
    return notes


def existing_checkpoints(work_dir: str) -> list:
    """Checkpoint files a new run in ``work_dir`` could overwrite."""
    return sorted(glob.glob(osp.join(work_dir, '*.pth')))


def build_model(cfg: Config) -> nn.Module:
    """The config's model, built as the runner will build it (weights not
    initialised: no pretrained file is read), to check its values before anything
    else runs; costs a fraction of a second for mmfilter's models.

    Raises :class:`ConfigError` with the message of the innermost error the
    registry build raised (``ValueError``, ``KeyError``, ``TypeError``,
    ``AssertionError``: an unknown arch or type, a ratio out of range, ...),
    without the ``class `X` in file.py:`` prefixes each registry level adds.
    """
    from mmengine.registry import MODELS, DefaultScope
    try:
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
            return MODELS.build(cfg.model)
    except (ValueError, KeyError, TypeError, AssertionError) as e:
        raise ConfigError(f'{cfg.filename}: model: {_innermost(e)}') from None


def _innermost(error: BaseException) -> str:
    """The message of the error a registry build re-raised with ``class `X` in f.py:``."""
    while (str(error.args[0] if error.args else '').startswith('class `')
           and type(error.__context__) is type(error)):
        error = error.__context__
    message = error_message(error)
    while message.startswith('class `') and '.py: ' in message:  # no chained original
        message = message.split('.py: ', 1)[1]
    return message
