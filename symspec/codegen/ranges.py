"""Integer ranges in lowering: which integers arithmetic on range values can take, and keeping them in bounds.

Range values do not wrap: ``a + 1`` on ``range(0, 10)`` takes 1..10, and 10 is
no input of a model on that range.  :func:`confine` gives the mask of the
examples in bounds and a clamped placeholder for the others (docs/compile.md).
"""

from __future__ import annotations

from ..analysis.domains import Range, extremum_range
from .core import V, int_bounds
from .expr import BinOp, Const, Name, method

__all__ = ["confine", "arith_image", "extremum_image", "term_bounds"]


def confine(e, image: tuple, bounds: tuple, number):
    """(mask, placeholder) keeping ``e`` (integers in ``image``) within ``bounds``; (None, e) when it always is.

    The mask says which examples are in bounds; the placeholder is ``e`` clamped into bounds, a value any
    consumer (a model's embedding, a class index) accepts for the examples the mask drops.
    """
    (lo, hi), (want_lo, want_hi) = image, bounds
    checks, clamp = [], {}
    if lo < want_lo:
        checks.append(BinOp(">=", e, number(want_lo)))
        clamp["min"] = number(want_lo)
    if hi > want_hi:
        top = number(want_hi)
        checks.append(BinOp("<", e, top))
        clamp["max"] = BinOp("-", top, Const(1)) if isinstance(top, Name) else Const(want_hi - 1)
    if not checks:
        return None, e
    mask = checks[0] if len(checks) == 1 else BinOp("&", checks[0], checks[1])
    if len(clamp) == 2:
        return mask, method(e, "clamp", clamp["min"], clamp["max"])
    return mask, method(e, "clamp", **clamp)


def arith_image(op: str, a: tuple, b: tuple) -> tuple:
    """The integers ``x op y`` takes for x in range(*a), y in range(*b), as (lo, hi)."""
    corners = [x * y for x in (a[0], a[1] - 1) for y in (b[0], b[1] - 1)]
    if op == "+":
        return a[0] + b[0], a[1] + b[1] - 1
    if op == "-":
        return a[0] - (b[1] - 1), a[1] - b[0]
    return min(corners), max(corners) + 1


def term_bounds(t: V) -> tuple:
    """(lo, hi) of the integers a compiled exact integer term takes."""
    return (t.value, t.value + 1) if t.kind == "const" else int_bounds(t.domain)


def extremum_image(name: str, args: list) -> Range:
    """The integers abs/min/max of these terms can take (cyclic values count as 0..n-1)."""
    return extremum_range(name, [(a.value, a.value + 1) if a.kind == "const" else int_bounds(a.domain) for a in args])
