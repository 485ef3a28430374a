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
from .domains import eval_int, graph_name_hint
from .scope import did_you_mean

__all__ = [
    "GraphDef",
    "GroupDef",
    "TransformDef",
    "ActionDef",
    "resolve_graph",
    "graph_edge_count",
    "MAX_GRAPH_NODES",
    "MAX_GRAPH_EDGES",
    "resolve_group",
    "GRAPH_CTORS",
    "GROUP_FAMILIES",
    "BLOCK_TRANSFORMS",
    "BY_TRANSFORMS",
    "NONCOMPACT_FAMILIES",
    "MAX_MATRIX_SIZE",
]

MAX_GRAPH_NODES = 200_000  # every graph is built in memory (networkx): bounded in nodes ...
MAX_GRAPH_EDGES = 200_000  # ... and in edges (complete(10000) has 49,995,000)


def graph_edge_count(kind: str, values: list) -> int:
    """The number of edges of a constructor graph, from its arguments alone (nothing built)."""
    if kind in ("grid", "cylinder", "torus"):
        wrap = {"grid": [False] * len(values), "cylinder": [False, True], "torus": [True, True]}[kind]
        total = math.prod(values)
        return sum((total if wrapped else total // v * (v - 1)) for v, wrapped in zip(values, wrap))
    if kind == "cycle":
        return values[0]
    if kind == "path":
        return values[0] - 1
    if kind == "complete":
        return values[0] * (values[0] - 1) // 2
    if kind == "hypercube":
        return values[0] * 2 ** (values[0] - 1)
    if kind == "petersen":
        return 15
    raise ValueError(f"no edge count for {kind}")


@dataclass(frozen=True)
class GraphDef:
    """A declared graph: constructor, integer arguments, node count (and edges for edges(...))."""

    name: str
    kind: GraphKind
    args: tuple
    num_nodes: int
    edges: tuple = ()
    span: Span | None = None


GroupKind = Literal[
    "cyclic",
    "dihedral",
    "symmetric",
    "alternating",
    "units",  # units(n): the multiplicative group of Z/nZ (analysis/units.py)
    "SO",
    "O",
    "SO1",  # SO(1, n): the restricted Lorentz group (docs/language.md, Non-compact groups)
    "O1",  # O(1, n): the full Lorentz group
    "translations",
    "E",
    "SE",
    "automorphisms",
    "presentation",
    "product",
]
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
    alias_of: str = ""  # for 'group K = H': H, whose declared actions K shares

    @property
    def continuous(self) -> bool:
        return self.kind in ("SO", "O", *NONCOMPACT_FAMILIES) or any(f.continuous for f in self.factors)

    @property
    def noncompact(self) -> bool:
        """A Lorentz group, translations(n), E(n) or SE(n) (or a product with one): no Haar measure to draw from."""
        return self.kind in NONCOMPACT_FAMILIES or any(f.noncompact for f in self.factors)

    @property
    def vector_size(self):
        """The size of the dim a family acts on by default: n, or n + 1 for SO(1, n) and O(1, n)."""
        return self.arg + 1 if self.kind in ("SO1", "O1") else self.arg

    def __str__(self) -> str:
        if self.kind in ("SO1", "O1"):
            return f"{self.kind[:-1]}(1, {self.arg})"
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
GROUP_FAMILIES = (
    *("cyclic", "dihedral", "symmetric", "alternating", "units"),
    *("SO", "O", "translations", "E", "SE", "automorphisms"),
)
NONCOMPACT_FAMILIES = ("SO1", "O1", "translations", "E", "SE")
MAX_MATRIX_SIZE = 64  # SO(n), O(n), E(n), SE(n), translations(n) up to n = 64; SO(1, n) and O(1, n) up to n = 63

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
    "matrix": (("dim", "int", -1), ("dims", "ints", ())),  # dims=(-2, -1): the same matrix on each listed dim
    "shift": (),
    "rot90": (("dims", "pair", (-2, -1)),),
    "identity": (),  # any group, any domain: nothing moves
    "scale": (),  # units(n) on cyclic(n): v -> u v (analysis/units.py)
    "translate": (("dim", "int", -1),),  # translations(n): x -> x + t along a dim of size n
    "rigid": (("dim", "int", -1),),  # E(n), SE(n): x -> R x + t along a dim of size n
}
# which families each `by` transform can express
BY_FAMILIES = {
    "permute": ("symmetric", "alternating", "automorphisms"),
    "roll": ("cyclic",),
    "matrix": ("SO", "O", "SO1", "O1", "E", "SE"),  # E(n), SE(n) by matrix: R x alone (directions)
    "shift": ("cyclic", "dihedral"),
    "rot90": ("dihedral",),
    "identity": (),  # every group (checked apart in actions.py)
    "scale": ("units",),
    "translate": ("translations",),
    "rigid": ("E", "SE"),
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
        ctx.reporter.error(
            f"hypercube({values[0]}) has 2^{values[0]} nodes, too many: symspec handles at most {MAX_GRAPH_NODES}",
            expr.span,
            "symspec builds every graph in memory: declare a smaller one",
        )
        return None
    if kind in ("grid", "cylinder", "torus"):
        count = math.prod(values)
    elif kind == "hypercube":
        count = 2 ** values[0]
    elif kind == "petersen":
        count = 10
    else:
        count = values[0]
    written = f"{kind}({', '.join(map(str, values))})"
    if count > MAX_GRAPH_NODES:
        ctx.reporter.error(
            f"{written} has {count} nodes; symspec handles at most {MAX_GRAPH_NODES}",
            expr.span,
            "symspec builds every graph in memory: declare a smaller one",
        )
        return None
    edges = graph_edge_count(kind, values)
    if edges > MAX_GRAPH_EDGES:
        ctx.reporter.error(
            f"{written} has {edges} edges; symspec handles at most {MAX_GRAPH_EDGES}",
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
    if len(edges) > MAX_GRAPH_EDGES:
        ctx.reporter.error(
            f"edges(...) lists {len(edges)} edges; symspec handles at most {MAX_GRAPH_EDGES}",
            expr.span,
            "symspec builds every graph in memory: declare a smaller one",
        )
        return None
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
        # a declared name wins over a family's (group E = P x Rot; the family is E(n))
        if (expr.name in GROUP_FAMILIES or expr.name == "petersen") and ctx.symbols.lookup(expr.name) is None:
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
            # (A x B) x C is A x B x C: a product factor contributes its own factors (a product takes no action of
            # its own, so nothing is lost, and every backend sees leaf factors only)
            factors.extend(g.factors if g.kind == "product" else (g,))
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
                kind,
                GROUP_FAMILIES,
                "groups are " + ", ".join(f"{g}(n)" for g in GROUP_FAMILIES[:-1]) + ", SO(1, n), O(1, n), automorphisms(G)",
            ),
        )
        return None
    if kind in ("SO", "O") and len(expr.args) == 2:
        return _lorentz(ctx, expr, name)
    if len(expr.args) != 1 or isinstance(expr.args[0], ast.KwArg):
        if kind in ("SO", "O"):  # SO(n), or SO(1, n): the Lorentz group
            ctx.reporter.error(
                f"{kind}(...) takes one argument, {kind}(n), or two, {kind}(1, n) (Lorentz), got {len(expr.args)}",
                expr.span,
                f"write {kind}(3) for rotations of 3 coordinates, or {kind}(1, 3) for Lorentz transformations of (t, x, y, z)",
            )
            return None
        ctx.reporter.error(f"{kind}(...) takes one argument, got {len(expr.args)}", expr.span)
        return None
    arg = expr.args[0]
    if kind in NONCOMPACT_FAMILIES:
        return _noncompact(ctx, expr, name)
    if kind == "automorphisms":
        if not isinstance(arg, ast.Name):
            ctx.reporter.error("automorphisms(G) takes the name of a graph", arg.span, graph_name_hint(arg, "automorphisms"))
            return None
        if ctx.graph_ref(arg) is None:
            return None
        return GroupDef(name, kind, arg.name, span=expr.span)
    if kind == "units":  # the units of Z/nZ (analysis/units.py): a fixed n in 1..1,000,000
        n = eval_int(ctx, arg, "the modulus of units(n)")
        if n is not None and not 1 <= n <= 1_000_000:
            hint = "units(n) holds the units of Z/nZ, so n is 1 or more" if n < 1 else "use a smaller modulus"
            ctx.reporter.error(f"units(n) needs 1 <= n <= 1000000, got {n}", arg.span, hint)
            return None
        return None if n is None else GroupDef(name, kind, n, span=expr.span)
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


def _noncompact(ctx: Context, expr: ast.Call, name: str) -> GroupDef | None:
    """``translations(n)``, ``E(n)``, ``SE(n)``: 1 <= n <= MAX_MATRIX_SIZE (a fixed integer)."""
    kind, arg = expr.func.name, expr.args[0]
    n = eval_int(ctx, arg, f"the size of {kind}(n)")
    if n is None:
        return None
    if not 1 <= n <= MAX_MATRIX_SIZE:
        ctx.reporter.error(
            f"{kind}(n) needs 1 <= n <= {MAX_MATRIX_SIZE}, got {n}",
            arg.span,
            f"n is the number of coordinates moved: {kind}(3) acts on tensor[..., 3]",
        )
        return None
    return GroupDef(name, kind, n, span=expr.span)


def _lorentz(ctx: Context, expr: ast.Call, name: str) -> GroupDef | None:
    """``SO(1, n)`` / ``O(1, n)``: one time coordinate, first, and n space coordinates (metric diag(+1, -1, ..., -1))."""
    kind = expr.func.name
    if any(isinstance(a, ast.KwArg) for a in expr.args):
        ctx.reporter.error(f"{kind}(p, q) takes no keyword arguments", expr.span, f"write {kind}(1, 3)")
        return None
    p = eval_int(ctx, expr.args[0], f"the signature of {kind}(p, q)")
    q = eval_int(ctx, expr.args[1], f"the signature of {kind}(p, q)")
    if p is None or q is None:
        return None
    if p != 1:
        hint = (
            f"symspec puts time first: write {kind}(1, {p}) (metric diag(+1, -1, ..., -1))"
            if q == 1 and p >= 1
            else f"write {kind}(1, n): one time coordinate and n space coordinates, such as {kind}(1, 3)"
        )
        ctx.reporter.error(
            f"{kind}({p}, {q}) is not supported: symspec's indefinite orthogonal groups are the Lorentz groups "
            f"{kind}(1, n), with one time coordinate",
            expr.span,
            hint,
        )
        return None
    if not 1 <= q <= MAX_MATRIX_SIZE - 1:
        ctx.reporter.error(
            f"{kind}(1, n) needs 1 <= n <= {MAX_MATRIX_SIZE - 1}, got {q}",
            expr.args[1].span,
            f"n is the number of space coordinates: {kind}(1, 3) acts on tensor[..., 4]",
        )
        return None
    return GroupDef(name, kind + "1", q, span=expr.span)


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
