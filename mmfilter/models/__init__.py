from .backbones import DropoutViT, FilterViT, HybridBackbone, MobileViT

__all__ = ['FilterViT', 'DropoutViT', 'MobileViT', 'HybridBackbone']
