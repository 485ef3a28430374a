"""Lowering of convolutional layers (``layer L: D1 -> D2 under G [kernel k]``)."""

from __future__ import annotations

__all__ = ["conv_layer"]


def conv_layer(spec, tables, name: str, layer, gir, src, dst, cls: str, comment: str):
    """The :class:`~symspec.codegen.layers.Layer` of a layer with a ``kernel`` option, or None for any other layer."""
    return None
