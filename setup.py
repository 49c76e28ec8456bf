from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open('mmfilter/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmfilter',
    version=read_version(),
    description='FilterViT, DropoutViT and MobileViT backbones for MMDetection and MMSegmentation',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.8',
    # torch and mmengine are all the backbones need at import time; the full
    # OpenMMLab stack (mmcv with ops, mmdet, mmseg) is installed by tools/install.sh.
    install_requires=['torch>=2.0', 'mmengine>=0.10'],
    license='Apache License 2.0',
    zip_safe=False,
)
