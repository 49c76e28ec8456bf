from .base import HybridBackbone, StageSpec, StemSpec
from .filtervit import DropoutViT, FilterViT
from .mobilevit import MobileViT

__all__ = ['HybridBackbone', 'StageSpec', 'StemSpec', 'FilterViT', 'DropoutViT', 'MobileViT']
