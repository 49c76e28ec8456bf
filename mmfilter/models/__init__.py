from .backbones import DropoutViT, FilterMobileViT, FilterViT, HybridBackbone, MobileViT
from .data_preprocessors import MultiScaleBatchResize

__all__ = ['FilterViT', 'DropoutViT', 'MobileViT', 'FilterMobileViT', 'HybridBackbone',
           'MultiScaleBatchResize']
