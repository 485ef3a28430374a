"""A sampled group element acting on a compiled term, and its inverse: calls of the law's ``rt.GroupSampler``.

The parts :mod:`.draws` builds per domain are ``(sampler, elements, key)``:
the module constant holding the sampler, the drawn elements (one local, or a
tuple of one local per factor) and the domain's key in the sampler's
description. Values, class log-probabilities (``kind="dist"``) and tensors
all go through ``SAMPLER.act`` / ``SAMPLER.act_inverse``.
"""

from __future__ import annotations

from .core import V
from .expr import method

__all__ = ["apply_parts", "invert_parts"]


def _args(parts: tuple, x: V) -> list:
    _sampler, elements, key = parts
    return [elements, key, x.e] + (["dist"] if x.kind == "dist" else [])


def apply_parts(parts: tuple, x: V) -> V:
    """A sampled group element acting on a value, a class output or a tensor."""
    e = method(parts[0], "act", *_args(parts, x))
    return V(x.kind, e, x.domain, x.offset, x.size, x.level)


def invert_parts(parts: tuple, y: V):
    """The inverse of a sampled group element acting on ``y`` (a value, a class output or a tensor)."""
    return method(parts[0], "act_inverse", *_args(parts, y))
