"""Data augmentation: each equivariance law as ``(x, y) -> (T x, S y)`` with T drawn per example.

For ``base_ops(f(x)) == moved_ops(f(T x))`` the new target is
``f(T x) = moved_ops^-1(base_ops(y))``: shifts, negation and unit scaling
are inverted modulo n, group elements by their inverse, ``not`` by itself.
"""

from __future__ import annotations

import math

from ..analysis.domains import ClassOf, Cyclic, RealDomain, Tensor, Units
from .actions import apply_parts, invert_parts
from .core import LawScope, Scope, V, comment_text, fail, formula, int_bounds
from .draws import draw_group, draw_value, real_draw, value_of
from .expr import (
    Assign,
    Attr,
    BinOp,
    Comment,
    Const,
    ExprStmt,
    If,
    Index,
    Name,
    Return,
    TupleE,
    Unary,
    call,
    rt,
    torch_,
)
from .names import py
from .terms import Terms

__all__ = ["lower_augment", "augments"]

TARGET = Index(Name("out"), Const("target"))


class NotAugmentable(Exception):
    """An output transform with no inverse the generator can write."""


def augments(spec, ir) -> bool:
    """Whether a law is applied by ``augment`` (the analysis decides when it says; else every equivariance law)."""
    decided = getattr(ir, "augment", None)
    if decided is not None:
        return bool(decided)
    return ir.law_class == "equivariance" and ir.sides is not None


def _output_domain(sig):
    return sig.output.domain if isinstance(sig.output, ClassOf) else sig.output


class _Target:
    """The target moved by the output transforms of both sides."""

    def __init__(self, ls: LawScope, terms: Terms, sig):
        self.ls = ls
        self.terms = terms
        self.domain = _output_domain(sig)
        self.n = ls.tables.number(self.domain.n) if isinstance(self.domain, Cyclic) else None

    def _wrap(self, e):
        return BinOp("%", e, self.n) if self.n is not None else e

    def _value(self, e) -> V:
        return V("tensor", e, self.domain) if isinstance(self.domain, Tensor) else value_of(self.domain, e)

    def _arithmetic_ok(self) -> bool:
        return isinstance(self.domain, Cyclic | RealDomain | Tensor)

    def forward(self, kind: str, arg, e):
        """One op of a side, applied to the target."""
        if kind == "act":
            g = self.terms.soft(arg)
            return apply_parts(self._parts(g), self._value(e)).e
        if kind == "not":
            return BinOp("-", Const(1), e)
        if not self._arithmetic_ok():
            raise NotAugmentable(f"an output transform on {self.domain}")
        if kind == "neg":
            return self._wrap(Unary("-", e))
        other = self._aligned(self.terms.soft(arg).e)
        if kind == "rsub":
            return self._wrap(BinOp("-", other, e))
        return self._wrap(BinOp(kind, e, other))

    def inverse(self, kind: str, arg, e):
        """The inverse of one op of a side, applied to the target."""
        if kind == "act":
            g = self.terms.soft(arg)
            return invert_parts(self._parts(g), self._value(e))
        if kind in ("not", "neg", "rsub"):  # involutions
            return self.forward(kind, arg, e)
        if not self._arithmetic_ok():
            raise NotAugmentable(f"an output transform on {self.domain}")
        other = self.terms.soft(arg)
        if kind == "+":
            return self._wrap(BinOp("-", e, self._aligned(other.e)))
        if kind == "-":
            return self._wrap(BinOp("+", e, self._aligned(other.e)))
        # scaling: by the inverse unit modulo n, or dividing a real
        if other.kind != "const" or other.value == 0:
            raise NotAugmentable("scaling by a value not known when compiling")
        if self.n is None:
            return BinOp("/", e, Const(float(other.value)))
        if math.gcd(other.value, self.domain.n) != 1:
            raise NotAugmentable(f"scaling by {other.value}, which has no inverse modulo {self.domain.n}")
        return self._wrap(BinOp("*", e, Const(pow(other.value, -1, self.domain.n))))

    def _aligned(self, e):
        """A shift of a tensor target (a real per example, or a tensor of fewer dims) broadcast per example."""
        if isinstance(self.domain, Tensor) and not self.terms.is_number(e):
            return rt("align_batch", e, len(self.domain.dims))
        return e

    def _parts(self, g: V) -> list:
        parts = g.domain.get(self.domain) if g.kind == "elem" else None
        if parts is None:
            raise NotAugmentable(f"no sampled action on {self.domain}")
        return parts

    def moved(self, base_ops, moved_ops):
        """``moved_ops^-1(base_ops(target))``, or None when both leave the target alone."""
        if not base_ops and not moved_ops:
            return None
        e = TARGET
        for kind, arg in reversed(base_ops):  # innermost first
            e = self.forward(kind, arg, e)
        for kind, arg in moved_ops:  # outermost first
            e = self.inverse(kind, arg, e)
        return e


def _block(scope: Scope, spec, law, ir, sig) -> list:
    base, base_ops, moved, moved_ops, params = ir.sides
    decl = law.decl
    head = Comment(comment_text(f"{law.name}: {scope.tables.text(formula(law)[0])}  ({spec.file}:{decl.span.line})"))
    ls = LawScope(scope, law, ir)
    terms = Terms(ls)
    fields = [p for p, _ in sig.params]
    names = [Name(py(f)) for f in fields]
    out = Name("out")
    current = [Index(out, Const(f)) for f in fields]
    stmts = [head, Assign(tuple(names), TupleE(tuple(current)) if len(fields) > 1 else current[0])]
    for j, a in enumerate(base.args):
        ls.env[a.name] = value_of(sig.params[j][1], names[j])
    for p in params:
        plan = ir.variables[p]
        v = law.variables[p]
        if plan.source == "group":
            ls.setup += draw_group(ls, p).stmts
        elif isinstance(v.domain, Units):  # a unit, as the loss draws it (codegen/units.py)
            ls.setup += draw_value(ls, plan, terms).stmts
        elif isinstance(v.domain, RealDomain | Tensor):  # a real or tensor shift: drawn as the loss draws it
            name = ls.local(p)
            ls.setup.append(Assign((name,), real_draw(ls, p, v.domain)))
            ls.env[p] = value_of(v.domain, name)
        else:
            lo, hi = int_bounds(v.domain)
            name = ls.local(p)
            number = ls.tables.number
            value = rt("uniform_int", number(lo), number(hi), Name("n"), Name("generator"), Name("device"))
            ls.setup.append(Assign((name,), value))
            ls.env[p] = value_of(v.domain, name)
    new = [terms.soft(a).e for a in moved.args]
    target = _Target(ls, terms, sig).moved(base_ops, moved_ops)
    stmts += ls.setup
    has_target = BinOp("in", Const("target"), out)
    # constant elements only ('D4.r . x'): like no parameter, the transform or the identity (a coin per example)
    if params and not all(getattr(law.variables[p], "element", "") for p in params):
        stmts += [Assign((Index(out, Const(f)),), e) for f, e in zip(fields, new)]
        if target is not None:
            stmts.append(If(has_target, (Assign((TARGET,), target),)))
        return stmts
    # no parameter (or only constant elements): the transform and the identity, each with probability 1/2
    flip = ls.local("flip")
    coin = BinOp("<", torch_("rand", Name("n"), generator=Name("generator"), device=Name("device")), Const(0.5))
    stmts.append(Assign((flip,), coin))
    stmts += [Assign((Index(out, Const(f)),), rt("where_examples", flip, e, old)) for f, e, old in zip(fields, new, names)]
    if target is not None:
        stmts.append(If(has_target, (Assign((TARGET,), rt("where_examples", flip, target, TARGET)),)))
    return stmts


def lower_augment(spec, tables) -> list:
    """Per model with augmented laws: (model, function name, statements of ``_augment_<model>(batch, generator)``)."""
    result = []
    by_model: dict = {}  # model -> its augmented laws, in law order (one pass over the laws, not one per model)
    for law_name, law in spec.laws.items():
        ir = spec.ir.laws[law_name]
        if ir.sides is not None and augments(spec, ir):
            by_model.setdefault(ir.model, []).append((law_name, law, ir))
    for name, sig in spec.models.items():
        if name not in by_model:
            continue
        fields = [p for p, _ in sig.params]
        taken = {py(f) for f in fields} | {"out", "first", "n", "device", "batch", "generator"}
        scope = Scope(spec, tables, taken=taken, in_module=False)
        blocks = []
        for law_name, law, ir in by_model[name]:
            try:
                blocks += _block(scope, spec, law, ir, sig)
            except NotAugmentable as why:
                if getattr(ir, "augment", None):  # the analysis promised it: say why it cannot be written
                    fail(spec, f"cannot augment with law {law_name}: {why}", law.decl)
                blocks.append(Comment(comment_text(f"{law_name}: not augmented ({why})")))
        if not blocks:
            continue
        out, first = Name("out"), Name("first")
        stmts = [
            Assign((out,), call("dict", Name("batch"))),
            Assign((first,), rt("field", out, fields[0], "augment")),
            # the inputs in their domains: a -1 or a 9 would be folded into range by the shifts below, silently
            ExprStmt(
                rt(
                    "check_batch_fields",
                    out,
                    call("dict", call("zip", *(Index(Name(t), Const(name)) for t in ("MODELS", "INPUTS")))),
                )
            ),
            Assign((Name("n"),), Index(Attr(first, "shape"), Const(0))),
            Assign((Name("device"),), Attr(first, "device")),
            *scope.table_stmts(blocks),
            *blocks,
            Return(out),
        ]
        result.append((name, f"_augment_{py(name)}", stmts))
    return result
