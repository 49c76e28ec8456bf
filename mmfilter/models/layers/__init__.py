from .blocks import ATTENTION_BLOCKS, TokenSelectingBlock
from .conv import ConvNormAct, InvertedResidual, forward_in_row_bands
from .filter_attention import FilterAttentionBlock, FilterScorer
from .global_attention import PooledAttentionBlock
from .mobilevit_block import FilterMobileViTBlock, MobileViTBlock
from .position import CoordinatePositionEncoding
from .token_attention import TokenAttention
from .transformer import DropPath, MultiheadSelfAttention, TransformerEncoder, TransformerLayer

__all__ = [
    'ATTENTION_BLOCKS', 'TokenSelectingBlock', 'ConvNormAct', 'InvertedResidual',
    'forward_in_row_bands',
    'FilterAttentionBlock', 'FilterScorer', 'TokenAttention', 'PooledAttentionBlock',
    'MobileViTBlock', 'FilterMobileViTBlock', 'CoordinatePositionEncoding', 'DropPath', 'MultiheadSelfAttention',
    'TransformerEncoder', 'TransformerLayer'
]
