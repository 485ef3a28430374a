"""Optimizers for models with symmetries of their own (docs/model-symmetries.md): ``ECD``."""

from .ecd import ECD

__all__ = ["ECD"]
