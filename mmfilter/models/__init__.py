from .backbones import DropoutViT, FilterMobileViT, FilterViT, HybridBackbone, MobileViT

__all__ = ['FilterViT', 'DropoutViT', 'MobileViT', 'FilterMobileViT', 'HybridBackbone']
