"""Constant group elements in laws: ``D4.r . x`` is the generator ``r`` of the declared group ``D4`` acting on ``x``.

The grammar reads ``D4.r . x`` as ``D4 . (r . x)`` (``.`` is right-associative), so no new syntax is needed:
before a law is typed, every ``G . (g . X)`` where ``G`` names a declared group with named generators (a
presentation, or an alias of one) and ``g`` is one of them is rewritten to ``G.g . X``, where ``G.g`` is a law
variable of group ``G`` fixed at the generator ``g`` (``Variable.element``).  A law variable's name is a plain
identifier, so the dotted name never clashes with one.  Downstream the variable is a group element like any
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

__all__ = ["constant_elements", "element_name"]


def element_name(group: str, generator: str) -> str:
    """The law variable that stands for generator ``generator`` of group ``group``: ``"D4.r"``."""
    return f"{group}.{generator}"


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
                generators = tuple(gdef.generators) if gdef.kind == "presentation" else ()
                if gen.name not in generators:
                    if not generators:
                        ctx.reporter.error(
                            f"group '{group}' is {gdef} and has no named generators to use as constants",
                            gen.span,
                            "constants name the generators of a presentation declared with an action block "
                            f"('group G = <r | r^4>'); or draw elements with 'forall g: {group}.'",
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
