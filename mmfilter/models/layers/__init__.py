from .conv import ConvNormAct, InvertedResidual
from .filter_attention import FilterAttentionBlock, FilterScorer, TokenAttention
from .global_attention import PooledAttentionBlock
from .mobilevit_block import MobileViTBlock
from .position import CoordinatePositionEncoding
from .transformer import DropPath, MultiheadSelfAttention, TransformerEncoder, TransformerLayer

__all__ = [
    'ConvNormAct', 'InvertedResidual', 'FilterAttentionBlock', 'FilterScorer', 'TokenAttention',
    'PooledAttentionBlock', 'MobileViTBlock', 'CoordinatePositionEncoding', 'DropPath',
    'MultiheadSelfAttention', 'TransformerEncoder', 'TransformerLayer'
]
