from .base import HybridBackbone, StageSpec, StemSpec
from .filtervit import DropoutViT, FilterViT
from .mobilevit import FilterMobileViT, MobileViT

__all__ = ['HybridBackbone', 'StageSpec', 'StemSpec', 'FilterViT', 'DropoutViT', 'MobileViT',
           'FilterMobileViT']
