"""Domain types, model output types, and their resolution from constructor syntax.

Domains are structural: two domains with the same values are the same type
(``domain A = cyclic(5)`` and an inline ``cyclic(5)`` agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

from ..syntax import ast
from ..syntax.unparse import unparse
from .context import Context
from .scope import KIND_WORDS, did_you_mean

__all__ = [
    "extremum_range",
    "graph_name_hint",
    "Cyclic",
    "Units",
    "Range",
    "Labels",
    "Nodes",
    "Tensor",
    "RealDomain",
    "BoolDomain",
    "Domain",
    "ClassOf",
    "Output",
    "eval_int",
    "INT_LIMIT",
    "fits_int64",
    "resolve_domain",
    "resolve_output",
    "describe",
]


@dataclass(frozen=True)
class Cyclic:
    """Z/nZ: values 0..n-1; + - * wrap."""

    n: int

    @property
    def size(self) -> int:
        return self.n

    def __str__(self) -> str:
        return f"cyclic({self.n})"


@dataclass(frozen=True, eq=False)
class Units(Cyclic):
    """units(n): the values of cyclic(n) coprime to n (analysis/units.py); equal to cyclic(n) as a type."""

    def __eq__(self, other) -> bool:
        return isinstance(other, Cyclic) and other.n == self.n

    def __hash__(self) -> int:
        return hash(Cyclic(self.n))

    def __str__(self) -> str:
        return f"units({self.n})"


@dataclass(frozen=True)
class Range:
    """Ordered integers lo..hi-1, no wrap."""

    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo

    def __str__(self) -> str:
        return f"range({self.lo}, {self.hi})"


@dataclass(frozen=True)
class Labels:
    """Finite labels, values 0..n-1 in the order written."""

    labels: tuple

    @property
    def size(self) -> int:
        return len(self.labels)

    def __str__(self) -> str:
        return f"set({', '.join(self.labels)})"


@dataclass(frozen=True)
class Nodes:
    """The vertices of a declared graph, values 0..n-1."""

    graph: str
    n: int

    @property
    def size(self) -> int:
        return self.n

    def __str__(self) -> str:
        return f"nodes({self.graph})"


@dataclass(frozen=True)
class Tensor:
    """A real tensor; each dim is an int or a name bound at run time."""

    dims: tuple

    def __str__(self) -> str:
        return f"tensor[{', '.join(str(d) for d in self.dims)}]"


@dataclass(frozen=True)
class RealDomain:
    """A real number; ``real(lo, hi)`` (both bounds given) is the interval [lo, hi), drawn uniformly in a law."""

    lo: float | None = None
    hi: float | None = None

    @property
    def bounded(self) -> bool:
        return self.lo is not None

    def __str__(self) -> str:
        return "real" if self.lo is None else f"real({_number_text(self.lo)}, {_number_text(self.hi)})"


def graph_name_hint(arg: ast.Expr, use: str) -> str:
    """The hint for a graph written where its name goes: declare it, with the user's own constructor when it is one."""
    written = unparse(arg) if isinstance(arg, ast.Call) else ""
    written = written if written and len(written) <= 60 else "cycle(6)"
    return f"declare 'graph G = {written}' and write {use}(G)"


def _number_text(x) -> str:
    return repr(x) if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class BoolDomain:
    @property
    def size(self) -> int:
        return 2

    def __str__(self) -> str:
        return "bool"


Domain = Union[Cyclic, Range, Labels, Nodes, Tensor, RealDomain, BoolDomain]
FINITE = (Cyclic, Range, Labels, Nodes, BoolDomain)
INTEGER = (Cyclic, Range)


@dataclass(frozen=True)
class ClassOf:
    """A model output: logits over a finite domain."""

    domain: Domain

    def __str__(self) -> str:
        return f"class({self.domain})"


Output = Union[ClassOf, BoolDomain, RealDomain, Tensor]


def describe(domain, name: str | None = None) -> str:
    return f"{name} = {domain}" if name and name != str(domain) else str(domain)


INT_LIMIT = 2**63 - 1  # every compile-time integer, and every size made of them, is at most this in magnitude (int64)


def fits_int64(value: int) -> bool:
    """Whether ``value`` is a signed 64-bit integer other than -2^63 (so its negation is one too)."""
    return -INT_LIMIT <= value <= INT_LIMIT


def eval_int(ctx: Context, expr, what: str, *, allow_dim: bool = False):
    """Evaluate a compile-time integer (literals, params, + - *); None after an error.

    With ``allow_dim`` a bare symbolic dimension evaluates to its name (a str).  A value
    (or any intermediate value) beyond :data:`INT_LIMIT` in magnitude is an error at its span.
    """
    value = _eval_int(ctx, expr, what, allow_dim)
    if isinstance(value, int) and not fits_int64(value):
        ctx.reporter.error(
            f"{what} '{unparse(expr)}' is {_magnitude(value)}, beyond the 64-bit integer limit (2^63 - 1)",
            expr.span,
            "symspec computes with 64-bit integers: use a smaller value",
        )
        return None
    return value


def _magnitude(value: int) -> str:
    """A short rendering of a huge integer: about 2^k."""
    return f"{'-' if value < 0 else ''}about 2^{abs(value).bit_length() - 1}"


def _eval_int(ctx: Context, expr, what: str, allow_dim: bool):
    if isinstance(expr, ast.Int):
        return expr.value
    if isinstance(expr, ast.Name):
        sym = ctx.symbols.lookup(expr.name)
        if sym is not None and sym.kind == "param":
            return ctx.params[expr.name]
        if expr.name in ctx.symbols.dims:
            if allow_dim:
                return expr.name
            ctx.reporter.error(
                f"'{expr.name}' is a symbolic dimension, bound only at run time; {what} needs a compile-time integer",
                expr.span,
                f"declare 'param {expr.name} = ...' to fix its value",
            )
            return None
        if sym is not None:
            ctx.reporter.error(
                f"{what} must be an integer, but '{expr.name}' is {KIND_WORDS[sym.kind]}",
                expr.span,
                "write an integer, a param, or + - * of them",
            )
            return None
        ctx.reporter.error(
            f"unknown name '{expr.name}' in {what}",
            expr.span,
            did_you_mean(expr.name, ctx.symbols.names_of("param") + list(ctx.symbols.dims), "declare it with 'param NAME = INT'"),
            kind="name",
        )
        return None
    if isinstance(expr, ast.Neg):
        v = eval_int(ctx, expr.operand, what)
        return None if v is None else -v
    if isinstance(expr, ast.BinOp):
        a = eval_int(ctx, expr.left, what)
        b = eval_int(ctx, expr.right, what)
        if a is None or b is None:
            return None
        return {"+": a + b, "-": a - b, "*": a * b}[expr.op]
    if isinstance(expr, ast.Real):
        ctx.reporter.error(
            f"{what} must be an integer, not {expr.text}", expr.span, "write an integer, a param, or + - * of them"
        )
        return None
    ctx.reporter.error(f"{what} must be an integer", expr.span, "write an integer, a param, or + - * of them")
    return None


_EXAMPLES = {"cyclic": "cyclic(5)", "range": "range(0, 10)", "nodes": "nodes(G)", "units": "units(7)"}
_DOMAIN_CTORS = ("cyclic", "units", "range", "set", "nodes", "tensor", "real", "bool")


def _positional(ctx: Context, call, name: str, lo: int, hi: int | None = None):
    args = call.args
    for a in args:
        if isinstance(a, ast.KwArg):
            ctx.reporter.error(f"{name}(...) takes no keyword arguments", a.span, f"write them by position: {_EXAMPLES[name]}")
            return None
    hi = lo if hi is None else hi
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        ctx.reporter.error(
            f"{name}(...) takes {want} argument{'s' if hi != 1 else ''}, got {len(args)}",
            call.span,
            f"for example {_EXAMPLES[name]}",
        )
        return None
    return args


def resolve_domain(ctx: Context, expr, *, role: str = "a domain"):
    """Resolve a domain reference or constructor; None after reporting an error."""
    if isinstance(expr, ast.Name):
        sym = ctx.symbols.lookup(expr.name)
        if sym is not None and sym.kind == "domain":
            return ctx.domain_of(expr.name)
        if sym is None and expr.name == "real":
            return RealDomain()
        if sym is None and expr.name == "bool":
            return BoolDomain()
        if sym is not None:
            ctx.reporter.error(
                f"expected {role}, but '{expr.name}' is {KIND_WORDS[sym.kind]}",
                expr.span,
                did_you_mean(expr.name, ctx.symbols.names_of("domain"), "name a domain, or write one: cyclic(5), tensor[3]"),
                kind="name",
            )
            return None
        ctx.reporter.error(
            f"unknown domain '{expr.name}'",
            expr.span,
            did_you_mean(expr.name, ctx.symbols.names_of("domain") + ["real", "bool"], "declare it with 'domain NAME = ...'"),
            kind="name",
        )
        return None
    if isinstance(expr, ast.Index):
        if expr.func.name != "tensor":
            ctx.reporter.error(
                f"unknown domain constructor '{expr.func.name}[...]'", expr.func.span, "tensors are written tensor[d1, d2, ...]"
            )
            return None
        if not expr.args:
            ctx.reporter.error("tensor[...] needs at least one dimension", expr.span, "write tensor[3] for a vector")
            return None
        dims = []
        for d in expr.args:
            v = eval_int(ctx, d, "a tensor dimension", allow_dim=True) if not isinstance(d, ast.KwArg) else None
            if isinstance(d, ast.KwArg):
                ctx.reporter.error("tensor dimensions are plain integers or names", d.span, "write tensor[3, 4] or tensor[N, 3]")
            if v is None:
                return None
            if isinstance(v, int) and v < 1:
                ctx.reporter.error(f"a tensor dimension must be positive, got {v}", d.span, "a dimension is a size: 1 or more")
                return None
            dims.append(v)
        fixed = [d for d in dims if isinstance(d, int)]
        if fixed and math.prod(fixed) > INT_LIMIT:
            ctx.reporter.error(
                f"{unparse(expr)} has {_magnitude(math.prod(fixed))} entries, beyond the 64-bit integer limit (2^63 - 1)",
                expr.span,
                "use smaller dimensions",
            )
            return None
        return Tensor(tuple(dims))
    if isinstance(expr, ast.Call):
        name = expr.func.name
        if name == "cyclic":
            args = _positional(ctx, expr, "cyclic", 1)
            if args is None:
                return None
            n = eval_int(ctx, args[0], "the modulus of cyclic(n)")
            if n is None:
                return None
            if n < 1:
                ctx.reporter.error(f"cyclic(n) needs n >= 1, got {n}", args[0].span, "cyclic(n) holds 0..n-1, so n is 1 or more")
                return None
            return Cyclic(n)
        if name == "units":  # the units of Z/nZ (analysis/units.py): n in 1..1,000,000
            args = _positional(ctx, expr, "units", 1)
            n = eval_int(ctx, args[0], "the modulus of units(n)") if args is not None else None
            if n is None:
                return None
            if not 1 <= n <= 1_000_000:
                hint = "units(n) holds the units of Z/nZ, so n is 1 or more" if n < 1 else "use a smaller modulus"
                ctx.reporter.error(f"units(n) needs 1 <= n <= 1000000, got {n}", args[0].span, hint)
                return None
            return Units(n)
        if name == "range":
            args = _positional(ctx, expr, "range", 1, 2)
            if args is None:
                return None
            bounds = [eval_int(ctx, a, "a range bound") for a in args]
            if any(b is None for b in bounds):
                return None
            lo, hi = (0, bounds[0]) if len(bounds) == 1 else bounds
            if hi <= lo:
                ctx.reporter.error(f"range({lo}, {hi}) is empty", expr.span, "range(lo, hi) holds lo..hi-1; hi must exceed lo")
                return None
            if hi - lo > INT_LIMIT:
                ctx.reporter.error(
                    f"range({lo}, {hi}) has {hi - lo} values, beyond the 64-bit integer limit (2^63 - 1)",
                    expr.span,
                    "symspec computes with 64-bit integers: use a narrower range",
                )
                return None
            return Range(lo, hi)
        if name == "set":
            labels = []
            seen = set()  # membership in a set: a list made 10^5 labels take minutes (quadratic)
            for a in expr.args:
                if not isinstance(a, ast.Name):
                    ctx.reporter.error("set(...) lists labels, which are names", a.span, "write set(red, green, blue)")
                    return None
                if a.name in seen:
                    ctx.reporter.error(f"label '{a.name}' appears twice in set(...)", a.span, "list each label once")
                    return None
                seen.add(a.name)
                labels.append(a.name)
            if not labels:
                ctx.reporter.error("set(...) needs at least one label", expr.span, "write set(red, green, blue)")
                return None
            return Labels(tuple(labels))
        if name == "nodes":
            args = _positional(ctx, expr, "nodes", 1)
            if args is None:
                return None
            g = args[0]
            if not isinstance(g, ast.Name):
                ctx.reporter.error("nodes(G) takes the name of a graph", g.span, graph_name_hint(g, "nodes"))
                return None
            graph = ctx.graph_ref(g)
            if graph is None:
                return None
            return Nodes(g.name, graph.num_nodes)
        if name == "real" and expr.args:
            return _real_interval(ctx, expr)
        if name in ("real", "bool", "tensor"):
            ctx.reporter.error(f"'{name}' takes no arguments here", expr.span, "write real, bool or tensor[d1, ...]")
            return None
        if name == "class":
            ctx.reporter.error(f"class(...) is a model output type, not {role}", expr.span, "use it after '->' in a model")
            return None
        ctx.reporter.error(
            f"unknown domain constructor '{name}'",
            expr.func.span,
            did_you_mean(
                name, _DOMAIN_CTORS, "domains are cyclic(n), range(lo, hi), set(...), nodes(G), tensor[...], real, bool"
            ),
        )
        return None
    ctx.reporter.error(
        f"expected {role}", expr.span, "domains are cyclic(n), range(lo, hi), set(...), nodes(G), tensor[...], real, bool"
    )
    return None


def _real_bound(ctx: Context, expr):
    """A bound of ``real(lo, hi)``: a number (integer or real literal, a param, or its negation); None after an error."""
    if isinstance(expr, ast.Neg):
        v = _real_bound(ctx, expr.operand)
        return None if v is None else -v
    if isinstance(expr, ast.Real):
        return expr.value
    if isinstance(expr, ast.BinOp) and _mentions_real(expr):  # real(0, 0.5 * m): + - * on floats
        left, right = _real_bound(ctx, expr.left), _real_bound(ctx, expr.right)
        if left is None or right is None:
            return None
        return {"+": left + right, "-": left - right, "*": left * right}[expr.op]
    if isinstance(expr, ast.Int | ast.Name | ast.BinOp):
        return eval_int(ctx, expr, "a bound of real(lo, hi)")
    ctx.reporter.error(
        f"a bound of real(lo, hi) must be a number, not '{unparse(expr)}'", expr.span, "write real(0, 1) or real(-0.5, 2.5)"
    )
    return None


def _mentions_real(expr) -> bool:
    """Whether an arithmetic bound has a real literal in it (it is then computed in floats)."""
    if isinstance(expr, ast.Real):
        return True
    if isinstance(expr, ast.BinOp):
        return _mentions_real(expr.left) or _mentions_real(expr.right)
    return isinstance(expr, ast.Neg) and _mentions_real(expr.operand)


def _real_interval(ctx: Context, expr):
    """``real(lo, hi)``: the interval [lo, hi) of reals (finite bounds, lo < hi); None after an error."""
    args = expr.args
    if len(args) != 2 or any(isinstance(a, ast.KwArg) for a in args):
        ctx.reporter.error(
            f"real(lo, hi) takes 2 bounds by position, got {unparse(expr)}", expr.span, "write real for any real, or real(0, 1)"
        )
        return None
    lo, hi = (_real_bound(ctx, a) for a in args)
    if lo is None or hi is None:
        return None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        ctx.reporter.error(f"{unparse(expr)} needs finite bounds", expr.span, "write real for an unbounded real")
        return None
    if not lo < hi:
        ctx.reporter.error(
            f"{unparse(expr)} is empty: its lower bound must be less than its upper bound",
            expr.span,
            "real(lo, hi) holds the reals from lo up to hi: write real(1, 2)",
        )
        return None
    return RealDomain(lo, hi)


def resolve_output(ctx: Context, expr):
    """Resolve a model's output type: class(D), class(n), bool, real or a tensor domain."""
    if isinstance(expr, ast.Call) and expr.func.name == "class":
        if len(expr.args) != 1 or isinstance(expr.args[0], ast.KwArg):
            ctx.reporter.error("class(...) takes one domain or a number of classes", expr.span, "write class(Zp) or class(10)")
            return None
        arg = expr.args[0]
        if (
            isinstance(arg, ast.Int)
            or isinstance(arg, ast.BinOp)
            or (
                isinstance(arg, ast.Name)
                and ctx.symbols.values.get(arg.name) is not None
                and ctx.symbols.values[arg.name].kind == "param"
            )
        ):
            n = eval_int(ctx, arg, "the number of classes")
            if n is None:
                return None
            if n < 1:
                ctx.reporter.error(
                    f"class(n) needs n >= 1, got {n}", arg.span, "class(n) has the classes 0..n-1, so n is 1 or more"
                )
                return None
            return ClassOf(Range(0, n))
        domain = resolve_domain(ctx, arg, role="a finite domain")
        if domain is None:
            return None
        if isinstance(domain, Units):  # units(n) is a domain of law variables (analysis/units.py)
            ctx.reporter.error(
                f"a model returns classes of cyclic({domain.n}), not {domain}", arg.span, f"write class(cyclic({domain.n}))"
            )
            return None
        if not isinstance(domain, FINITE):
            ctx.reporter.error(
                f"class(...) needs a finite domain, but {describe(domain)} is not finite",
                arg.span,
                "a real-valued output is written '-> real' or '-> tensor[...]'",
            )
            return None
        return ClassOf(domain)
    domain = resolve_domain(ctx, expr, role="an output type")
    if domain is None:
        return None
    if isinstance(domain, FINITE) and not isinstance(domain, BoolDomain):
        ctx.reporter.error(
            f"a model cannot return raw values of the finite domain {domain}",
            expr.span,
            f"return logits over it with 'class({unparse(expr)})'",
        )
        return None
    return domain


def extremum_range(name: str, bounds: list) -> Range:
    """The integers abs/min/max take when each argument i ranges over ``range(*bounds[i])`` (no wrap-around)."""
    if name == "abs":
        lo, hi = bounds[0]
        top = max(abs(lo), abs(hi - 1))
        bottom = 0 if lo <= 0 < hi else min(abs(lo), abs(hi - 1))
        return Range(bottom, top + 1)
    pick = min if name == "min" else max
    return Range(pick(b[0] for b in bounds), pick(b[1] - 1 for b in bounds) + 1)
