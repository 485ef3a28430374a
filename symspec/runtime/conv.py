"""Local (convolutional) group-equivariant layers: kernels tied by the orbits of a point group."""

from __future__ import annotations

__all__: list = []
