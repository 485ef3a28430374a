"""Graphs, groups, actions and transforms, as declared (validated, not yet built).

Building the concrete graphs (networkx) and groups (sympy) is the job of the
group analysis; here we check that every constructor exists, takes the
right arguments, and refers to things that exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..errors import Span
from ..syntax import ast
from .context import Context
from .domains import Cyclic, Tensor, describe, eval_int
from .scope import did_you_mean

__all__ = [
    "GraphDef",
    "GroupDef",
    "TransformDef",
    "ActionDef",
    "resolve_graph",
    "resolve_group",
    "resolve_action",
    "GRAPH_CTORS",
    "GROUP_FAMILIES",
    "BLOCK_TRANSFORMS",
    "BY_TRANSFORMS",
]

MAX_GRAPH_NODES = 2_000_000


@dataclass(frozen=True)
class GraphDef:
    """A declared graph: constructor, integer arguments, node count (and edges for edges(...))."""

    name: str
    kind: GraphKind
    args: tuple
    num_nodes: int
    edges: tuple = ()
    span: Span | None = None


GroupKind = Literal["cyclic", "dihedral", "symmetric", "alternating", "SO", "O", "automorphisms", "presentation", "product"]
GraphKind = Literal["grid", "cycle", "path", "complete", "hypercube", "petersen", "cylinder", "torus", "edges"]


@dataclass(frozen=True)
class GroupDef:
    """A declared group: a family with its argument, a presentation, or a direct product."""

    name: str
    kind: GroupKind
    arg: object = None  # int n, a symbolic dim name, or a graph name
    generators: tuple = ()
    relators: tuple = ()
    factors: tuple = ()
    span: Span | None = None

    @property
    def continuous(self) -> bool:
        return self.kind in ("SO", "O") or any(f.continuous for f in self.factors)

    def __str__(self) -> str:
        if self.kind == "presentation":
            return f"<{', '.join(self.generators)} | ...>"
        if self.kind == "product":
            return " x ".join(f.name or str(f) for f in self.factors)
        return f"{self.kind}({self.arg})"


@dataclass(frozen=True)
class TransformDef:
    """A transform with its arguments resolved to ints or int tuples."""

    name: str
    args: tuple  # of (name, value)
    span: Span | None = None

    def arg(self, name: str):
        return dict(self.args)[name]

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={_value_text(v)}" for k, v in self.args)
        return f"{self.name}({inner})" if self.args else self.name


def _value_text(v) -> str:
    return "(" + ", ".join(map(str, v)) + ")" if isinstance(v, tuple) else str(v)


@dataclass(frozen=True)
class ActionDef:
    group: str
    domain: str
    maps: tuple = ()  # of (generator, TransformDef) for presentations
    by: TransformDef | None = None
    span: Span | None = None


REQUIRED = object()

# name -> (minimum, maximum) count of integer arguments
GRAPH_CTORS = {
    "grid": (1, 8),
    "cylinder": (2, 2),
    "torus": (2, 2),
    "cycle": (1, 1),
    "path": (1, 1),
    "complete": (1, 1),
    "hypercube": (1, 1),
    "petersen": (0, 0),
    "edges": (1, None),
}
GRAPH_EXAMPLES = {
    "grid": "grid(7, 7)",
    "cylinder": "cylinder(3, 5)",
    "torus": "torus(4, 4)",
    "cycle": "cycle(6)",
    "path": "path(5)",
    "complete": "complete(4)",
    "hypercube": "hypercube(3)",
    "petersen": "petersen()",
    "edges": "edges(0-1, 1-2, 2-0)",
}
GROUP_FAMILIES = ("cyclic", "dihedral", "symmetric", "alternating", "SO", "O", "automorphisms")

# transform -> ordered (parameter, kind, default); kind: int | ints | pair | perm
BLOCK_TRANSFORMS = {
    "rot90": (("dims", "pair", (-2, -1)),),
    "flip": (("dim", "int", -1),),
    "roll": (("shift", "int", 1), ("dim", "int", REQUIRED)),
    "permute": (("perm", "perm", REQUIRED), ("dim", "int", 0)),
    "transpose": (("i", "int", REQUIRED), ("j", "int", REQUIRED)),
    "negate": (),
    "shift": (("k", "int", 1),),
    "scale": (("u", "int", REQUIRED),),
}
BY_TRANSFORMS = {
    "permute": (("dims", "ints", (0,)),),
    "roll": (("dim", "int", 0),),
    "matrix": (("dim", "int", -1),),
    "shift": (),
    "rot90": (("dims", "pair", (-2, -1)),),
}
# which families each `by` transform can express
BY_FAMILIES = {
    "permute": ("symmetric", "alternating", "automorphisms"),
    "roll": ("cyclic",),
    "matrix": ("SO", "O"),
    "shift": ("cyclic", "dihedral"),
    "rot90": ("dihedral",),
}
CYCLIC_TRANSFORMS = ("negate", "shift", "scale")


# ---- graphs ---------------------------------------------------------------------


def resolve_graph(ctx: Context, decl: ast.GraphDecl) -> GraphDef | None:
    expr = decl.ctor
    name = decl.name.name
    if isinstance(expr, ast.Name) and expr.name in GRAPH_CTORS:
        expr = ast.Call(expr.span, ast.Ident(expr.span, expr.name), ())
    if not isinstance(expr, ast.Call):
        ctx.reporter.error("expected a graph constructor", expr.span, "graphs are " + ", ".join(f"{g}(...)" for g in GRAPH_CTORS))
        return None
    kind = expr.func.name
    if kind not in GRAPH_CTORS:
        ctx.reporter.error(
            f"unknown graph constructor '{kind}'",
            expr.func.span,
            did_you_mean(kind, GRAPH_CTORS, "graphs are " + ", ".join(GRAPH_CTORS)),
        )
        return None
    lo, hi = GRAPH_CTORS[kind]
    args = expr.args
    if any(isinstance(a, ast.KwArg) for a in args):
        ctx.reporter.error(
            f"{kind}(...) takes no keyword arguments", expr.span, f"write its sizes by position: {GRAPH_EXAMPLES[kind]}"
        )
        return None
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = str(lo) if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
        ctx.reporter.error(
            f"{kind}(...) takes {want} argument{'s' if hi != 1 else ''}, got {len(args)}",
            expr.span,
            f"for example {GRAPH_EXAMPLES[kind]}",
        )
        return None
    if kind == "edges":
        return _edges_graph(ctx, name, expr, decl.span)
    values = []
    for a in args:
        v = eval_int(ctx, a, f"an argument of {kind}(...)")
        if v is None:
            return None
        values.append(v)
    minimum = {"cycle": 3, "hypercube": 1}.get(kind, 1)
    if kind in ("cylinder", "torus"):
        minimum = 1
    for a, v in zip(args, values):
        if v < minimum:
            ctx.reporter.error(
                f"{kind}(...) needs arguments >= {minimum}, got {v}", a.span, f"for example {GRAPH_EXAMPLES[kind]}"
            )
            return None
    if kind == "torus" and min(values) < 3 or kind == "cylinder" and values[1] < 3:
        ctx.reporter.error(f"{kind}(...) needs each wrapped side >= 3", expr.span, f"for example {GRAPH_EXAMPLES[kind]}")
        return None
    if kind == "hypercube" and values[0] > 21:
        ctx.reporter.error(f"hypercube({values[0]}) has 2^{values[0]} nodes, too many", expr.span)
        return None
    if kind in ("grid", "cylinder", "torus"):
        count = math.prod(values)
    elif kind == "hypercube":
        count = 2 ** values[0]
    elif kind == "petersen":
        count = 10
    else:
        count = values[0]
    if count > MAX_GRAPH_NODES:
        written = f"{kind}({', '.join(map(str, values))})"
        ctx.reporter.error(
            f"{written} has {count} nodes; symspec handles at most {MAX_GRAPH_NODES}",
            expr.span,
            "symspec builds every graph in memory: declare a smaller one",
        )
        return None
    return GraphDef(name, kind, tuple(values), count, (), decl.span)


def _edges_graph(ctx: Context, name: str, expr: ast.Call, span: Span) -> GraphDef | None:
    edges = []
    seen = set()
    for a in expr.args:
        if not (isinstance(a, ast.BinOp) and a.op == "-"):
            ctx.reporter.error("an edge is written u-v with integer nodes", a.span, "write edges(0-1, 1-2, 2-0)")
            return None
        u = eval_int(ctx, a.left, "an edge's node")
        v = eval_int(ctx, a.right, "an edge's node")
        if u is None or v is None:
            return None
        if u < 0 or v < 0:
            ctx.reporter.error("graph nodes are numbered from 0", a.span, "number the nodes 0, 1, 2, ...: edges(0-1, 1-2)")
            return None
        if u == v:
            ctx.reporter.error(f"edge {u}-{v} is a self-loop", a.span, "shortest-path graphs have no self-loops")
            return None
        key = (min(u, v), max(u, v))
        if key in seen:
            ctx.reporter.warning(f"edge {u}-{v} is listed twice", a.span)
            continue
        seen.add(key)
        edges.append((u, v))
    count = 1 + max(max(e) for e in edges)
    if count > MAX_GRAPH_NODES:
        ctx.reporter.error(
            f"edges(...) names node {count - 1}; symspec handles at most {MAX_GRAPH_NODES} nodes",
            expr.span,
            "the nodes of edges(...) are 0 .. the largest named: number them from 0 without gaps",
        )
        return None
    return GraphDef(name, "edges", (), count, tuple(edges), span)


# ---- groups ---------------------------------------------------------------------


def resolve_group(ctx: Context, expr, name: str) -> GroupDef | None:
    """Resolve a group expression (reference, family, presentation, product)."""
    if isinstance(expr, ast.Name):
        if expr.name in GROUP_FAMILIES or expr.name == "petersen":
            ctx.reporter.error(f"{expr.name} needs an argument", expr.span, f"write {expr.name}(n)")
            return None
        target = ctx.group_ref(expr)
        if target is None:
            return None
        return target
    if isinstance(expr, ast.GroupProduct):
        factors = []
        for f in expr.factors:
            g = resolve_group(ctx, f, "")
            if g is None:
                return None
            factors.append(g)
        return GroupDef(name, "product", None, (), (), tuple(factors), expr.span)
    if isinstance(expr, ast.Presentation):
        return _presentation(ctx, expr, name)
    if isinstance(expr, ast.Call):
        return _family(ctx, expr, name)
    ctx.reporter.error(
        "expected a group", expr.span, "groups are families like cyclic(n), presentations <a | a^2>, or products A x B"
    )
    return None


def _family(ctx: Context, expr: ast.Call, name: str) -> GroupDef | None:
    kind = expr.func.name
    if kind not in GROUP_FAMILIES:
        ctx.reporter.error(
            f"unknown group family '{kind}'",
            expr.func.span,
            did_you_mean(
                kind, GROUP_FAMILIES, "groups are " + ", ".join(f"{g}(n)" for g in GROUP_FAMILIES[:-1]) + ", automorphisms(G)"
            ),
        )
        return None
    if len(expr.args) != 1 or isinstance(expr.args[0], ast.KwArg):
        ctx.reporter.error(f"{kind}(...) takes one argument, got {len(expr.args)}", expr.span)
        return None
    arg = expr.args[0]
    if kind == "automorphisms":
        if not isinstance(arg, ast.Name):
            ctx.reporter.error(
                "automorphisms(G) takes the name of a graph", arg.span, "declare 'graph G = cycle(6)' and write automorphisms(G)"
            )
            return None
        if ctx.graph_ref(arg) is None:
            return None
        return GroupDef(name, kind, arg.name, span=expr.span)
    allow_dim = kind in ("symmetric", "alternating")
    n = eval_int(ctx, arg, f"the size of {kind}(n)", allow_dim=allow_dim)
    if n is None:
        return None
    if isinstance(n, int):
        low = {"SO": 1, "O": 1, "dihedral": 1}.get(kind, 1)
        if n < low:
            ctx.reporter.error(f"{kind}(n) needs n >= {low}, got {n}", arg.span)
            return None
        if kind in ("SO", "O") and n > 64:
            ctx.reporter.error(
                f"{kind}({n}) is too large; symspec supports SO(n) and O(n) up to n = 64",
                arg.span,
                "rotations of more than 64 coordinates are not supported: use n <= 64",
            )
            return None
    return GroupDef(name, kind, n, span=expr.span)


def _word_generators(word: ast.Word):
    for p in word.powers:
        if isinstance(p, ast.Int):
            yield p
        elif isinstance(p.base, ast.Word):
            yield from _word_generators(p.base)
        else:
            yield p.base


def _presentation(ctx: Context, expr: ast.Presentation, name: str) -> GroupDef | None:
    gens = []
    ok = True
    for g in expr.generators:
        if g.name in gens:
            ctx.reporter.error(f"generator '{g.name}' is listed twice", g.span, "list each generator once before '|'")
            ok = False
        gens.append(g.name)
    for rel in expr.relators:
        for word in (rel.lhs, rel.rhs):
            if word is None:
                continue
            for sym in _word_generators(word):
                if isinstance(sym, ast.Int):
                    ctx.reporter.error(
                        f"{sym.value} is not a group element", sym.span, "the identity is written 1; powers are written r^4"
                    )
                    ok = False
                elif sym.name not in gens:
                    joined = "".join(gens)
                    if len(sym.name) > 1 and all(ch in gens for ch in sym.name):
                        hint = f"write products with spaces: '{' '.join(sym.name)}'"
                    else:
                        hint = did_you_mean(sym.name, gens)
                    ctx.reporter.error(
                        f"'{sym.name}' is not a generator of this presentation (generators: {', '.join(gens) or joined})",
                        sym.span,
                        hint,
                        kind="name",
                    )
                    ok = False
    if not ok:
        return None
    return GroupDef(name, "presentation", None, tuple(gens), tuple(expr.relators), (), expr.span)


# ---- transforms and actions ------------------------------------------------------


def _value(ctx: Context, expr, kind: str, what: str):
    if kind == "int":
        return eval_int(ctx, expr, what)
    items = expr.items if isinstance(expr, ast.Tuple) else (expr,) if kind == "ints" else None
    if items is None:
        hint = "write a tuple like (0, 1)" if kind != "pair" else "write dims=(-2, -1)"
        ctx.reporter.error(f"{what} must be a tuple of integers", expr.span, hint)
        return None
    values = []
    for it in items:
        v = eval_int(ctx, it, what)
        if v is None:
            return None
        values.append(v)
    if kind == "pair" and len(values) != 2:
        ctx.reporter.error(f"{what} must name exactly two dims, got {len(values)}", expr.span, "write dims=(-2, -1)")
        return None
    return tuple(values)


def _transform(ctx: Context, expr, table: dict, context: str) -> TransformDef | None:
    if isinstance(expr, ast.Name):
        call_name, args, span = expr.name, (), expr.span
        name_span = expr.span
    elif isinstance(expr, ast.Call):
        call_name, args, span = expr.func.name, expr.args, expr.span
        name_span = expr.func.span
    else:
        ctx.reporter.error("expected a transform", expr.span, "transforms are " + ", ".join(table))
        return None
    if call_name not in table:
        other = BLOCK_TRANSFORMS if table is BY_TRANSFORMS else BY_TRANSFORMS
        if call_name in other:
            hint = (
                f"'{call_name}' maps one generator; give a presentation's generators transforms in an action block"
                if table is BY_TRANSFORMS
                else f"'{call_name}' describes a whole family group; use 'action G on D by {call_name}(...)'"
            )
        else:
            hint = did_you_mean(call_name, table, f"{context} transforms are " + ", ".join(table))
        ctx.reporter.error(f"unknown transform '{call_name}' {context}", name_span, hint)
        return None
    params = table[call_name]
    names = [p[0] for p in params]
    given: dict[str, object] = {}
    positional = [a for a in args if not isinstance(a, ast.KwArg)]
    keywords = [a for a in args if isinstance(a, ast.KwArg)]
    if any(isinstance(a, ast.KwArg) for a in args[: len(positional)]) and positional:
        ctx.reporter.error(
            "positional arguments must come before keyword arguments", span, "put the positional ones first: roll(1, dim=0)"
        )
        return None
    if len(positional) > len(params):
        ctx.reporter.error(
            f"{call_name} takes at most {len(params)} argument{'s' if len(params) != 1 else ''}, got {len(positional)}", span
        )
        return None
    for (pname, kind, _), a in zip(params, positional):
        given[pname] = (a, kind)
    for kw in keywords:
        pname = kw.name.name
        if pname not in names:
            ctx.reporter.error(
                f"{call_name} has no argument '{pname}'",
                kw.name.span,
                did_you_mean(pname, names, f"its arguments are: {', '.join(names) or 'none'}"),
            )
            return None
        if pname in given:
            ctx.reporter.error(f"argument '{pname}' is given twice", kw.span, "give each argument once")
            return None
        given[pname] = (kw.value, dict((p[0], p[1]) for p in params)[pname])
    resolved = []
    for pname, kind, default in params:
        if pname in given:
            node, _ = given[pname]
            v = _value(ctx, node, kind if kind != "perm" else "ints", f"{call_name}'s {pname}")
            if v is None:
                return None
            resolved.append((pname, v))
        elif default is REQUIRED:
            ctx.reporter.error(
                f"{call_name} needs its argument '{pname}'", span, f"write {call_name}({', '.join(f'{n}=...' for n in names)})"
            )
            return None
        else:
            resolved.append((pname, default))
    return TransformDef(call_name, tuple(resolved), span)


def _dim_size(ctx: Context, domain: Tensor, dim: int, span: Span, what: str):
    rank = len(domain.dims)
    if not -rank <= dim < rank:
        ctx.reporter.error(
            f"{what} {dim} is out of range for {domain}, which has {rank} dim{'s' if rank != 1 else ''}",
            span,
            f"its dims are 0..{rank - 1}, or -{rank}..-1 from the end",
        )
        return REQUIRED
    return domain.dims[dim]


def _check_transform_on(ctx: Context, t: TransformDef, domain, domain_name: str, group: GroupDef | None) -> bool:
    """Check that transform ``t`` can act on ``domain``; for `by` forms, also fit the family group."""
    span = t.span
    if t.name in CYCLIC_TRANSFORMS:
        if not isinstance(domain, Cyclic):
            ctx.reporter.error(
                f"{t.name} acts on cyclic domains, but {describe(domain, domain_name)} is not cyclic",
                span,
                _by_hint(ctx, group, domain, group.name, domain_name)
                if group is not None
                else ("tensor domains use rot90, flip, roll, permute or transpose" if isinstance(domain, Tensor) else None),
            )
            return False
        if group is not None and group.kind in ("cyclic", "dihedral") and isinstance(group.arg, int) and group.arg != domain.n:
            ctx.reporter.error(
                f"{group.kind}({group.arg}) cannot act by shift on {domain}: the sizes differ",
                span,
                f"{group.kind}({domain.n}) acts by shift on {domain}",
            )
            return False
        if t.name == "scale" and math.gcd(t.arg("u"), domain.n) != 1:
            ctx.reporter.error(
                f"scale({t.arg('u')}) is not invertible on {domain}: {t.arg('u')} and {domain.n} share a factor",
                span,
                "a scaling acts as a symmetry only for units u with gcd(u, n) = 1",
            )
            return False
        return True
    if not isinstance(domain, Tensor):
        ctx.reporter.error(
            f"{t.name} acts on tensor dims, but {describe(domain, domain_name)} is not a tensor domain",
            span,
            _by_hint(ctx, group, domain, group.name, domain_name)
            if group is not None
            else ("cyclic domains use shift, scale or negate" if isinstance(domain, Cyclic) else None),
        )
        return False
    if t.name in ("rot90", "transpose"):
        dims = t.arg("dims") if t.name == "rot90" else (t.arg("i"), t.arg("j"))
        sizes = [_dim_size(ctx, domain, d, span, "dim") for d in dims]
        if REQUIRED in sizes:
            return False
        rank = len(domain.dims)
        if dims[0] % rank == dims[1] % rank:
            pairs = [(i, j) for j in range(rank) for i in range(j) if domain.dims[i] == domain.dims[j]]
            ctx.reporter.error(
                f"{t.name} needs two different dims, got {dims[0]} and {dims[1]}",
                span,
                (
                    f"write {t.name}(dims=({pairs[-1][0]}, {pairs[-1][1]}))"
                    if t.name == "rot90"
                    else f"write transpose({pairs[-1][0]}, {pairs[-1][1]})"
                )
                if pairs
                else f"no two dims of {domain} have equal sizes",
            )
            return False
        if sizes[0] != sizes[1]:
            pairs = [(i, j) for j in range(rank) for i in range(j) if domain.dims[i] == domain.dims[j]]
            if not pairs:
                hint = f"only square slices can be rotated or transposed onto themselves, and no two dims of {domain} are equal"
            elif t.name == "rot90":
                hint = (
                    f"dims {pairs[-1][0]} and {pairs[-1][1]} have equal sizes: write rot90(dims=({pairs[-1][0]}, {pairs[-1][1]}))"
                )
            else:
                hint = f"dims {pairs[-1][0]} and {pairs[-1][1]} have equal sizes: write transpose({pairs[-1][0]}, {pairs[-1][1]})"
            ctx.reporter.error(
                f"{t.name} over dims {dims} of {domain} needs equal sizes, got {sizes[0]} and {sizes[1]}", span, hint
            )
            return False
        return True
    if t.name in ("flip", "roll", "matrix"):
        size = _dim_size(ctx, domain, t.arg("dim"), span, "dim")
        if size is REQUIRED:
            return False
        if group is not None and isinstance(group.arg, int) and isinstance(size, int) and size != group.arg:
            ctx.reporter.error(
                f"{group.kind}({group.arg}) cannot act on dim {t.arg('dim')} of {domain}, which has size {size}",
                span,
                _matching_dims_hint(domain, group.arg, f"{group.kind}({group.arg})", t.name, "dim"),
            )
            return False
        return True
    if t.name == "permute":
        if "perm" in dict(t.args):
            size = _dim_size(ctx, domain, t.arg("dim"), span, "dim")
            if size is REQUIRED:
                return False
            perm = t.arg("perm")
            if not isinstance(size, int):
                ctx.reporter.error(
                    f"permute(perm=...) needs a fixed size, but dim {t.arg('dim')} of {domain} is {size}",
                    span,
                    f"declare 'param {size} = ...' to fix its size",
                )
                return False
            if sorted(perm) != list(range(size)):
                ctx.reporter.error(
                    f"perm {perm} is not a permutation of 0..{size - 1}",
                    span,
                    f"list each of 0..{size - 1} once"
                    + (f", as in perm=({', '.join(str((i + 1) % size) for i in range(size))})" if size <= 8 else ""),
                )
                return False
            return True
        want = group.arg if group is not None else None
        if group is not None and group.kind == "automorphisms":
            graph = ctx.graphs.get(group.arg)  # resolved when the group was
            want = graph.num_nodes if graph is not None else None
        for d in t.arg("dims"):
            size = _dim_size(ctx, domain, d, span, "dim")
            if size is REQUIRED:
                return False
            if want is not None and size != want:
                what = str(group) if group.kind != "automorphisms" else f"{group} (of a graph with {want} nodes)"
                ctx.reporter.error(
                    f"{what} cannot permute dim {d} of {domain}, which has size {size}",
                    span,
                    _matching_dims_hint(domain, want, str(group), "permute", "dims"),
                )
                return False
        return True
    return True  # pragma: no cover - every transform is handled above


def by_transforms(kind: str, n, domain) -> tuple:
    """(the `by` transforms, written out, that let a family of size ``n`` act on ``domain``; what each needs)."""
    dims = tuple(domain.dims) if isinstance(domain, Tensor) else ()
    rank = len(dims)
    sized = [i for i, d in enumerate(dims) if d == n]
    fits, needs = [], []
    for t in (t for t, families in BY_FAMILIES.items() if kind in families):
        if t == "permute":
            if sized:
                fits.append(f"permute(dims=({sized[0]},))")
            needs.append(f"permute needs a tensor dim of size {n}")
        elif t in ("roll", "matrix"):
            if sized:
                fits.append(f"roll(dim={sized[0]})" if t == "roll" else f"matrix(dim={sized[-1] - rank})")
            needs.append(f"{t} needs a tensor dim of size {n}")
        elif t == "shift":
            if isinstance(domain, Cyclic) and domain.n == n:
                fits.append("shift")
            needs.append(f"shift needs the domain cyclic({n})")
        elif t == "rot90" and n == 4:
            pairs = [(i - rank, j - rank) for j in range(rank) for i in range(j) if dims[i] == dims[j]]
            if pairs:
                fits.append(f"rot90(dims=({pairs[-1][0]}, {pairs[-1][1]}))")
            needs.append("rot90 needs two tensor dims of equal size")
    return fits, needs


def _by_hint(ctx: Context, group: GroupDef, domain, group_name: str, domain_name: str) -> str:
    n = group.arg
    if group.kind == "automorphisms":
        graph = ctx.graphs.get(group.arg)
        n = graph.num_nodes if graph is not None else None
    fits, needs = by_transforms(group.kind, n, domain)
    if fits:
        return f"write 'action {group_name} on {domain_name} by " + "' or 'by ".join(fits) + "'"
    return f"{group} cannot act on {describe(domain, domain_name)}: " + "; ".join(needs)


def _matching_dims_hint(domain: Tensor, size, group_text: str, transform: str, key: str) -> str:
    """A hint naming the dims of ``domain`` of the size a family needs, or saying that none has it."""
    rank = len(domain.dims)
    dims = [i for i, d in enumerate(domain.dims) if d == size]
    if not dims:
        return f"no dim of {domain} has size {size}, so {group_text} cannot act on it by {transform}"
    if key == "dims":
        written = "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"
        which = f"dim {dims[0]} has" if len(dims) == 1 else "dims " + ", ".join(map(str, dims)) + " have"
        return f"{which} size {size}: write {transform}(dims={written})"
    if len(dims) == 1 or transform == "matrix":
        pick = dims[-1] - rank if transform == "matrix" else dims[0]
        return f"dim {pick} has size {size}: write {transform}(dim={pick})"
    return "dims " + ", ".join(map(str, dims)) + f" have size {size}: write {transform}(dim={dims[0]}), for one"


def resolve_action(ctx: Context, decl: ast.ActionDecl) -> ActionDef | None:
    group = ctx.group_ref(ast.Name(decl.group.span, decl.group.name))
    domain_sym = ctx.symbols.lookup(decl.domain.name)
    domain = None
    if domain_sym is None or domain_sym.kind != "domain":
        what = "unknown domain" if domain_sym is None else f"'{decl.domain.name}' is not a domain; actions act on domains:"
        ctx.reporter.error(
            f"{what} '{decl.domain.name}'" if domain_sym is None else what + f" '{decl.domain.name}'",
            decl.domain.span,
            did_you_mean(decl.domain.name, ctx.symbols.names_of("domain")),
            kind="name",
        )
    else:
        domain = ctx.domain_of(decl.domain.name)
    if group is None or domain is None:
        return None
    if decl.maps is not None:
        if group.kind != "presentation":
            ctx.reporter.error(
                f"group '{decl.group.name}' is {group} and has no named generators",
                decl.group.span,
                _by_hint(ctx, group, domain, decl.group.name, decl.domain.name)
                if group.kind != "product"
                else "declare actions for each factor of the product",
            )
            return None
        maps = []
        seen: dict[str, Span] = {}
        ok = True
        for m in decl.maps:
            gen = m.generator.name
            if gen not in group.generators:
                ctx.reporter.error(
                    f"'{gen}' is not a generator of {decl.group.name}",
                    m.generator.span,
                    did_you_mean(gen, group.generators, f"its generators are: {', '.join(group.generators)}"),
                    kind="name",
                )
                ok = False
                continue
            if gen in seen:
                ctx.reporter.error(
                    f"generator '{gen}' is mapped twice",
                    m.generator.span,
                    "map each generator once",
                    notes=[(seen[gen], "first mapped here")],
                )
                ok = False
                continue
            seen[gen] = m.generator.span
            t = _transform(ctx, m.transform, BLOCK_TRANSFORMS, "in an action block")
            if t is None or not _check_transform_on(ctx, t, domain, decl.domain.name, None):
                ok = False
                continue
            maps.append((gen, t))
        missing = [g for g in group.generators if g not in seen]
        if missing and ok:
            ctx.reporter.error(
                f"the action of {decl.group.name} on {decl.domain.name} gives no transform for {', '.join(repr(g) for g in missing)}",
                decl.span,
                "add " + ", ".join(f"'{g} -> TRANSFORM'" for g in missing) + " to the block",
            )
            return None
        return ActionDef(decl.group.name, decl.domain.name, tuple(maps), None, decl.span) if ok else None
    if group.kind == "presentation":
        ctx.reporter.error(
            f"group '{decl.group.name}' is a presentation; give each generator a transform",
            decl.group.span,
            f"write 'action {decl.group.name} on {decl.domain.name} {{ "
            + ", ".join(f"{g} -> ..." for g in group.generators)
            + " }'",
        )
        return None
    if group.kind == "product":
        ctx.reporter.error(
            f"group '{decl.group.name}' is a direct product; it acts through its factors",
            decl.group.span,
            "declare an action for each factor instead",
        )
        return None
    t = _transform(ctx, decl.by, BY_TRANSFORMS, "for a family group")
    if t is None:
        return None
    families = BY_FAMILIES[t.name]
    if group.kind not in families or (t.name == "rot90" and group.arg != 4):
        ctx.reporter.error(
            f"{group} cannot act by {t.name}",
            t.span,
            f"{t.name} expresses the action of " + " or ".join(f"{f}(n)" for f in families)
            if t.name != "rot90"
            else "rot90 expresses the action of dihedral(4) on square images",
        )
        return None
    if not _check_transform_on(ctx, t, domain, decl.domain.name, group):
        return None
    return ActionDef(decl.group.name, decl.domain.name, (), t, decl.span)
