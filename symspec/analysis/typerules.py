"""Typing rules of law arithmetic and relations, as mixins of the law type checker (``typecheck.LawChecker``).

Arithmetic: exact integers (cyclic wrap-around, ranges with their image), class outputs (pushforwards,
convolutions), reals, and the arithmetic builtins abs/min/max.  Relations: which terms ``==``, ``<=``, ...
may compare, exactly or softly.
"""

from __future__ import annotations

from ..errors import Span
from ..syntax import ast
from ..syntax.unparse import unparse
from .domains import (
    INT_LIMIT,
    INTEGER,
    Cyclic,
    Range,
    RealDomain,
    Tensor,
    extremum_range,
    fits_int64,
)
from .terms import Kind, Ty

__all__ = ["ArithmeticRules", "RelationRules", "ARITHMETIC_BUILTINS", "is_integer", "compatible", "broadcast_dims"]

ARITHMETIC_BUILTINS = {"abs": 1, "min": 2, "max": 2}  # name -> arity: exact integers or reals in, the same kind out


def is_integer(domain) -> bool:
    return isinstance(domain, INTEGER)


def compatible(a, b) -> bool:
    """Domains hold the same kind of values for comparing distributions/values."""
    if a == b:
        return True
    if isinstance(a, RealDomain) and isinstance(b, RealDomain):  # real(lo, hi) is a real: bounds only say how to draw
        return True
    return isinstance(a, Range) and isinstance(b, Range)


def broadcast_dims(a: tuple, b: tuple) -> tuple | None:
    """The dims of ``x op y`` for tensors of dims ``a`` and ``b`` under torch broadcasting, or None if they clash.

    Dims are aligned from the last; each pair is equal (the same integer, or the same symbolic name) or one of them
    is 1.  A symbolic dim matches only itself or 1: ``N`` against ``3`` is a clash (known only at run time).
    """
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(reversed(out))


def _integer_bounds(t: Ty) -> tuple:
    """(lo, hi) of the integers an exact integer term can take (cyclic values as 0..n-1)."""
    if t.kind == Kind.CONST:
        return t.value, t.value + 1
    d = t.domain
    return (0, d.n) if isinstance(d, Cyclic) else (d.lo, d.hi)


def _integer_image(name: str, types: list) -> Range:
    """The range of abs/min/max of exact integers (a Range: no wrap-around)."""
    return extremum_range(name, [_integer_bounds(t) for t in types])


def _sum_domain(op: str, a, b):
    """Support of (a op b) for integer domains; None when it is not defined."""
    if isinstance(a, Cyclic) or isinstance(b, Cyclic):
        if a == b or (isinstance(a, Cyclic) and b is None) or (isinstance(b, Cyclic) and a is None):
            return a if isinstance(a, Cyclic) else b
        return None
    lo_a, hi_a = (a.lo, a.hi) if a is not None else (0, 1)
    lo_b, hi_b = (b.lo, b.hi)
    if op == "+":
        return Range(lo_a + lo_b, hi_a + hi_b - 1)
    return Range(lo_a - hi_b + 1, hi_a - lo_b)


def _fits_at_run_time(op: str, a: Ty, b: Ty) -> tuple:
    """(fits, the largest magnitude) of ``a op b`` on 64-bit integers, where the generated code computes it before
    any reduction (cyclic values as 0..n-1, range values, constants, class outputs' supports)."""
    (la, ha), (lb, hb) = (_integer_bounds(t) for t in (a, b))
    xs, ys = (la, ha - 1), (lb, hb - 1)
    if op == "*":
        corners = [x * y for x in xs for y in ys]
    elif op == "+":
        corners = [x + y for x in xs for y in ys]
    else:
        corners = [x - y for x in xs for y in ys]
    worst = max(abs(c) for c in corners)
    return worst <= INT_LIMIT, worst


class ArithmeticRules:
    """t_Neg, t_BinOp and abs/min/max of the law type checker."""

    def _arithmetic_builtin(self, e: ast.Call) -> Ty | None:
        """abs(x), min(x, y), max(x, y) on exact integers (values of cyclic/range domains, constants) or reals."""
        name = e.func.name
        arity = ARITHMETIC_BUILTINS[name]
        if len(e.args) != arity:
            usage = f"{name}(x)" if arity == 1 else f"{name}(x, y)"
            self.r.error(f"{usage} takes {arity} argument{'s' if arity != 1 else ''}, got {len(e.args)}", e.span)
            for a in e.args:
                self.type(a)
            return None
        types = [self.type(a) for a in e.args]
        if any(t is None for t in types):
            return None
        for t, a in zip(types, e.args):
            exact = t.kind == Kind.CONST or (t.kind == Kind.VALUE and is_integer(t.domain))
            if not (exact or t.kind in (Kind.REAL, Kind.REALCONST)):
                hint = (
                    "compare the class output's expectation instead, as in f(a) <= abs(b - c)"
                    if t.kind == Kind.DIST
                    else f"{name} works on integer values, constants and reals"
                )
                self.r.error(f"{name}(...) needs integers or reals, but this is {t}", a.span, hint)
                return None
        kinds = {t.kind for t in types}
        if kinds <= {Kind.CONST}:
            values = [t.value for t in types]
            return Ty(Kind.CONST, value=abs(values[0]) if name == "abs" else (min if name == "min" else max)(values))
        if kinds & {Kind.REAL, Kind.REALCONST}:
            if kinds & {Kind.VALUE}:
                self.r.error(
                    f"cannot mix {types[0]} and {types[-1]} in {name}(...)", e.span, "reals and integer values do not mix"
                )
                return None
            soft = any(t.soft for t in types)
            return Ty(Kind.REAL, soft=soft) if Kind.REAL in kinds else Ty(Kind.REALCONST)
        return Ty(Kind.VALUE, domain=_integer_image(name, types))

    def _too_wide(self, e, worst: int) -> None:
        self.r.error(
            f"'{unparse(e)}' can reach about 2^{worst.bit_length() - 1}, beyond the 64-bit integer limit (2^63 - 1)",
            e.span,
            "the generated code computes with 64-bit integers: use smaller constants (a shift or scaling of cyclic(n) "
            "acts modulo n) or a smaller domain",
        )

    def t_Neg(self, e: ast.Neg) -> Ty | None:
        t = self.type(e.operand)
        if t is None:
            return None
        if t.kind == "const":
            return Ty("const", value=-t.value)
        if t.kind in ("realconst", "real", "tensor"):
            return t
        if t.kind in ("value", "dist") and isinstance(t.domain, Cyclic):
            return t
        if t.kind == "dist" and isinstance(t.domain, Range):
            return Ty("dist", domain=Range(-t.domain.hi + 1, -t.domain.lo + 1), soft=True)
        self.r.error(f"cannot negate {t}", e.span, "negation works on cyclic values, integer class outputs, reals and tensors")
        return None

    def t_BinOp(self, e: ast.BinOp) -> Ty | None:
        a = self.type(e.left)
        b = self.type(e.right)
        if a is None or b is None:
            return None
        op = e.op
        kinds = {a.kind, b.kind}
        if kinds <= {"const"}:
            value = {"+": a.value + b.value, "-": a.value - b.value, "*": a.value * b.value}[op]
            if not fits_int64(value):
                self._too_wide(e, abs(value))
                return None
            return Ty("const", value=value)
        if kinds <= {"value", "const", "dist"} and all(t.kind == "const" or isinstance(t.domain, Cyclic | Range) for t in (a, b)):
            fits, worst = _fits_at_run_time(op, a, b)
            if not fits:
                self._too_wide(e, worst)
                return None
        if "tensor" in kinds:
            return self._tensor_arith(e, op, a, b)
        if kinds <= {"real", "realconst", "const"}:
            return Ty("real", soft=a.soft or b.soft) if "real" in kinds else Ty("realconst")
        bad = next((t for t in (a, b) if t.kind in ("prob", "cond", "rel", "label", "elem", "tensor")), None)
        if bad is None:
            bad = next((t for t in (a, b) if t.kind in ("value", "dist") and not is_integer(t.domain)), None)
        if bad is not None:
            hint = {
                "prob": "combine bool outputs with and / or / not, or use logit(...) for a real",
                "tensor": "arithmetic on tensors is not part of the language",
                "elem": "a group element acts with '.', as in g . x",
            }.get(bad.kind, "arithmetic needs cyclic or range values, integer class outputs or reals")
            self.r.error(f"'{op}' cannot take {bad}", e.span, hint)
            return None
        if "real" in kinds or "realconst" in kinds:
            self.r.error(f"cannot mix {a} and {b} in '{op}'", e.span, "reals and integer values do not mix")
            return None
        if "dist" in kinds:
            return self._dist_arith(e, op, a, b)
        # exact integer values
        da = a.domain if a.kind == "value" else None
        db = b.domain if b.kind == "value" else None
        if da is not None and db is not None and da != db:
            self.r.error(f"cannot combine a value of {da} with a value of {db}", e.span)
            return None
        return Ty("value", domain=da or db)

    def _tensor_arith(self, e, op: str, a: Ty, b: Ty) -> Ty | None:
        """``+ - *`` with a tensor: tensors broadcast (torch's rule, aligned from the last dim) with tensors, reals
        and constants; the result is a tensor of the broadcast shape, soft when either side is."""
        for t in (a, b):
            if t.kind not in ("tensor", "real", "realconst", "const"):
                hint = {
                    "dist": "a class output is not a number: compare it on its own, or use a real or tensor output",
                    "prob": "use logit(...) for a real",
                    "elem": "a group element acts with '.', as in g . x",
                }.get(t.kind, "arithmetic on tensors takes tensors, reals and constants")
                self.r.error(f"'{op}' cannot combine {a} with {b}", e.span, hint)
                return None
        dims = a.domain.dims if a.kind == "tensor" else ()
        if b.kind == "tensor":
            got = broadcast_dims(dims, b.domain.dims)
            if got is None:
                self.r.error(
                    f"cannot broadcast {a.domain} with {b.domain} in '{op}'",
                    e.span,
                    "shapes broadcast as in torch, aligned from the last dim: each pair of dims is equal or one is 1 "
                    "(a symbolic dim matches only itself or 1)",
                )
                return None
            dims = got
        return Ty("tensor", domain=Tensor(dims), soft=a.soft or b.soft)

    def _dist_arith(self, e, op: str, a: Ty, b: Ty) -> Ty | None:
        if op == "*":
            dist, other = (a, b) if a.kind == "dist" else (b, a)
            if other.kind == "dist":
                self.r.error(
                    "cannot multiply two class outputs",
                    e.span,
                    "sums of independent outputs are convolutions; products are not supported",
                )
                return None
            if not isinstance(dist.domain, Cyclic):
                self.r.error(f"scaling needs a distribution over a cyclic domain, not {dist.domain}", e.span)
                return None
            return dist
        if a.kind == "dist" and b.kind == "dist":
            domain = _sum_domain(op, a.domain, b.domain)
        elif a.kind == "dist":
            shift = b.domain if b.kind == "value" else Range(b.value, b.value + 1)
            domain = (
                a.domain
                if isinstance(a.domain, Cyclic) and (b.kind == "const" or b.domain == a.domain)
                else (_sum_domain(op, a.domain, shift) if isinstance(a.domain, Range) and isinstance(shift, Range) else None)
            )
        else:
            base = a.domain if a.kind == "value" else Range(a.value, a.value + 1)
            if isinstance(b.domain, Cyclic):
                domain = b.domain if (a.kind == "const" or a.domain == b.domain) else None
            else:
                domain = _sum_domain(op, base, b.domain) if isinstance(base, Range) else None
        if domain is None:
            self.r.error(
                f"cannot combine {a} and {b} with '{op}'",
                e.span,
                "both sides must live on the same cyclic domain, or on integer ranges",
            )
            return None
        return Ty("dist", domain=domain, soft=True)


class RelationRules:
    """t_Compare and its links: what each relation may compare."""

    def t_Compare(self, e: ast.Compare) -> Ty | None:
        types = [self.type(o) for o in e.operands]
        if any(t is None for t in types):
            return None
        soft = False
        for i, op in enumerate(e.ops):
            a, b = types[i], types[i + 1]
            if not self._link(op, a, b, e.operands[i], e.operands[i + 1]):
                return None
            soft = soft or a.soft or b.soft
        return Ty("rel", soft=True) if soft else Ty("cond")

    def _link(self, op: str, a: Ty, b: Ty, na, nb) -> bool:
        span = Span(na.span.file, na.span.line, na.span.column, nb.span.end_line, nb.span.end_column)
        for t, node in ((a, na), (b, nb)):
            if t.kind in ("elem", "rel"):
                self.r.error(f"cannot compare {t}", node.span)
                return False
        if not (a.soft or b.soft):
            for (t, node), (c, cnode) in (((a, na), (b, nb)), ((b, nb), (a, na))):
                d = t.domain
                if op in ("==", "!=") and t.kind == "value" and isinstance(d, Cyclic) and c.kind == Kind.CONST:
                    if isinstance(c.value, int) and not 0 <= c.value < d.n:  # 'j == -1' on cyclic(5): never (4 is)
                        self.r.error(
                            f"{c.value} is outside {d}, the values of '{unparse(node)}': "
                            f"'{unparse(na)} {op} {unparse(nb)}' {'never holds' if op == '==' else 'always holds'}",
                            cnode.span,
                            f"{d} holds 0 .. {d.n - 1}: write {c.value % d.n} ({c.value} mod {d.n})",
                        )
                        return False
            return self._exact_link(op, a, b, span)
        if op == "!=":
            hint = "state what must hold (==, <=, ...), or use != in a when guard"
            if {a.kind, b.kind} & {"dist"} and {a.kind, b.kind} & {"const", "label", "value"}:
                hint = f"the event that a class output is not a value is written 'not ({unparse(na)} == {unparse(nb)})'"
            self.r.error("'!=' between model outputs gives no loss", span, hint)
            return False
        if op == "==":
            if self._eq_ok(a, b) or self._eq_ok(b, a):
                return True
            self.r.error(f"cannot compare {a} with {b}", span, self._eq_hint(a, b))
            return False
        for t, node in ((a, na), (b, nb)):
            numeric = t.kind in ("real", "realconst", "const", "prob") or (t.kind in ("dist", "value") and is_integer(t.domain))
            if not numeric:
                self.r.error(
                    f"'{op}' compares numbers, but this is {t}",
                    node.span,
                    "order comparisons need integer class outputs (their expectations) or reals",
                )
                return False
        return True

    def _eq_ok(self, a: Ty, b: Ty) -> bool:
        if a.kind == "dist":
            if b.kind == "dist":
                return compatible(a.domain, b.domain) or (
                    is_integer(a.domain)
                    and is_integer(b.domain)
                    and not (isinstance(a.domain, Cyclic) or isinstance(b.domain, Cyclic))
                )
            if b.kind == "const":
                d = a.domain
                return is_integer(d) and (
                    isinstance(d, Cyclic) and 0 <= b.value < d.n or isinstance(d, Range) and d.lo <= b.value < d.hi
                )
            if b.kind in ("value", "label"):
                return compatible(a.domain, b.domain)
            return False
        if a.kind == "prob":
            return b.kind in ("prob", "cond") or (b.kind == "const" and b.value in (0, 1))
        if a.kind == "real":
            return b.kind in ("real", "realconst", "const")
        if a.kind == "tensor":
            return (b.kind == "tensor" and b.domain == a.domain) or b.kind in ("realconst", "const")
        return False

    def _eq_hint(self, a: Ty, b: Ty) -> str | None:
        kinds = {a.kind, b.kind}
        if "dist" in kinds and "const" in kinds:
            return "the constant must be one of the output's classes"
        if "prob" in kinds and "dist" in kinds:
            return "a bool output compares with bool outputs"
        if "dist" in kinds:
            return "both sides must be distributions over the same classes"
        return None

    def _exact_link(self, op: str, a: Ty, b: Ty, span: Span) -> bool:
        values = ("value", "const", "label", "cond")
        if a.kind not in values or b.kind not in values:
            bad = a if a.kind not in values else b
            hint = "a law needs at least one model call on a side of its relation"
            if bad.kind in ("real", "realconst", "tensor"):  # e.g. 'when k > 0' on a drawn real
                hint = (
                    "guards and exact comparisons take integers, labels and truth values; a real variable is drawn "
                    "from its domain: bound it there, as in 'forall k: real(0.5, 2).'"
                )
            self.r.error(f"cannot compare {bad} here", span, hint)
            return False
        da = a.domain if a.kind in ("value", "label") else None
        db = b.domain if b.kind in ("value", "label") else None
        if da is not None and db is not None and not compatible(da, db):
            self.r.error(f"cannot compare a value of {da} with a value of {db}", span)
            return False
        if op in ("<", "<=", ">", ">="):
            for d, t in ((da, a), (db, b)):
                if t.kind == "label" or (d is not None and not is_integer(d)) or t.kind == "cond":
                    what = f"values of {d}" if d is not None else str(t)
                    self.r.error(
                        f"'{op}' needs ordered values, but {what} have no order",
                        span,
                        "order comparisons work on cyclic and range values",
                    )
                    return False
        return True
