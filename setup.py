import os.path as osp
from typing import List

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join(HERE, 'mmfilter', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def parse_requirements(name: str) -> List[str]:
    """The requirement lines of ``requirements/<name>.txt``, following ``-r`` includes.

    The files are the one place where each pin is written: ``tools/install.sh`` installs
    from them, and the extras below are read from them.
    """
    path = osp.join(HERE, 'requirements', f'{name}.txt')
    lines = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line.startswith('-r '):
                lines += parse_requirements(osp.splitext(line[3:].strip())[0])
            elif line:
                lines.append(line)
    return lines


# mmcv 2.1.0 is in no extra: it has to be built for the user's torch and CUDA
# (`mim install mmcv==2.1.0`, or a source build: see requirements/openmmlab.txt).
STACK = parse_requirements('openmmlab') + parse_requirements('constraints')
EXTRAS = {
    'mmdet': STACK + parse_requirements('mmdet'),
    'mmseg': STACK + parse_requirements('mmseg'),
    # ONNX Runtime is left to the user: `onnxruntime` (CPU) or `onnxruntime-gpu` (CUDA).
    'deploy': parse_requirements('deploy'),
    'convert': parse_requirements('convert'),
    'tests': parse_requirements('tests'),
}
EXTRAS['all'] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name='mmfilter',
    version=read_version(),
    description='FilterViT, DropoutViT and MobileViT backbones for MMDetection and MMSegmentation',
    long_description=open(osp.join(HERE, 'README.md'), encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    # 3.9: pycocotools 2.0.11's oldest wheels; below 3.13: numpy<2 has no wheel for 3.13.
    # torch 2.13, which tools/install.sh installs where torch is missing, needs 3.10.
    python_requires='>=3.9,<3.13',
    install_requires=parse_requirements('runtime'),
    extras_require=EXTRAS,
    license='Apache License 2.0',
    zip_safe=False,
)
