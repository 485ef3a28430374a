"""Law variables over ``units(n)`` (analysis/units.py): drawn, and enumerated by validation, as an index into the
module's table of the units of Z/nZ (``rt.unit_values(n)``, runtime/sampling.py); the law reads the unit ``UNITS[index]``."""

from __future__ import annotations

from ..analysis.domains import Units
from ..analysis.units import totient
from .expr import Assign, Index, Name, rt

__all__ = ["units_count", "units_draw"]


def units_count(domain: Units) -> int:
    """How many units Z/nZ has: phi(n) (the indices a variable over ``units(n)`` takes)."""
    return totient(domain.n)


def units_draw(ls, plan, draw, value_of) -> None:
    """Turn a uniform draw of a ``units(n)`` variable into a uniform index and its unit (the draw's local holds the
    index, which validation sets when it enumerates; the law and the report read the unit)."""
    v = ls.law.variables[plan.name]
    if plan.source != "uniform":
        ls.fail(
            f"variable '{plan.name}' over {v.domain} is restricted by a guard; a units(n) variable is drawn unrestricted",
            hint=f"state the law for every unit, or draw '{plan.name}' from cyclic({v.domain.n}) with a guard such as "
            f"'when {plan.name} != 0'",
        )
    n = v.domain.n
    numbers = ls.tables.number
    table = ls.table(ls.tables.buffer(("units", n), f"UNITS_{n}", rt("unit_values", numbers(n)), f"the units of Z/{n}Z"))
    index = rt("uniform_int", 0, numbers(units_count(v.domain)), ls.n, Name("generator"), Name("device"))
    draw.stmts[:] = [Assign((draw.local,), index)]
    unit = Index(table, draw.local)
    draw.shown = [(plan.name, unit)]
    ls.env[plan.name] = value_of(v.domain, unit)
