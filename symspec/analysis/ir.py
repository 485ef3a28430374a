"""The IR the backends compile from, and what `symspec explain` tells about it.

``build_ir`` runs the symmetry analysis on a checked spec: concrete graphs
and groups, every action a law or layer uses, law classes and sampling
plans, orbits, redundancy and contradictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import raise_diagnostics
from .domains import RealDomain
from .groups import ActionIR, GroupIR
from .lawclass import MAX_LAW_EVAL_ENTRIES, MAX_LAW_WORK, LawBudget, LawIR, LawTooLarge, classify_law
from .orbits import OrbitBudget, analyze_model, laws_by_model
from .physics import spelled_action_warnings
from .scope import Reporter
from .sealed import Sealed
from .symmetry import Symmetry

__all__ = ["IR", "build_ir", "attach_ir", "explain_json", "explain_text", "MAX_LAW_TABLE_ENTRIES"]


@dataclass
class IR(Sealed):
    """The finished symmetry analysis; later stages only read it (no calls back into the builder)."""

    graphs: dict = field(default_factory=dict)  # name -> GraphIR
    groups: dict = field(default_factory=dict)  # name -> GroupIR (declared groups)
    laws: dict = field(default_factory=dict)  # name -> LawIR
    models: dict = field(default_factory=dict)  # name -> ModelIR
    layers: dict = field(default_factory=dict)  # name -> (GroupIR, source ActionIR, target ActionIR)
    all_groups: dict = field(default_factory=dict)  # key -> GroupIR: declared, inline (forall g: symmetric(N)) and factors
    actions: dict = field(default_factory=dict)  # (group key, domain) -> ActionIR, every action analysis built

    def group(self, gdef) -> GroupIR:
        """The built group of a group definition (declared or inline)."""
        return self.all_groups[gdef.name or str(gdef)]

    def action(self, gir: GroupIR, domain) -> ActionIR | None:
        """The action analysis found of a built group on a domain (None if it has none)."""
        return self.actions.get((gir.name, domain))


MAX_LAW_TABLE_ENTRIES = 9_000_000  # push-map entries of all laws' generators together (about 72 MB, a few seconds)


def _idle_factor_warnings(spec, sym: Symmetry, reporter: Reporter) -> None:
    """Warn where a product's factor acts on none of the values a law moves with it: it has no action on any of
    them and so acts as the identity there, which is right for an output it leaves alone (``moment: ... ->
    tensor[3]``) but, on every value of the law, almost always a missing action (``symmetric(N)`` on ``tensor[3,
    N]``, whose points are not on dim 0)."""
    for law in spec.laws.values():
        seen: dict = {}
        for node, gdef, domain in law.acts:
            if gdef.kind == "product":
                seen.setdefault(id(gdef), (gdef, node, []))[2].append(domain)
        for gdef, node, domains in seen.values():
            gir = sym.group(gdef, gdef.name or None)
            domains = list(dict.fromkeys(domains))
            acts = [sym.action(gir, d, spec.domain_name(d), None) for d in domains]
            if any(a is None or len(a.parts) != len(gir.factors) for a in acts):
                continue
            for i, f in enumerate(gir.factors):
                if all(a.parts[i].kind == "trivial" and a.parts[i].source == "default" for a in acts):
                    names = ", ".join(spec.domain_name(d) for d in domains)
                    reporter.warning(
                        f"factor {f.name} of {gir.name} moves nothing in law {law.name}: it has no action on {names}, "
                        f"so it acts there as the identity",
                        node.span,
                        f"declare how {f.name} acts (e.g. 'group S = {f.name}' and 'action S on ... by permute(dims=(1,))'"
                        f"), or leave it out of the product",
                    )


def build_ir(spec, reporter: Reporter) -> IR:
    sym = Symmetry(spec, reporter)
    sym.build()
    ir = IR(sym.graphs, sym.groups)
    for law in spec.laws.values():
        for node, gdef, domain in law.acts:
            gir = sym.group(gdef, gdef.name or None)
            sym.action(gir, domain, spec.domain_name(domain), node.span)
    spelled_action_warnings(spec, reporter)  # E(n)/SE(n) on a name that shares its type with a declared action's
    _idle_factor_warnings(spec, sym, reporter)
    for layer in spec.layers.values():
        gir = sym.group(layer.group, layer.group.name or None)
        ends = []
        for domain in (layer.source, layer.target):
            name = "real" if isinstance(domain, RealDomain) else spec.domain_name(domain)
            ends.append(sym.action(gir, domain, name, layer.span))
        ir.layers[layer.name] = (gir, *ends)
    if reporter.has_errors:
        return ir
    entries = 0
    budget = LawBudget()
    for name, law in spec.laws.items():
        try:
            ir.laws[name] = classify_law(law, spec, sym, budget)
        except LawTooLarge as why:
            if why.total:
                message = (
                    f"the laws up to {name} evaluate their transforms over {why.entries} entries, more than the limit "
                    f"of {MAX_LAW_WORK} for all laws together (a push map over every value of each argument and of "
                    "the output, per value of a law's parameters tried)"
                )
                hint = "use fewer laws on these large domains, or smaller domains"
            else:
                message = (
                    f"law {name} needs its transforms tabulated in {why.entries} entries at once, more than the limit "
                    f"of {MAX_LAW_EVAL_ENTRIES} (a push map over every value of each argument and of the output, per "
                    "value of its parameters tried)"
                )
                hint = "give the model fewer arguments on these large domains, or use smaller domains"
            reporter.error(message, law.decl.span, hint)
            return ir
        entries += sum(len(p) for g in ir.laws[name].generators for p in (*g.arg_perms, g.out_perm) if p is not None)
        if entries > MAX_LAW_TABLE_ENTRIES:
            reporter.error(
                f"the laws up to {name} tabulate their transforms in {entries} entries, more than the limit of "
                f"{MAX_LAW_TABLE_ENTRIES} (each generator of a law on finite domains is a push map over every value)",
                law.decl.span,
                "use fewer laws on these large domains, or smaller domains",
            )
            return ir
    index = laws_by_model(ir.laws, spec.laws)
    budget = OrbitBudget()
    for name, sig in spec.models.items():
        ir.models[name] = analyze_model(spec, sym, sig, ir.laws, spec.laws, reporter, index, budget)
    _index(ir, sym)
    return ir


def _continuous_part(ir: IR, part: ActionIR) -> str:
    """A product factor's action by matrices (SO(n), Lorentz) or rigid motions, for explain: ``Rot: matrices on dim 1``."""
    if part.kind == "matrix":
        dims = "dims " if isinstance(part.matrix_dim, tuple) else "dim "
        return f"{part.group}: matrices on {dims}{part.matrix_dim}"
    factor = ir.all_groups.get(part.group)
    move = "x -> x + t" if factor is not None and factor.definition.kind == "translations" else "x -> R x + t"
    return f"{part.group}: {move} along dim {part.matrix_dim}"


def attach_ir(spec, reporter: Reporter) -> None:
    """Run the symmetry analysis on a spec whose names and types hold: ``spec.ir``, or every diagnostic raised."""
    spec.ir = build_ir(spec, reporter)
    if reporter.has_errors:
        raise_diagnostics(reporter.diagnostics, {spec.file: spec.source})


def _index(ir: IR, sym: Symmetry) -> None:
    """Every built group and action, keyed for lookups by later stages."""
    todo = list(sym.groups.values()) + list(sym.inline_groups.values())
    while todo:
        gir = todo.pop()
        if gir.name in ir.all_groups:
            continue
        ir.all_groups[gir.name] = gir
        todo += list(gir.factors)
        for act in gir.actions.values():
            if act is not None:
                ir.actions.setdefault((gir.name, act.domain_type), act)


def _group_json(g) -> dict:
    return {
        "order": g.order,
        "order_text": g.order_text,
        "abelian": g.abelian,
        "continuous": g.continuous,
        "lie_dimension": g.lie_dimension,
        "generators": list(g.generators),
        "how": g.how,
        "actions": {
            dom: {"source": a.source, "kind": a.kind, "points": a.points, "generators": {gen: a.describe(gen) for gen in a.ops}}
            for dom, a in g.actions.items()
            if a is not None
        },
    }


def explain_json(spec) -> dict:
    ir = spec.ir
    return {
        "spec": spec.name,
        "file": spec.file,
        "params": dict(spec.params),
        "graphs": {
            n: {
                "nodes": g.num_nodes,
                "edges": g.num_edges,
                "connected": g.connected,
                "automorphism_generators": len(g.automorphisms),
                "node_labels": _label_sample(g),
            }
            for n, g in ir.graphs.items()
        },
        "groups": {n: _group_json(g) for n, g in ir.groups.items()},
        "models": {
            n: {
                "signature": m.signature,
                "inputs": m.inputs,
                "orbits": m.orbits,
                "summary": m.summary,
                "equivariance_laws": list(m.equivariance_laws),
            }
            for n, m in ir.models.items()
        },
        "laws": {n: _law_json(law) for n, law in ir.laws.items()},
        "breaks": {n: b.json() for n, b in spec.breaks.items()},
        "warnings": [f"{w.span}: {w.message}" if w.span else w.message for w in spec.warnings],
    }


def _law_json(law: LawIR) -> dict:
    return {
        "class": law.law_class,
        "line": law.line,
        "model": law.model,
        "why": law.reason,
        "redundant": law.redundant,
        "implied_by": list(law.implied_by),
        "forward_passes": law.forward_passes,
        "generators": [g.label for g in law.generators],
        "augment": law.augment,
        "augment_why": law.augment_why,
        "variables": {
            v.name: {"drawn": v.source, "how": v.detail, **({"acceptance": v.acceptance} if v.acceptance is not None else {})}
            for v in law.variables.values()
        },
        "options": law.options,
    }


def _label_sample(g, first: int = 3) -> list:
    """The labels of a graph's first nodes and its last (``"..."`` between), in node order: how data names them."""
    n = g.num_nodes
    if n <= first + 2:
        return [g.label(i) for i in range(n)]
    return [*(g.label(i) for i in range(first)), "...", g.label(n - 1)]


def explain_text(spec) -> str:
    def graph_text(d) -> str:  # the constructor as written: hypercube(7), grid(3, 4), petersen(), edges(0-1, ...)
        if d.kind == "edges":
            return "edges(" + ", ".join(f"{u}-{v}" for u, v in d.edges[:6]) + (", ...)" if len(d.edges) > 6 else ")")
        return f"{d.kind}({', '.join(str(a) for a in d.args)})"

    ir = spec.ir
    out = [f"spec {spec.name}  ({spec.file})"]
    if spec.params:
        out.append("params: " + ", ".join(f"{k} = {v}" for k, v in spec.params.items()))
    if ir.graphs:
        out.append("\ngraphs")
        for n, g in ir.graphs.items():
            conn = "" if g.connected else ", not connected"
            out.append(f"  {n} = {graph_text(g.definition)}: {g.num_nodes} nodes, {g.num_edges} edges{conn}")
            if g.num_nodes:
                out.append("    nodes (as data files name them): " + ", ".join(_label_sample(g)))
    if ir.groups:
        out.append("\ngroups")
        for n, g in ir.groups.items():
            abel = {True: "abelian", False: "non-abelian", None: "abelian or not depending on the size"}[g.abelian]
            dim = f", a Lie group of dimension {g.lie_dimension}" if g.continuous else ""
            out.append(f"  {n}: order {g.order_text}, {abel}{dim}  [{g.how}]")
            for dom, a in g.actions.items():
                if a is None or (a.kind == "trivial" and a.source == "default"):  # a real: nothing to say
                    continue
                gens = "; ".join(f"{gen} -> {a.describe(gen)}" for gen in a.ops) or (
                    ("matrices on dims " if isinstance(a.matrix_dim, tuple) else "matrices on dim ") + str(a.matrix_dim)
                    if a.kind == "matrix"
                    else (
                        ("x -> x + t" if g.definition.kind == "translations" else "x -> R x + t") + f" along dim {a.matrix_dim}"
                        if a.kind == "affine"
                        else "trivially"
                    )
                )
                if a.ops and a.parts:  # a product: factors acting by matrices or x -> R x + t name no generators
                    gens = "; ".join(
                        [gens, *(_continuous_part(ir, p) for p in a.parts if not p.ops and p.kind in ("matrix", "affine"))]
                    )
                out.append(f"    on {dom} ({a.source}, {a.kind}): {gens}")
    if ir.models:
        out.append("\nmodels")
        for m in ir.models.values():
            out.append(f"  {m.signature}")
            out.append(f"    {m.summary}")
            used = [n for n, law in ir.laws.items() if law.model == m.name and law.augment]
            out.append(f"    augment uses: {', '.join(used)}" if used else "    augment uses none of its laws")
    if ir.laws:
        out.append("\nlaws")
        width = max(len(n) for n in ir.laws)
        for n, law in ir.laws.items():
            passes = f"{law.forward_passes} forward pass{'es' if law.forward_passes != 1 else ''}"
            flag = f"  REDUNDANT (implied by {', '.join(law.implied_by)})" if law.redundant else ""
            out.append(f"  {n:<{width}}  {law.law_class:<12}  {passes}  line {law.line}{flag}")
            out.append(f"  {'':<{width}}  {law.reason}")
            if law.generators and law.law_class == "equivariance":
                out.append(f"  {'':<{width}}  generators: {', '.join(g.label for g in law.generators)}")
            for v in law.variables.values():
                out.append(f"  {'':<{width}}  {v.name}: {v.detail}")
            out.append(f"  {'':<{width}}  augment: " + (f"yes, {law.augment_why}" if law.augment else f"no, {law.augment_why}"))
    if spec.breaks:
        out.append("\nbreaks")
        for n, b in spec.breaks.items():
            out.append(f"  {n}  of {b.model}  line {b.span.line}")
            out.append(f"    {b.describe()}")
    if spec.warnings:
        out.append(f"\n{len(spec.warnings)} warning{'s' if len(spec.warnings) != 1 else ''} (see symspec check)")
    return "\n".join(out)
