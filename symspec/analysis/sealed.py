"""Sealing: the IR is built step by step, then becomes one final value that later stages only read.

A :class:`Sealed` object refuses to rebind its public attributes once
:func:`seal` has run over it; numpy tables inside become read-only.  Private
attributes (``_x``) and ``functools.cached_property`` caches stay writable:
they memoize what the sealed fields already determine.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Sealed", "SealedError", "seal"]


class SealedError(dataclasses.FrozenInstanceError):
    """An attempt to change the IR after analysis ended."""


class Sealed:
    """Mixin for IR records: mutable while analysis builds them, final once sealed."""

    def __setattr__(self, name: str, value) -> None:
        if not name.startswith("_") and self.__dict__.get("_sealed", False):
            raise SealedError(f"cannot set {type(self).__name__}.{name}: the IR is final once analysis ends")
        object.__setattr__(self, name, value)


def seal(value) -> None:
    """Seal every IR record reachable from ``value`` (dicts, lists, tuples, records); numpy arrays read-only."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            if v and not isinstance(next(iter(v)), int | float | str):  # IR lists are homogeneous: skip lists of scalars
                stack.extend(v)
        elif isinstance(v, Sealed):
            stack.extend(val for key, val in vars(v).items() if not key.startswith("_"))
            object.__setattr__(v, "_sealed", True)
