"""Modules and model surgery for a model's own symmetries (docs/model-symmetries.md): ``break_attention``."""

from .biases import rank_generator
from .breaking import DEFAULT_QUERY, DEFAULT_VALUE, HEAD_ATTRIBUTES, BrokenMultiheadAttention, apply_breaks, break_attention

__all__ = [
    "break_attention",
    "apply_breaks",
    "rank_generator",
    "HEAD_ATTRIBUTES",
    "DEFAULT_QUERY",
    "DEFAULT_VALUE",
    "BrokenMultiheadAttention",
]
