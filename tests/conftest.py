import contextlib
import functools
import glob
import importlib.util
import io
import json
import os.path as osp
import re
import subprocess
import sys
import traceback
import warnings

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_SPLITS = dict(train=8, val=4)
torch.set_num_threads(2)


def own_lines(stderr: str) -> list:
    """A tool's stderr lines without the warnings Python prints for the libraries'
    imports (``file.py:N: XWarning: ...`` and the source line after it)."""
    lines, kept = stderr.strip().splitlines(), []
    for i, line in enumerate(lines):
        warning = re.match(r'^\S+:\d+: \w*Warning: ', line)
        after_warning = i > 0 and re.match(r'^\S+:\d+: \w*Warning: ', lines[i - 1]) \
            and line.startswith('  ')
        if not warning and not after_warning:
            kept.append(line)
    return kept


def load_tool(path: str):
    """Import ``tools/<path>`` as a module, to call its functions in-process."""
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0],
                                                  osp.join(REPO, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_path(name: str) -> str:
    return osp.join(REPO, 'configs', name)


def run_tool(tool: str, *args: str, cwd: str = REPO, env=None) -> subprocess.CompletedProcess:
    """Run ``tools/<tool>`` as a user would: its ``main(argv)`` in this process,
    with the folder, output streams and exit status a fresh interpreter would give
    (with an ``env``: in a fresh interpreter). Starting one costs 10-60 s of
    imports on these machines, more than most tool runs."""
    argv = [str(a) for a in args]
    if env is not None:
        return subprocess.run([sys.executable, osp.join(REPO, 'tools', tool), *argv], cwd=cwd,
                              capture_output=True, text=True, timeout=600, env=env)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err), warnings.catch_warnings(), _own_global_instances():
        warnings.simplefilter('default')  # shown once per run, as a fresh interpreter would
        warnings.showwarning = _warning_to_stderr
        try:
            _tool_module(tool).main(argv)
            status = 0
        except SystemExit as e:  # what the interpreter prints and returns for sys.exit(code)
            status = e.code if isinstance(e.code, int) else int(e.code is not None)
            if isinstance(e.code, str):
                print(e.code, file=err)
        except Exception:  # noqa: BLE001 - an uncaught error ends the tool with a traceback
            traceback.print_exc(file=err)
            status = 1
    return subprocess.CompletedProcess([tool, *argv], status, out.getvalue(), err.getvalue())


def _warning_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _own_global_instances():
    """The block starts, as a fresh interpreter does, without the instances MMEngine
    keeps by name for a process (visualizer, loggers, message hub, default scope),
    and those it creates are dropped after it: the configs name their visualizer
    'visualizer', so a run would otherwise log into an earlier run's folder."""
    from mmengine.logging import MMLogger
    from mmengine.utils import ManagerMixin

    def managed(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from managed(sub)

    kept = {cls: dict(cls._instance_dict) for cls in managed(ManagerMixin)}
    for cls in kept:
        cls._instance_dict.clear()
    try:
        yield
    finally:
        for cls in managed(ManagerMixin):
            for instance in cls._instance_dict.values():
                if isinstance(instance, MMLogger):
                    for handler in instance.handlers:
                        handler.close()
            cls._instance_dict.clear()
            cls._instance_dict.update(kept.get(cls, {}))


@functools.lru_cache(maxsize=None)
def _tool_module(tool: str):
    return load_tool(tool)


def scalars(work_dir) -> list:
    """Logged scalar records of the latest run in ``work_dir``."""
    latest = sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json')))[-1]
    with open(latest) as f:
        return [json.loads(line) for line in f]


def tiny_config(folder, base: str, body: str) -> str:
    """A config in ``folder`` over ``configs/<base>`` (``<backbone>/<name>.py``) with ``body`` added."""
    path = folder / f'tiny_{osp.basename(base)}'
    path.write_text(f"_base_ = ['{config_path(base)}']\n" + body)
    return str(path)


def tiny_detection_config(folder) -> str:
    """RetinaNet-FilterViT-xxs on 8 + 4 demo images, 2 epochs, LR warming up over 8 iterations."""
    root = folder / 'coco'
    loader = (f"dict(batch_size=4, num_workers=0, persistent_workers=False, "
              f"dataset=dict(data_root='{root}/', splits={TINY_SPLITS}, image_size=128))")
    return tiny_config(folder, 'filtervit/retinanet_filtervit_demo.py', f"""
model = dict(backbone=dict(arch='xxs'), neck=dict(in_channels=[24, 48, 80, 112]),
             test_cfg=dict(score_thr=0.0))  # an untrained head scores below the default 0.05
train_dataloader = {loader}
val_dataloader = {loader}
test_dataloader = val_dataloader
val_evaluator = dict(ann_file='{root}/annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=8)]
default_hooks = dict(logger=dict(interval=1))
""")


def tiny_segmentation_config(folder) -> str:
    """UPerNet-FilterViT-xxs on 8 + 4 demo images, 4 iterations."""
    root = folder / 'ade'
    dataset = f"dataset=dict(data_root='{root}/', splits={TINY_SPLITS}, image_size=128)"
    return tiny_config(folder, 'filtervit/upernet_filtervit_demo.py', f"""
model = dict(backbone=dict(arch='xxs'), decode_head=dict(in_channels=[24, 48, 80, 112]),
             auxiliary_head=dict(in_channels=80))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False, {dataset})
val_dataloader = dict(num_workers=0, persistent_workers=False, {dataset})
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=4)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))
""")


def _train_tiny(tmp_path_factory, name: str, make_config) -> tuple:
    folder = tmp_path_factory.mktemp(name)
    cfg = make_config(folder)
    work = folder / 'work'
    proc = run_tool('train.py', cfg, '--work-dir', work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cfg, work, proc


@pytest.fixture(scope='session')
def trained_detector(tmp_path_factory):
    """``(config, work_dir, first run's output)`` of a 2-epoch tiny run through tools/train.py."""
    return _train_tiny(tmp_path_factory, 'detector', tiny_detection_config)


@pytest.fixture(scope='session')
def trained_segmentor(tmp_path_factory):
    """``(config, work_dir, first run's output)`` of a 4-iteration tiny run through tools/train.py."""
    return _train_tiny(tmp_path_factory, 'segmentor', tiny_segmentation_config)


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: integration tests that train, run tools, start processes or time models '
        '(a unit run: pytest -m "not slow")')
