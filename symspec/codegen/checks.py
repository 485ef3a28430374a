"""Validation checks: per law, a ``check_<law>`` method of the Validator (docs/validation.md).

Per case: the law's loss, whether it holds on the models' decisions (the
argmax of a class output, ``logit > 0`` for a bool output, the value itself
for reals and tensors, compared within ``tol + rtol*|rhs|``), its guard, and
both sides.  Variables come from ``values`` when given (exhaustive
enumeration), else are drawn exactly as the loss draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..analysis.domains import RealDomain, Tensor, Units
from ..syntax import ast
from ..syntax.unparse import unparse
from .core import CompileError, LawScope, Scope, V, comment_text, formula, int_bounds
from .draws import batch_value, draw_group, draw_value
from .expr import Assign, Attr, BinOp, Const, DictE, If, Index, Name, Return, TupleE, method, rt, torch_
from .loss import mask_of
from .names import py
from .terms import DEFAULT_RTOL, DEFAULT_TOL, Mode, Terms, bool_expr, tolerances
from .units import units_count

__all__ = ["LoweredCheck", "lower_checks", "describe_domain", "DEFAULT_TOL", "DEFAULT_RTOL"]


@dataclass
class LoweredCheck:
    name: str
    method: str
    comment: str
    stmts: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)  # var -> descriptor expression (symspec.runtime.descriptors)
    error: str | None = None  # why no check could be compiled


def describe_domain(domain, tables):
    """A model input domain as a descriptor: ``rt.Values(lo, hi)``, ``rt.TensorOf(dims)`` or ``rt.Real()``."""
    if isinstance(domain, Tensor):
        return rt("TensorOf", tables.dims(domain.dims))
    if isinstance(domain, RealDomain):
        return rt("Real", float(domain.lo), float(domain.hi)) if domain.bounded else rt("Real")
    if isinstance(domain, Units):  # a law variable over units(n): the indices of its table (codegen/units.py)
        return rt("Values", 0, tables.number(units_count(domain)))
    lo, hi = int_bounds(domain)
    return rt("Values", tables.number(lo), tables.number(hi))


def _variable(source: str, domain) -> object:
    return rt("CheckVariable", source, domain)


class _Check:
    def __init__(self, spec, tables, law, ir):
        self.spec = spec
        self.law = law
        self.ir = ir
        scope = Scope(spec, tables, taken={"values", "n", "device", "calls", "generator"})
        self.scope = scope
        self.ls = LawScope(scope, law, ir, samples=1, prefix=False)
        tol, rtol = tolerances(law.options.get("tol"), law.options.get("rtol"))
        self.terms = Terms(self.ls, tol, rtol)
        self.space: dict = {}

    def variables(self) -> None:
        ls = self.ls
        order = sorted(self.ir.variables.values(), key=lambda p: p.source != "batch")
        given = Name("values")
        for plan in order:
            if plan.source == "batch":
                local = ls.local(plan.name)
                ls.setup.append(Assign((local,), Index(given, Const(plan.name))))
                batch_value(ls, plan.name, local)
                self.space[plan.name] = _variable("batch", describe_domain(self.law.variables[plan.name].domain, ls.tables))
        for plan in order:
            if plan.source == "batch":
                continue
            if plan.source == "group":
                draw = draw_group(ls, plan.name)
                domain = rt("GroupElements", draw.elements) if draw.elements else rt("Sampled")
                finite = draw.elements is not None
            else:
                draw = draw_value(ls, plan, self.terms)
                var_domain = self.law.variables[plan.name].domain
                domain = describe_domain(var_domain, ls.tables)
                finite = not isinstance(var_domain, Tensor | RealDomain)
                if draw.ok is not None:
                    ls.masks.append(draw.ok)
            self.space[plan.name] = _variable(plan.source, domain)
            if finite:  # enumerable: taken from ``values`` when validation enumerates it
                use = [Assign((draw.local,), Index(given, Const(plan.name)))]
                if draw.ok is not None:
                    use.append(Assign((draw.ok,), torch_("ones_like", draw.local, dtype=Attr(Name("torch"), "bool"))))
                ls.setup.append(If(BinOp("in", Const(plan.name), given), tuple(use), tuple(draw.stmts)))
            else:
                ls.setup += draw.stmts

    def side(self, t: V, label: str, local: str, sides: list, lines: list) -> V:
        """Bind a top-level side's decision to a local (reported with counterexamples)."""
        if t.kind == "const" or self.terms.is_number(t.e):  # a constant (1.5): nothing per example to report
            return t
        name = Name(self.scope.ns.create_name(local))
        lines.append(Assign((name,), t.e))
        sides.append((label, torch_("sigmoid", name) if t.kind == "prob" else name))
        return V(t.kind, name, t.domain, t.offset, t.size, t.level)

    def lower(self) -> LoweredCheck:
        decl = self.law.decl
        body, guard = formula(self.law)
        text = self.scope.tables.text
        when = f" when {text(guard)}" if guard is not None else ""
        comment = comment_text(f"{self.law.name}: {text(body)}{when}  ({self.spec.file}:{decl.span.line})")
        terms, ls = self.terms, self.ls
        self.variables()
        if guard is not None:
            g = terms.soft(guard)
            if g.kind == "cond":
                terms.mask(g.e)
        sides, side_lines = [], []
        residual = None
        if isinstance(body, ast.Compare):
            soft = [terms.soft(o) for o in body.operands]  # the loss's sides, lowered once (as t_Compare would)
            loss = terms.asserted(terms.chain(body, soft, Mode.SOFT))
            raw = [terms.decide(o) for o in body.operands]
            names = ["lhs", "rhs"] if len(raw) == 2 else [f"side_{i}" for i in range(len(raw))]
            bound = [self.side(t, unparse(o), nm, sides, side_lines) for t, o, nm in zip(raw, body.operands, names)]
            holds = terms.chain(body, bound, Mode.DECISION).e
            loss = self._reuse_sides(body, soft, raw, bound) or loss
            residual = self._residual(body, raw, bound)
        elif isinstance(body, ast.Logic):
            loss = terms.asserted(terms.soft(body))
            a = self.side(terms.decide(body.left), unparse(body.left), "lhs", sides, side_lines)
            b = self.side(terms.decide(body.right), unparse(body.right), "rhs", sides, side_lines)
            holds = bool_expr(body.op, terms.truth(a), terms.truth(b))
        else:
            loss = terms.asserted(terms.soft(body))
            holds = terms.truth(self.side(terms.decide(body), unparse(body), "asserted", sides, side_lines))
        stmts = list(ls.setup)
        stmts += self.scope.calls.stmts(
            rt("CheckedCalls", Attr(Name("self"), "models"), Attr(Name("self"), "OUTPUTS"), Attr(Name("self"), "INPUTS"))
        )
        stmts += side_lines
        mask = mask_of(ls.masks)
        shown = [item for var in self.ir.variables for item in ls.draws[var].shown]
        result = rt(
            "checked",
            Name("n"),
            loss=loss,
            holds=holds,
            mask=mask if mask is not None else Const(None),
            finite=method(Name("calls"), "finite", Name("n")),
            values=DictE(tuple((Const(label), e) for label, e in shown)),
            sides=DictE(tuple((Const(label), e) for label, e in sides)),
            **({"residual": residual} if residual is not None else {}),
        )
        stmts.append(Return(result))
        return LoweredCheck(self.law.name, py(f"check_{self.law.name}"), comment, stmts, self.space)

    def _residual(self, body, raw: list, bound: list):
        """``rt.residuals(n, ops, *sides)`` for a chain relating reals or tensors (docs/validation.md), else None."""
        if not all(op in ("==", "<=", "<", ">=", ">") for op in body.ops):
            return None
        if not all(t.kind in ("real", "tensor", "const") for t in raw):
            return None
        if not any(t.kind in ("real", "tensor") and not self.terms.is_number(t.e) for t in raw):
            return None  # constants only: nothing per case
        return rt("residuals", Name("n"), TupleE(tuple(Const(op) for op in body.ops)), *(self.terms.numeric(t) for t in bound))

    def _reuse_sides(self, body, soft: list, raw: list, bound: list):
        """The loss of a comparison reading the sides' locals where a side's decision is its value (reals, tensors).

        ``soft``: the sides as the loss reads them.  Without this, ``g . forces(x)`` would be computed once for the
        decision and again for the loss.
        """
        soft = list(soft)
        reused = False
        for i, (s, r, t) in enumerate(zip(soft, raw, bound)):
            if s.kind in ("tensor", "real") and s.e == r.e and t.e != r.e:
                soft[i] = V(s.kind, t.e, s.domain, level=s.level)
                reused = True
        if not reused:
            return None
        return self.terms.chain(body, soft, Mode.SOFT).e


def lower_checks(spec, tables) -> list:
    """Per law: a validation check method (or why none could be compiled)."""
    result = []
    for name, law in spec.laws.items():
        try:
            result.append(_Check(spec, tables, law, spec.ir.laws[name]).lower())
        except CompileError as err:
            message = err.errors[0].message if err.errors else str(err)
            result.append(LoweredCheck(name, py(f"check_{name}"), "", error=message))
    return result
