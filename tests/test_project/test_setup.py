"""The set-up and cluster scripts, checked without installing or launching anything:
setup.py's metadata comes from requirements/*.txt, tools/install.sh runs against a stub
interpreter that records its pip calls, and the launch scripts run against stub
``srun`` / ``torchrun`` commands that print their arguments."""
import os
import os.path as osp
import pathlib
import re
import runpy
import subprocess
from typing import Dict, List

import pytest
import setuptools

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPTS = ['install.sh', 'dist_train.sh', 'dist_test.sh', 'slurm_train.sh', 'slurm_test.sh']


def requirement_lines(name: str) -> List[str]:
    """``requirements/<name>.txt`` without comments, ``-r`` includes followed."""
    lines = []
    with open(osp.join(REPO, 'requirements', f'{name}.txt')) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line.startswith('-r '):
                lines += requirement_lines(line[3:].strip()[:-len('.txt')])
            elif line:
                lines.append(line)
    return lines


def package(requirement: str) -> str:
    return re.split(r'[<>=!~;\[ ]', requirement, maxsplit=1)[0].lower()


@pytest.fixture(scope='module')
def setup_kwargs() -> Dict:
    """The arguments setup.py hands to ``setuptools.setup``, nothing built."""
    captured = {}
    original, setuptools.setup = setuptools.setup, captured.update
    cwd = os.getcwd()
    try:
        os.chdir('/')  # setup.py finds its files from its own folder
        runpy.run_path(osp.join(REPO, 'setup.py'), run_name='__main__')
    finally:
        setuptools.setup = original
        os.chdir(cwd)
    return captured


def test_setup_metadata_comes_from_the_requirement_files(setup_kwargs):
    extras = setup_kwargs['extras_require']
    stack = requirement_lines('openmmlab') + requirement_lines('constraints')
    assert setup_kwargs['install_requires'] == requirement_lines('runtime')
    assert extras['mmdet'] == stack + requirement_lines('mmdet')
    assert extras['mmseg'] == stack + requirement_lines('mmseg')
    for name in ('tests', 'deploy', 'convert'):
        assert extras[name] == requirement_lines(name)
    assert set(extras['all']) == {r for name, reqs in extras.items() if name != 'all' for r in reqs}
    assert 'mmdet==3.3.0' in extras['mmdet'] and 'pycocotools==2.0.11' in extras['mmdet']
    assert 'mmsegmentation==1.2.2' in extras['mmseg'] and 'mmengine==0.10.7' in extras['mmseg']
    assert {'scikit-image', 'safetensors', 'onnx', 'pytest'} <= set(extras['tests'])
    # mmcv has to match the user's torch and CUDA; ONNX Runtime's CPU and GPU packages clash.
    named = {package(r) for reqs in extras.values() for r in reqs}
    named |= {package(r) for r in setup_kwargs['install_requires']}
    assert not {'mmcv', 'mmcv-lite', 'onnxruntime', 'onnxruntime-gpu'} & named
    assert setup_kwargs['python_requires'] == '>=3.9,<3.13'


def test_each_pin_is_written_once():
    """An exact version or an upper bound is written in one requirement file only."""
    files = [f[:-len('.txt')] for f in os.listdir(osp.join(REPO, 'requirements'))
             if f.endswith('.txt')]
    where: Dict[str, List[str]] = {}
    for name in files:
        with open(osp.join(REPO, 'requirements', f'{name}.txt')) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line and not line.startswith('-') and re.search(r'==|<', line):
                    where.setdefault(package(line), []).append(name)
    assert {p: names for p, names in where.items() if len(names) > 1} == {}


def test_shell_scripts_parse():
    for script in SCRIPTS:
        result = subprocess.run(['bash', '-n', osp.join(REPO, 'tools', script)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f'{script}: {result.stderr}'


def test_install_help_documents_the_test_tools():
    result = subprocess.run(['bash', osp.join(REPO, 'tools', 'install.sh'), '--help'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '--tests' in result.stdout and 'torch' in result.stdout
    wrong = subprocess.run(['bash', osp.join(REPO, 'tools', 'install.sh'), '--test'],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "unknown option '--test'" in wrong.stderr


def stub_command(folder: os.PathLike, name: str, body: str) -> str:
    """An executable bash script ``folder/name`` running ``body``."""
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write('#!/usr/bin/env bash\n' + body)
    os.chmod(path, 0o755)
    return path


def pip_calls(tmp_path: pathlib.Path, *options: str) -> List[List[str]]:
    """The pip calls of ``tools/install.sh OPTIONS`` in an environment with a CUDA torch
    and nothing else: a stub interpreter says only ``import torch`` works, reports torch
    2.1.0+cu121, and records each pip call instead of running it (a constraint file from
    outside requirements/ inlined as ``=CONTENT``). The run ends at the import check,
    which fails."""
    log = tmp_path / 'pip.log'
    python = stub_command(tmp_path, 'python', f'''
if [ "$1" = -m ] && [ "$2" = pip ]; then
  shift 2; line=""; last=""
  for a in "$@"; do
    case "$last:$a" in
      -c:requirements/*|-c:-*) line+=" $a" ;;
      -c:*) line+=" =$(cat "$a")" ;;
      *) line+=" $a" ;;
    esac
    last=$a
  done
  echo "$line" >> {log}; exit 0
fi
[ "$1" = -c ] || exit 1
case "$2" in
  "import torch") exit 0 ;;
  *"print("*) echo "torch==2.1.0+cu121" ;;
  *) exit 1 ;;
esac
''')
    result = subprocess.run(['bash', osp.join(REPO, 'tools', 'install.sh'), *options],
                            env=dict(os.environ, PYTHON=python), capture_output=True,
                            text=True, timeout=120)
    assert 'FAILED: cannot import' in result.stderr, result.stdout + result.stderr
    return [line.split() for line in log.read_text().splitlines()]


def test_install_keeps_an_existing_torch_and_adds_test_tools_only_when_asked(tmp_path):
    (tmp_path / 'plain').mkdir()
    (tmp_path / 'tests').mkdir()
    plain = pip_calls(tmp_path / 'plain')
    with_tests = pip_calls(tmp_path / 'tests', '--tests')
    for calls in (plain, with_tests):
        assert calls, 'no pip call'
        for call in calls:
            # Every call carries the installed torch as a constraint and names no torch itself.
            assert '=torch==2.1.0+cu121' in call, call
            assert not any(a.startswith('torch') for a in call), call
        assert any('mmcv==2.1.0' in c and '--no-build-isolation' in c for c in calls)
        assert any('requirements/mmdet.txt' in c and 'requirements/mmseg.txt' in c for c in calls)
        assert any(c[-2:] == ['-e', '.'] and '--no-deps' in c for c in calls)
    assert not any('requirements/tests.txt' in c or 'onnxruntime' in c for c in plain)
    assert any('requirements/tests.txt' in c for c in with_tests)
    assert ['onnxruntime'] in [c[-1:] for c in with_tests]


@pytest.fixture
def stub_path(tmp_path) -> Dict[str, str]:
    """An environment whose ``srun`` and ``torchrun`` print their arguments, one a line."""
    body = 'for a in "$@"; do printf "%s\\n" "$a"; done\n'
    stub_command(tmp_path, 'srun', body)
    stub_command(tmp_path, 'torchrun', body)
    return dict(os.environ, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')


def run_script(script: str, *args: str, env: Dict[str, str]) -> List[str]:
    """The lines ``bash tools/SCRIPT ARGS`` prints, run from the repository root."""
    result = subprocess.run(['bash', osp.join('tools', script), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_slurm_train_forwards_config_work_dir_and_launcher(stub_path):
    env = dict(stub_path, GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='3',
               SRUN_ARGS='--exclusive --time=1:00:00')
    args = run_script('slurm_train.sh', 'dev', 'job', 'configs/filtervit/retinanet_filtervit_demo.py',
                      'work_dirs/x', '--cfg-options', 'model.backbone.out_indices=(0, 1, 2)',
                      env=env)
    assert args[:2] == ['-p', 'dev']
    assert {'--job-name=job', '--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2',
            '--cpus-per-task=3', '--exclusive', '--time=1:00:00'} <= set(args)
    python = args.index('python')
    assert args[python:] == ['python', '-u', 'tools/train.py',
                             'configs/filtervit/retinanet_filtervit_demo.py', '--work-dir=work_dirs/x',
                             '--launcher=slurm', '--cfg-options',
                             'model.backbone.out_indices=(0, 1, 2)']


def test_slurm_test_forwards_config_checkpoint_and_launcher(stub_path):
    args = run_script('slurm_test.sh', 'dev', 'job', 'configs/filtervit/retinanet_filtervit_demo.py',
                      'epoch_1.pth', '--work-dir', 'out', env=stub_path)
    assert {'--gres=gpu:8', '--ntasks=8', '--cpus-per-task=5'} <= set(args)
    assert args[args.index('python'):] == [
        'python', '-u', 'tools/test.py', 'configs/filtervit/retinanet_filtervit_demo.py', 'epoch_1.pth',
        '--launcher=slurm', '--work-dir', 'out']


def test_dist_test_runs_test_py_through_torchrun(stub_path):
    env = dict(stub_path, NNODES='2', NODE_RANK='1', MASTER_ADDR='node-0', PORT='29600')
    args = run_script('dist_test.sh', 'configs/filtervit/retinanet_filtervit_demo.py',
                      'work dir/epoch_1.pth', '2', '--work-dir', 'out', env=env)
    assert args == ['--nnodes=2', '--node_rank=1', '--master_addr=node-0',
                    '--nproc_per_node=2', '--master_port=29600', 'tools/test.py',
                    'configs/filtervit/retinanet_filtervit_demo.py', 'work dir/epoch_1.pth',
                    '--launcher', 'pytorch', '--work-dir', 'out']
