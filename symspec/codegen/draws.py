"""Drawing a law's variables: batch fields, uniform values, intervals, shortest-path nodes, rejection, group elements.

Each draw returns a :class:`Draw` that keeps, next to its statements, what
later passes decide on: whether it comes with an acceptance mask, whether it
indexes a table of every group element (validation can enumerate it), and the
locals to show per case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..analysis.domains import RealDomain, Tensor
from ..analysis.lawclass import conjuncts, names_in
from ..syntax import ast
from .core import LawScope, V, formula, int_bounds
from .expr import (
    Assign,
    Attr,
    BinOp,
    Const,
    Index,
    Lambda,
    Name,
    Slice,
    TupleE,
    as_expr,
    method,
    rt,
    torch_,
)

__all__ = ["Draw", "MAX_TABLE_ORDER", "WORD_LENGTH", "value_of", "draw_value", "draw_group", "batch_value"]

MAX_TABLE_ORDER = 5000  # larger finite groups are sampled as random words, not from a table of every element
WORD_LENGTH = 64


@dataclass
class Draw:
    var: str
    source: str
    local: Name
    stmts: list = field(default_factory=list)
    ok: Name | None = None  # per example: the draw succeeded (interval, rejection)
    elements: str | None = None  # the table of every group element the draw indexes
    shown: list = field(default_factory=list)  # (label, Expr) per case in validation reports


def value_of(domain, e) -> V:
    if isinstance(domain, Tensor):
        return V("tensor", e, domain)
    if isinstance(domain, RealDomain):
        return V("real", e, domain)
    return V("value", e, domain)


def batch_value(ls: LawScope, var: str, e) -> None:
    v = ls.law.variables[var]
    ls.env[var] = value_of(v.domain, e)
    ls.draws[var] = Draw(var, "batch", e, shown=[(var, e)])


def _guard_conjuncts(ls: LawScope, var: str) -> list:
    return [c for c in conjuncts(formula(ls.law)[1]) if var in names_in(c)]


def draw_value(ls: LawScope, plan, terms) -> Draw:
    """A uniform, interval, between or rejection draw of a value variable (its statements not yet placed)."""
    v = ls.law.variables[plan.name]
    name = ls.local(plan.name)
    draw = Draw(plan.name, plan.source, name, shown=[(plan.name, name)])
    if plan.source == "uniform":
        if isinstance(v.domain, Tensor | RealDomain):
            ls.fail(f"variable '{plan.name}' ranges over {v.domain}, which cannot be drawn uniformly")
        lo, hi = int_bounds(v.domain)
        numbers = ls.tables.number
        value = rt("uniform_int", numbers(lo), numbers(hi), ls.n, Name("generator"), Name("device"))
        draw.stmts.append(Assign((name,), value))
    elif plan.source == "interval":
        _interval(ls, plan.name, v, draw, terms)
    elif plan.source == "between":
        _between(ls, plan.name, draw, terms)
    else:
        _rejection(ls, plan.name, v, draw, terms)
    ls.env[plan.name] = value_of(v.domain, name)
    ls.draws[plan.name] = draw
    return draw


def _interval(ls: LawScope, var: str, v, draw: Draw, terms) -> None:
    lo, hi = int_bounds(v.domain)
    top = ls.tables.number(hi)
    lows, highs = [ls.tables.number(lo)], [BinOp("-", top, Const(1)) if isinstance(top, Name) else Const(hi - 1)]
    for c in _guard_conjuncts(ls, var):
        a, b = c.operands
        op = c.ops[0]
        if isinstance(b, ast.Name) and b.name == var:  # put the variable on the left
            a, b = b, a
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
        other = terms.soft(b).e
        if op == "<":
            highs.append(BinOp("-", other, Const(1)))
        elif op == "<=":
            highs.append(other)
        elif op == ">":
            lows.append(BinOp("+", other, Const(1)))
        else:
            lows.append(other)
    low = ls.full(lows[0])
    for x in lows[1:]:
        low = torch_("maximum", low, x)
    high = ls.full(highs[0])
    for x in highs[1:]:
        high = torch_("minimum", high, x)
    draw.ok = Name(ls.scope.ns.create_name(f"{draw.local.id}_ok"))
    draw.stmts.append(Assign((draw.local, draw.ok), rt("interval_int", low, high, Name("generator"))))


def distances(ls: LawScope, graph: str):
    """The all-pairs distance table of a declared graph (built at import from its edge list)."""
    g = ls.spec.ir.graphs[graph]
    edges = [(u, v) for u, nbrs in enumerate(g.adjacency) for v in nbrs if u < v]
    tables = ls.tables
    const = tables.constant(("edges", graph), f"EDGES_{graph}", as_expr(edges), f"the edges of graph {graph}")
    buf = tables.buffer(
        ("distances", graph),
        f"DISTANCES_{graph}",
        rt("graph_distances", g.num_nodes, Name(const)),
        f"shortest-path lengths between the nodes of {graph}",
    )
    return ls.table(buf)


def _between(ls: LawScope, var: str, draw: Draw, terms) -> None:
    (c,) = [c for c in _guard_conjuncts(ls, var) if isinstance(c, ast.Call)]
    dist = distances(ls, c.args[0].name)
    u, v = terms.soft(c.args[1]).e, terms.soft(c.args[3]).e
    draw.stmts.append(Assign((draw.local,), rt("between_nodes", dist, u, v, Name("generator"))))


def _rejection(ls: LawScope, var: str, v, draw: Draw, terms) -> None:
    lo, hi = int_bounds(v.domain)
    ns = ls.scope.ns
    count, candidate, row = (ns.create_name(h) for h in ("count", "candidate", "row"))
    saved = dict(ls.env)
    for k, val in list(ls.env.items()):
        if val.kind in ("value", "real", "tensor"):
            ls.env[k] = V(val.kind, Index(val.e, Name(row)), val.domain)
    ls.env[var] = value_of(v.domain, Name(candidate))
    accept = None
    for c in _guard_conjuncts(ls, var):
        t = terms.soft(c).e
        accept = t if accept is None else BinOp("&", accept, t)
    ls.env = saved
    numbers = ls.tables.number
    propose = Lambda((count,), rt("uniform_int", numbers(lo), numbers(hi), Name(count), Name("generator"), Name("device")))
    draw.ok = Name(ns.create_name(f"{draw.local.id}_ok"))
    rate = Name(ns.create_name(f"{draw.local.id}_rate"))
    value = rt("rejection", propose, Lambda((candidate, row), accept), Name("n"))
    draw.stmts.append(Assign((draw.local, draw.ok, rate), value))


# ---- group elements ------------------------------------------------------------------


def finite_action(ls: LawScope, gir, domain) -> bool:
    act = ls.spec.ir.action(gir, domain)
    return act is not None and bool(act.perms) and not gir.continuous and act.kind in ("values", "positions")


def _ops(act, generators) -> dict:
    return {g: [(op, dict(args)) for op, args in act.ops[g]] for g in generators}


def _action_table(ops: dict, domain, tables, lead: int = 0):
    if isinstance(domain, Tensor):
        return rt("action_table", as_expr(ops), shape=tables.dims(domain.dims[lead:]))
    return rt("action_table", as_expr(ops), n=domain.size)


def draw_group(ls: LawScope, var: str, every: Name | None = None) -> Draw:
    """A group element per example (``every``: element ``i`` for copy ``i``, each example copied per element)."""
    v = ls.law.variables[var]
    gir = ls.spec.ir.group(v.group)
    uniq = []
    for node, _g, d in ls.law.acts:
        if isinstance(node.element, ast.Name) and node.element.name == var and d not in uniq:
            uniq.append(d)
    name = ls.local(var)
    draw = Draw(var, "group", name)
    parts = {}
    finite = all(finite_action(ls, gir, d) for d in uniq)
    if finite and (gir.order or 0) > MAX_TABLE_ORDER:
        _random_words(ls, gir, uniq, var, draw, parts)
    elif finite:
        _element_tables(ls, gir, uniq, var, draw, parts, every)
    else:
        for d in uniq:
            parts[d] = _continuous_parts(ls, gir, d, draw)
    if not draw.shown:
        draw.shown = [(var, name)]
    ls.env[var] = V("elem", name, parts)
    ls.draws[var] = draw
    return draw


def _element_tables(ls: LawScope, gir, domains: list, var: str, draw: Draw, parts: dict, every) -> None:
    tables, skipped = [], []
    for d in domains:
        ops = _ops(ls.spec.ir.action(gir, d), gir.generators)
        lead = _untouched_leading_dims(d, ops)
        if lead:  # the transforms leave the leading dims alone: index only the trailing ones
            ops = {g: [(op, _shift_dims(args, -lead)) for op, args in seq] for g, seq in ops.items()}
        tables.append(_action_table(ops, d, ls.tables, lead))
        skipped.append(lead)
    joint = rt("joint_elements", as_expr(tables))
    name = draw.local
    first = None
    for i, d in enumerate(domains):  # row r of every table is the same group element
        hint = f"ELEMENTS_{ls.law.name}_{var}" + (f"_{i}" if len(domains) > 1 else "")
        comment = f"every element of {gir.name} acting on {ls.spec.domain_name(d)} (one row each)"
        buf = ls.tables.buffer(("elements", ls.law.name, var, i), hint, Index(joint, Const(i)), comment)
        first = first or buf
        push = Index(ls.table(buf), name)
        if isinstance(d, Tensor):
            gather = ls.tables.buffer(
                ("gather", ls.law.name, var, i), f"GATHER_{buf}", rt("invert", Name(buf)), "their inverses, as gathers"
            )
            parts[d] = [("gather", Index(ls.table(gather), name), len(d.dims) - skipped[i], push)]
        else:
            parts[d] = [("push", push)]
    draw.elements = first
    if every is not None:
        value = method(torch_("arange", every, device=Name("device")), "repeat_interleave", Name("n"))
    else:
        size = Index(Attr(ls.table(first), "shape"), Const(0))
        value = torch_("randint", 0, size, TupleE((ls.n,)), generator=Name("generator"), device=Name("device"))
    draw.stmts.append(Assign((name,), value))


def _random_words(ls: LawScope, gir, domains: list, var: str, draw: Draw, parts: dict) -> None:
    """Groups too large for a table of all elements: per example, a random word in the generators."""
    tables = [_action_table(_ops(ls.spec.ir.action(gir, d), gir.generators), d, ls.tables) for d in domains]
    buf = ls.tables.buffer(
        ("generators", ls.law.name, var),
        f"GENERATORS_{ls.law.name}_{var}",
        rt("concat_actions", as_expr(tables)),
        f"the generators of {gir.name} as push maps",
    )
    name = draw.local
    draw.stmts.append(Assign((name,), rt("random_words", ls.table(buf), ls.n, WORD_LENGTH, Name("generator"))))
    offset = 0
    for d in domains:
        points = d.size if not isinstance(d, Tensor) else math.prod(d.dims)
        if len(domains) == 1:
            rows = name
        else:
            rows = BinOp("-", Index(name, TupleE((Slice(), Slice(Const(offset), Const(offset + points))))), Const(offset))
        if isinstance(d, Tensor):
            parts[d] = [("gather", rt("invert", rows), len(d.dims), rows)]
        else:
            parts[d] = [("push", rows)]
        offset += points


def _continuous_parts(ls: LawScope, gir, domain, draw: Draw) -> list:
    """Factor by factor, how a sampled element acts on a tensor domain with symbolic dims or matrices."""
    factors = gir.factors or (gir,)
    parts = []
    for i, f in enumerate(factors):
        act = ls.spec.ir.action(f, domain)
        if len(factors) > 1:
            part = Name(ls.scope.ns.create_name(f"{draw.local.id}_{i}"))
            draw.shown.append((f"{draw.var}[{i}]", part))
        else:
            part = draw.local
        if act.kind == "matrix":
            special = f.definition.kind == "SO"
            value = rt(
                "haar_orthogonal",
                ls.n,
                f.definition.arg,
                special,
                Name("generator"),
                Name("device"),
                Attr(Name("torch"), "float64"),
            )
            draw.stmts.append(Assign((part,), value))
            parts.append(("matrix", part, act.matrix_dim))
        elif act.kind == "symbolic" and f.definition.kind == "symmetric":
            dims = dict(next(iter(act.ops.values()))[0][1])["dims"]
            ref = next((val.e for val in ls.env.values() if val.kind == "tensor" and val.domain == domain), None)
            if ref is None:
                ls.fail(f"no tensor of {domain} to size a permutation of {f.name}")
            size = Index(Attr(ref, "shape"), Const(dims[0] + 1))
            value = rt("random_permutations", ls.n, size, Name("generator"), Name("device"))
            draw.stmts.append(Assign((part,), value))
            parts.append(("permute", part, dims))
        else:
            ls.fail(f"sampling {f.name} acting on {domain} is not supported")
    return parts


def _untouched_leading_dims(domain, ops: dict) -> int:
    """How many leading dims of a tensor domain no transform touches."""
    if not isinstance(domain, Tensor):
        return 0
    touched = []
    for seq in ops.values():
        for _, args in seq:
            for k, v in args.items():
                if k in ("dim", "i", "j"):
                    touched.append(v)
                elif k in ("dims",):
                    touched += list(v)
    return min(touched) if touched else 0


def _shift_dims(args: dict, delta: int) -> dict:
    out = {}
    for k, v in args.items():
        if k in ("dim", "i", "j"):
            v = v + delta
        elif k == "dims":
            v = tuple(d + delta for d in v)
        out[k] = v
    return out
