"""Law variables over ``units(n)`` (analysis/units.py): drawn, and enumerated by validation, as an index into the
module's table of the units of Z/nZ (``rt.unit_values(n)``, runtime/sampling.py); the law reads the unit ``UNITS[index]``."""

from __future__ import annotations

from ..analysis.domains import Units
from ..analysis.units import totient
from .expr import Assign, Index, Name, rt

__all__ = ["units_count", "units_draw", "units_value"]


def units_count(domain: Units) -> int:
    """How many units Z/nZ has: phi(n) (the indices a variable over ``units(n)`` takes)."""
    return totient(domain.n)


def units_value(ls, domain: Units, index):
    """The unit at ``index`` of the module's table of the units of Z/nZ."""
    n = domain.n
    table = ls.tables.buffer(("units", n), f"UNITS_{n}", rt("unit_values", ls.tables.number(n)), f"the units of Z/{n}Z")
    return Index(ls.table(table), index)


def units_draw(ls, plan, draw, value_of) -> None:
    """A ``units(n)`` variable's draw holds an index into the table of the units (validation sets it when it
    enumerates); the law and the report read the unit.  Uniform: an index uniform in ``[0, phi(n))``; rejection
    (a guard): indices proposed the same way (``draws._rejection``)."""
    v = ls.law.variables[plan.name]
    if plan.source not in ("uniform", "rejection"):
        ls.fail(f"variable '{plan.name}' over {v.domain} is drawn {plan.source}; a units(n) variable is drawn uniformly")
    if plan.source == "uniform":
        index = rt("uniform_int", 0, ls.tables.number(units_count(v.domain)), ls.n, Name("generator"), Name("device"))
        draw.stmts[:] = [Assign((draw.local,), index)]
    unit = units_value(ls, v.domain, draw.local)
    draw.shown = [(plan.name, unit)]
    ls.env[plan.name] = value_of(v.domain, unit)
