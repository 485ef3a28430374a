"""Constant group elements in laws: ``D4.r . x`` is the generator ``r`` of the declared group ``D4`` acting on ``x``.

The grammar reads ``D4.r . x`` as ``D4 . (r . x)`` (``.`` is right-associative), so no new syntax is needed:
before a law is typed, every ``G . (g . X)`` where ``G`` names a declared group with named generators (a
presentation, a finite family as ``symspec explain`` names its generators, or an alias) and ``g`` is one of them
is rewritten to ``G.g . X``, where ``G.g`` is a law variable of group ``G`` fixed at the generator ``g``
(``Variable.element``).  A law variable's name is a plain identifier, so the dotted name never clashes with one.  Downstream the variable is a group element like any
other, except that it is never drawn: the law's only transform is the generator's (``lawclass``), and the
generated code acts with that one element (``codegen/constants.py``).  A word is written as successive
actions: ``D4.r . D4.s . x`` is ``r`` after ``s``.
"""

from __future__ import annotations

import dataclasses

from ..errors import Span
from ..syntax import ast
from .context import Context
from .scope import did_you_mean
from .units import unit_generators

__all__ = ["constant_elements", "element_name", "named_generators"]


def element_name(group: str, generator: str) -> str:
    """The law variable that stands for generator ``generator`` of group ``group``: ``"D4.r"``."""
    return f"{group}.{generator}"


def named_generators(gdef) -> tuple:
    """The generators a constant may name: a presentation's, or a finite family's as the group analysis names them
    (``cyclic(n)``: c; ``dihedral(n)``: r, s; ``symmetric(n)``: t, c; ``alternating(n)``: c3, c; ``units(n)``: u<k>)."""
    kind, n = gdef.kind, gdef.arg
    if kind == "presentation":
        return tuple(gdef.generators)
    if not isinstance(n, int):
        return ()
    if kind == "units":
        return tuple(f"u{k}" for k in unit_generators(n))
    if kind == "cyclic":
        return ("c",) if n > 1 else ()
    if kind == "dihedral":
        return ("r", "s") if n > 1 else ("s",)
    if kind == "symmetric":
        return ("t", "c") if n > 2 else ("t",) if n == 2 else ()
    if kind == "alternating":
        return ("c3", "c") if n > 3 else ("c3",) if n == 3 else ()
    return ()


def _group_named(ctx: Context, e) -> str | None:
    if not isinstance(e, ast.Name):
        return None
    sym = ctx.symbols.values.get(e.name)
    return e.name if sym is not None and sym.kind == "group" else None


def constant_elements(ctx: Context, body) -> tuple:
    """``(body with every 'G.g . X' rewritten, {variable name: (GroupDef, generator, span)})``.

    A generator written after a group name is a generator even if a binder has its name.  Errors (at the generator's span) for a name that is not a
    generator of the group, and for a group that has no named generators.
    """
    found: dict = {}

    def go(e):
        if isinstance(e, ast.Act):
            group = _group_named(ctx, e.element)
            inner = e.operand
            if group is not None and isinstance(inner, ast.Act) and isinstance(inner.element, ast.Name):
                gdef = ctx.group_ref(e.element)
                gen = inner.element
                if gdef is None:
                    return go(inner.operand)
                generators = named_generators(gdef)
                if gen.name not in generators:
                    if not generators:
                        ctx.reporter.error(
                            f"group '{group}' is {gdef} and has no named generators to use as constants",
                            gen.span,
                            "constants name the generators of a presentation or of a finite family "
                            f"(cyclic, dihedral, symmetric, alternating, units); or draw elements with 'forall g: {group}.'",
                            kind="name",
                        )
                    else:
                        ctx.reporter.error(
                            f"'{gen.name}' is not a generator of {group}",
                            gen.span,
                            did_you_mean(gen.name, generators, f"its generators are: {', '.join(generators)}"),
                            kind="name",
                        )
                    return go(inner.operand)  # reported: the law is typed without it, so nothing cascades
                name = element_name(group, gen.name)
                span = Span(
                    e.element.span.file, e.element.span.line, e.element.span.column, gen.span.end_line, gen.span.end_column
                )
                found.setdefault(name, (gdef, gen.name, span))
                return ast.Act(Span(*span[:3], *e.span[3:]), ast.Name(span, name), go(inner.operand))
        if not isinstance(e, ast.Node):
            return e
        changes = {}
        for f in e.__dataclass_fields__:
            if f == "span":
                continue
            value = getattr(e, f)
            if isinstance(value, ast.Node):
                new = go(value)
                if new is not value:
                    changes[f] = new
            elif isinstance(value, tuple):
                new = tuple(go(v) for v in value)
                if any(a is not b for a, b in zip(new, value)):
                    changes[f] = new
        return dataclasses.replace(e, **changes) if changes else e

    if not any(isinstance(n, ast.Act) and _group_named(ctx, n.element) for n in ast.walk(body)):
        return body, found
    return go(body), found
