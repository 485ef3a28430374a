"""A sampled group element acting on a compiled term, and its inverse (the parts :mod:`.draws` builds).

Parts per domain: ``("push", rows)`` (values), ``("gather", rows, dims, push)`` (tensors with fixed
dims), ``("matrix", element, dim)`` (rotations), ``("permute", element, dims)`` (symbolic dims).
"""

from __future__ import annotations

from ..analysis.domains import Range
from .core import V
from .expr import BinOp, Const, method, rt

__all__ = ["apply_parts", "invert_parts"]


def apply_parts(parts: list, x: V, number) -> V:
    """A sampled group element acting on a value, a class output or a tensor."""
    e = x.e
    for kind, table, *rest in parts:
        if kind == "push":
            if x.kind == "dist":
                e = rt("pushforward", e, table)
            elif x.kind == "value":
                lo = x.domain.lo if isinstance(x.domain, Range) else 0
                if lo:
                    e = BinOp("+", rt("act_on_values", BinOp("-", e, number(lo)), table), number(lo))
                else:
                    e = rt("act_on_values", e, table)
            else:
                e = rt("act_on_positions", e, table, len(x.domain.dims))
        elif kind == "gather":  # tensors: one gather over the moved trailing dims
            e = rt("gather_positions", e, table, rest[0])
        elif kind == "matrix":
            e = rt("matrix_event_dim", e, table, rest[0])
        else:
            for d in rest[0]:
                e = rt("permute_event_dim", e, table, d)
    return V(x.kind, e, x.domain, x.offset, x.size, x.level)


def invert_parts(parts: list, y: V):
    """The inverse of a sampled group element acting on ``y`` (a value, a class output or a tensor)."""
    e = y.e
    for kind, table, *rest in reversed(parts):
        if kind == "gather":  # the push rows of g are the gather rows of g^-1
            e = rt("gather_positions", e, rest[1], rest[0])
        elif kind == "push" and y.kind == "dist":
            e = rt("pushforward", e, rt("invert", table))
        elif kind == "push":
            lo = y.domain.lo if isinstance(y.domain, Range) else 0
            if lo:
                e = BinOp("+", rt("act_on_values", BinOp("-", e, Const(lo)), rt("invert", table)), Const(lo))
            else:
                e = rt("act_on_values", e, rt("invert", table))
        elif kind == "matrix":
            e = rt("matrix_event_dim", e, method(table, "transpose", -1, -2), rest[0])
        else:
            for d in rest[0]:
                e = rt("permute_event_dim", e, rt("invert", table), d)
    return e
