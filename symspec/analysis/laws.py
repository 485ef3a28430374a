"""Type checking of laws: variables typed by use, typed arithmetic, relations.

Terms have a :class:`Ty`: exact values (a value of a finite domain, an
integer constant, a label, an exact condition), model-dependent "soft"
quantities (a class distribution, a bool probability, a real, a tensor), a
group element, or a relation (a loss).  The rules are those of the law
section of docs/language.md; the typed tree (``terms.py``) keeps them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..syntax import ast
from .constants import constant_elements
from .context import Context
from .domains import (
    eval_int,
    resolve_domain,
)
from .physics import check_scale_option
from .scope import KIND_WORDS, did_you_mean
from .structures import GROUP_FAMILIES, resolve_group
from .terms import Kind, Term, Ty

if TYPE_CHECKING:  # pragma: no cover
    pass
from .typecheck import BUILTINS, LawChecker, Variable

__all__ = ["Ty", "Kind", "Variable", "LawInfo", "check_law", "check_options", "LAW_OPTIONS", "BUILTINS", "MAX_SAMPLES"]

MAX_SAMPLES = 1000  # [samples k]: each example is repeated k times per batch for the law's drawn variables
LAW_OPTIONS = {"weight": "number", "tol": "number", "rtol": "number", "samples": "count", "scale": "number"}


@dataclass
class LawInfo:
    """A checked law: its variables, options and the models it calls."""

    name: str
    decl: ast.LawDecl
    variables: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    models: tuple = ()
    guarded: bool = False
    acts: tuple = ()  # (Act node, GroupDef, domain): every 'g . x' and the domain it acts on
    body: Term | None = None  # the typed law formula (every node with its type); None if it did not type
    guard: Term | None = None  # the typed when-guard
    relation: str = "assert"  # what the body states: the first op of a top-level comparison, and/or/=>, else "assert"


def _binder_target(ctx: Context, b: ast.Binder):
    """A binder ranges over a domain or a group: (domain, None) or (None, group)."""
    t = b.type
    if isinstance(t, ast.Name):
        sym = ctx.symbols.values.get(t.name)
        if sym is not None and sym.kind == "group":
            return None, ctx.group_ref(t)
    if isinstance(t, ast.Call) and t.func.name in GROUP_FAMILIES and t.func.name not in ("cyclic", "units"):
        return None, resolve_group(ctx, t, "")
    if isinstance(t, ast.Name) and ctx.symbols.values.get(t.name) is None and t.name not in ("real", "bool"):
        ctx.reporter.error(
            f"unknown domain or group '{t.name}'",
            t.span,
            did_you_mean(
                t.name, ctx.symbols.names_of("domain", "group"), "declare it with 'domain NAME = ...' or 'group NAME = ...'"
            ),
            kind="name",
        )
        return None, None
    d = resolve_domain(ctx, t, role="a domain or group")
    return d, None


def check_options(ctx: Context, options, allowed: dict) -> dict:
    """Validate ``[name value, ...]`` options; returns {name: value}."""
    out: dict = {}
    seen: dict = {}
    for opt in options:
        name = opt.name.name
        if name not in allowed:
            ctx.reporter.error(
                f"unknown option '{name}'",
                opt.name.span,
                did_you_mean(name, allowed, "options are: " + ", ".join(allowed)),
            )
            continue
        if name in seen:
            ctx.reporter.error(f"option '{name}' is given twice", opt.span, notes=[(seen[name], "first given here")])
            continue
        seen[name] = opt.span
        v = opt.value
        if isinstance(v, ast.Name):
            value = eval_int(ctx, v, f"option '{name}'")
            if value is None:
                continue
        else:
            value = v.value
        if allowed[name] == "count":
            if not isinstance(value, int) or value < 1:
                ctx.reporter.error(f"option '{name}' must be a positive integer, got {getattr(v, 'text', value)}", v.span)
                continue
            if value > MAX_SAMPLES:
                ctx.reporter.error(
                    f"option '{name}' is {value}, more than the limit of {MAX_SAMPLES}",
                    v.span,
                    f"each example is repeated '{name}' times in every batch: use at most {MAX_SAMPLES}",
                )
                continue
        elif value < 0:
            ctx.reporter.error(f"option '{name}' must be non-negative, got {getattr(v, 'text', value)}", v.span)
            continue
        out[name] = value
    return out


def _silence_untypable(c: LawChecker, decl: ast.LawDecl, ctx: Context) -> None:
    """Variables used only inside calls of models whose signature failed (or of unknown names) cannot be typed:
    that failure is already reported, so saying "cannot tell what 'a' ranges over" would only cascade."""
    for node in ast.walk(decl.body):
        if isinstance(node, ast.Call) and node.func.name not in ctx.models and node.func.name not in BUILTINS:
            for n in ast.walk(node):
                v = c.vars.get(n.name) if isinstance(n, ast.Name) else None
                if v is not None and v.domain is None and v.group is None:
                    c.reported.add(n.name)


def check_law(ctx: Context, decl: ast.LawDecl) -> LawInfo:
    body, elements = constant_elements(ctx, decl.body)  # 'D4.r . x': a group element fixed at generator r
    if body is not decl.body:
        decl = dataclasses.replace(decl, body=body)
    c = LawChecker(ctx, decl)
    for name, (gdef, generator, span) in elements.items():
        c.vars[name] = Variable(name, group=gdef, span=span, bound=True, first_use=span, used=True, element=generator)
    for b in decl.binders:
        name = b.var.name
        sym = ctx.symbols.values.get(name)
        if sym is not None:
            ctx.reporter.error(
                f"'{name}' is already {KIND_WORDS[sym.kind]}; a variable needs its own name",
                b.var.span,
                notes=[(sym.span, f"'{name}' declared here")],
                kind="name",
            )
            continue
        if name in c.vars:
            ctx.reporter.error(f"variable '{name}' is bound twice", b.var.span, kind="name")
            continue
        domain, group = _binder_target(ctx, b)
        if domain is None and group is None:
            c.vars[name] = Variable(name, bound=True, span=b.span)
            c.reported.add(name)
            continue
        c.vars[name] = Variable(name, domain=domain, group=group, span=b.var.span, bound=True)
    c.assign(decl.body, None)
    if decl.guard is not None:
        c.assign(decl.guard, None)
    if ctx.reporter.has_errors:  # only a failed model signature (an earlier error) leaves variables untypable
        _silence_untypable(c, decl, ctx)
    body = c.type(decl.body)
    if body is not None:
        if body.kind not in ("rel", "prob") or not body.soft:
            if not body.soft:
                ctx.reporter.error(
                    "this law never calls a model, so no model can satisfy or break it",
                    decl.body.span,
                    "a law relates a model's outputs, as in f(a, b) == f(b, a)",
                )
            else:
                ctx.reporter.error(
                    f"a law must state a relation, but this is {body}",
                    decl.body.span,
                    "compare it with ==, <=, ... or, for a bool output, assert it as it stands",
                )
    if decl.guard is not None:
        guard = c.type(decl.guard)
        if guard is not None and guard.kind != "cond":
            if guard.soft:
                ctx.reporter.error(
                    "a when guard cannot depend on a model's output",
                    decl.guard.span,
                    "the guard selects which inputs the law covers; it may compare variables or use between(G, u, v, w)",
                )
            else:
                ctx.reporter.error(f"a when guard must be a condition, but this is {guard}", decl.guard.span)
    for v in c.vars.values():
        if v.bound and not v.used and v.name not in c.reported:
            ctx.reporter.warning(f"variable '{v.name}' is bound but never used", v.span)
    options = check_options(ctx, decl.options, LAW_OPTIONS)
    check_scale_option(ctx, decl, c.vars, options)  # [scale s]: only on a law over a non-compact group
    return LawInfo(
        decl.name.name,
        decl,
        dict(c.vars),
        options,
        tuple(dict.fromkeys(c.models)),
        decl.guard is not None,
        tuple(c.acts),
        c.typed(decl.body),
        c.typed(decl.guard) if decl.guard is not None else None,
        _relation(decl.body),
    )


def _relation(body) -> str:
    """The relation a law states: the first op of a top-level comparison, the op of a top-level and/or/=>, else assert."""
    if isinstance(body, ast.Compare):
        return body.ops[0]
    if isinstance(body, ast.Logic):
        return body.op
    return "assert"
