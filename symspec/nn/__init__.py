"""Modules and model surgery for a model's own symmetries (docs/model-symmetries.md): ``break_attention``."""

from .biases import rank_generator
from .breaking import DEFAULT_QUERY, DEFAULT_VALUE, BrokenMultiheadAttention, break_attention

__all__ = ["break_attention", "rank_generator", "DEFAULT_QUERY", "DEFAULT_VALUE", "BrokenMultiheadAttention"]
