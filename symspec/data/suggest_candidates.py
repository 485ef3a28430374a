"""The candidate laws of a model, generated from its signature (docs/data.md, "symspec suggest").

Each candidate is law text in the spec's own language; the analysis later
compiles it and hands back its transforms (``LawIR.generators``), so what is
tested on the data is exactly what the printed law means.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from ..analysis.domains import BoolDomain, ClassOf, Cyclic, Labels, Nodes, Range, RealDomain, Tensor, Units

__all__ = ["Candidate", "candidates", "same_laws", "MAX_LABEL_GROUP"]

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
    middle: tuple = ()  # "constraint": (the middle variable, one end, the other end) of the triple


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
                middle=(y, x, z),
            )
        elif isinstance(out_dom, Range) or isinstance(out, RealDomain):
            add(
                f"triangle_{tag}",
                f"{call([x, y])} <= {call([x, z])} + {call([z, y])}",
                "triangle inequality",
                test="constraint",
                args=(0, 1),
                middle=(z, x, y),
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


# ---- a candidate equal to a law of the spec ------------------------------------------------------------------

_FLIP = {">=": "<=", ">": "<"}  # a >= b is b <= a
_MAX_RENAMED = 7  # variables of a law compared under every renaming (7! = 5,040 at most)


def same_laws(spec, name: str) -> tuple:
    """The laws of ``spec`` (other than ``name``) that state the same law as ``name``: equal up to the names of their
    variables, the order of the terms of a sum (``+``) and of the operands of ``==``, ``!=``, ``and``, ``or``, the
    side of an inequality (``a >= b`` is ``b <= a``) and the splitting of a chained comparison; each variable over
    the same domain or group, the same guard and the same ``tol``/``rtol``. Structural, so decided for any law and
    any domain size (the analysis decides implication between equivariance laws only, on at most 600 points)."""
    law = spec.laws.get(name)
    if law is None:
        return ()
    return tuple(other for other, info in spec.laws.items() if other != name and _equal(law, info))


def _equal(a, b) -> bool:
    va, vb = list(a.variables), list(b.variables)
    if len(va) != len(vb) or len(va) > _MAX_RENAMED or (a.decl.guard is None) != (b.decl.guard is None):
        return False
    if _tolerances(a) != _tolerances(b):
        return False
    kinds_b = [_var_kind(b.variables[v]) for v in vb]
    target = (_canon(b.decl.body, {v: i for i, v in enumerate(vb)}), _canon(b.decl.guard, {v: i for i, v in enumerate(vb)}))
    for perm in itertools.permutations(range(len(vb))):  # a's variable k is b's variable perm[k]
        if any(_var_kind(a.variables[v]) != kinds_b[perm[k]] for k, v in enumerate(va)):
            continue
        rename = {v: perm[k] for k, v in enumerate(va)}
        if (_canon(a.decl.body, rename), _canon(a.decl.guard, rename)) == target:
            return True
    return False


def _tolerances(info) -> tuple:
    return (info.options.get("tol"), info.options.get("rtol"))


def _var_kind(var) -> tuple:
    """What a law variable ranges over, comparable across laws (a domain by value and type; a group by its kind,
    argument and structure, whatever it is called)."""
    if var.group is not None:
        return ("group", _group_key(var.group), var.element)
    d = var.domain
    return ("domain", type(d).__name__, repr(d), var.bound)


def _group_key(g) -> tuple:
    return (g.kind, repr(g.arg), tuple(g.generators), repr(g.relators), tuple(_group_key(f) for f in g.factors))


def _canon(node, rename: dict):
    """A hashable canonical form of a law formula (spans dropped, variables numbered by ``rename``)."""
    from ..syntax import ast

    if node is None:
        return None
    if isinstance(node, ast.Name):
        return ("var", rename[node.name]) if node.name in rename else ("name", node.name)
    if isinstance(node, ast.Int):
        return ("num", node.value)
    if isinstance(node, ast.Real):
        return ("num", node.value)
    if isinstance(node, ast.Call | ast.Index):
        return (type(node).__name__, node.func.name, tuple(_canon(x, rename) for x in node.args))
    if isinstance(node, ast.KwArg):
        return ("kw", node.name.name, _canon(node.value, rename))
    if isinstance(node, ast.Tuple):
        return ("tuple", tuple(_canon(x, rename) for x in node.items))
    if isinstance(node, ast.BinOp):
        if node.op == "+":  # a sum: its terms in any order
            return ("+", _sorted(_canon(t, rename) for t in _terms(node, "+")))
        return (node.op, _canon(node.left, rename), _canon(node.right, rename))
    if isinstance(node, ast.Neg | ast.Not):
        return (type(node).__name__, _canon(node.operand, rename))
    if isinstance(node, ast.Act):
        return ("act", _canon(node.element, rename), _canon(node.operand, rename))
    if isinstance(node, ast.Compare):
        links = []
        for left, right, op in zip(node.operands, node.operands[1:], node.ops):
            lc, rc = _canon(left, rename), _canon(right, rename)
            if op in _FLIP:
                op, lc, rc = _FLIP[op], rc, lc
            links.append((op, *_sorted((lc, rc))) if op in ("==", "!=") else (op, lc, rc))
        return links[0] if len(links) == 1 else ("and", _sorted(links))
    if isinstance(node, ast.Logic):
        if node.op in ("and", "or"):
            return (node.op, _sorted(_canon(t, rename) for t in _terms(node, node.op)))
        return (node.op, _canon(node.left, rename), _canon(node.right, rename))
    return ("?", repr(node))  # pragma: no cover - every expression node is listed above


def _terms(node, op: str) -> list:
    """The operands of a chain of one associative operator (``a + b + c``, ``p and q and r``)."""
    from ..syntax import ast

    if isinstance(node, ast.BinOp | ast.Logic) and node.op == op:
        return _terms(node.left, op) + _terms(node.right, op)
    return [node]


def _sorted(items) -> tuple:
    return tuple(sorted(items, key=repr))
