"""The candidate laws of a model, generated from its signature (docs/data.md, "symspec suggest").

Each candidate is law text in the spec's own language; the analysis later
compiles it and hands back its transforms (``LawIR.generators``), so what is
tested on the data is exactly what the printed law means.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..analysis.domains import BoolDomain, ClassOf, Cyclic, Labels, Nodes, Range, RealDomain, Tensor, Units

__all__ = ["Candidate", "candidates", "MAX_LABEL_GROUP"]

MAX_LABEL_GROUP = 8  # symmetric(n) on a set's labels is proposed for sets of at most this many labels
_RESERVED = {"not", "and", "or", "when", "forall"}  # reserved inside a law (docs/language.md)


@dataclass
class Candidate:
    """One candidate law: its name, its text (after ``law NAME:``) and how its evidence is gathered."""

    name: str
    law: str  # the formula (with binders, guard), as printed after "law NAME: "
    kind: str  # a short description: "argument swap", "shift", "shift invariance", ...
    test: str = "law"  # "law": the analysis' transforms; "moved swap": bool antisymmetry off the diagonal; "diagonal";
    # "constraint": transitivity / the triangle inequality, checked by check_data on every present triple
    args: tuple = ()  # parameter positions a "moved swap" or "diagonal" candidate involves
    constant: int | None = None  # the observed class value of a "diagonal" candidate
    shown: str = ""  # that value as the law writes it (a label by name)
    decls: tuple = ()  # declarations (groups, domains, actions) the law needs, printed before it


def _finite(d) -> bool:
    return isinstance(d, Cyclic | Range | Labels | Nodes | BoolDomain) and not isinstance(d, Units)


def _same(d1, d2) -> bool:
    return type(d1) is type(d2) and d1 == d2


class _Names:
    """Fresh identifiers that collide with nothing the spec declares (labels of sets included)."""

    def __init__(self, spec) -> None:
        taken = set(_RESERVED)
        for table in (spec.params, spec.domains, spec.graphs, spec.groups, spec.models):
            taken |= set(table)
        for sig in spec.models.values():
            doms = [d for _, d in sig.params] + [sig.output.domain if isinstance(sig.output, ClassOf) else sig.output]
            for d in doms:
                if isinstance(d, Labels):
                    taken |= set(d.labels)
        for d in spec.domains.values():
            if isinstance(d, Labels):
                taken |= set(d.labels)
        self.taken = taken
        self.laws = set(spec.laws) | set(spec.layers) | set(spec.priors) | set(getattr(spec, "breaks", {}))

    def fresh(self, base: str) -> str:
        name, i = base, 2
        while name in self.taken:
            name, i = f"{base}{i}", i + 1
        self.taken.add(name)
        return name

    def law(self, base: str) -> str:
        name, i = base, 2
        while name in self.laws or name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.laws.add(name)
        return name


def _group(spec, kind: str, arg) -> str:
    """The spec's own name of the group ``kind(arg)`` when it declares one (``group Aut = automorphisms(G)``), so
    the printed law uses the declaration; else the constructor text."""
    for name, gdef in spec.groups.items():
        if gdef.kind == kind and str(gdef.arg) == str(arg) and not gdef.generators and not gdef.factors:
            return name
    return f"{kind}({arg})"


def _class_domain(output):
    """The output's class domain (class outputs), BoolDomain for bool outputs, else None."""
    if isinstance(output, ClassOf):
        return output.domain
    if isinstance(output, BoolDomain):
        return output
    return None


def candidates(spec, model: str, table=None) -> list[Candidate]:
    """Every candidate law of ``model`` that its signature allows (docs/data.md lists them).

    ``table`` (a :class:`symspec.data.table.Table`) gives the observed constant of
    each diagonal candidate; without it no diagonal candidate is made.
    """
    sig = spec.models[model]
    names = _Names(spec)
    params = [n for n, _ in sig.params]
    doms = [d for _, d in sig.params]
    var = [names.fresh(p) for p in params]  # the law's variables: the parameter names unless declared elsewhere
    out = sig.output
    out_dom = _class_domain(out)
    out_cyclic = out_dom.n if isinstance(out_dom, Cyclic) and not isinstance(out_dom, Units) else None
    k, u, g = names.fresh("k"), names.fresh("u"), names.fresh("g")

    def call(args) -> str:
        return f"{model}({', '.join(args)})"

    base = call(var)
    found: list[Candidate] = []

    def add(name: str, law: str, kind: str, **kw) -> None:
        found.append(Candidate(names.law(name), law, kind, **kw))

    # argument permutations within each set of same-domain finite arguments
    classes: list[list[int]] = []
    for i, d in enumerate(doms):
        if not _finite(d):
            continue
        for c in classes:
            if _same(doms[c[0]], d):
                c.append(i)
                break
        else:
            classes.append([i])
    for c in classes:
        if len(c) < 2:
            continue
        for x in range(len(c)):
            for y in range(x + 1, len(c)):
                i, j = c[x], c[y]
                swapped = list(var)
                swapped[i], swapped[j] = var[j], var[i]
                add(f"swap_{params[i]}_{params[j]}", f"{base} == {call(swapped)}", "argument swap")
                if isinstance(out, BoolDomain):
                    add(
                        f"antisymmetric_{params[i]}_{params[j]}",
                        f"{base} == not {call(swapped)} when {var[i]} != {var[j]}",
                        "antisymmetry (off the diagonal)",
                        test="moved swap",
                        args=(i, j),
                    )
                elif out_cyclic is not None:
                    add(f"antisymmetric_{params[i]}_{params[j]}", f"{base} == -{call(swapped)}", "antisymmetry (negated output)")
                diag = _diagonal(table, params, i, j, out_dom)
                if diag is not None:
                    same = list(var)
                    same[j] = var[i]
                    add(
                        f"diagonal_{params[i]}_{params[j]}",
                        _constant_law(call(same), diag, out_dom),
                        "constant on the diagonal",
                        test="diagonal",
                        args=(i, j),
                        constant=diag,
                        shown=_shown(diag, out_dom),
                    )
        if len(c) >= 3:
            rolled = list(var)
            for x in range(len(c)):
                rolled[c[x]] = var[c[(x + 1) % len(c)]]
            add("cycle_" + "_".join(params[i] for i in c), f"{base} == {call(rolled)}", "argument cycle")

    # constraint laws of a relation or a distance: two arguments of one finite domain
    if len(doms) == 2 and _finite(doms[0]) and _same(doms[0], doms[1]):
        x, y = var
        z = names.fresh("c" if isinstance(out, BoolDomain) else "w")
        tag = f"{params[0]}_{params[1]}"
        if isinstance(out, BoolDomain):
            add(
                f"transitive_{tag}",
                f"{call([x, y])} and {call([y, z])} => {call([x, z])}",
                "transitivity",
                test="constraint",
                args=(0, 1),
            )
        elif isinstance(out_dom, Range) or isinstance(out, RealDomain):
            add(
                f"triangle_{tag}",
                f"{call([x, y])} <= {call([x, z])} + {call([z, y])}",
                "triangle inequality",
                test="constraint",
                args=(0, 1),
            )

    # cyclic values: shifts, opposite shifts, negation, unit scaling
    by_n: dict[int, list[int]] = {}
    for i, d in enumerate(doms):
        if type(d) is Cyclic:
            by_n.setdefault(d.n, []).append(i)
    for n, idx in by_n.items():
        dom_text = spec.domain_name(doms[idx[0]])
        equi = out_cyclic == n
        for i in idx:
            moved = list(var)
            moved[i] = f"{var[i]} + {k}"
            if equi:
                add(f"shift_{params[i]}", f"forall {k}: {dom_text}. {call(moved)} == {base} + {k}", "shift (output shifted)")
            add(f"shift_invariant_{params[i]}", f"forall {k}: {dom_text}. {call(moved)} == {base}", "shift invariance")
        for x in range(len(idx)):
            for y in range(x + 1, len(idx)):
                i, j = idx[x], idx[y]
                moved = list(var)
                moved[i], moved[j] = f"{var[i]} + {k}", f"{var[j]} - {k}"
                add(f"opposite_{params[i]}_{params[j]}", f"forall {k}: {dom_text}. {call(moved)} == {base}", "opposite shifts")
        tag = "_".join(params[i] for i in idx)
        if len(idx) >= 2:
            moved = [f"{v} + {k}" if i in idx else v for i, v in enumerate(var)]
            if equi:
                add(f"shift_{tag}", f"forall {k}: {dom_text}. {call(moved)} == {base} + {k}", "joint shift (output shifted)")
            add(f"shift_invariant_{tag}", f"forall {k}: {dom_text}. {call(moved)} == {base}", "joint shift invariance")
        if n >= 3:
            neg = [f"-{v}" if i in idx else v for i, v in enumerate(var)]
            if equi:
                add(f"negate_{tag}", f"{call(neg)} == -{base}", "negation (output negated)")
            add(f"negate_invariant_{tag}", f"{call(neg)} == {base}", "negation invariance")
            scaled = [f"{u} * {v}" if i in idx else v for i, v in enumerate(var)]
            if equi:
                add(f"scale_{tag}", f"forall {u}: units({n}). {call(scaled)} == {base} * {u}", "unit scaling (output scaled)")
            add(f"scale_invariant_{tag}", f"forall {u}: units({n}). {call(scaled)} == {base}", "unit scaling invariance")
            if equi and len(idx) >= 2:  # one argument scaled, the output scaled alike (modular multiplication)
                for i in idx:
                    one = list(var)
                    one[i] = f"{u} * {var[i]}"
                    add(
                        f"scale_{params[i]}",
                        f"forall {u}: units({n}). {call(one)} == {base} * {u}",
                        "unit scaling of one argument (output scaled)",
                    )

    # graph automorphisms and label permutations, acting on every argument of the domain at once
    for c in classes:
        d = doms[c[0]]
        if isinstance(d, Nodes):
            group, what = _group(spec, "automorphisms", d.graph), "automorphism"
        elif isinstance(d, Labels) and 2 <= d.size <= MAX_LABEL_GROUP:
            group, what = _group(spec, "symmetric", d.size), "relabel"
        else:
            continue
        acted = [f"{g} . {v}" if i in c else v for i, v in enumerate(var)]
        tag = "_".join(params[i] for i in c)
        add(f"{what}_{tag}", f"forall {g}: {group}. {call(acted)} == {base}", f"{what} invariance")
        if out_dom is not None and _same(out_dom, d):
            add(f"{what}_equivariant_{tag}", f"forall {g}: {group}. {call(acted)} == {g} . {base}", f"{what} equivariance")

    # tensor arguments: symmetric(N) on the leading dim, dihedral(4) on square trailing dims (default actions)
    for i, d in enumerate(doms):
        if not isinstance(d, Tensor) or not d.dims:
            continue
        groups = []  # (group, name, dims of the output that must match for equivariance)
        if not (isinstance(d.dims[0], int) and d.dims[0] < 2):
            groups.append((_group(spec, "symmetric", d.dims[0]), "permute", slice(0, 1)))
        if len(d.dims) >= 2 and d.dims[-1] == d.dims[-2] and not (isinstance(d.dims[-1], int) and d.dims[-1] < 2):
            groups.append((_group(spec, "dihedral", 4), "d4", slice(-2, None)))
        for group, what, match in groups:
            acted = list(var)
            acted[i] = f"{g} . {var[i]}"
            add(
                f"{what}_invariant_{params[i]}",
                f"forall {g}: {group}. {call(acted)} == {base}",
                f"{group} invariance",
                test="tensor",
                args=(i,),
            )
            if isinstance(out, Tensor) and len(out.dims) >= len(d.dims[match]) and out.dims[match] == d.dims[match]:
                add(
                    f"{what}_{params[i]}",
                    f"forall {g}: {group}. {call(acted)} == {g} . {base}",
                    f"{group} equivariance",
                    test="tensor",
                    args=(i,),
                )
    return found


def _diagonal(table, params: list, i: int, j: int, out_dom) -> int | None:
    """The most frequent class value on the rows where arguments i and j are equal (None: no such row, or no classes)."""
    if table is None or out_dom is None or isinstance(out_dom, Nodes) or not table.finite():
        return None
    on = table.inputs[params[i]] == table.inputs[params[j]]
    if not bool(on.any()):
        return None
    values = table.target[on].to(torch.int64)
    uniq, counts = torch.unique(values, return_counts=True)
    return int(uniq[int(torch.argmax(counts))])


def _shown(value: int, out_dom) -> str:
    if isinstance(out_dom, Labels):
        return out_dom.labels[value]
    if isinstance(out_dom, BoolDomain):
        return "true" if value else "false"
    return str(value)


def _constant_law(call_text: str, value: int, out_dom) -> str:
    """``f(a, a) == c`` with c written as the spec writes it (a label by name; bool as the formula or its negation)."""
    if isinstance(out_dom, BoolDomain):
        return call_text if value else f"not {call_text}"
    if isinstance(out_dom, Labels):
        return f"{call_text} == {out_dom.labels[value]}"
    return f"{call_text} == {value}"
