from .blocks import ATTENTION_BLOCKS, TokenSelectingBlock, TokenSelector
from .conv import ConvNormAct, InvertedResidual
from .filter_attention import FilterAttentionBlock, FilterScorer
from .global_attention import PooledAttentionBlock
from .mobilevit_block import FilterMobileViTBlock, MobileViTBlock
from .norm_act import build_activation, build_norm
from .position import CoordinatePositionEncoding
from .token_attention import TokenAttention
from .transformer import DropPath, MultiheadSelfAttention, TransformerEncoder, TransformerLayer

__all__ = [
    'ATTENTION_BLOCKS', 'TokenSelectingBlock', 'TokenSelector', 'ConvNormAct', 'InvertedResidual',
    'build_activation', 'build_norm', 'FilterAttentionBlock', 'FilterScorer', 'TokenAttention',
    'PooledAttentionBlock', 'MobileViTBlock', 'FilterMobileViTBlock', 'CoordinatePositionEncoding',
    'DropPath', 'MultiheadSelfAttention', 'TransformerEncoder', 'TransformerLayer'
]
