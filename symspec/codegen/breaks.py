"""Lowering of ``break`` statements: the generated module's ``BREAKS`` (docs/model-symmetries.md).

Each entry is a dict of constants (written by :func:`~.expr.as_expr`): the statement's name,
the model it breaks, its position, and ``symspec.nn.break_attention``'s ``query``, ``value`` and
``modules``.  ``break_symmetries`` (templates/breaks.py.j2) hands it to ``rt.break_model``.
"""

from __future__ import annotations

from .expr import Expr, as_expr

__all__ = ["lower_breaks"]


def lower_breaks(spec) -> Expr | None:
    """The ``BREAKS`` tuple of ``spec``; None when it states no break (no ``BREAKS``, no ``break_symmetries``)."""
    breaks = getattr(spec, "breaks", None)
    if not breaks:
        return None
    entries = tuple(
        {
            "break": b.name,
            "model": b.model,
            **b.entry(),
            "span": f"{spec.file}:{b.span.line}:{b.span.column}",
        }
        for b in breaks.values()
    )
    return as_expr(entries)
