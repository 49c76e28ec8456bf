"""MobileViT (Mehta & Rastegari, arXiv 2110.02178) with four dense outputs, as the baseline.

MobileViT differs from FilterViT in its widths and depths and in its attention:
every stage from stride 8 ends in a MobileViT block (local conv, global
attention over the 2×2-interleaved patch sequences of the whole map, fusion);
nothing is selected, and stride 4 has no attention.
"""
from mmengine.registry import MODELS

from .base import HybridBackbone


def _mobilevit_arch(stem_out: int, channels, embed_dims, expand_ratio: float) -> dict:
    stages = [dict(channels=channels[0], blocks=3, expand_ratio=expand_ratio)]
    stages += [
        dict(channels=c, blocks=1, expand_ratio=expand_ratio,
             attention=dict(type='mobilevit', embed_dim=d, depth=n, num_heads=4))
        for c, d, n in zip(channels[1:], embed_dims, (2, 4, 3))
    ]
    return dict(stem=dict(channels=16, out_channels=stem_out, expand_ratio=expand_ratio),
                stages=stages)


# The paper's Table 4 / ml-cvnets configs, without the classifier's 1×1 conv.
MOBILEVIT_ARCHS = {
    'xxs': _mobilevit_arch(16, (24, 48, 64, 80), (64, 80, 96), 2),
    'xs': _mobilevit_arch(32, (48, 64, 80, 96), (96, 120, 144), 4),
    's': _mobilevit_arch(32, (64, 96, 128, 160), (144, 192, 240), 4),
}


@MODELS.register_module()
class MobileViT(HybridBackbone):
    """MobileViT: inverted residuals and MobileViT blocks (2×2-patch global attention).

    Outputs at strides 4, 8, 16, 32 like :class:`FilterViT`; any input size
    (maps are padded to even sides inside the MobileViT blocks).
    """
    arch_settings = MOBILEVIT_ARCHS

    def __init__(self, arch='xs', **kwargs) -> None:
        super().__init__(arch=arch, **kwargs)
