"""Lowering of steerable layers (matrix groups with symbolic point counts, tensor representations of O(n))."""

from __future__ import annotations

__all__ = ["steerable_layer"]


def steerable_layer(spec, tables, name: str, layer, gir, src, dst, cls: str, comment: str):
    """The :class:`~symspec.codegen.layers.Layer` of a steerable layer, or None when another kind builds this layer."""
    return None
