"""How each law variable gets its value at training time, exact acceptance rates, and each law's cost."""

from __future__ import annotations

import math

import numpy as np

from ..syntax import ast
from ..syntax.unparse import unparse
from ..transforms import MAX_TABLE_ORDER
from .domains import Cyclic, Range, RealDomain, Tensor, Units
from .evaluate import evaluate_guard
from .groups import is_finite_domain
from .lawir import LawIR, NotTransform, Source, VariablePlan, calls_in, conjuncts, names_in
from .physics import sampling_text
from .units import totient, unit_values

__all__ = ["plan_variables", "cost", "MAX_ACCEPTANCE_VALUES", "MAX_ACCEPTANCE_TOTAL"]

MAX_ACCEPTANCE_VALUES = 2_000_000  # one law's exact acceptance rate: its guard evaluated on every combination of values
MAX_ACCEPTANCE_TOTAL = 20_000_000  # the same for all laws together (100 laws of 2*10^6 combinations took 5.5 s)


def _batchnames_in(law, spec) -> set:
    """Variables bound to batch fields: a name and domain that some called model takes as a parameter."""
    out = set()
    for m in law.models:
        for pname, domain in spec.models[m].params:
            v = law.variables.get(pname)
            if v is not None and v.group is None and v.domain == domain and not isinstance(v.domain, Units):  # units: drawn
                out.add(pname)
    return out


def plan_variables(ir: LawIR, law, spec, sym, budget=None) -> None:
    batch = _batchnames_in(law, spec)
    conj = conjuncts(law.guard)
    masks = [c for c in conj if names_in(c) and names_in(c) <= batch]
    # values drawn in variable order after the batch fields and group elements: a conjunct naming a variable
    # drawn later (a < b, both drawn) belongs to that later draw, which makes it hold (codegen/draws.py)
    ready = set(batch) | {n for n, v in law.variables.items() if v.group is not None}
    for name, v in law.variables.items():
        if name in batch:
            mine = [unparse(c) for c in masks if name in names_in(c)]
            where = f"; only examples where {' and '.join(mine)}" if mine else ""
            ir.variables[name] = VariablePlan(name, Source.BATCH, f"the batch field of that name{where}", v.domain)
            continue
        if v.group is not None and getattr(v, "element", ""):  # 'D4.r' (analysis/constants.py)
            ir.variables[name] = VariablePlan(name, Source.GROUP, f"the constant element {name} (generator {v.element})")
            continue
        if v.group is not None:
            gir = sym.group(v.group, v.group.name or None)
            if gir.definition.noncompact:
                detail = sampling_text(gir.definition, law.options.get("scale", 1))
            elif gir.continuous:
                detail = (
                    f"Haar measure on {gir.name}"
                    if not gir.factors
                    else "uniform on each finite factor, Haar on each continuous one, of " + gir.name
                )
            elif _words(gir):
                detail = (
                    f"random words of its generators over {gir.name} ({gir.order_text} elements; approximately "
                    f"uniform: past {MAX_TABLE_ORDER} elements no table of them is built)"
                )
            else:
                detail = f"uniform over {gir.name} ({gir.order_text} elements)"
            ir.variables[name] = VariablePlan(name, Source.GROUP, detail)
            continue
        mine = [c for c in conj if name in names_in(c) and all(n in ready or n == name for n in names_in(c) & set(law.variables))]
        ready.add(name)
        if not mine and (isinstance(v.domain, Tensor) or (isinstance(v.domain, RealDomain) and not v.domain.bounded)):
            what = "each entry standard normal" if isinstance(v.domain, Tensor) else "standard normal"
            ir.variables[name] = VariablePlan(name, Source.NORMAL, f"{what} ({spec.domain_name(v.domain)})", v.domain)
            continue
        if not mine:
            ir.variables[name] = VariablePlan(name, Source.UNIFORM, f"uniform over {over_text(spec, v.domain)}", v.domain)
            continue
        between = [c for c in mine if isinstance(c, ast.Call) and c.func.name == "between"]
        if between and len(mine) == 1:
            call = between[0]
            if (
                isinstance(call.args[2], ast.Name)
                and call.args[2].name == name
                and name not in names_in(call.args[1]) | names_in(call.args[3])
            ):
                ends = f"{unparse(call.args[1])}-{unparse(call.args[3])}"
                ir.variables[name] = VariablePlan(
                    name,
                    Source.BETWEEN,
                    f"uniform over the vertices on shortest {ends} paths of {unparse(call.args[0])} (exact)",
                    v.domain,
                )
                continue
        interval = all(
            isinstance(c, ast.Compare)
            and c.ops[0] in ("<", "<=", ">", ">=")
            and any(isinstance(o, ast.Name) and o.name == name for o in c.operands)
            and all(isinstance(o, ast.Name | ast.Int) for o in c.operands)
            for c in mine
        ) and isinstance(v.domain, Range | Cyclic)
        interval = interval and not isinstance(v.domain, Units)  # the units of Z/nZ are no interval: rejection
        if interval:
            bounds = " and ".join(unparse(c) for c in mine)
            ir.variables[name] = VariablePlan(
                name, Source.INTERVAL, f"uniform over {spec.domain_name(v.domain)} where {bounds} (exact)", v.domain
            )
            continue
        ir.variables[name] = VariablePlan(
            name,
            Source.REJECTION,
            f"uniform over {over_text(spec, v.domain)}, rejected unless " + " and ".join(unparse(c) for c in mine),
            v.domain,
        )
    _acceptance(ir, law, spec, sym, conj, budget)


_NORMAL_FORMS = ("symmetric", "alternating", "cyclic", "dihedral", "units")  # drawn uniformly at any order


def _words(gir) -> bool:
    """Whether a finite group is drawn as random words (more than MAX_TABLE_ORDER elements and no normal form)."""
    if not isinstance(gir.order, int) or gir.order <= MAX_TABLE_ORDER:
        return False
    return not all(f.definition.kind in _NORMAL_FORMS for f in (gir.factors or (gir,)))


def over_text(spec, domain) -> str:
    """What a uniform draw ranges over, as a plan says it."""
    return f"the units of Z/{domain.n}Z" if isinstance(domain, Units) else spec.domain_name(domain)


def _acceptance(ir: LawIR, law, spec, sym, conj, budget=None) -> None:
    """Exact acceptance rates of rejection-sampled variables, when their space is small (MAX_ACCEPTANCE_VALUES) and
    ``budget.acceptance_left`` (shared by the spec's laws, from MAX_ACCEPTANCE_TOTAL) still covers it."""
    rejected = [p for p in ir.variables.values() if p.source is Source.REJECTION]
    if not rejected:
        return
    names = sorted({n for c in conj for n in names_in(c) if n in law.variables})
    domains = [law.variables[n].domain for n in names]
    if not all(is_finite_domain(d) for d in domains):
        return
    sizes = [totient(d.n) if isinstance(d, Units) else d.size for d in domains]  # units(n): its phi(n) units
    total = math.prod(sizes)
    if total > MAX_ACCEPTANCE_VALUES:
        return
    if budget is not None:
        if total > budget.acceptance_left:
            for p in rejected:
                p.detail += (
                    f" (acceptance not computed: the limit of {budget.acceptance_start} guard evaluations for all laws is spent)"
                )
            return
        budget.acceptance_left -= total
    axes = [
        unit_values(d.n) if isinstance(d, Units) else np.arange(d.size) + (d.lo if isinstance(d, Range) else 0) for d in domains
    ]
    grids = np.meshgrid(*axes, indexing="ij")
    env = {n: g.reshape(-1) for n, g in zip(names, grids)}
    ok = np.ones(total, dtype=bool)
    try:
        for c in conj:
            ok &= np.asarray(evaluate_guard(c, env, spec, sym), dtype=bool)
    except NotTransform:
        return
    rate = float(ok.mean())
    for p in rejected:
        p.acceptance = rate
        p.detail += f" (acceptance {rate:.3g})"


def cost(ir: LawIR, law, spec) -> None:
    """Forward passes a law adds per example: its calls, less the batch's own forward."""
    drawn = {n for n, p in ir.variables.items() if p.source is not Source.BATCH}
    samples = int(law.options.get("samples", 1))
    total = 0
    batch_call_seen = set()
    for call in calls_in(law.body):
        if call.func.name not in spec.models:
            continue
        sig = spec.models[call.func.name]
        own = all(isinstance(a, ast.Name) and a.name == p for a, (p, _) in zip(call.args, sig.params)) and all(
            ir.variables.get(p) is not None and ir.variables[p].source is Source.BATCH for p, _ in sig.params
        )
        if own and sig.name not in batch_call_seen:
            batch_call_seen.add(sig.name)
            continue
        total += samples if names_in(call) & drawn else 1
    ir.forward_passes = total
