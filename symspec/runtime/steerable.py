"""Steerable layers for matrix groups (O(n), SO(n)) with symbolic point counts, and equivariant nonlinearities."""

from __future__ import annotations

__all__: list = []
