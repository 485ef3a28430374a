"""The loss: every law's draws, one fused set of model calls, a masked mean per law, and the priors."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..analysis.domains import ClassOf, Cyclic, Range, RealDomain, Tensor, Units
from ..analysis.resolve import has_neighbours
from ..syntax.unparse import unparse
from .core import LawScope, ModuleTables, Scope, comment_text, fail, formula
from .draws import batch_value, draw_group, draw_value
from .expr import (
    Assign,
    Attr,
    BinOp,
    Blank,
    Comment,
    Const,
    DictE,
    ExprStmt,
    Index,
    Name,
    Return,
    TupleE,
    as_expr,
    method,
    rt,
    torch_,
)
from .names import py
from .terms import Terms

__all__ = ["LoweredLaw", "lower_law", "lower_loss", "law_comment", "batch_fields", "field_domains", "mask_of"]


@dataclass
class LoweredLaw:
    name: str
    comment: str
    setup: list = field(default_factory=list)
    loss: object = None
    mask: object = None


def law_comment(spec, law, tables: ModuleTables | None = None) -> str:
    body, guard = formula(law)
    text = tables.text if tables is not None else unparse
    line = f"{spec.file}:{law.decl.span.line}  {text(body)}"
    return comment_text(line + (f" when {text(guard)}" if guard is not None else ""))


def mask_of(masks: list):
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        out = BinOp("&", out, m)
    return out


def batch_fields(spec) -> list:
    """(variable, first law using it) of every batch variable, in law order.

    A batch field is one tensor of the batch, read by every law that names
    it and by every ``lipschitz`` prior whose model has a parameter of that
    name: two readers over different domains is a CompileError at the second
    (one of them would train on values outside its domain).
    """
    out = []
    first: dict = {}  # variable -> (who reads it first, domain)
    for name, ir in spec.ir.laws.items():
        for var, plan in ir.variables.items():
            if plan.source != "batch":
                continue
            if var not in first:
                first[var] = (f"law {name}", plan.domain)
                out.append((var, name))
                continue
            if first[var][1] != plan.domain:
                where = spec.laws[name].variables.get(var)
                node = where if getattr(where, "span", None) is not None else spec.laws[name].decl
                _clash(spec, var, first[var], f"law {name}", plan.domain, node)
    for name, prior in spec.priors.items():
        if prior.kind != "lipschitz":
            continue
        for var, domain in spec.models[prior.target].params:
            first.setdefault(var, (f"prior {name}", domain))
            if first[var][1] != domain:
                _clash(spec, var, first[var], f"prior {name} (on {prior.target})", domain, prior)
    return out


def field_domains(spec) -> dict:
    """Batch variable -> its domain, for the fields the loss checks (``FIELDS``): all but ``units(n)`` values."""
    out = {}
    for var, law in batch_fields(spec):
        domain = spec.ir.laws[law].variables[var].domain
        if not isinstance(domain, Units):
            out[var] = domain
    return out


def _clash(spec, var: str, first: tuple, reader: str, domain, node) -> None:
    who, seen = first
    fail(
        spec,
        f"{reader} reads the batch field '{var}' as {spec.domain_name(domain)}, but {who} reads it as "
        f"{spec.domain_name(seen)}: one batch field has one domain",
        node,
        "name the models' parameters apart (the batch field is the parameter's name) so that each domain has its own field",
    )


def lower_law(scope: Scope, law, ir) -> LoweredLaw:
    """One law's draws, mask and per-example loss in the loss module's forward()."""
    samples = int(law.options.get("samples", 1))
    ls = LawScope(scope, law, ir, samples)
    terms = Terms(ls)
    if samples > 1:
        ls.n = ls.local("n")
        ls.setup.append(Assign((ls.n,), BinOp("*", Name("n"), Const(samples))))
    order = sorted(ir.variables.values(), key=lambda p: p.source != "batch")
    for plan in order:
        if plan.source == "batch":
            name = Name(py(plan.name))
            if samples > 1:  # each example repeated: one draw of the law's variables per copy
                copy = ls.local(plan.name)
                ls.setup.append(Assign((copy,), rt("repeat_examples", name, samples)))
                name = copy
            batch_value(ls, plan.name, name)
        elif plan.source == "group":
            ls.setup += draw_group(ls, plan.name).stmts
    for plan in order:
        if plan.source in ("uniform", "normal", "interval", "between", "rejection"):
            d = draw_value(ls, plan, terms)
            ls.setup += d.stmts
            if d.ok is not None:
                ls.masks.append(d.ok)
    body, guard = formula(law)
    if guard is not None:
        guard = terms.soft(guard)
        if guard.kind == "cond":
            terms.mask(guard.e)
    loss = terms.asserted(terms.soft(body))
    return LoweredLaw(law.name, law_comment(scope.spec, law, scope.tables), ls.setup, loss, mask_of(ls.masks))


def _prior(spec, tables: ModuleTables, prior) -> tuple:
    where = f"{spec.file}:{prior.span.line}"
    if prior.kind in ("nuclear", "entropy"):
        fn = "nuclear_prior" if prior.kind == "nuclear" else "spectral_entropy"
        code = rt(fn, rt("bound_tensor", Name("bound"), prior.target, prior.name))
        return prior.name, code, comment_text(f"{where}  {prior.kind}({prior.target})")
    sig = spec.models[prior.target]
    kinds = []
    for _, d in sig.params:
        if not has_neighbours(d):  # labels, nodes, one value: lipschitz does not move it
            kinds.append(("fixed",))
        elif isinstance(d, Cyclic):
            kinds.append(("cyclic", d.n))
        elif isinstance(d, Range):
            kinds.append(("range", d.lo, d.hi))
        elif isinstance(d, RealDomain | Tensor):
            kinds.append(("real",))
        else:
            kinds.append(("fixed",))
    inputs = tuple(p for p, _ in sig.params)
    args = TupleE(tuple(rt("prior_input", Name("batch"), p, prior.name, sig.name, inputs) for p in inputs))
    code = rt(
        "lipschitz_penalty",
        Index(Attr(Name("self"), "models"), Const(sig.name)),
        args,
        as_expr(tuple(kinds)),
        isinstance(sig.output, ClassOf),
        generator=Name("generator"),
    )
    return prior.name, code, comment_text(f"{where}  lipschitz({prior.target})")


def lower_loss(spec, tables: ModuleTables) -> list:
    """The statements of ``SymmetryLoss.forward(self, batch, **bound)``."""
    fields = batch_fields(spec)
    scope = Scope(spec, tables, taken={py(v) for v, _ in fields})
    laws = [lower_law(scope, law, spec.ir.laws[name]) for name, law in spec.laws.items()]
    priors = [_prior(spec, tables, p) for p in spec.priors.values()]
    terms = Name("terms")
    body = [Assign((Name("generator"),), Attr(Name("self"), "generator"))]
    if not laws:
        body.insert(0, Comment("this spec states no law: the loss is zero (plus its priors)"))
        body.append(Assign((terms,), DictE(())))
        for name, code, comment in priors:
            body += [Comment(f"prior {comment}"), Assign((Index(terms, Const(name)),), code)]
        total = method(Name("self"), "total", terms)
        body.append(Return(total if priors else torch_("zeros", TupleE(()))))
        return body
    for var, law in fields:
        body.append(Assign((Name(py(var)),), rt("field", Name("batch"), var, law)))
    if field_domains(spec):  # the fields it checks, a subset of those read
        body.append(ExprStmt(method(Name("self"), "check_fields", Name("batch"), Name("FIELDS"))))
    if fields:
        first = Name(py(fields[0][0]))
        body.append(Assign((Name("n"),), Index(Attr(first, "shape"), Const(0))))
        body.append(Assign((Name("device"),), Attr(first, "device")))
    else:  # no law reads a batch field: every variable is drawn, as many cases as the batch has (docs/training.md)
        body.append(Assign((Name("n"), Name("device")), rt("draw_size", Name("batch"), Attr(Name("self"), "models"))))
    for law in laws:
        if law.setup:
            body += [Blank(), Comment(f"{law.name}: draws"), *law.setup]
    body.append(Blank())
    batch = rt(
        "CallBatch",
        Attr(Name("self"), "models"),
        fused=Attr(Name("self"), "fused"),
        outputs=Name("OUTPUTS"),
        inputs=Name("INPUTS"),
    )
    body += scope.calls.stmts(batch)
    body += [Blank(), Assign((terms,), DictE(()))]
    for law in laws:
        body.append(Comment(law.comment))
        if law.mask is not None:
            value = rt("masked_mean", law.loss, law.mask)
        else:
            value = method(law.loss, "mean")
        body.append(Assign((Index(terms, Const(law.name)),), value))
    for name, code, comment in priors:
        body += [Comment(f"prior {comment}"), Assign((Index(terms, Const(name)),), code)]
    body.append(Return(method(Name("self"), "total", terms, Name("calls"))))
    return body
