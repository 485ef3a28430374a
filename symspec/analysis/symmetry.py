"""Build every group concretely and find each action a spec uses.

Declared actions are checked against their presentation's relators on the
actual transforms; default actions (docs/language.md) fill in where nothing is
declared; a group used on a domain it has no action on is an error naming
both.  Orders come from formulas, sympy's Schreier-Sims, or capped
Todd-Coxeter.
"""

from __future__ import annotations

import numpy as np

from ..errors import Span
from ..syntax import ast
from .actions import by_transforms
from .composed import COMPOSED_TRANSFORMS, op_sequence, transform_text
from .domains import Cyclic, Labels, Nodes, RealDomain, Tensor, describe
from .graphs import (
    MAX_DISTANCE_NODES,
    SEARCH_BUDGET,
    GraphIR,
    SearchBudgetExceeded,
    automorphism_generators,
    build_graph,
    closed_form_order,
)
from .groups import (
    COSET_CAP,
    MAX_FACTORIAL,
    MAX_POINTS,
    MAX_SCHREIER_SIMS_WORK,
    SYMBOLIC_TEST_SIZES,
    ActionIR,
    GroupIR,
    family_generators,
    family_order,
    finite_shape,
    identity,
    is_finite_domain,
    ops_perm,
    points_of,
    relator_text,
    word_perm,
)
from .orbits import components
from .physics import noncompact_abelian, noncompact_default, noncompact_dimension, noncompact_hint, noncompact_ops
from .presentations import PresentationInfinite, PresentationTooLarge, presentation_order
from .scope import Reporter
from .structures import NONCOMPACT_FAMILIES, ActionDef, GroupDef
from .units import units_ir, units_ops

__all__ = ["Symmetry", "perm_group", "schreier_sims_fits", "MAX_ACTION_ENTRIES", "MAX_CHECK_WORK", "relators_work", "word_work"]


def perm_group(perms):
    """A sympy PermutationGroup from push maps (sympy imported on demand)."""
    from sympy.combinatorics import Permutation, PermutationGroup

    unique: dict = {}
    for p in perms:  # equal generators once (50 flips of one dim are one generator)
        a = np.asarray(p, dtype=np.int64)
        unique.setdefault(a.tobytes(), a)
    if not unique:
        return None
    # _af_new: the arrays are permutations already (push maps), so sympy's element-by-element validation is skipped
    return PermutationGroup([Permutation._af_new(a.tolist()) for a in unique.values()])


MAX_FAMILY_POINTS = 1_000_000  # a family of larger degree keeps named generators acting through their ops (no push maps)
SMALL_FAMILY = 1000  # families of at most this degree are always tabulated (shared per degree: 8*10^6 entries at most)
MAX_ACTION_ENTRIES = 12_000_000  # push-map entries (generators x points) of all actions together: 96 MB of int64
MAX_CHECK_WORK = 40_000_000  # entries composed to check relators and commuting factors on push maps (a second or so)


def word_work(word: ast.Word) -> int:
    """How many push-map compositions ``word_perm`` makes for ``word`` (a power k costs about 2 log2 k)."""
    total = 0
    for factor in word.powers:
        inner = word_work(factor.base) if isinstance(factor.base, ast.Word) else 0
        total += inner + 2 * max(1, abs(factor.exponent).bit_length()) + 1
    return total


def relators_work(relators: tuple) -> int:
    """Compositions to evaluate every relator once (both sides)."""
    return sum(word_work(r.lhs) + (word_work(r.rhs) if r.rhs is not None else 1) for r in relators)


def schreier_sims_fits(perms: list) -> bool:
    """Whether sympy's Schreier-Sims on these push maps stays small: its transversals hold up to (largest orbit) x
    (points) entries and its generators (distinct ones) x (points), together bounded by MAX_SCHREIER_SIMS_WORK
    (the orbit computed by union-find, nothing enumerated)."""
    n = len(perms[0])
    distinct = len({np.asarray(p, dtype=np.int64).tobytes() for p in perms})
    if distinct * n > MAX_SCHREIER_SIMS_WORK:
        return False
    flat = np.arange(n, dtype=np.int64)
    roots = components(n, [(flat, np.asarray(p, dtype=np.int64)) for p in perms])
    return (int(np.bincount(roots).max()) + distinct) * n <= MAX_SCHREIER_SIMS_WORK


class Symmetry:
    """Concrete graphs, groups and actions of one checked spec."""

    def __init__(self, spec, reporter: Reporter):
        self.spec = spec
        self.r = reporter
        self.graphs: dict[str, GraphIR] = {}
        self.groups: dict[str, GroupIR] = {}
        self._declared: dict = {}  # (group name, domain type) -> ActionDef
        self._inline: dict[str, GroupIR] = {}
        self._entries = 0  # push-map entries of every action built so far (MAX_ACTION_ENTRIES)
        self._check_work = 0  # entries composed checking relators and commuting factors (MAX_CHECK_WORK)
        self._relators_checked: set = set()  # (group, points checked on, ops) already checked
        self._families: dict = {}  # (family, degree) -> its generators' push maps, shared by its groups
        self._implied: dict = {}  # (factor name, domain) -> its trivial action inside a product (no action of its own)
        self._defaults: dict = {}  # (group name, domain) -> its default action's (kind, ops, dim), or None

    @property
    def inline_groups(self) -> dict:
        """Groups written inline (forall g: symmetric(N), layer ... under SO(3)), by their text."""
        return self._inline

    # ---- graphs --------------------------------------------------------------------
    def graph(self, name: str) -> GraphIR:
        if name not in self.graphs:
            self.graphs[name] = build_graph(self.spec.graphs[name])
        return self.graphs[name]

    # ---- groups --------------------------------------------------------------------
    def build(self) -> None:
        for name in self.spec.graphs:
            g = self.graph(name)
            if not g.connected:
                self.r.warning(
                    f"graph '{name}' is not connected: distances between its components are undefined",
                    g.definition.span,
                    "models of distance assume a connected graph",
                )
        self._check_between()
        for name, gdef in self.spec.groups.items():
            self.group(gdef, name)
        for act in self.spec.actions:
            self._declared[(act.group, self.spec.domains[act.domain])] = act
            self._declared_action(act)
        for gir in self.groups.values():
            if gir.definition.kind == "presentation" and not gir.how:
                self._presentation_order(gir)
        # products were built before their presentation factors had orders: fill theirs in now
        for gir in list(self.groups.values()) + list(self._inline.values()):
            _product_order(gir)

    def _check_between(self) -> None:
        """between(G, ...) reads G's all-pairs distances, which are kept only for graphs up to MAX_DISTANCE_NODES."""
        for law in self.spec.laws.values():
            decl = law.decl
            for part in (decl.body, decl.guard):
                for node in ast.walk(part) if part is not None else ():
                    if not (isinstance(node, ast.Call) and node.func.name == "between" and node.args):
                        continue
                    g = node.args[0]
                    if not isinstance(g, ast.Name) or g.name not in self.spec.graphs:
                        continue
                    n = self.graph(g.name).num_nodes
                    if n > MAX_DISTANCE_NODES:
                        self.r.error(
                            f"between({g.name}, ...) needs the distances between all pairs of nodes of '{g.name}', "
                            f"which has {n} nodes; symspec computes them for graphs of up to {MAX_DISTANCE_NODES} nodes",
                            node.span,
                            f"use a smaller graph, or state the law without between (graph '{g.name}' itself is fine)",
                        )

    def group(self, gdef: GroupDef, name: str | None = None) -> GroupIR:
        key = name or gdef.name or str(gdef)
        cache = self.groups if (name or gdef.name) else self._inline
        if key in cache:
            return cache[key]
        gir = GroupIR(key, gdef)
        cache[key] = gir
        kind, n = gdef.kind, gdef.arg
        if kind in ("cyclic", "dihedral", "symmetric", "alternating"):
            gir.order, gir.abelian, gir.order_text = family_order(kind, n)
            gir.how = "formula"
            perms = self._family_tables(kind, n)
            if perms is not None:
                gir.perms = dict(perms)  # the arrays shared, read-only once sealed
                gir.generators = tuple(gir.perms)
            else:  # symbolic, or too large to tabulate: named generators acting through their ops
                gir.generators = _FAMILY_GENERATORS[kind]
        elif kind == "units":  # the units of Z/nZ (analysis/units.py): generators u<k>, order phi(n)
            units_ir(gir)
        elif kind in ("SO", "O"):
            gir.order, gir.abelian, gir.order_text = family_order(kind, n)
            gir.continuous = gir.order is None
            gir.lie_dimension = n * (n - 1) // 2
            gir.generators = ("reflection",) if kind == "O" else ()
            gir.how = "formula"
        elif kind in NONCOMPACT_FAMILIES:  # Lorentz groups, translations, rigid motions: infinite, not compact
            gir.order, gir.abelian, gir.order_text = None, noncompact_abelian(kind, n), "infinite"
            gir.continuous = True
            gir.lie_dimension = noncompact_dimension(kind, n)
            gir.how = "formula"
        elif kind == "automorphisms":
            graph = self.graph(n)
            try:
                perms = automorphism_generators(graph)
            except SearchBudgetExceeded:
                self.r.error(
                    f"could not find the automorphisms of graph '{n}' ({graph.num_nodes} nodes) within the search bound "
                    f"({SEARCH_BUDGET} steps, a refinement round over n nodes costing 1 + n/4)",
                    gdef.span,
                    "declare the symmetry group explicitly (a presentation with an action, or a family)",
                )
                perms = []
            gir.perms = {f"a{i + 1}": p for i, p in enumerate(perms)}
            gir.generators = tuple(gir.perms)
            known = closed_form_order(graph.definition, MAX_FACTORIAL)
            if known is not None:
                gir.order, gir.abelian, gir.order_text = known
                gir.how = f"formula ({len(perms)} generators, closed form)"
            elif perms and not schreier_sims_fits(perms):
                self.r.error(
                    f"cannot find the order of automorphisms({n}): graph '{n}' has {graph.num_nodes} nodes, too many "
                    f"for Schreier-Sims (largest orbit times points at most {MAX_SCHREIER_SIMS_WORK})",
                    gdef.span,
                    "declare the symmetry group explicitly (a presentation with an action, or a family)",
                )
            else:
                pg = perm_group(gir.perms.values())
                gir.order = int(pg.order()) if pg is not None else 1
                gir.abelian = bool(pg.is_abelian) if pg is not None else True
                gir.order_text = str(gir.order)
                gir.how = f"Schreier-Sims on {len(perms)} generators ({graph.automorphisms_by})"
        elif kind == "presentation":
            gir.generators = gdef.generators
        elif kind == "product":
            factors = [self.group(f, f.name or None) for f in gdef.factors]
            gir.factors = tuple(factors)
            gir.generators = tuple(f"{f.name}.{g}" for f in factors for g in f.generators)
            gir.continuous = any(f.continuous for f in factors)
            gir.lie_dimension = sum(f.lie_dimension for f in factors)
            _product_order(gir)
            gir.how = "product of its factors"
        return gir

    def _family_tables(self, kind: str, n) -> dict | None:
        """The generators' push maps of ``kind(n)``, shared by every group of that family and degree; None when
        symbolic, past MAX_FAMILY_POINTS, or (degree over SMALL_FAMILY) past MAX_ACTION_ENTRIES with the tables
        and actions built so far (200 groups symmetric(10^6) held 3.2 GB of tables)."""
        if not isinstance(n, int) or n > MAX_FAMILY_POINTS:
            return None
        key = (kind, n)
        if key not in self._families:
            entries = n * len(_FAMILY_GENERATORS[kind])
            if n > SMALL_FAMILY and self._entries + entries > MAX_ACTION_ENTRIES:
                return None
            self._families[key] = family_generators(kind, n)
            self._entries += sum(len(p) for p in self._families[key].values())
        return self._families[key]

    def _presentation_order(self, gir: GroupIR) -> None:
        finite = [a for a in gir.actions.values() if a.perms and a.kind != "trivial"]
        perms = []
        if finite:
            offset = 0
            joint = {g: [] for g in gir.generators}
            for a in finite:
                for g in gir.generators:
                    joint[g].append(a.perms[g] + offset)
                offset += a.points
            perms = [np.concatenate(joint[g]) for g in gir.generators]
        if perms and schreier_sims_fits(perms):
            pg = perm_group(perms)
            gir.order = int(pg.order())
            gir.abelian = bool(pg.is_abelian)
            gir.order_text = str(gir.order)
            where = ", ".join(a.domain for a in finite)
            gir.how = f"Schreier-Sims on its action on {where}"
            return
        try:
            gir.order, gir.abelian, gir.how = presentation_order(gir.generators, gir.definition.relators, COSET_CAP)
            gir.order_text = str(gir.order)
        except PresentationInfinite as why:
            self.r.error(
                f"group '{gir.name}' is infinite: {why}",
                gir.definition.span,
                "add a relator per generator, such as its order (r^4)",
            )
        except PresentationTooLarge as why:
            self.r.error(
                f"cannot find the order of group '{gir.name}': {why}; the group is infinite or too large to enumerate",
                gir.definition.span,
                "give it an action on a finite domain (its permutation group gives the order), or check the relators",
            )

    # ---- actions -------------------------------------------------------------------
    def _finish(self, act: ActionIR, domain, span: Span | None = None) -> ActionIR | None:
        """Compute push maps where the domain is finite and small enough; None (an error at the action, or at
        ``span`` for a default action) when they would take all actions' push maps past MAX_ACTION_ENTRIES."""
        if act.kind in ("values", "positions") or (act.kind == "trivial" and act.ops and points_of(domain) is not None):
            shape = finite_shape(domain)
            points = points_of(domain)
            if points is not None and points <= MAX_POINTS:
                trivial = act.kind == "trivial"  # every generator the identity: one push map shared by all
                entries = points * (1 if trivial else len(act.ops))
                if self._entries + entries > MAX_ACTION_ENTRIES:
                    earlier = f" (with the earlier actions' {self._entries})" if self._entries else ""
                    self.r.error(
                        f"the action of {act.group} on {act.domain} needs push maps of {entries} entries "
                        f"({len(act.ops)} generator{'s' if len(act.ops) != 1 else ''} x {points} points){earlier}, "
                        f"more than the limit of {MAX_ACTION_ENTRIES} for all actions together",
                        act.span or span,
                        "act on a smaller domain, or with fewer generators",
                    )
                    return None
                self._entries += entries
                if trivial:
                    same = identity(points)
                    act.perms = dict.fromkeys(act.ops, same)
                else:
                    act.perms = {g: ops_perm(ops, domain, shape) for g, ops in act.ops.items()}
        return act

    def _afford_check(self, work: int, what: str, span: Span | None) -> bool:
        """Whether ``work`` more composed entries fit MAX_CHECK_WORK; an error at ``span`` naming ``what`` if not."""
        if self._check_work + work <= MAX_CHECK_WORK:
            self._check_work += work
            return True
        self.r.error(
            f"checking {what} would compose push maps of {work} entries in all, more than the limit of "
            f"{MAX_CHECK_WORK}" + (f" (with the earlier checks' {self._check_work})" if self._check_work else ""),
            span,
            "act on a smaller domain, or give the group fewer or shorter relators",
        )
        return False

    def _declared_action(self, a: ActionDef) -> ActionIR | None:
        gir = self.groups[a.group]
        domain = self.spec.domains[a.domain]
        kind = "values" if is_finite_domain(domain) else ("positions" if points_of(domain) is not None else "symbolic")
        act = ActionIR(a.group, a.domain, domain, "declared", kind, span=a.span)
        if a.maps:
            act.ops = {g: op_sequence(t, domain, _normalized) for g, t in a.maps}  # compose(...): several ops
            act.texts = {g: transform_text(t) if t.name in COMPOSED_TRANSFORMS else str(t) for g, t in a.maps}
        elif a.by.name == "identity":  # any group: every generator acts as the identity
            act.kind, act.ops = "trivial", {g: () for g in gir.generators}
        else:
            built = self._family_ops(gir, a.by.name, dict(a.by.args), domain)
            if built is None:
                return None
            act.kind, act.ops, act.matrix_dim = built
        if self._finish(act, domain) is None:
            return None
        gir.actions[a.domain] = act
        if gir.definition.kind == "presentation" and act.kind != "trivial":  # the identity satisfies every relator
            self._check_relators(gir, act, a)
        return act

    def _family_ops(self, gir: GroupIR, transform: str, args: dict, domain):
        """(kind, ops per generator, matrix dim) of a family acting by ``transform``."""
        kind = gir.definition.kind
        if kind == "units":  # scale, or compose(..., scale, ...) (analysis/units.py)
            return units_ops(gir, transform, args, domain, _normalized)
        if kind in NONCOMPACT_FAMILIES:
            return noncompact_ops(transform, args, domain)
        finite = "values" if is_finite_domain(domain) else ("positions" if points_of(domain) is not None else "symbolic")
        rank = len(domain.dims) if isinstance(domain, Tensor) else 0
        if transform == "permute":
            dims = tuple(d % rank for d in args.get("dims", (0,))) if rank else ()
            if gir.perms:
                ops = {g: (("permute_dims", (("perm", tuple(int(x) for x in p)), ("dims", dims))),) for g, p in gir.perms.items()}
                return finite, ops, None
            ops = {g: (("permute_dims", (("generator", g), ("dims", dims))),) for g in gir.generators}
            return "symbolic", ops, None
        if transform == "roll":
            return finite, {"c": (("roll", (("shift", 1), ("dim", args.get("dim", 0) % rank))),)}, None
        if transform == "shift":
            if kind == "cyclic":
                return finite, {"c": (("shift", (("k", 1),)),)}, None
            ops = {"r": (("shift", (("k", 1),)),), "s": (("negate", ()),)}
            return finite, {g: ops[g] for g in gir.generators}, None
        if transform == "rot90":
            dims = tuple(d % rank for d in args.get("dims", (-2, -1)))
            return finite, {"r": (("rot90", (("dims", dims),)),), "s": (("flip", (("dim", dims[1]),)),)}, None
        if transform == "matrix":
            if args.get("dims"):  # the same matrix on each listed dim: R M R^T on two
                dims = tuple(d % rank for d in args["dims"])
                ops = {"reflection": (("reflect", (("dims", dims),)),)} if kind == "O" else {}
                return "matrix", ops, dims
            dim = args.get("dim", -1) % rank
            ops = {"reflection": (("reflect", (("dim", dim),)),)} if kind == "O" else {}
            return "matrix", ops, dim
        if transform == "relabel":
            ops = {g: (("relabel", (("perm", tuple(int(x) for x in p)),)),) for g, p in gir.perms.items()}
            return "values", ops, None
        raise ValueError(transform)  # pragma: no cover - structures.py admits only these

    def _check_relators(self, gir: GroupIR, act: ActionIR, decl: ActionDef) -> None:
        domain = act.domain_type
        relators = gir.definition.relators
        ops = tuple(sorted(act.ops.items()))
        if act.perms:
            key = (gir.name, (domain,), ops)
            sizes, build = [act.points], [(act.perms, "")]
        elif isinstance(domain, Tensor):
            instances = _trial_domains(domain, [act.ops])
            key = (gir.name, tuple(inst for inst, _ in instances), ops)
            sizes, build = [points_of(inst) for inst, _ in instances], None
        else:
            return
        if key in self._relators_checked:  # the same transforms on the same points: checked already
            return
        self._relators_checked.add(key)
        # building each trial's push maps, then evaluating both sides of every relator, all before any of it
        work = sum(sizes) * ((len(act.ops) if build is None else 0) + relators_work(relators))
        if not self._afford_check(work, f"the relators of {gir.name} on {act.domain}", decl.span):
            return
        trials = build or [
            ({g: ops_perm(ops, inst, finite_shape(inst)) for g, ops in act.ops.items()}, note) for inst, note in instances
        ]
        for perms, note in trials:
            n = len(next(iter(perms.values())))
            for rel in gir.definition.relators:
                lhs = word_perm(rel.lhs, perms, n)
                rhs = word_perm(rel.rhs, perms, n) if rel.rhs is not None else np.arange(n)
                if np.array_equal(lhs, rhs):
                    continue
                self.r.error(
                    f"relator {relator_text(rel)} does not hold on {act.domain}{note}: {self._relator_detail(rel, act)}",
                    rel.span,
                    "fix the transforms in the action block, or the relator",
                    notes=[(decl.span, f"the action of {gir.name} on {act.domain}")],
                )
                return

    @staticmethod
    def _relator_detail(rel: ast.Relator, act: ActionIR) -> str:
        powers = rel.lhs.powers
        if rel.rhs is None and len(powers) == 1 and isinstance(powers[0].base, ast.Ident):
            g = powers[0].base.name
            k = powers[0].exponent
            return f"{act.describe(g)} applied {abs(k)} time{'s' if abs(k) != 1 else ''} is not the identity"
        mapping = ", ".join(f"{g} -> {act.describe(g)}" for g in act.ops)
        other = "the identity" if rel.rhs is None else "its right-hand side"
        return f"with {mapping}, the left-hand side is not {other}"

    def action(self, gir: GroupIR, domain, domain_name: str, span: Span | None) -> ActionIR | None:
        """The action of a group on a domain: declared, default, or an error at ``span``."""
        key = domain_name
        if key in gir.actions:
            return gir.actions[key]
        for (gname, dtype), decl in self._declared.items():
            if gname == gir.name and dtype == domain and decl.domain in gir.actions:
                gir.actions[key] = gir.actions[decl.domain]
                return gir.actions[key]
            alias_of = gir.definition.alias_of
            if alias_of and gname == alias_of and dtype == domain and alias_of in self.groups:
                original = self.groups[alias_of].actions.get(decl.domain)
                if original is not None:  # 'group K = H' acts as H does
                    gir.actions[key] = original
                    return original
        if isinstance(domain, RealDomain):
            act = ActionIR(gir.name, domain_name, domain, "default", "trivial")
            gir.actions[key] = act
            return act
        if gir.definition.kind == "product":
            parts = [self._factor_action(f, domain, domain_name, span) for f in gir.factors]
            if any(p is None for p in parts):
                return None
            parts = self._points_not_coordinates(gir, parts, domain, span)
            if not any(self._acts_on(f, domain) for f in gir.factors):
                self._no_factor_acts(gir, domain, domain_name, span)
                gir.actions[key] = None
                return None
            kinds = {p.kind for p in parts if p.kind != "trivial"}
            kind = "matrix" if "matrix" in kinds else ("symbolic" if "symbolic" in kinds else next(iter(kinds), "trivial"))
            act = ActionIR(gir.name, domain_name, domain, "default", kind, parts=tuple(parts))
            for f, p in zip(gir.factors, parts):
                for g, ops in p.ops.items():
                    act.ops[f"{f.name}.{g}"] = ops
                for g, perm in p.perms.items():
                    act.perms[f"{f.name}.{g}"] = perm
            act.matrix_dim = next((p.matrix_dim for p in parts if p.matrix_dim is not None), None)
            if any(not p.perms and p.ops for p in parts):
                act.perms = {}
            gir.actions[key] = act
            self._check_commuting(gir, parts, domain, domain_name, span)
            return act
        built = self._default_once(gir, domain)
        if built is None:
            hint = self._action_hint(gir, domain, domain_name)
            self.r.error(
                f"group '{gir.name}' has no action on {domain_name}",
                span,
                hint,
                notes=[(gir.definition.span, f"'{gir.name}' is declared here")] if gir.definition.span else (),
            )
            gir.actions[key] = None
            return None
        kind, ops, dim = built
        act = self._finish(ActionIR(gir.name, domain_name, domain, "default", kind, ops, matrix_dim=dim), domain, span)
        gir.actions[key] = act
        return act

    def _points_not_coordinates(self, gir: GroupIR, parts: list, domain, span: Span | None) -> list:
        """In a product, a permutation factor's default action leaves alone the dims a matrix factor moves.

        ``symmetric(3) x SO(3)`` on ``tensor[3, 3]`` permutes the 3 points (dim 0), not the coordinates too (the
        default alone permutes every leading dim of size 3, as for an adjacency tensor); on ``tensor[3]``, the
        coordinates, the permutation factor acts trivially.  Not cached on the factor, which alone keeps its default.
        """
        if not isinstance(domain, Tensor):
            return parts
        rank = len(domain.dims)
        claimed = set()
        for p in parts:
            if p.kind in ("matrix", "affine") and p.matrix_dim is not None:
                dims = p.matrix_dim if isinstance(p.matrix_dim, tuple) else (p.matrix_dim,)
                claimed |= {d % rank for d in dims}
        if not claimed:
            return parts
        out = list(parts)
        for i, (f, p) in enumerate(zip(gir.factors, parts)):
            if p.source != "default" or f.definition.kind not in ("symmetric", "alternating") or p.kind == "trivial":
                continue
            moved = {dict(op[1]).get("dims") for ops in p.ops.values() for op in ops if op[0] == "permute_dims"}
            if len(moved) != 1 or not set(next(iter(moved))) & claimed:
                continue
            kept = tuple(d for d in next(iter(moved)) if d not in claimed)
            if kept:
                kind, ops, dim = self._family_ops(f, "permute", {"dims": kept}, domain)
                act = ActionIR(f.name, p.domain, domain, "default", kind, ops, matrix_dim=dim)
            else:
                act = ActionIR(f.name, p.domain, domain, "default", "trivial", {g: () for g in f.generators})
            out[i] = self._finish(act, domain, span) or p
        return out

    def _factor_action(self, f: GroupIR, domain, domain_name: str, span: Span | None) -> ActionIR | None:
        """A product factor's action: declared, default, or (neither) the identity; not cached on the factor, which
        used alone on the domain is still an error."""
        if self._acts_on(f, domain):
            return self.action(f, domain, domain_name, span)
        key = (f.name, domain)
        if key not in self._implied:
            act = ActionIR(f.name, domain_name, domain, "default", "trivial", {g: () for g in f.generators})
            self._implied[key] = self._finish(act, domain, span)
        return self._implied[key]

    def _acts_on(self, gir: GroupIR, domain) -> bool:
        """Whether ``gir`` has an action of its own on ``domain``: declared, default, or (a product) a factor's."""
        if self._declared_for(gir, domain):
            return True
        if gir.definition.kind == "product":
            return any(self._acts_on(f, domain) for f in gir.factors)
        return self._default_once(gir, domain) is not None

    def _default_once(self, gir: GroupIR, domain):
        """``_default``, built once per (group, domain): probing a product's factors and then building their actions
        asks twice (a permutation of 10^6 points written out as ops takes a second)."""
        key = (gir.name, domain)
        if key not in self._defaults:
            self._defaults[key] = self._default(gir, domain)
        return self._defaults[key]

    def _declared_for(self, gir: GroupIR, domain) -> bool:
        """Whether an action statement covers ``gir`` (or the group it aliases) on ``domain``."""
        names = {gir.name, gir.definition.alias_of} - {""}
        return any(gname in names and dtype == domain for gname, dtype in self._declared)

    def _no_factor_acts(self, gir: GroupIR, domain, domain_name: str, span: Span | None) -> None:
        """The error for a product none of whose factors acts on the domain (a law there would test nothing)."""
        names = ", ".join(f.name for f in gir.factors)
        self.r.error(
            f"group '{gir.name}' has no action on {domain_name}: none of its factors ({names}) acts on it",
            span,
            f"declare how one factor acts, or 'action {gir.name} on {domain_name} by identity' if it leaves "
            f"{domain_name} unchanged",
            notes=[(gir.definition.span, f"'{gir.name}' is declared here")] if gir.definition.span else (),
        )

    def _check_commuting(self, gir: GroupIR, parts: list, domain, domain_name: str, span: Span | None) -> None:
        """Warn when two factors of a direct product act on one domain by transforms that do not commute."""
        keep = [i for i, p in enumerate(parts) if p.kind != "trivial"]  # the identity commutes with everything
        factors, parts = [gir.factors[i] for i in keep], [parts[i] for i in keep]
        if len(parts) < 2:
            return
        if any(p.kind == "matrix" for p in parts):
            self._matrix_overlap(gir, factors, parts, domain, domain_name, span)
        pairs = sum(len(a.ops) * len(b.ops) for i, a in enumerate(parts) for b in parts[i + 1 :])
        generators = sum(len(p.ops) for p in parts)
        trials = []
        if all(p.perms or not p.ops for p in parts):
            points = next((p.points for p in parts if p.perms), 0)
            work = 2 * pairs * points
        elif isinstance(domain, Tensor) and all(p.kind in ("positions", "symbolic", "trivial") for p in parts):
            instances = _trial_domains(domain, [p.ops for p in parts])  # as for relators
            work = sum(points_of(inst) for inst, _ in instances) * (generators + 2 * pairs)
        else:
            return
        if not self._afford_check(work, f"that the factors of {gir.name} commute on {domain_name}", gir.definition.span or span):
            return
        if all(p.perms or not p.ops for p in parts):
            trials.append(([p.perms for p in parts], ""))
        else:
            for inst, note in instances:
                shape = finite_shape(inst)
                try:
                    perms = [{g: ops_perm(ops, inst, shape) for g, ops in p.ops.items()} for p in parts]
                except (KeyError, IndexError, ValueError):
                    continue  # an op that needs the group's own points (permute_dims of symmetric(N)): not checked
                trials.append((perms, note))
        for perms, note in trials:
            for i, j, g, h in _noncommuting(perms):  # the first pair in (i, j, g, h) order, or none
                a, b = factors[i], factors[j]
                self.r.warning(
                    f"the factors {a.name} and {b.name} of '{gir.name}' do not commute on {domain_name}{note}: "
                    f"generator {g} of {a.name} ({parts[i].describe(g)}) and generator {h} of {b.name} "
                    f"({parts[j].describe(h)}) give different results in either order, so '{gir.name}' "
                    f"does not act on {domain_name} as a direct product",
                    gir.definition.span or span,
                    "make the factors act on different dims, or declare one presentation with both "
                    "generators and the relators between them",
                    notes=[(span, f"{gir.name} acts on {domain_name} here")] if span and gir.definition.span else (),
                )
                return

    def _matrix_overlap(self, gir: GroupIR, factors: list, parts: list, domain, domain_name: str, span: Span | None) -> None:
        """Warn when a rotation factor (SO(n)/O(n) by matrix) and another factor move the same dim of a tensor: they
        do not commute there (O(3) x O(3) both on the last dim; a roll of the coordinates and SO(3)), except two
        SO(2) and O(1)/SO(1), which are scalars."""
        if not isinstance(domain, Tensor):
            return
        rank = len(domain.dims)

        def moved(f: GroupIR, p) -> set | None:
            if p.kind == "matrix" and f.definition.kind in ("SO", "O") and p.matrix_dim is not None:
                return {d % rank for d in (p.matrix_dim if isinstance(p.matrix_dim, tuple) else (p.matrix_dim,))}
            if p.kind not in ("positions", "symbolic"):
                return None  # non-compact factors: their products (E(n), SO(3) x translations(3)) are by design
            out = set()
            for seq in p.ops.values():
                for _op, args in seq:
                    for k, v in dict(args).items():
                        if k in ("dim", "i", "j"):
                            out.add(v % rank)
                        elif k == "dims":
                            out |= {d % rank for d in v}
            return out

        def scalar_or_abelian(f: GroupIR) -> bool:
            return f.definition.kind in ("SO", "O") and (
                f.definition.arg == 1 or (f.definition.kind, f.definition.arg) == ("SO", 2)
            )

        dims = [moved(f, p) for f, p in zip(factors, parts)]
        for i in range(len(parts)):
            for j in range(i + 1, len(parts)):
                if dims[i] is None or dims[j] is None or "matrix" not in (parts[i].kind, parts[j].kind):
                    continue
                shared = sorted(dims[i] & dims[j])
                a, b = factors[i], factors[j]
                matrices = parts[i].kind == parts[j].kind == "matrix"
                if not shared or (matrices and scalar_or_abelian(a) and scalar_or_abelian(b)):
                    continue
                if any(
                    scalar_or_abelian(f) and p.kind == "matrix" and f.definition.arg == 1
                    for f, p in ((a, parts[i]), (b, parts[j]))
                ):
                    continue
                self.r.warning(
                    f"the factors {a.name} and {b.name} of '{gir.name}' do not commute on {domain_name}: both move dim "
                    f"{shared[0]} of {domain}, so '{gir.name}' does not act on {domain_name} as a direct product",
                    gir.definition.span or span,
                    "make the factors act on different dims (action ... by matrix(dim=...)), or use one of them",
                    notes=[(span, f"{gir.name} acts on {domain_name} here")] if span and gir.definition.span else (),
                )
                return

    def _default(self, gir: GroupIR, domain):
        kind, n = gir.definition.kind, gir.definition.arg
        if kind in NONCOMPACT_FAMILIES:
            return noncompact_default(gir.definition, domain)
        if kind == "cyclic" and isinstance(domain, Cyclic) and domain.n == n:
            return self._family_ops(gir, "shift", {}, domain)
        if kind == "units" and isinstance(domain, Cyclic) and domain.n == n:  # v -> u v
            return self._family_ops(gir, "scale", {}, domain)
        if isinstance(domain, Tensor):
            dims = domain.dims
            if kind in ("symmetric", "alternating") and dims[0] == n:
                # every leading dim of size n moves together: tensor[N, 3] permutes points,
                # tensor[N, N] (an adjacency-like pair tensor) permutes rows and columns alike
                lead = 1
                while lead < len(dims) and dims[lead] == n:
                    lead += 1
                return self._family_ops(gir, "permute", {"dims": tuple(range(lead))}, domain)
            if kind in ("SO", "O") and dims[-1] == n:
                return self._family_ops(gir, "matrix", {"dim": -1}, domain)
            if kind == "dihedral" and n == 4 and len(dims) >= 2 and dims[-1] == dims[-2]:
                return self._family_ops(gir, "rot90", {"dims": (-2, -1)}, domain)
        if kind in ("symmetric", "alternating") and isinstance(domain, Labels) and domain.size == n and gir.perms:
            return self._family_ops(gir, "relabel", {}, domain)  # permuting the labels of a set of n labels
        if kind == "automorphisms" and isinstance(domain, Nodes) and domain.graph == n:
            return self._family_ops(gir, "relabel", {}, domain)
        return None

    def _action_hint(self, gir: GroupIR, domain, domain_name: str) -> str:
        """The action statement to write, with a transform that is valid on this domain, or why none is."""
        kind, n = gir.definition.kind, gir.definition.arg
        if kind in NONCOMPACT_FAMILIES:
            return noncompact_hint(gir.definition, domain, gir.name, domain_name)
        if kind == "presentation":
            maps = ", ".join(f"{g} -> ..." for g in gir.generators) or "..."
            return f"declare one: action {gir.name} on {domain_name} {{ {maps} }}"
        if kind == "product":
            return f"a {kind} group acts only through the actions of its factors"
        if kind == "automorphisms":
            n = self.graph(n).num_nodes
        fits, needs = by_transforms(kind, n, domain)
        if fits:
            return f"declare one: action {gir.name} on {domain_name} by " + " or by ".join(fits)
        if not needs:
            return f"a {kind} group acts only through the actions of its factors"
        return f"{gir.definition} cannot act on {describe(domain, domain_name)}: " + "; ".join(needs)


# generators of a family too large (or too symbolic) to tabulate, named as family_generators names them
_FAMILY_GENERATORS = {"cyclic": ("c",), "dihedral": ("r", "s"), "symmetric": ("t", "c"), "alternating": ("c3", "c")}


def _trial_domains(domain: Tensor, op_maps: list) -> list:
    """Small tensors on which transforms of ``domain`` can be checked: (tensor, note) pairs.

    Only the dims some op moves matter (the others only carry copies along), so every other dim becomes 1;
    symbolic dims among the moved ones are instantiated at 5 and at 6.
    """
    rank = len(domain.dims)
    moved: set = set()
    for ops in op_maps:
        for seq in ops.values():
            for _name, args in seq:
                for k, v in args:
                    if k in ("dim", "i", "j"):
                        moved.add(v % rank)
                    elif k == "dims":
                        moved |= {d % rank for d in v}
    symbolic = [d for d in dict.fromkeys(domain.dims[i] for i in sorted(moved)) if not isinstance(d, int)]
    out = []
    for size in SYMBOLIC_TEST_SIZES if symbolic else (None,):
        inst = Tensor(tuple((d if isinstance(d, int) else size) if i in moved else 1 for i, d in enumerate(domain.dims)))
        if points_of(inst) <= MAX_POINTS:
            note = f" (checked with {', '.join(f'{d} = {size}' for d in symbolic)})" if symbolic else ""
            out.append((inst, note))
    return out


def _product_order(gir: GroupIR) -> None:
    """Order and commutativity of a direct product from its factors' (nested products first)."""
    if gir.definition.kind != "product":
        return
    for f in gir.factors:
        _product_order(f)
    orders = [f.order for f in gir.factors]
    gir.order = None if None in orders else int(np.prod([int(o) for o in orders], dtype=object))
    abel = [f.abelian for f in gir.factors]
    gir.abelian = False if False in abel else (None if None in abel else True)
    if gir.continuous:
        gir.order_text = "infinite"
    elif gir.order is not None:
        gir.order_text = str(gir.order)
    else:
        texts = [f.order_text or "?" for f in gir.factors]
        gir.order_text = " x ".join(f"({t})" if " " in t else t for t in texts)


def _normalized(args: tuple, domain) -> tuple:
    """Transform arguments with negative dims made positive for the domain's rank, shifts and scalings reduced.

    A shift or scaling of cyclic(n) acts modulo n, and a roll modulo its dim's size (when fixed), so each is
    stored reduced: the tables never see an integer wider than the domain.
    """
    if isinstance(domain, Cyclic):
        return tuple((k, v % domain.n if k in ("k", "u") else v) for k, v in args)
    if not isinstance(domain, Tensor):
        return args
    rank = len(domain.dims)
    out = []
    for k, v in args:
        if k in ("dim", "i", "j"):
            v = v % rank
        elif k == "dims":
            v = tuple(d % rank for d in v)
        out.append((k, v))
    size = domain.dims[dict(out)["dim"]] if "dim" in dict(out) else None
    if "shift" in dict(out) and isinstance(size, int):
        out = [(k, v % size if k == "shift" else v) for k, v in out]
    return tuple(out)


def _noncommuting(perms: list):
    """The first (i, j, g, h), i < j, in loop order, whose generators' push maps do not commute; [] or [that].

    One vectorized comparison per generator against every later factor's generators of the same length (a
    product of 2000 one-generator factors compared 2*10^6 pairs one numpy call each: 15 s)."""
    rows: dict = {}  # length -> [(factor, generator index, name)], [map], in factor order
    for k, table in enumerate(perms):
        for gi, (g, p) in enumerate(table.items()):
            p = np.asarray(p)
            keys, maps = rows.setdefault(len(p), ([], []))
            keys.append((k, gi, g))
            maps.append(p)
    stacked = {n: (keys, np.array([k for k, _, _ in keys]), np.stack(maps)) for n, (keys, maps) in rows.items()}
    for i, table in enumerate(perms):
        best = None  # (j, gi, hi, g, h)
        for gi, (g, pg) in enumerate(table.items()):
            pg = np.asarray(pg)
            keys, factor_of, maps = stacked[len(pg)]
            first = int(np.searchsorted(factor_of, i, side="right"))  # the generators of later factors
            later = maps[first:]
            bad = np.flatnonzero((pg[later] != later[:, pg]).any(axis=1))
            if bad.size:
                j, hi, h = keys[first + int(bad[0])]
                if best is None or (j, gi, hi) < best[:3]:
                    best = (j, gi, hi, g, h)
        if best is not None:
            return [(i, best[0], best[3], best[4])]
    return []
