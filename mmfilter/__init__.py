"""mmfilter: FilterViT, DropoutViT and MobileViT backbones for OpenMMLab.

Importing the package registers the backbones in mmengine's root ``MODELS``
registry, which MMDetection's and MMSegmentation's registries inherit from, so
``custom_imports=dict(imports=['mmfilter'])`` makes ``type='FilterViT'`` work in
both. Only torch and mmengine are needed to import it.
"""
from .models import DropoutViT, FilterViT, MobileViT
from .version import __version__

__all__ = ['FilterViT', 'DropoutViT', 'MobileViT', '__version__']
