"""Resolution of one parsed file into a :class:`Spec` (names, declarations, laws).

The analyzer never stops at the first problem: it resolves every statement it
can and collects every diagnostic in its reporter.  Domains, graphs and groups
are resolved on demand, so names may be used before they are declared.
"""

from __future__ import annotations

import numbers
from pathlib import Path

from ..errors import ParamError, Span
from ..syntax import ast
from ..syntax.unparse import unparse
from .actions import resolve_action
from .breaks import check_breaks
from .domains import (
    ClassOf,
    Cyclic,
    Labels,
    Range,
    RealDomain,
    Tensor,
    Units,
    describe,
    eval_int,
    fits_int64,
    resolve_domain,
    resolve_output,
)
from .laws import check_law, check_options
from .records import LayerDef, ModelSig, PriorDef, Spec
from .scope import KIND_WORDS, Candidates, Reporter, SymbolTable, did_you_mean
from .structures import GraphDef, GroupDef, resolve_graph, resolve_group
from .typecheck import BUILTINS

__all__ = ["Analyzer", "PRIOR_KINDS"]

PRIOR_KINDS = ("nuclear", "entropy", "lipschitz")


def has_neighbours(domain) -> bool:
    """An input ``lipschitz`` can move: real, tensor, or cyclic / range values with at least two of them."""
    if isinstance(domain, Cyclic):
        return domain.n >= 2
    if isinstance(domain, Range):
        return domain.hi - domain.lo >= 2
    return isinstance(domain, RealDomain | Tensor)


PRIOR_OPTIONS = {"weight": "number"}
LAYER_OPTIONS = ("kernel", "padding", "stride", "grid")  # a convolutional layer (docs/language.md, Layer options)
LAYER_PADDINGS = ("zeros", "circular")
MAX_KERNEL = 31  # kernel offsets per grid dim (the tied kernel is a table of fiber x offsets)
MAX_GRID_DIMS = 3  # conv1d, conv2d, conv3d


def _layer_int_problem(name: str, value) -> tuple[str, str] | None:
    """(message with ``{text}``, hint) when ``value`` is no valid integer for layer option ``name``; None when it is."""
    if not isinstance(value, int) or value < 1:
        hints = {
            "kernel": "the kernel's width in grid points: an odd number, e.g. 3",
            "stride": "stride 1 keeps every grid point",
        }
        return f"option '{name}' must be a positive integer, got {{text}}", hints.get(
            name, "the number of trailing grid dims: 1, 2 or 3"
        )
    if name == "kernel" and value % 2 == 0:
        return (
            "option 'kernel' must be odd, got {text}",
            "an odd kernel has a centre, about which the group's rotations and reflections act: use 1, 3, 5, ...",
        )
    if name == "kernel" and value > MAX_KERNEL:
        return f"option 'kernel' is {{text}}, more than the limit of {MAX_KERNEL}", "use a smaller kernel"
    if name == "grid" and value > MAX_GRID_DIMS:
        return "option 'grid' is {text}: a convolution has 1, 2 or 3 grid dims", "conv1d, conv2d and conv3d exist"
    return None


class Analyzer:
    """Resolves one parsed file; domains, graphs and groups are resolved on demand
    (so names may be used before they are declared) with cycle detection."""

    def __init__(self, tree: ast.SpecFile, overrides: dict | None = None):
        self.tree = tree
        self.reporter = Reporter()
        self.symbols = SymbolTable()
        self.params: dict[str, int] = {}
        self.domains: dict[str, object] = {}
        self.graphs: dict[str, GraphDef] = {}
        self.groups: dict[str, GroupDef] = {}
        self.models: dict[str, ModelSig] = {}
        self.labels: dict[str, Labels] = {}
        self._resolving: list[str] = []
        self._failed: set[str] = set()
        self._callables: tuple = (-1, None)  # (models counted, Candidates) for suggestions after unknown calls
        self._declare_all()
        self._apply_overrides(overrides or {})

    def callables(self) -> Candidates:
        """The models declared so far and the builtins, indexed once for suggestions (many unknown calls among
        many models stay linear)."""
        if self._callables[0] != len(self.models):
            self._callables = (len(self.models), Candidates([*self.models, *BUILTINS]))
        return self._callables[1]

    # ---- declarations ------------------------------------------------------------
    def _declare_all(self) -> None:
        kinds = {
            ast.ParamDecl: "param",
            ast.DomainDecl: "domain",
            ast.GraphDecl: "graph",
            ast.GroupDecl: "group",
            ast.ModelDecl: "model",
            ast.LawDecl: "law",
            ast.LayerDecl: "layer",
            ast.PriorDecl: "prior",
            ast.BreakDecl: "break",
        }
        spec_decl = None
        for st in self.tree.statements:
            if isinstance(st, ast.SpecDecl):
                if spec_decl is not None:
                    self.reporter.error(
                        "a file has one 'spec' statement", st.span, notes=[(spec_decl.span, "the first one")], kind="name"
                    )
                else:
                    spec_decl = st
                continue
            kind = kinds.get(type(st))
            if kind is None:
                continue
            self.symbols.declare(self.reporter, st.name.name, kind, st, st.name.span)
            if isinstance(st, ast.ParamDecl):
                self.params[st.name.name] = st.value
        self.spec_decl = spec_decl
        # symbolic dims: names in tensor[...] that are not declared (only type positions hold tensor[...])
        for node in ast.walk(self._type_positions()):
            if isinstance(node, ast.Index) and node.func.name == "tensor":
                for d in node.args:
                    if isinstance(d, ast.Name) and d.name not in self.symbols.values:
                        self.symbols.dims.setdefault(d.name, d.span)

    def _type_positions(self) -> tuple:
        out: list = []
        for st in self.tree.statements:
            if isinstance(st, ast.DomainDecl):
                out.append(st.type)
            elif isinstance(st, ast.ModelDecl):
                out += [p.type for p in st.params] + [st.output]
            elif isinstance(st, ast.LayerDecl):
                out += [st.source, st.target]
            elif isinstance(st, ast.LawDecl):
                out += [b.type for b in st.binders]
        return tuple(out)

    def _apply_overrides(self, overrides: dict) -> None:
        for name, value in overrides.items():
            if name not in self.params:
                declared = ", ".join(self.params) or "none"
                hint = did_you_mean(name, self.params)
                raise ParamError(
                    f"unknown parameter '{name}': {self.tree.file} declares {declared}" + (f"; {hint}" if hint else "")
                )
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # numpy integers too
                raise ParamError(f"parameter '{name}' must be an integer, got {value!r}")
            value = int(value)  # a numpy integer is written into the generated module as a plain int
            if not fits_int64(value):
                raise ParamError(
                    f"parameter '{name}' is about 2^{abs(value).bit_length() - 1}, beyond the 64-bit integer limit (2^63 - 1)"
                )
            self.params[name] = value

    # ---- on-demand resolution ------------------------------------------------------
    def _enter(self, name: str, span: Span) -> bool:
        if name in self._resolving:
            cycle = " -> ".join(self._resolving[self._resolving.index(name) :] + [name])
            self.reporter.error(f"'{name}' is defined in terms of itself ({cycle})", span, kind="name")
            self._failed.add(name)
            return False
        self._resolving.append(name)
        return True

    def domain_of(self, name: str):
        if name in self.domains:
            return self.domains[name]
        if name in self._failed:
            return None
        decl = self.symbols.values[name].decl
        if not self._enter(name, decl.name.span):
            return None
        try:
            d = resolve_domain(self, decl.type)
        finally:
            self._resolving.pop()
        if d is None:
            self._failed.add(name)
            return None
        self.domains[name] = d
        if isinstance(d, Labels):
            for label in d.labels:
                self.labels.setdefault(label, d)
        return d

    def graph_ref(self, ref: ast.Name) -> GraphDef | None:
        sym = self.symbols.lookup(ref.name)
        if sym is None or sym.kind != "graph":
            what = "unknown graph" if sym is None else f"expected a graph, but '{ref.name}' is {KIND_WORDS[sym.kind]}:"
            self.reporter.error(
                f"{what} '{ref.name}'" if sym is None else what[:-1],
                ref.span,
                did_you_mean(
                    ref.name, self.symbols.names_of("graph"), "declare it with 'graph NAME = grid(7, 7)'" if sym is None else None
                ),
                kind="name",
            )
            return None
        return self.graph_of(ref.name)

    def graph_of(self, name: str) -> GraphDef | None:
        if name in self.graphs:
            return self.graphs[name]
        if name in self._failed:
            return None
        g = resolve_graph(self, self.symbols.values[name].decl)
        if g is None:
            self._failed.add(name)
            return None
        self.graphs[name] = g
        return g

    def group_ref(self, ref: ast.Name) -> GroupDef | None:
        sym = self.symbols.lookup(ref.name)
        if sym is None or sym.kind != "group":
            if sym is None:
                self.reporter.error(
                    f"unknown group '{ref.name}'",
                    ref.span,
                    did_you_mean(ref.name, self.symbols.names_of("group"), "declare it with 'group NAME = ...'"),
                    kind="name",
                )
            else:
                self.reporter.error(f"expected a group, but '{ref.name}' is {KIND_WORDS[sym.kind]}", ref.span, kind="name")
            return None
        return self.group_of(ref.name)

    def group_of(self, name: str) -> GroupDef | None:
        if name in self.groups:
            return self.groups[name]
        if name in self._failed:
            return None
        decl = self.symbols.values[name].decl
        if not self._enter(name, decl.name.span):
            return None
        try:
            g = resolve_group(self, decl.expr, name)
        finally:
            self._resolving.pop()
        if g is None:
            self._failed.add(name)
            return None
        if g.name != name:  # an alias: the same group under this name
            g = GroupDef(name, g.kind, g.arg, g.generators, g.relators, g.factors, g.span, g.alias_of or g.name)
        self.groups[name] = g
        return g

    # ---- statements ---------------------------------------------------------------
    def _model(self, decl: ast.ModelDecl) -> None:
        params = []
        seen: dict[str, Span] = {}
        ok = True
        for p in decl.params:
            if p.name.name in seen:
                self.reporter.error(f"parameter '{p.name.name}' appears twice", p.name.span, kind="name")
                ok = False
            seen[p.name.name] = p.name.span
            d = resolve_domain(self, p.type, role="an input domain")
            if d is None:
                ok = False
                continue
            if isinstance(d, Units):  # units(n) is a domain of law variables (analysis/units.py)
                self.reporter.error(
                    f"a model takes values of cyclic({d.n}), not {d}", p.type.span, f"write '{p.name.name}: cyclic({d.n})'"
                )
                ok = False
                continue
            params.append((p.name.name, d))
        if not decl.params:
            self.reporter.error(f"model '{decl.name.name}' takes no inputs", decl.span, "a model takes at least one argument")
            ok = False
        out = resolve_output(self, decl.output)
        if out is None or not ok:
            return
        # the labels of an inline set(...) are constants in laws, as those of a declared set are
        for d in [d for _, d in params] + [out.domain if isinstance(out, ClassOf) else out]:
            if isinstance(d, Labels):
                for label in d.labels:
                    self.labels.setdefault(label, d)
        self.models[decl.name.name] = ModelSig(decl.name.name, tuple(params), out, decl.span)

    def _layer(self, decl: ast.LayerDecl):
        ends = []
        for t in (decl.source, decl.target):
            d = resolve_domain(self, t, role="a tensor domain")
            if d is not None and not isinstance(d, (Tensor, RealDomain)):
                self.reporter.error(
                    f"a layer maps real tensors, but {describe(d)} is not a tensor domain",
                    t.span,
                    "declare the features as 'domain X = tensor[...]', or use real for an invariant output",
                )
                d = None
            ends.append(d)
        group = resolve_group(self, decl.group, "")
        options = self._layer_options(decl)
        if None in ends or group is None or options is None:
            return None
        spans = tuple((o.name.name, o.span) for o in decl.options)
        return LayerDef(decl.name.name, ends[0], ends[1], group, decl.span, tuple(options.items()), spans)

    def _layer_options(self, decl: ast.LayerDecl) -> dict | None:
        """``[kernel k, padding zeros|circular, stride s, grid d]`` checked; None after an error (each one reported)."""
        out: dict = {}
        seen: dict = {}
        ok = True
        for opt in decl.options:
            name, v = opt.name.name, opt.value
            if name not in LAYER_OPTIONS:
                hint = did_you_mean(name, LAYER_OPTIONS, "layer options are: " + ", ".join(LAYER_OPTIONS))
                self.reporter.error(f"unknown layer option '{name}'", opt.name.span, hint)
                ok = False
                continue
            if name in seen:
                self.reporter.error(f"option '{name}' is given twice", opt.span, notes=[(seen[name], "first given here")])
                ok = False
                continue
            seen[name] = opt.span
            if name == "padding":
                if not isinstance(v, ast.Name) or v.name not in LAYER_PADDINGS:
                    self.reporter.error(
                        f"option 'padding' is zeros or circular, got {unparse(v)}",
                        v.span,
                        did_you_mean(unparse(v), LAYER_PADDINGS, "padding zeros (the default) or padding circular"),
                    )
                    ok = False
                    continue
                out[name] = v.name
                continue
            value = eval_int(self, v, f"option '{name}'") if isinstance(v, ast.Name) else v.value
            if value is None:
                ok = False
                continue
            problem = _layer_int_problem(name, value)
            if problem is not None:
                text = f"{v.name} = {value}" if isinstance(v, ast.Name) else getattr(v, "text", value)
                self.reporter.error(problem[0].format(text=text), v.span, problem[1])
                ok = False
                continue
            out[name] = value
        if ok and out and "kernel" not in out:
            first = next(iter(out))
            self.reporter.error(
                f"option '{first}' needs a kernel: only a convolutional layer takes it",
                seen[first],
                "add [kernel k] (k odd, e.g. 3) for a convolutional layer, or drop the option",
            )
            ok = False
        return out if ok else None

    def _prior(self, decl: ast.PriorDecl):
        kind = decl.kind.name
        if kind not in PRIOR_KINDS:
            self.reporter.error(
                f"unknown prior '{kind}'",
                decl.kind.span,
                did_you_mean(kind, PRIOR_KINDS, "priors are nuclear(x), entropy(x), lipschitz(model)"),
            )
            return None
        if len(decl.args) != 1 or not isinstance(decl.args[0], ast.Name):
            self.reporter.error(
                f"{kind}(...) takes one name",
                decl.span,
                "lipschitz(model) names a model; nuclear(x) and entropy(x) name a tensor passed at run time",
            )
            return None
        target = decl.args[0]
        sym = self.symbols.lookup(target.name)
        if kind == "lipschitz":
            if sym is None or sym.kind != "model":
                self.reporter.error(
                    f"lipschitz(...) takes a model, but '{target.name}' is {KIND_WORDS[sym.kind] if sym else 'not declared'}",
                    target.span,
                    did_you_mean(target.name, self.symbols.names_of("model")),
                    kind="name",
                )
                return None
            sig = self.models.get(target.name)
            if sig is not None and not any(has_neighbours(d) for _, d in sig.params):
                self.reporter.error(
                    f"lipschitz({target.name}) needs an input with neighbours, but every input of {sig.signature()} "
                    + (
                        "is a label, a node or a domain of one value"
                        if any(isinstance(d, Cyclic | Range) for _, d in sig.params)
                        else "is a label or a node"
                    ),
                    target.span,
                    "smoothness is measured along cyclic, range, real or tensor inputs; drop this prior",
                )
                return None
        elif sym is not None:
            self.reporter.error(
                f"{kind}(...) takes a tensor bound at run time, but '{target.name}' is {KIND_WORDS[sym.kind]}",
                target.span,
                f"pick a fresh name and pass the tensor when calling the loss: loss(batch, {target.name}_weights=...)",
            )
            return None
        options = check_options(self, decl.options, PRIOR_OPTIONS)
        return PriorDef(decl.name.name, kind, target.name, tuple(options.items()), decl.span)

    def _same_type_action(self, st: ast.ActionDecl, seen: dict) -> str | None:
        """Another domain name of the same type that ``st``'s group already has another action on, if any (the same
        transforms written again are the same action: allowed)."""
        dtype = self.domains.get(st.domain.name)
        if dtype is None:
            return None
        for group, other in seen:
            d = self.domains.get(other)
            if group == st.group.name and other != st.domain.name and d == dtype and type(d) is type(dtype):
                first = next(
                    t
                    for t in self.tree.statements
                    if isinstance(t, ast.ActionDecl) and t.group.name == group and t.domain.name == other
                )
                if _action_text(first) != _action_text(st):
                    return other
        return None

    def run(self, file: str, source: str) -> Spec:
        name = self.spec_decl.name.name if self.spec_decl else Path(file).stem
        spec = Spec(name=name, file=file, source=source, ast=self.tree)
        # resolve declarations first so laws see every model signature
        resolvers = {ast.DomainDecl: self.domain_of, ast.GraphDecl: self.graph_of, ast.GroupDecl: self.group_of}
        for st in self.tree.statements:
            resolve = resolvers.get(type(st))
            if resolve is not None:
                sym = self.symbols.values.get(st.name.name)
                if sym is not None and sym.decl is st:
                    resolve(st.name.name)
            elif isinstance(st, ast.ModelDecl):
                sym = self.symbols.values.get(st.name.name)
                if sym is not None and sym.decl is st:
                    self._model(st)
        actions = []
        seen_actions: dict = {}
        for st in self.tree.statements:
            if isinstance(st, ast.ActionDecl):
                key = (st.group.name, st.domain.name)
                if key in seen_actions:
                    self.reporter.error(
                        f"{st.group.name} already has an action on {st.domain.name}",
                        st.span,
                        notes=[(seen_actions[key], "first declared here")],
                        kind="name",
                    )
                    continue
                twin = self._same_type_action(st, seen_actions)
                if twin is not None:  # domains are structural: one action of a group per type, whatever its name
                    self.reporter.error(
                        f"{st.group.name} already has an action on {st.domain.name}: {st.domain.name} and {twin} are "
                        f"one type, {self.domains[twin]}, and a group acts on a type one way",
                        st.span,
                        f"the action declared on {twin} moves {st.domain.name} too; for values meant to move "
                        f"differently, bind another group (group {st.group.name}2 = ...) and declare its action",
                        notes=[(seen_actions[(st.group.name, twin)], "first declared here")],
                    )
                    continue
                seen_actions[key] = st.span
                a = resolve_action(self, st)
                if a is not None:
                    actions.append(a)
        laws, layers, priors = {}, {}, {}
        for st in self.tree.statements:
            if isinstance(st, ast.LawDecl):
                laws[st.name.name] = check_law(self, st)
            elif isinstance(st, ast.LayerDecl):
                layer = self._layer(st)
                if layer is not None:
                    layers[layer.name] = layer
            elif isinstance(st, ast.PriorDecl):
                prior = self._prior(st)
                if prior is not None:
                    priors[prior.name] = prior
        breaks = check_breaks(self, [st for st in self.tree.statements if isinstance(st, ast.BreakDecl)])
        # after an error, a statement that failed may be the one using a name: no 'never used' cascade then
        for sym in [] if self.reporter.has_errors else self.symbols.values.values():
            if not sym.used and sym.kind in ("param", "domain", "graph", "group") and sym.name not in self._failed:
                noun = "parameter" if sym.kind == "param" else sym.kind
                self.reporter.warning(f"{noun} '{sym.name}' is declared but never used", sym.span)
        spec.params = dict(self.params)
        spec.domains = {n: d for n, d in self.domains.items()}
        spec.graphs = dict(self.graphs)
        spec.groups = dict(self.groups)
        spec.actions = actions
        spec.models = dict(self.models)
        spec.laws = laws
        spec.layers = layers
        spec.priors = priors
        spec.breaks = breaks
        spec.dims = tuple(self.symbols.dims)
        spec.warnings = self.reporter.warnings
        return spec


def _action_text(st: ast.ActionDecl) -> tuple:
    """What an action declaration says, without its positions: its ``by`` transform, or its generator maps."""
    if st.by is not None:
        return (unparse(st.by),)
    return tuple((m.generator.name, unparse(m.transform)) for m in st.maps or ())
