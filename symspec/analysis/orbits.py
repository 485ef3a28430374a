"""What a model's laws buy and whether they can hold: orbits, redundancy, contradictions.

All of it works from generators, never by enumerating a group:

- orbits: union-find (vectorized hooking and pointer jumping) over the
  images of the inputs under each generator of each equivariance law;
- redundancy: sympy's membership test (Schreier-Sims) in the group the
  earlier laws generate, acting faithfully on (argument slot, value) pairs
  and output classes;
- contradictions: a generator that fixes an input while moving every output
  class, and constant laws that disagree on inputs a transform links.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..syntax import ast
from .domains import BoolDomain, ClassOf, Cyclic, Labels, Nodes, Range
from .groups import is_finite_domain
from .sealed import Sealed

__all__ = [
    "ModelIR",
    "components",
    "input_sizes",
    "transform_images",
    "MAX_ORBIT_INPUTS",
    "MAX_ORBIT_ENTRIES",
    "MAX_ORBIT_TOTAL",
    "OrbitBudget",
    "MAX_MEMBERSHIP_POINTS",
    "analyze_model",
    "laws_by_model",
    "joint_push",
    "joint_push_array",
]

MAX_ORBIT_INPUTS = 2_000_000  # union-find over every input in numpy: about a second and 250 MB at this size
MAX_ORBIT_ENTRIES = 24_000_000  # int64 arrays over the inputs held at once: an image per generator, coordinates, work
MAX_ORBIT_TOTAL = 48_000_000  # the same work over all models together: a few seconds (600 models of 10^6 inputs took 80 s)
MAX_MEMBERSHIP_POINTS = 600  # redundancy is decided (sympy's Schreier-Sims, pure Python) on at most this many points


@dataclass
class ModelIR(Sealed):
    name: str
    signature: str
    inputs: int | None
    orbits: int | None
    summary: str
    equivariance_laws: tuple = ()


def input_sizes(sig) -> list | None:
    sizes = []
    for _, d in sig.params:
        if not is_finite_domain(d):
            return None
        sizes.append(d.size)
    return sizes


def components(n: int, edges: list) -> np.ndarray:
    """Connected-component roots of 0..n-1 under the (src, dst) edge arrays."""
    parent = np.arange(n, dtype=np.int64)
    while True:
        changed = False
        for src, dst in edges:
            ps, pd = parent[src], parent[dst]
            moving = ps != pd
            if not moving.any():
                continue
            changed = True
            lo = np.minimum(ps[moving], pd[moving])
            hi = np.maximum(ps[moving], pd[moving])
            np.minimum.at(parent, hi, lo)
            while True:  # pointer jumping until every node points at its root
                grand = parent[parent]
                if np.array_equal(grand, parent):
                    break
                parent = grand
        if not changed:
            return parent


def transform_images(sizes: list, coords: list, gen) -> np.ndarray:
    """Flat index of T x for every flat input x."""
    moved = [gen.arg_perms[i][coords[gen.sources[i]]] for i in range(len(sizes))]
    return np.ravel_multi_index(tuple(moved), tuple(sizes)).astype(np.int64)


def _value_text(domain, index: int, spec, sym) -> str:
    if isinstance(domain, Range):
        return str(domain.lo + index)
    if isinstance(domain, Labels):
        return domain.labels[index]
    if isinstance(domain, Nodes):
        return sym.graph(domain.graph).label(index)
    return str(index)


def _input_text(sig, flat: int, sizes: list, spec, sym) -> str:
    coords = np.unravel_index(flat, sizes)
    return ", ".join(f"{p} = {_value_text(d, int(c), spec, sym)}" for (p, d), c in zip(sig.params, coords))


def _class_text(output, c: int, spec, sym) -> str:
    domain = output.domain if isinstance(output, ClassOf) else output
    if isinstance(domain, BoolDomain):
        return "true" if c else "false"
    return _value_text(domain, c, spec, sym)


def joint_push(gen, offsets: list, out_offset: int | None, total: int) -> list:
    """A generator as a permutation of (slot, value) points and output points, as a list of ints.

    ``out_offset`` None: no output points (a real or tensor output, which the
    caller has checked every generator leaves unchanged).
    """
    return joint_push_array(gen, offsets, out_offset, total).tolist()


def joint_push_array(gen, offsets: list, out_offset: int | None, total: int) -> np.ndarray:
    """:func:`joint_push` as an int64 array."""
    perm = np.arange(total, dtype=np.int64)
    for i, s in enumerate(gen.sources):
        src = np.arange(len(gen.arg_perms[i]))
        perm[offsets[s] + src] = offsets[i] + gen.arg_perms[i]
    if gen.out_perm is not None and out_offset is not None:
        perm[out_offset + np.arange(len(gen.out_perm))] = out_offset + gen.out_perm
    return perm


def _constant_laws(spec, sig, laws) -> list:
    """Laws 'f(args) == c' with constant or repeated-variable args: (law, mask over inputs, class)."""
    out = []
    if not isinstance(sig.output, ClassOf | BoolDomain):
        return out
    sizes = input_sizes(sig)
    for law in laws:
        body = law.decl.body
        if law.decl.guard is not None or not isinstance(body, ast.Compare) or body.ops != ("==",):
            continue
        call, const = body.operands
        if not isinstance(call, ast.Call):
            call, const = const, call
        if not isinstance(call, ast.Call) or call.func.name != sig.name or len(call.args) != len(sig.params):
            continue
        cls = _constant_index(const, sig.output, spec)
        if cls is None:
            continue
        conds = []
        ok = True
        for i, (a, (_, d)) in enumerate(zip(call.args, sig.params)):
            if isinstance(a, ast.Name) and a.name in law.variables:
                conds.append(("var", a.name, i))
            else:
                v = _constant_index(a, d, spec)
                if v is None:
                    ok = False
                    break
                conds.append(("const", v, i))
        if ok:
            out.append((law, conds, cls, sizes))
    return out


def _constant_index(e, domain, spec):
    dom = domain.domain if isinstance(domain, ClassOf) else domain
    if isinstance(e, ast.Int) or (isinstance(e, ast.Name) and e.name in spec.params):
        v = e.value if isinstance(e, ast.Int) else spec.params[e.name]
        if isinstance(dom, Range):
            v -= dom.lo
        if isinstance(dom, Cyclic):
            v %= dom.n
        return v if 0 <= v < getattr(dom, "size", 2) else None
    if isinstance(e, ast.Name) and isinstance(dom, Labels) and e.name in dom.labels:
        return dom.labels.index(e.name)
    return None


def _mask(conds, coords: list, n: int) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    first: dict = {}
    for kind, v, i in conds:
        if kind == "const":
            mask &= coords[i] == v
        elif v in first:
            mask &= coords[i] == coords[first[v]]
        else:
            first[v] = i
    return mask


class OrbitBudget:
    """The orbit-counting work left for the models not yet analyzed (starts at MAX_ORBIT_TOTAL)."""

    def __init__(self, left: int | None = None) -> None:
        self.left = MAX_ORBIT_TOTAL if left is None else left


def laws_by_model(law_irs: dict, laws: dict) -> tuple:
    """(model -> its equivariance laws' IRs, model -> the laws calling it), each in declaration order, built once
    for all models (scanning every law for each model was quadratic: 8,000 models x 8,000 laws)."""
    equivariance: dict = {}
    calling: dict = {}
    for name, law in laws.items():
        law_ir = law_irs[name]
        if law_ir.law_class == "equivariance":
            equivariance.setdefault(law_ir.model, []).append(law_ir)
        for model in dict.fromkeys(law.models):
            calling.setdefault(model, []).append(law)
    return equivariance, calling


def analyze_model(
    spec, sym, sig, law_irs: dict, laws: dict, reporter, index: tuple | None = None, budget: OrbitBudget | None = None
) -> ModelIR:
    """Orbits, redundancy and contradictions of one model's laws; ``index`` is ``laws_by_model(law_irs, laws)``,
    ``budget`` the orbit-counting work left to the spec's models (this model's is taken from it)."""
    equivariance, calling = index if index is not None else laws_by_model(law_irs, laws)
    eq = equivariance.get(sig.name, [])
    sizes = input_sizes(sig)
    inputs = int(np.prod(sizes, dtype=object)) if sizes is not None else None
    model = ModelIR(sig.name, sig.signature(), inputs, None, "", tuple(e.name for e in eq))
    finite_eq = [e for e in eq if e.finite]
    if inputs is None:
        model.summary = f"the inputs of {sig.name} are not a finite set"
        _redundancy(spec, sig, eq, reporter)
        return model
    generators = sum(len(e.generators) for e in finite_eq)
    if inputs > MAX_ORBIT_INPUTS or inputs * (generators + len(sizes) + 3) > MAX_ORBIT_ENTRIES:
        model.summary = (
            f"{inputs} inputs of {sig.name}: too many to count orbits (the limit is {MAX_ORBIT_INPUTS} inputs, "
            f"and inputs x (generators + arguments + 3) at most {MAX_ORBIT_ENTRIES})"
        )
        _redundancy(spec, sig, eq, reporter)
        return model
    work = inputs * (generators + len(sizes) + 3)
    if budget is not None and work > budget.left:
        model.summary = (
            f"{inputs} inputs of {sig.name}: orbits not counted (the models' orbit counts together are limited to "
            f"{MAX_ORBIT_TOTAL} entries of inputs x (generators + arguments + 3), spent by the models before it)"
        )
        _redundancy(spec, sig, eq, reporter)
        return model
    if budget is not None:
        budget.left -= work
    coords = list(np.unravel_index(np.arange(inputs, dtype=np.int64), sizes))
    images = {id(g): transform_images(sizes, coords, g) for e in finite_eq for g in e.generators}
    flat = np.arange(inputs, dtype=np.int64)
    roots = components(inputs, [(flat, images[id(g)]) for e in finite_eq for g in e.generators])
    model.orbits = int(np.count_nonzero(roots == flat))
    if len(finite_eq) < len(eq):
        model.orbits = None
        continuous = [e.name for e in eq if not e.finite and _continuous(e, laws, sym)]
        if continuous:
            model.summary = f"{inputs} inputs of {sig.name}; some of its laws act on them through a continuous group"
        else:
            others = [e.name for e in eq if not e.finite]
            which = f"law {others[0]} does" if len(others) == 1 else f"laws {', '.join(others)} do"
            model.summary = (
                f"{inputs} inputs of {sig.name}; {which} not permute them (a transform that is not a bijection "
                "of the inputs or outputs), so their orbits are not counted"
            )
    elif model.orbits == 1:
        model.summary = (
            f"{inputs} inputs of {sig.name} fall into 1 orbit: the laws determine {sig.name} everywhere from one value"
        )
    elif model.orbits == inputs:
        model.summary = f"{inputs} inputs of {sig.name} fall into {inputs} orbits: no law relates two inputs"
    else:
        model.summary = (
            f"{inputs} inputs of {sig.name} fall into {model.orbits} orbits: the laws determine {sig.name} "
            f"from {model.orbits} values ({inputs / model.orbits:.1f}x fewer)"
        )
    _redundancy(spec, sig, eq, reporter)
    _unsatisfiable(spec, sym, sig, finite_eq, images, sizes, inputs, reporter)
    mine = calling.get(sig.name, [])
    _constant_conflicts(spec, sym, sig, finite_eq, images, coords, inputs, mine, law_irs, reporter)
    return model


def _continuous(e, laws: dict, sym) -> bool:
    """Whether an equivariance law ranges over a continuous group."""
    law = laws[e.name]
    for p in e.sides[4] if e.sides else ():
        v = law.variables[p]
        if v.group is not None and sym.group(v.group, v.group.name or None).continuous:
            return True
    return False


def _redundancy(spec, sig, eq: list, reporter) -> None:
    usable = [e for e in eq if e.finite and all(g.out_perm is not None or g.out_identity for g in e.generators)]
    if len(usable) < 2:
        return

    sizes = next(([len(p) for p in g.arg_perms] for e in usable for g in e.generators), None)
    if sizes is None:  # no law has a generator (each ranges over a trivial group): nothing to imply
        return
    offsets = list(np.cumsum([0] + sizes[:-1])) if sizes else []
    out_n = next((len(g.out_perm) for e in usable for g in e.generators if g.out_perm is not None), 0)
    out_offset = int(sum(sizes))
    total = out_offset + out_n
    if total > MAX_MEMBERSHIP_POINTS:  # not decided: sympy's membership test is not bounded on more points
        return
    earlier: list = []
    for e in usable:
        perms = [joint_push_array(g, [int(o) for o in offsets], out_offset, total) for g in e.generators]
        if earlier and perms and _same_orbits(total, [p for _, p in earlier], perms):
            from sympy.combinatorics import Permutation  # only when the law may be implied

            group = _permutation_group(total, [p for _, p in earlier])
            if all(group.contains(Permutation(p.tolist())) for p in perms):
                e.redundant = True
                e.implied_by = tuple(dict.fromkeys(name for name, _ in earlier))
                cost = f"{e.forward_passes} forward pass{'es' if e.forward_passes != 1 else ''}"
                names = (
                    " and ".join(e.implied_by)
                    if len(e.implied_by) <= 2
                    else ", ".join(e.implied_by[:-1]) + " and " + e.implied_by[-1]
                )
                reporter.warning(
                    f"law {e.name} is implied by {names}; it costs {cost} per example and adds nothing",
                    e.span,
                    "remove it, or keep it on purpose as a stronger training signal",
                )
                continue
        earlier += [(e.name, p) for p in perms]


_GROUPS: OrderedDict = OrderedDict()  # (points, generators' bytes) -> sympy group, its stabilizer chain once built
_GROUPS_KEPT = 16


def _permutation_group(total: int, perms: list):
    """The sympy group of ``perms``, the same object for the same generators while it is among the last 16 asked
    for: its Schreier-Sims chain (about 0.6 s on 400 points) is built once, not again by every spec that repeats
    the same earlier laws (``suggest`` checks a growing list of kept laws, one spec per candidate)."""
    from sympy.combinatorics import Permutation, PermutationGroup

    key = (total, tuple(np.asarray(p, dtype=np.int64).tobytes() for p in perms))
    group = _GROUPS.get(key)
    if group is None:
        group = _GROUPS[key] = PermutationGroup([Permutation(p.tolist()) for p in perms])
        while len(_GROUPS) > _GROUPS_KEPT:
            _GROUPS.popitem(last=False)
    _GROUPS.move_to_end(key)
    return group


def _same_orbits(total: int, earlier: list, new: list) -> bool:
    """Whether adding ``new`` leaves the orbits of the points unchanged (necessary for being implied)."""
    flat = np.arange(total, dtype=np.int64)
    before = components(total, [(flat, p) for p in earlier])
    after = components(total, [(flat, p) for p in earlier + new])
    return bool(np.array_equal(before, after))


def _unsatisfiable(spec, sym, sig, eq: list, images: dict, sizes: list, inputs: int, reporter) -> None:
    flat = np.arange(inputs, dtype=np.int64)
    for e in eq:
        for g in e.generators:
            if g.out_perm is None or g.out_identity:
                continue
            if np.any(g.out_perm == np.arange(len(g.out_perm))):
                continue  # some output class is fixed: satisfiable at fixed inputs
            fixed = np.flatnonzero(images[id(g)] == flat)
            if len(fixed):
                witness = _input_text(sig, int(fixed[0]), sizes, spec, sym)
                reporter.error(
                    f"law {e.name} is unsatisfiable: at {witness} its transform ({g.label}) leaves the input "
                    f"unchanged but moves every output class, so no {sig.name}({', '.join(p for p, _ in sig.params)}) can satisfy it",
                    e.span,
                    "the output transform needs a fixed point wherever the input transform has one",
                )
                break


def _constant_conflicts(spec, sym, sig, eq, images, coords, inputs, laws, law_irs, reporter) -> None:
    consts = _constant_laws(spec, sig, laws)
    if not consts:
        return
    masks = [(law, _mask(conds, coords, inputs), cls) for law, conds, cls, _ in consts]
    sizes = input_sizes(sig)
    reported = set()
    for i, (la, ma, ca) in enumerate(masks):
        for lb, mb, cb in masks[i + 1 :]:
            both = np.flatnonzero(ma & mb)
            if ca != cb and len(both) and (la.name, lb.name) not in reported:
                reported.add((la.name, lb.name))
                reporter.error(
                    f"law {lb.name} contradicts law {la.name}: at {_input_text(sig, int(both[0]), sizes, spec, sym)} "
                    f"one asks for {_class_text(sig.output, ca, spec, sym)}, the other for {_class_text(sig.output, cb, spec, sym)}",
                    lb.decl.span,
                    "these laws cannot both hold: correct or remove one of them",
                    notes=[(la.decl.span, f"law {la.name}")],
                )
    for e in eq:
        for g in e.generators:
            if g.out_perm is None:
                continue
            for la, ma, ca in masks:
                src = np.flatnonzero(ma)
                dst = images[id(g)][src]
                for lb, mb, cb in masks:
                    hit = mb[dst] & (g.out_perm[ca] != cb)
                    if hit.any() and (e.name, la.name, lb.name) not in reported:
                        reported.add((e.name, la.name, lb.name))
                        x = int(src[np.argmax(hit)])
                        y = int(dst[np.argmax(hit)])
                        there = "itself" if x == y else f"({_input_text(sig, y, sizes, spec, sym)})"
                        moved = _class_text(sig.output, int(g.out_perm[ca]), spec, sym)
                        wanted = _class_text(sig.output, cb, spec, sym)
                        if la is lb:  # one constant law, moved onto its own inputs
                            message = (
                                f"law {la.name} contradicts law {e.name}: {e.name} maps "
                                f"({_input_text(sig, x, sizes, spec, sym)}) to {there}, where {la.name} "
                                f"asks for {_class_text(sig.output, ca, spec, sym)} and so {e.name} gives {moved}, "
                                f"but {la.name} asks for {wanted}"
                            )
                        else:
                            message = (
                                f"laws {la.name} and {lb.name} contradict law {e.name}: it maps "
                                f"({_input_text(sig, x, sizes, spec, sym)}) to {there}, "
                                f"where {la.name} and {e.name} give {moved} but {lb.name} asks for {wanted}"
                            )
                        reporter.error(
                            message,
                            lb.decl.span,
                            "these laws cannot all hold: correct or remove one of them",
                            notes=[(e.span, f"law {e.name}")],
                        )
