"""Drawing a law's variables: batch fields, uniform values, intervals, shortest-path nodes, rejection, group elements.

Each draw returns a :class:`Draw` that keeps, next to its statements, what
later passes decide on: whether it comes with an acceptance mask, whether it
indexes a table of every group element (validation can enumerate it), and the
locals to show per case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..analysis.domains import Cyclic, Range, RealDomain, Tensor, Units
from ..analysis.groups import MAX_POINTS
from ..analysis.lawclass import conjuncts, names_in
from ..analysis.units import unit_chain
from ..syntax import ast
from ..transforms import MAX_LITERAL_ENTRIES, MAX_TABLE_ORDER
from .constants import constant_description, element_order
from .core import LawScope, V, formula, int_bounds
from .expr import (
    Assign,
    Attr,
    BinOp,
    Const,
    Index,
    Lambda,
    Name,
    TupleE,
    as_expr,
    method,
    rt,
    torch_,
)
from .physics import (
    PHYSICS_FACTORS,
    canonical_like,
    canonicalizes,
    describe_physics,
    physics_entry,
    physics_factor,
    with_scale,
)
from .units import units_count, units_draw, units_value

__all__ = [
    "enumerable",
    "Draw",
    "MAX_TABLE_ORDER",
    "MAX_WORD_POINTS",
    "MAX_ARITHMETIC_ORDER",
    "ARITHMETIC",
    "arithmetic_description",
    "value_of",
    "draw_value",
    "real_draw",
    "draw_group",
    "batch_value",
    "group_description",
    "describe_group",
]

MAX_WORD_POINTS = 65_536  # values of a domain moved by a group drawn as random words (each element: a table of them)
MAX_ARITHMETIC_ORDER = 1 << 62  # an element drawn by number is an int64 in [0, order)
MAX_ARITHMETIC_SIZE = 3_037_000_499  # (k mod n) * b stays within int64 for values of at most this many
ARITHMETIC = True  # draw groups acting by v -> a v + b as numbers, acting by arithmetic (False: tables; for tests)


@dataclass
class Draw:
    var: str
    source: str
    local: Name
    stmts: list = field(default_factory=list)
    ok: Name | None = None  # per example: the draw succeeded (interval, rejection)
    elements: str | None = None  # the table of every group element the draw indexes
    shown: list = field(default_factory=list)  # (label, Expr) per case in validation reports


def enumerable(gir) -> bool:
    """Whether every element of a group is listed (a finite group of known order at most MAX_TABLE_ORDER)."""
    return not gir.continuous and gir.order is not None and gir.order <= MAX_TABLE_ORDER


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


def _guard_conjuncts(ls: LawScope, var: str, defer: bool = True) -> list:
    """The guard's conjuncts on ``var``.

    ``defer``: leave out those naming a variable not drawn yet (``a < b`` with both drawn): the variable drawn
    last takes them, and its interval or rejection draw makes them hold (or masks the example out).
    """
    out = []
    for c in conjuncts(formula(ls.law)[1]):
        names = names_in(c)
        if var not in names:
            continue
        if defer and any(n != var and n in ls.law.variables and n not in ls.env for n in names):
            continue
        out.append(c)
    return out


def draw_value(ls: LawScope, plan, terms) -> Draw:
    """A uniform, interval, between or rejection draw of a value variable (its statements not yet placed)."""
    v = ls.law.variables[plan.name]
    name = ls.local(plan.name)
    draw = Draw(plan.name, plan.source, name, shown=[(plan.name, name)])
    if plan.source in ("uniform", "normal") and isinstance(v.domain, Tensor | RealDomain):
        draw.stmts.append(Assign((name,), real_draw(ls, plan.name, v.domain)))
    elif plan.source == "uniform":
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
    if isinstance(v.domain, Units):  # an index into the table of the units, read as its unit (codegen/units.py)
        units_draw(ls, plan, draw, value_of)
    ls.draws[plan.name] = draw
    return draw


def _like_dtype(ls: LawScope) -> dict:
    """``dtype=`` of the law's real or tensor values already bound (the batch's), or nothing (torch's default)."""
    like = next((val.e for val in ls.env.values() if val.kind in ("real", "tensor") and isinstance(val.e, Name)), None)
    return {"dtype": Attr(like, "dtype")} if like is not None else {}


def _shape(ls: LawScope, var: str, domain: Tensor) -> TupleE:
    """The shape of a drawn tensor: fixed dims as they are, a symbolic dim read from a bound tensor having it."""
    dims = []
    for d in domain.dims:
        if isinstance(d, int):
            dims.append(ls.tables.number(d))
            continue
        found = next(
            (
                Index(Attr(val.e, "shape"), Const(1 + val.domain.dims.index(d)))
                for val in ls.env.values()
                if val.kind == "tensor" and isinstance(val.domain, Tensor) and d in val.domain.dims and isinstance(val.e, Name)
            ),
            None,
        )
        if found is None:
            ls.fail(
                f"variable '{var}' ranges over {domain}, but no tensor of the law's batch has the dim {d} to size it",
                hint=f"give {var} fixed dims, or name it after a model parameter of {domain}: it then comes from the batch",
            )
        dims.append(found)
    return TupleE(tuple(dims))


def real_draw(ls: LawScope, var: str, domain):
    """A drawn real or tensor variable, one per example: ``real`` and every tensor entry standard normal,
    ``real(lo, hi)`` uniform on [lo, hi); the module's generator, the batch's device and dtype."""
    dtype = _like_dtype(ls)
    if isinstance(domain, RealDomain) and domain.bounded:
        return rt("uniform_real", float(domain.lo), float(domain.hi), ls.n, Name("generator"), Name("device"), **dtype)
    shape = _shape(ls, var, domain) if isinstance(domain, Tensor) else TupleE(())
    return rt("normal_values", ls.n, shape, Name("generator"), Name("device"), **dtype)


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
    for x in lows[1:]:  # a bound that is a Python number (a constant, a parameter) clamps
        low = method(low, "clamp", min=x) if terms.is_number(x) else torch_("maximum", low, x)
    high = ls.full(highs[0])
    for x in highs[1:]:
        high = method(high, "clamp", max=x) if terms.is_number(x) else torch_("minimum", high, x)
    draw.ok = Name(ls.scope.ns.create_name(f"{draw.local.id}_ok"))
    # an empty interval (the example is masked out) still draws a value of the domain: the model may only see those
    value = rt("interval_int", low, high, Name("generator"), fallback=lows[0])
    draw.stmts.append(Assign((draw.local, draw.ok), value))


def distances(ls: LawScope, graph: str):
    """The all-pairs distance table of a declared graph (built at import from its edge list)."""
    g = ls.spec.ir.graphs[graph]
    tables = ls.tables

    def edges():
        return as_expr([(u, v) for u, nbrs in enumerate(g.adjacency) for v in nbrs if u < v])

    const = tables.constant(("edges", graph), f"EDGES_{graph}", edges, f"the edges of graph {graph}")
    buf = tables.buffer(
        ("distances", graph),
        f"DISTANCES_{graph}",
        lambda: rt("graph_distances", g.num_nodes, Name(const)),
        f"shortest-path lengths between the nodes of {graph}",
    )
    return ls.table(buf)


def _between(ls: LawScope, var: str, draw: Draw, terms) -> None:
    # the conjunct the plan chose: between(G, u, var, v) with both ends known (the guard may hold other between(...)
    # conjuncts on var, with an end drawn later: that end's own draw enforces them)
    calls = [
        c
        for c in _guard_conjuncts(ls, var)
        if isinstance(c, ast.Call) and c.func.name == "between" and isinstance(c.args[2], ast.Name) and c.args[2].name == var
    ]
    if len(calls) != 1:
        ls.fail(f"variable '{var}' is drawn between two nodes, but the guard does not give one between(G, u, {var}, v)")
    c = calls[0]
    dist = distances(ls, c.args[0].name)
    u, v = terms.soft(c.args[1]).e, terms.soft(c.args[3]).e
    draw.stmts.append(Assign((draw.local,), rt("between_nodes", dist, u, v, Name("generator"))))


def _rejection(ls: LawScope, var: str, v, draw: Draw, terms) -> None:
    lo, hi = int_bounds(v.domain) if not isinstance(v.domain, Units) else (0, units_count(v.domain))  # units: indices
    ns = ls.scope.ns
    count, candidate, row = (ns.create_name(h) for h in ("count", "candidate", "row"))
    saved = dict(ls.env)
    for k, val in list(ls.env.items()):
        if val.kind in ("value", "real", "tensor"):
            ls.env[k] = V(val.kind, Index(val.e, Name(row)), val.domain)
    proposed = units_value(ls, v.domain, Name(candidate)) if isinstance(v.domain, Units) else Name(candidate)
    ls.env[var] = value_of(v.domain, proposed)
    accept = None
    for c in _guard_conjuncts(ls, var):
        t = terms.soft(c).e
        accept = t if accept is None else BinOp("&", accept, t)
    ls.env = saved
    numbers = ls.tables.number
    if accept is None:  # every conjunct on it waits for a variable drawn later (which makes it hold): uniform
        draw.stmts.append(
            Assign((draw.local,), rt("uniform_int", numbers(lo), numbers(hi), ls.n, Name("generator"), Name("device")))
        )
        return
    propose = Lambda((count,), rt("uniform_int", numbers(lo), numbers(hi), Name(count), Name("generator"), Name("device")))
    draw.ok = Name(ns.create_name(f"{draw.local.id}_ok"))
    rate = Name(ns.create_name(f"{draw.local.id}_rate"))
    value = rt("rejection", propose, Lambda((candidate, row), accept), ls.n)  # n * samples rows with [samples k]
    draw.stmts.append(Assign((draw.local, draw.ok, rate), value))


# ---- group elements ------------------------------------------------------------------


def _plain(x):
    return getattr(x, "value", x)


def _still(act, domain) -> bool:
    """The action moves nothing (a real, a trivial action)."""
    return isinstance(domain, RealDomain) or (act is not None and _plain(act.kind) == "trivial")


def _permutes(act) -> bool:
    return act is not None and bool(act.perms) and _plain(act.kind) in ("values", "positions")


def _ops(act, generators) -> dict:
    return {g: [(op, dict(args)) for op, args in act.ops[g]] for g in generators}


def _check_word_points(gir, act, domain) -> None:
    """ValueError when a group too large to list acts on the values of a domain so large that each drawn element
    (a push map over every value, one per example) would dwarf the example itself."""
    if isinstance(domain, Tensor) or (gir.order is not None and gir.order <= MAX_TABLE_ORDER):
        return
    if domain.size > MAX_WORD_POINTS:
        raise ValueError(
            f"{gir.name} acting on {act.domain} ({domain.size} values) is too large to tabulate (limit {MAX_WORD_POINTS} "
            f"values for a group of more than {MAX_TABLE_ORDER} elements: each drawn element is a table of every value); "
            f"groups of one generator, dihedral(n) and their products acting by v -> a v + b are drawn by arithmetic "
            f"instead, or draw the shift as a value: forall k: {act.domain}. ... a + k ..."
        )


def _finite_entry(act, domain, generators, number, dims) -> dict:
    if isinstance(domain, Tensor):
        return {"shape": dims(domain.dims), "ops": _ops(act, generators)}
    lo = domain.lo if isinstance(domain, Range) else 0
    return {"n": number(domain.size), "lo": lo, "ops": _ops(act, generators)}


def _literal_size(acts: list) -> int:
    """How many integers the ops' permutation tables (``relabel``, ``permute``, ``permute_dims`` perms) hold."""
    total = 0
    for act in acts:
        for seq in act.ops.values():
            for _op, args in seq:
                perm = dict(args).get("perm")
                total += len(perm) if perm is not None else 0
    return total


def _uniform_symmetric(spec, gir, domains: dict, dims, acts: dict | None = None, number=int) -> dict | None:
    """``symmetric(n)`` permuting tensor dims, or the n labels of a finite domain by its default action, drawn as
    uniform permutations (no table), or None. ``acts``: its action per key when it is a product's factor."""
    if gir.continuous or _plain(gir.definition.kind) not in ("symmetric", "alternating"):
        return None
    on = {}
    for k, d in domains.items():
        act = acts[k] if acts is not None else spec.ir.action(gir, d)
        if _still(act, d):
            on[k] = None
            continue
        if not isinstance(d, Tensor) and act is not None and _plain(act.kind) == "values" and act.perms:
            if getattr(d, "size", None) != gir.definition.arg or len(act.perms) != len(gir.generators):
                return None
            on[k] = {"values": number(d.size), "lo": d.lo if isinstance(d, Range) else 0}  # every permutation of n
            continue
        seqs = list(act.ops.values()) if act is not None else []
        if not seqs or not isinstance(d, Tensor) or any(len(q) != 1 or q[0][0] != "permute_dims" for q in seqs):
            return None
        on[k] = {"shape": dims(d.dims), "permute": tuple(dict(seqs[0][0][1])["dims"])}
    even = {"even": True} if _plain(gir.definition.kind) == "alternating" else {}  # uniform even permutations
    return {"kind": "symmetric", "name": gir.name, **even, "on": on}


def _check_literal_size(gir, acts: list) -> None:
    """ValueError when the ops' permutation tables would write more than MAX_LITERAL_ENTRIES integers into the module."""
    total = _literal_size(acts)
    if total > MAX_LITERAL_ENTRIES:
        on = ", ".join(sorted({a.domain for a in acts}))
        raise ValueError(
            f"{gir.name} acts on {on} through permutation tables of {total} entries, too large to tabulate "
            f"(limit {MAX_LITERAL_ENTRIES})"
        )


def _steps(gir) -> list | None:
    """The elements of ``gir`` as ``g_1^k_1 ... g_r^k_r`` (each ``k_i`` in ``[0, m_i)``, every element once).

    ``[(generator, m_i), ...]`` for a group with one generator (cyclic of its
    order), ``dihedral(n)`` (``r^k s^e``), ``units(n)`` (its generators with
    their relative orders, ``analysis/units.py``) and direct products of those;
    None for any other group.
    """
    if gir.continuous or not isinstance(gir.order, int) or not 1 <= gir.order <= MAX_ARITHMETIC_ORDER:
        return None
    if gir.factors:
        steps = []
        for f in gir.factors:
            part = _steps(f)
            if part is None:
                return None
            steps += part
        if len(steps) != len(gir.generators) or math.prod(m for _, m in steps) != gir.order:
            return None
        return [(g, m) for g, (_, m) in zip(gir.generators, steps)]  # the product names its factors' generators
    if _plain(gir.definition.kind) == "units":  # abelian: u_1^e_1 ... u_r^e_r, e_i below its relative order
        return [(f"u{k}", m) for k, m in unit_chain(gir.definition.arg)]
    if not gir.generators:
        return [] if gir.order == 1 else None
    if len(gir.generators) == 1:
        return [(gir.generators[0], gir.order)]
    if _plain(gir.definition.kind) == "dihedral" and tuple(gir.generators) == ("r", "s") and gir.order % 2 == 0:
        return [("r", gir.order // 2), ("s", 2)]
    return None


def _affine(ops, n: int) -> tuple | None:
    """``(a, b)`` when the ops (applied right to left) map v to ``a v + b (mod n)`` with ``a`` a unit mod n, else None.

    ``a`` is written in ``[1, n)``, except -1 for ``n - 1`` (a reflection).
    """
    if n == 1:
        return (1, 0)
    a, b = 1, 0
    for name, args in reversed(tuple(ops)):
        args = dict(args)
        if name == "shift":
            step = (1, args.get("k", 1) % n)
        elif name == "negate":
            step = (n - 1, 0)
        elif name == "scale":
            step = (args["u"] % n, 0)
        elif name == "relabel" and len(args["perm"]) == n:
            perm = np.asarray(args["perm"], dtype=np.int64)
            first, slope = int(perm[0]), int(perm[1] - perm[0]) % n
            if not np.array_equal(perm, (np.arange(n, dtype=np.int64) * slope + first) % n):
                return None
            step = (slope, first)
        else:
            return None
        if math.gcd(step[0], n) != 1:  # v -> u v with u not a unit is no permutation
            return None
        a, b = step[0] * a % n, (step[0] * b + step[1]) % n
    return (-1 if a == n - 1 and n > 2 else a, b)


def factor_actions(spec, gir, domains: dict) -> list:
    """Per factor of ``gir`` (``gir`` itself when not a product): key -> its action on each domain.

    A product's action keeps its factors' (``ActionIR.parts``): a factor with
    no action of its own on a domain acts there as the identity (a trivial
    action); a product declared ``by identity`` leaves every factor trivial.
    """
    factors = gir.factors or (gir,)
    out = [{} for _ in factors]
    for key, d in domains.items():
        whole = spec.ir.action(gir, d) if gir.factors else None
        for i, f in enumerate(factors):
            if whole is not None and whole.parts:
                out[i][key] = whole.parts[i]
            elif whole is not None and _plain(whole.kind) == "trivial":
                out[i][key] = whole
            else:
                out[i][key] = spec.ir.action(f, d)
    return out


def factor_action(spec, gir, f, domain):
    """Factor ``f``'s action on ``domain``, as :func:`factor_actions` gives it (``gir``'s own when not a product)."""
    factors = gir.factors or (gir,)
    return factor_actions(spec, gir, {0: domain})[next(i for i, g in enumerate(factors) if g is f)][0]


def arithmetic_description(spec, gir, domains: dict, number=int, acts: dict | None = None) -> dict | None:
    """An ``arithmetic`` factor of ``rt.GroupSampler`` for ``gir`` acting on ``domains``, or None.

    When the group's elements have a normal form (:func:`_steps`) and each
    generator maps every moved domain's values by ``v -> a v + b (mod n)``, an
    element is drawn as one number in ``[0, order)`` (uniform over the group)
    and acts by arithmetic: no table of elements, no push map per element.
    ``acts``: the group's action per key when it is a product's factor
    (:func:`factor_actions`), else looked up.
    """
    steps = _steps(gir)
    if steps is None or not ARITHMETIC:
        return None
    on = {}
    for key, d in domains.items():
        act = acts[key] if acts is not None else spec.ir.action(gir, d)
        if _still(act, d):
            on[key] = None
            continue
        if act is None or not isinstance(d, Cyclic | Range) or _plain(act.kind) not in ("values", "symbolic"):
            return None
        if not isinstance(getattr(d, "size", None), int) or not 1 <= d.size <= MAX_ARITHMETIC_SIZE:
            return None
        maps = []
        for g, _m in steps:
            if g not in act.ops:
                return None
            m = _affine(act.ops[g], d.size)
            if m is None:
                return None
            maps.append(m)
        lo = d.lo if isinstance(d, Range) else 0
        on[key] = {"n": number(d.size), "lo": lo, "maps": maps}
    if all(a is None for a in on.values()):
        return None
    return {"kind": "arithmetic", "name": gir.name, "order": gir.order, "steps": [m for _g, m in steps], "on": on}


def group_description(spec, gir, domains: dict, number=int, dims=tuple) -> list:
    """The factors of ``rt.GroupSampler`` for group ``gir`` acting on ``domains`` (key -> domain); see runtime/groups.py.

    A finite group permuting the points of every domain it moves is one
    ``finite`` factor (its generators' ops per domain); otherwise each factor
    of the product is drawn on its own (``SO``/``O`` matrices, ``symmetric``
    permutations of symbolic size, a finite factor's ops). ``number`` and
    ``dims`` turn sizes and shapes into what the caller writes (ints, or the
    generated module's named constants). Raises ValueError for an action
    that cannot be sampled. A group acting on values by ``v -> a v + b`` whose
    elements have a normal form is one ``arithmetic`` factor (drawn as numbers,
    acting by arithmetic: :func:`arithmetic_description`), whatever its order.
    """
    arithmetic = arithmetic_description(spec, gir, domains, number)
    if arithmetic is not None:
        return [arithmetic]
    acts = {k: spec.ir.action(gir, d) for k, d in domains.items()}
    # a product's tables too large together: each factor drawn on its own below (and checked there)
    too_large = _literal_size([a for a in acts.values() if a is not None]) > MAX_LITERAL_ENTRIES
    if too_large and not gir.factors:
        uniform = _uniform_symmetric(spec, gir, domains, dims)  # symmetric(n) needs no table: uniform permutations
        if uniform is not None:
            return [uniform]
        _check_literal_size(gir, [a for a in acts.values() if a is not None])
    # symmetric(n) with more elements than a table lists: uniform permutations (random words of a transposition and an
    # n-cycle are far from uniform: 64 steps move a point of symmetric(50) a few places), each factor on its own
    uniform = any(_plain(f.definition.kind) in ("symmetric", "alternating") and not enumerable(f) for f in gir.factors or (gir,))
    if (
        not too_large
        and not uniform
        and not gir.continuous
        and all(_still(a, d) or _permutes(a) for (k, a), d in zip(acts.items(), domains.values()))
    ):
        for a, d in zip(acts.values(), domains.values()):
            if not _still(a, d):
                _check_word_points(gir, a, d)
        on = {
            k: None if _still(a, d) else _finite_entry(a, d, gir.generators, number, dims)
            for (k, a), d in zip(acts.items(), domains.values())
        }
        return [{"kind": "finite", "name": gir.name, "order": gir.order, **_normal_form(gir), "on": on}]
    out = []
    for f, f_acts in zip(gir.factors or (gir,), factor_actions(spec, gir, domains)):
        kind = _plain(f.definition.kind)
        arithmetic = arithmetic_description(spec, f, domains, number, f_acts) if f is not gir else None
        if arithmetic is not None:
            out.append(arithmetic)
            continue
        if kind in ("symmetric", "alternating") and not enumerable(f):
            whole = _uniform_symmetric(spec, f, domains, dims, f_acts, number)
            if whole is not None:
                if any(a is not None for a in whole["on"].values()):
                    out.append(whole)
                continue
        on = {}
        for k, d in domains.items():
            act = f_acts[k]
            if _still(act, d) or (act is not None and not f.generators and not f.continuous):
                on[k] = None
            elif act is None:
                raise ValueError(f"{f.name} has no action on {spec.domain_name(d)}")
            elif kind in PHYSICS_FACTORS and _plain(act.kind) in ("matrix", "affine"):
                on[k] = physics_entry(kind, act, d, dims)
            elif _plain(act.kind) == "matrix" and kind in ("SO", "O"):
                on[k] = {"shape": dims(d.dims), "matrix": act.matrix_dim}
            elif _plain(act.kind) == "symbolic" and kind == "symmetric":
                on[k] = {"shape": dims(d.dims), "permute": tuple(dict(next(iter(act.ops.values()))[0][1])["dims"])}
            elif not f.continuous and _permutes(act):
                uniform = _uniform_symmetric(spec, f, {k: d}, dims) if _literal_size([act]) > MAX_LITERAL_ENTRIES else None
                if uniform is not None:
                    on[k] = uniform["on"][k]
                else:
                    _check_literal_size(f, [act])
                    _check_word_points(f, act, d)
                    on[k] = _finite_entry(act, d, f.generators, number, dims)
            elif not f.continuous and _plain(act.kind) == "symbolic" and _fixed_event(act, d) is not None:
                if _fixed_event(act, d) > MAX_POINTS:
                    raise ValueError(
                        f"{f.name} acting on {spec.domain_name(d)} ({_fixed_event(act, d):,} positions moved together) is "
                        f"not tabulated: actions on more than {MAX_POINTS:,} positions are not"
                    )
                on[k] = _finite_entry(act, d, f.generators, number, dims)  # ops on fixed trailing dims, per leading index
            elif not f.continuous and _plain(act.kind) == "symbolic" and _symbolic_event(act, d, f):
                on[k] = _finite_entry(act, d, f.generators, number, dims)  # tables per run-time size (runtime/groups.py)
            elif isinstance(d, Tensor) and _positions(d) > MAX_POINTS:
                raise ValueError(
                    f"{f.name} acting on {spec.domain_name(d)} ({_positions(d):,} positions) is not tabulated: actions on"
                    f" more than {MAX_POINTS:,} positions are not, and only symmetric(n), SO(n) and O(n) are drawn"
                    " without a table"
                )
            else:
                raise ValueError(f"sampling {f.name} acting on {spec.domain_name(d)} is not supported")
        if all(a is None for a in on.values()):
            continue  # moves none of the domains
        if kind in PHYSICS_FACTORS:
            out.append(physics_factor(f, on))
        elif kind in ("SO", "O"):
            out.append({"kind": kind, "name": f.name, "n": f.definition.arg, "on": on})
        elif kind == "symmetric" and any(a is not None and "permute" in a for a in on.values()):
            out.append({"kind": "symmetric", "name": f.name, "on": on})
        else:
            out.append({"kind": "finite", "name": f.name, "order": f.order, **_normal_form(f), "on": on})
    return out


def _normal_form(gir) -> dict:
    """``{"steps": [m_1, ...]}`` for a group too large to list whose elements have a normal form (:func:`_steps`:
    cyclic, dihedral, units and their products), so its elements are drawn uniformly (random words of 64 steps in
    a shift by one reach shifts of about +-20 of cyclic(10000)); else nothing."""
    if enumerable(gir):
        return {}
    steps = _steps(gir)
    if steps is None or [g for g, _m in steps] != list(gir.generators):
        return {}
    return {"steps": [m for _g, m in steps]}


def _fixed_event(act, d) -> int | None:
    """Positions of the dims a tensor action's ops move together (from the first dim an op names to the last), when
    those are all fixed and only dims before them are symbolic (they move like channels, ``tensor[N, 3]`` rolled on
    dim 1); else None."""
    if not isinstance(d, Tensor) or not act.ops:
        return None
    touched = []
    for seq in act.ops.values():
        for op, args in seq:
            args = dict(args)
            if op == "permute_dims" and "perm" not in args:
                return None  # symmetric(N)'s own points: no table
            touched += [v for k, v in args.items() if k in ("dim", "i", "j")]
            touched += list(args.get("dims", ()))
    event = d.dims[min(touched) :] if touched else ()
    if not event or not all(isinstance(x, int) for x in event):
        return None
    return math.prod(event)


def _symbolic_event(act, d, gir) -> bool:
    """Whether a listable finite group moves symbolic dims of ``d`` by ops alone (rot90, flip, transpose, roll on
    ``tensor[H, W]``): its elements are enumerated on a probe size and tabulated per size at run time."""
    if not isinstance(d, Tensor) or not act.ops or gir.order is None or gir.order > MAX_TABLE_ORDER:
        return False
    for seq in act.ops.values():
        for op, args in seq:
            if op == "permute_dims" and "perm" not in dict(args):
                return False  # symmetric(N)'s own points: drawn as permutations
    return True


def _positions(d: Tensor) -> int:
    """Entries of a tensor domain with fixed dims (0 when a dim is symbolic)."""
    return math.prod(x for x in d.dims) if all(isinstance(x, int) for x in d.dims) else 0


def describe_group(name: str, factors: list) -> str:
    """One line for a reader: which group, and how each factor is drawn and acts on which domain."""
    parts = []
    for f in factors:
        on = [(k, a) for k, a in f["on"].items() if a is not None]
        title = f["name"] if f["name"] != name or len(factors) > 1 else ""
        if f["kind"] == "finite":
            order = f.get("order")
            how = "every element as a table row" if order and order <= MAX_TABLE_ORDER else "random words in its generators"
            moved = ", ".join(("positions of " if "shape" in a else "values of ") + k for k, a in on)
            size = f" (order {order})" if order else ""
            moves = f"permuting the {moved}" if on else f"leaving {', '.join(f['on'])} unchanged"
            parts.append(f"{title}{size}: {how}, {moves}")
        elif f["kind"] == "constant":
            moved = ", ".join(("positions of " if "shape" in a else "values of ") + k for k, a in on)
            moves = f"permuting the {moved}" if on else f"leaving {', '.join(f['on'])} unchanged"
            parts.append(f": the constant element {f['name']}, {moves}")
        elif f["kind"] == "arithmetic":
            moved = ", ".join(f"values of {k}" for k, _a in on)
            kinds = {m[0] for _k, a in on for m in a["maps"]}
            how = "shifting" if kinds == {1} else "reflecting and shifting" if kinds <= {1, -1} else "v -> a v + b on"
            parts.append(f"{title} (order {f['order']}): a uniform number per element, by arithmetic {how} the {moved}")
        elif f["kind"] in PHYSICS_FACTORS:
            parts.append(describe_physics(f, title))
        elif f["kind"] == "symmetric":
            dims = "; ".join(f"the values of {k}" if "values" in a else f"dims {list(a['permute'])} of {k}" for k, a in on)
            parts.append(f"{title}: uniform {'even ' if f.get('even') else ''}permutations of {dims}")
        else:
            dims = "; ".join(
                (f"dims {tuple(a['matrix'])} of {k}" if isinstance(a["matrix"], tuple | list) else f"dim {a['matrix']} of {k}")
                for k, a in on
            )
            parts.append(f"{title} = {f['kind']}({f['n']}): Haar matrices on {dims}")
    if len(parts) == 1 and parts[0].startswith((" ", ":")):  # the group itself: "D4 (order 8): ..."
        return name + parts[0]
    if len(parts) == 1:  # one factor of another name: "G = H (order 2): ..."
        return f"{name} = {parts[0]}"
    product = " x ".join(f["name"] for f in factors)
    return f"{name} = {product}, " + "; then ".join(parts)


def _domain_keys(spec, domains: list) -> dict:
    keys = {}
    for d in domains:
        base = key = spec.domain_name(d)
        i = 1
        while key in keys:
            i += 1
            key = f"{base}_{i}"
        keys[key] = d
    return keys


def draw_group(ls: LawScope, var: str, every: Name | None = None, canonical: bool = False) -> Draw:
    """Elements of the variable's group per example, drawn by the law's ``rt.GroupSampler``.

    ``every``: element ``i`` for copy ``i``, each example copied per element
    (exact symmetrization). ``canonical``: a translating group's elements center
    the inputs (``SAMPLER.canonical``; exact in the translations). The term's ``V("elem", ...)`` maps each domain to
    ``(sampler, elements, key)`` for :mod:`.actions`.
    """
    v = ls.law.variables[var]
    gir = ls.spec.ir.group(v.group)
    uniq = []
    for node, _g, d in ls.law.acts:
        if isinstance(node.element, ast.Name) and node.element.name == var and d not in uniq:
            uniq.append(d)
    keys = _domain_keys(ls.spec, uniq)
    tables = ls.tables
    try:
        if v.element:  # a constant element 'D4.r' (analysis/constants.py): a sampler of that one element
            # (symmetrize, with every: of its powers, the group it generates)
            powers = element_order(ls.spec, gir, v.element, keys.values()) if every is not None else None
            factors = constant_description(
                ls.spec, gir, v.element, var, keys, number=tables.number, dims=tables.dims, powers=powers
            )
        else:
            factors = group_description(ls.spec, gir, keys, number=tables.number, dims=tables.dims)
        factors = with_scale(factors, ls.law.options.get("scale", 1.0))  # [scale s]: non-compact factors only
    except ValueError as why:
        ls.fail(str(why))
    if not factors and keys:  # a trivial group (symmetric(1)) on the law's domains: one identity element
        factors = [{"kind": "finite", "name": gir.name, "order": 1, "on": {k: None for k in keys}}]
    if not factors:  # the group acts on nothing this law moves (an unused binder): no sampler, nothing to draw
        draw = Draw(var, "group", ls.local(var))
        ls.env[var] = V("elem", draw.local, {})
        ls.draws[var] = draw
        return draw
    part = "_powers" if v.element and every is not None else ""  # symmetrize's group of the constant's powers
    hint = f"SAMPLER_{ls.law.name}_{var}{part}"
    value = rt("GroupSampler", gir.name, as_expr(factors))
    comment = f"law {ls.law.name}, {var} in {describe_group(gir.name, factors)}"
    sampler = Name(tables.constant(("sampler", ls.law.name, var + part), hint, value, comment))
    name = ls.local(var)
    draw = Draw(var, "group", name)
    if len(factors) == 1:
        locals_ = [name]
        elements = name
        draw.shown = [] if v.element else [(var, name)]  # a constant element is the same in every case: not shown
    else:
        locals_ = [Name(ls.scope.ns.create_name(f"{name.id}_{i}")) for i in range(len(factors))]
        elements = TupleE(tuple(locals_))
        draw.shown = [(f"{var}[{i}]", part) for i, part in enumerate(locals_)]
    if len(factors) == 1 and factors[0]["kind"] in ("finite", "arithmetic", "constant") and (v.element or enumerable(gir)):
        comment = f"every element of {gir.name} by number (validation enumerates them)"
        every_number = Index(method(sampler, "every"), Const(0))
        draw.elements = tables.buffer(
            ("elements", ls.law.name, var + part), f"ELEMENTS_{ls.law.name}_{var}{part}", every_number, comment
        )
    if every is not None:
        value = method(sampler, "every", Name("device"), repeat=Name("n"))
    elif canonical and canonicalizes(factors):  # symmetrize: the translations that center the inputs (runtime/physics.py)
        like = {**_like(ls, factors, keys), **canonical_like(ls.env, factors, keys)}
        value = method(sampler, "canonical", ls.n, Name("generator"), Name("device"), like=as_expr(like))
    else:
        like = _like(ls, factors, keys)
        kwargs = {"like": as_expr(like)} if like else {}
        value = method(sampler, "draw", ls.n, Name("generator"), Name("device"), **kwargs)
    target = (TupleE((name,)),) if len(locals_) == 1 else tuple(locals_)  # (g,) = ... or g_0, g_1 = ...
    draw.stmts.append(Assign(target, value))
    ls.env[var] = V("elem", name, {d: (sampler, elements, key) for key, d in keys.items()})
    ls.draws[var] = draw
    return draw


def _like(ls: LawScope, factors: list, keys: dict) -> dict:
    """Tensors of the domains whose symbolic dims size a symmetric factor's permutations."""
    like = {}
    for f in factors:
        if f["kind"] != "symmetric":
            continue
        for key, a in f["on"].items():
            if a is None or key in like:
                continue
            ref = next((val.e for val in ls.env.values() if val.kind == "tensor" and val.domain == keys[key]), None)
            if ref is not None:
                like[key] = ref
        sized = any(a is not None and "values" in a for a in f["on"].values())  # n labels: no tensor needed
        if not sized and not any(k in like for k in f["on"]):
            ls.fail(f"no tensor of {', '.join(f['on'])} to size a permutation of {f['name']}")
    return like
