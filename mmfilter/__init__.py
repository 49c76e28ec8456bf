"""mmfilter: FilterViT, DropoutViT and MobileViT backbones for OpenMMLab.

Importing the package registers the backbones in mmengine's root ``MODELS``
registry, which MMDetection's and MMSegmentation's registries inherit from, so
``custom_imports=dict(imports=['mmfilter'])`` makes ``type='FilterViT'`` work in
both. Where MMSegmentation is installed, it also registers ``CamVidDataset`` and
``BatchAugmentSegDataPreProcessor`` there.
Only torch and mmengine are needed to import it.

Importing it also allows, for ``torch.load``'s weights-only mode, the few types
mmengine checkpoints hold (see :mod:`mmfilter.engine.checkpoint`), so any code
that loads an mmfilter config (``mmdet.apis.init_detector``,
``mmseg.apis.init_model``, ``--resume``) loads its checkpoints on torch ≥ 2.6.
"""
from .engine import allow_mmengine_checkpoints
from .models import DropoutViT, FilterMobileViT, FilterViT, MobileViT
from .version import __version__

allow_mmengine_checkpoints()

try:
    import mmseg.registry  # noqa: F401
except ImportError:  # MMSegmentation is optional
    pass
else:
    from .datasets import camvid  # noqa: F401  registers CamVidDataset
    from .models.data_preprocessors import seg_batch_augments  # noqa: F401

__all__ = ['FilterViT', 'DropoutViT', 'MobileViT', 'FilterMobileViT', '__version__']
