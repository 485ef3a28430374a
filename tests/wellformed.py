"""A grammar-aware, well-typed generator of `.sym` specs (hypothesis strategies), and tiny models for them.

``specs()`` draws spec texts that mostly load: declared domains (cyclic,
range, set, nodes of small graphs, tensors with small fixed and symbolic
dims, real, bool), graphs, groups (families, presentations with actions,
products, aliases), models with random signatures, and laws built from typed
templates: argument terms of each parameter's domain (variables, constants,
shifts, scalings, negation, min/max, group actions, nested calls), output
terms of each output type (pushforwards, convolutions, bool logic,
logit/sigmoid, abs), relations (==, order comparisons, chains, asserted bool
formulas, ``and`` of relations), guards (order chains, !=, labels, between,
abs/min/max, not/or) and ``[weight, tol, rtol, samples]`` options; then
layers, priors and ``break`` statements.  Names are drawn from pools that include Python keywords,
builtins and the generated module's own local names (``n``, ``device``,
``calls``, ``terms``...) to exercise name mangling.  A third of the specs
also get one or two blocks of ``NewForms`` (the forms of issue 13: ``by
identity``, mixed products, ``matrix(dims=...)``, real/tensor arithmetic,
logic over class outputs, range negation, constant elements, ``units(n)``,
``compose``, ``relabel``, physics groups); ``new_language_specs()`` draws
specs of those blocks only, each of which checks and compiles.

``tiny_models(module)`` builds a small ``nn.Module`` per model of a compiled
module from its ``INPUTS`` / ``OUTPUTS`` descriptors; a model raises
``AssertionError`` when a value outside its input domain reaches it (the
docs promise that never happens).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

# ---------------------------------------------------------------------------- names

# Names that are Python keywords / builtins / the generated module's own locals
# and helpers: the codegen must mangle them (docs/compile.md, "Names").
ODD_NAMES = [
    "n", "device", "generator", "calls", "terms", "batch", "out", "first", "values", "self", "torch", "rt",
    "lambda", "def", "yield", "import", "sum", "len", "range_", "lhs", "rhs", "mask", "x", "P", "SPEC", "LAWS",
    "MODELS", "models", "bound", "total", "forward", "loss", "check", "k", "g", "model", "law", "layer",
]  # fmt: skip
# never use: words reserved in laws, the type keywords and the builtins of laws (models named like the keywords
# of validate() or SymmetryLoss -- spec, samples, generator, device, models -- are passed as models={...})
RESERVED = {
    "not", "and", "or", "when", "forall", "real", "bool", "logit", "sigmoid", "between", "abs", "min", "max",
    "class", "tensor", "cyclic", "nodes", "set",
}  # fmt: skip
MODEL_KEYWORDS = ["spec", "samples", "seed", "cap", "dims", "inputs", "laws", "examples", "params", "progress",
                  "tabulate", "max_rate", "batch_size", "fused", "generator", "device", "models"]  # fmt: skip
LABEL_POOL = ["red", "green", "blue", "cyan", "black", "white", "up", "down", "left", "right", "on_", "off"]


class Names:
    """Hands out fresh names (one namespace for everything declared, variables and labels)."""

    def __init__(self, draw, odd: bool):
        self.draw = draw
        self.used: set = set()
        self.odd = odd
        self.count = 0

    def fresh(self, prefix: str, odd_ok: bool = True) -> str:
        if self.odd and odd_ok and self.draw(st.integers(0, 4)) == 0:
            name = self.draw(st.sampled_from(ODD_NAMES))
            if name not in self.used and name not in RESERVED:
                self.used.add(name)
                return name
        while True:
            self.count += 1
            name = f"{prefix}{self.count}"
            if name not in self.used:
                self.used.add(name)
                return name


# ---------------------------------------------------------------------------- model of a spec


@dataclass
class Dom:
    """A domain: kind in cyclic, range, labels, nodes, bool, tensor, real."""

    kind: str
    name: str | None = None  # declared name
    inline: str = ""  # the constructor text
    n: int = 0
    lo: int = 0
    hi: int = 0
    labels: tuple = ()
    graph: str = ""
    dims: tuple = ()  # ints or symbolic names
    batch: list = field(default_factory=list)  # variable names bound to this domain for the batch
    fresh: list = field(default_factory=list)  # drawn variable names of this domain

    @property
    def finite(self) -> bool:
        return self.kind in ("cyclic", "range", "labels", "nodes", "bool")

    @property
    def integer(self) -> bool:
        return self.kind in ("cyclic", "range")

    @property
    def values(self) -> list:
        if self.kind == "range":
            return list(range(self.lo, self.hi))
        if self.kind == "bool":
            return [0, 1]
        return list(range(self.n))

    def key(self):
        return (self.kind, self.n, self.lo, self.hi, self.labels, self.graph, self.dims)

    def ref(self, draw) -> str:
        if self.name is None or (self.inline and draw(st.integers(0, 3)) == 0):
            return self.inline
        return self.name


@dataclass
class Grp:
    name: str
    acts_on: list  # Dom objects it acts on
    finite: bool = True
    explicit: bool = False  # acts by an action statement (an alias would need its own)


@dataclass
class Model:
    name: str
    params: list  # (name, Dom)
    out_kind: str  # class, bool, real, tensor
    out_dom: Dom | None = None  # class domain or tensor domain
    out_text: str = ""


class Builder:
    def __init__(self, draw):
        self.draw = draw
        self.names = Names(draw, odd=draw(st.booleans()))
        self.lines: list[str] = []
        self.params: dict[str, int] = {}
        self.domains: list[Dom] = []
        self.graphs: dict[str, int] = {}  # name -> number of nodes
        self.groups: list[Grp] = []
        self.models: list[Model] = []
        self.laws = 0
        self.labels_used: set = set()

    # ---- helpers
    def i(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def pick(self, seq):
        return self.draw(st.sampled_from(list(seq)))

    def coin(self, p_true_in: int = 2) -> bool:
        return self.draw(st.integers(0, p_true_in - 1)) == 0

    def int_text(self, v: int) -> str:
        """An integer, sometimes written with a param (param arithmetic)."""
        if self.params and self.coin(4):
            p, pv = self.pick(sorted(self.params.items()))
            d = v - pv
            if d == 0:
                return p
            return f"{p} + {d}" if d > 0 else f"{p} - {-d}"
        return str(v)

    # ---- declarations
    def param(self):
        name = self.names.fresh("p", odd_ok=False)
        v = self.i(1, 5)
        self.params[name] = v
        self.lines.append(f"param {name} = {v}")

    def graph(self):
        name = self.names.fresh("G", odd_ok=False)
        kind = self.pick(["cycle", "path", "complete", "grid", "edges", "petersen", "hypercube", "torus", "cylinder"])
        if kind == "cycle":
            k = self.i(3, 6)
            text, n = f"cycle({self.int_text(k)})", k
        elif kind == "path":
            k = self.i(2, 5)
            text, n = f"path({k})", k
        elif kind == "complete":
            k = self.i(2, 4)
            text, n = f"complete({k})", k
        elif kind == "grid":
            a, b = self.i(1, 3), self.i(2, 3)
            text, n = f"grid({a}, {b})", a * b
        elif kind == "petersen":
            text, n = "petersen()", 10
        elif kind == "hypercube":
            d = self.i(1, 3)
            text, n = f"hypercube({d})", 2**d
        elif kind == "torus":
            text, n = "torus(3, 3)", 9
        elif kind == "cylinder":
            a = self.i(1, 2)
            text, n = f"cylinder({a}, 3)", 3 * a
        else:
            m = self.i(2, 5)
            edges = [(j, j + 1) for j in range(m - 1)]
            extra = self.draw(st.lists(st.tuples(st.integers(0, m - 1), st.integers(0, m - 1)), max_size=2))
            edges += [(a, b) for a, b in extra if a != b and (a, b) not in edges and (b, a) not in edges]
            text, n = "edges(" + ", ".join(f"{a}-{b}" for a, b in edges) + ")", m
        self.graphs[name] = n
        self.lines.append(f"graph {name} = {text}")
        return name

    def domain(self, kind=None) -> Dom:
        kind = kind or self.pick(["cyclic", "cyclic", "range", "range", "labels", "nodes", "bool", "tensor", "tensor", "real"])
        if kind == "cyclic":
            n = self.i(1, 7)
            d = Dom("cyclic", inline=f"cyclic({self.int_text(n)})", n=n)
        elif kind == "range":
            lo = self.i(-3, 2)
            hi = lo + self.i(1, 6)
            inline = f"range({hi})" if lo == 0 and self.coin() else f"range({self.int_text(lo)}, {self.int_text(hi)})"
            d = Dom("range", inline=inline, lo=lo, hi=hi)
        elif kind == "labels":
            k = self.i(1, 4)
            pool = [x for x in LABEL_POOL if x not in self.names.used]
            labels = tuple(pool[:k]) if len(pool) >= k else ()
            if not labels:
                return self.domain("cyclic")
            self.names.used.update(labels)
            d = Dom("labels", inline="set(" + ", ".join(labels) + ")", labels=labels, n=len(labels))
        elif kind == "nodes":
            g = self.pick(self.graphs) if self.graphs and self.coin() else self.graph()
            d = Dom("nodes", inline=f"nodes({g})", graph=g, n=self.graphs[g])
        elif kind == "bool":
            d = Dom("bool", inline="bool")
        elif kind == "real":
            d = Dom("real", inline="real")
        else:
            shape = self.pick(["N3", "NN", "fixed1", "fixed2", "square", "fixed3", "N"])
            if shape == "N3":
                dims = ("N", self.i(2, 3))
            elif shape == "NN":
                dims = ("N", "N")
            elif shape == "N":
                dims = ("N",)
            elif shape == "fixed1":
                dims = (self.i(1, 4),)
            elif shape == "fixed2":
                dims = (self.i(2, 4), self.i(2, 3))
            elif shape == "square":
                s = self.i(2, 4)
                dims = (s, s)
            else:
                dims = (2, self.i(2, 3), self.i(2, 3))
            d = Dom("tensor", inline="tensor[" + ", ".join(map(str, dims)) + "]", dims=dims)
        if kind not in ("bool", "real") or self.coin():
            d.name = self.names.fresh("D", odd_ok=False)
            self.lines.append(f"domain {d.name} = {d.inline}")
        self.domains.append(d)
        for _ in range(self.i(1, 3)):
            d.batch.append(self.names.fresh("a"))
        return d

    def class_domain(self) -> tuple[Dom, str]:
        """An output class domain and its text in class(...)."""
        finite = [d for d in self.domains if d.finite and d.kind != "bool"]
        if finite and self.coin(3) != 0 or not finite:
            pass
        if finite and not self.coin(3):
            d = self.pick(finite)
            return d, f"class({d.ref(self.draw)})"
        k = self.i(1, 6)
        for d in self.domains:
            if d.kind == "range" and d.lo == 0 and d.hi == k:
                return d, f"class({k})"
        d = Dom("range", inline=f"range(0, {k})", lo=0, hi=k)
        d.batch.append(self.names.fresh("a"))
        self.domains.append(d)
        return d, f"class({k})"

    def model(self):
        name = self.names.fresh("f")
        if self.names.odd and self.i(0, 6) == 0:  # a model named like an API keyword: passed in models={...}
            keyword = self.draw(st.sampled_from(MODEL_KEYWORDS))
            if keyword not in self.names.used:
                self.names.used.add(keyword)
                name = keyword
        k = self.i(1, 3)
        params = []
        taken = set()
        for _ in range(k):
            d = self.pick(self.domains)
            choices = [v for v in d.batch if v not in taken]
            if not choices:
                continue
            v = self.pick(choices)
            taken.add(v)
            params.append((v, d))
        if not params:
            return
        out = self.pick(["class", "class", "bool", "real", "tensor"])
        if out == "class":
            od, text = self.class_domain()
            m = Model(name, params, "class", od, text)
        elif out == "tensor":
            tens = [d for _, d in params if d.kind == "tensor"]
            fixed = [d for d in self.domains if d.kind == "tensor" and all(isinstance(x, int) for x in d.dims)]
            if tens and self.coin(3) != 0:
                od = self.pick(tens)
            elif fixed:
                od = self.pick(fixed)
            else:
                od = self.domain("tensor")
                if any(isinstance(x, str) for x in od.dims):
                    od = None
            m = Model(name, params, "tensor", od, od.ref(self.draw)) if od else Model(name, params, "real", None, "real")
        else:
            m = Model(name, params, out, None, out)
        self.models.append(m)
        sig = ", ".join(f"{v}: {d.ref(self.draw)}" for v, d in params)
        self.lines.append(f"model {name}({sig}) -> {m.out_text}")

    # ---- groups
    def groups_for(self, d: Dom):
        """Declare one group acting on domain d (named domains only for explicit actions)."""
        name = self.names.fresh("H", odd_ok=False)
        lines = []
        finite = True
        if d.kind == "cyclic":
            n = d.n
            choice = self.pick(["cyclic", "dihedral", "scale", "negate", "shift"])
            if choice == "cyclic":
                lines.append(f"group {name} = cyclic({n})")
            elif choice == "dihedral" and d.name:
                lines += [f"group {name} = dihedral({n})", f"action {name} on {d.name} by shift"]
            elif choice == "scale" and d.name:
                units = [u for u in range(1, max(n, 2)) if math.gcd(u, n) == 1] or [1]
                u = self.pick(units)
                order = next(k for k in range(1, n + 2) if pow(u, k, max(n, 1)) == 1 % max(n, 1))
                lines += [f"group {name} = <u | u^{order}>", f"action {name} on {d.name} {{ u -> scale({u}) }}"]
            elif choice == "negate" and d.name:
                lines += [f"group {name} = <m | m^2>", f"action {name} on {d.name} {{ m -> negate }}"]
            elif choice == "shift" and d.name:
                k = self.i(1, max(n - 1, 1))
                order = n // math.gcd(n, k)
                lines += [f"group {name} = <t | t^{order}>", f"action {name} on {d.name} {{ t -> shift({k}) }}"]
            else:
                lines.append(f"group {name} = cyclic({n})")
        elif d.kind == "nodes":
            lines.append(f"group {name} = automorphisms({d.graph})")
        elif d.kind == "tensor":
            dims = d.dims
            rank = len(dims)
            opts = []
            if dims[0] == "N":
                opts.append("symN")
            if isinstance(dims[-1], int) and dims[-1] >= 2:
                opts.append("SO")
            if d.name:
                fixed = [j for j, x in enumerate(dims) if isinstance(x, int)]
                if fixed:
                    opts += ["flip", "roll", "perm", "family_roll", "symmetric_by"]
                eq = [(a, b) for a in range(rank) for b in range(a + 1, rank) if dims[a] == dims[b] and isinstance(dims[a], int)]
                if eq:
                    opts += ["rot90", "transpose", "d4"]
            if not opts:
                return None
            choice = self.pick(opts)
            if choice == "symN":
                lines.append(f"group {name} = {self.pick(['symmetric', 'alternating']) if False else 'symmetric'}(N)")
                finite = False
            elif choice == "SO":
                lines.append(f"group {name} = {self.pick(['SO', 'O'])}({dims[-1]})")
                finite = False
            elif choice in ("flip", "roll", "perm", "family_roll", "symmetric_by"):
                j = self.pick(fixed)
                size = dims[j]
                dim = self.pick([j, j - rank])
                if choice == "flip":
                    lines += [f"group {name} = <s | s^2>", f"action {name} on {d.name} {{ s -> flip(dim={dim}) }}"]
                elif choice == "roll":
                    lines += [f"group {name} = <t | t^{size}>", f"action {name} on {d.name} {{ t -> roll(1, dim={dim}) }}"]
                elif choice == "perm":
                    perm = list(range(size))
                    if size >= 2:
                        perm[0], perm[1] = perm[1], perm[0]
                    lines += [
                        f"group {name} = <w | w^2>",
                        f"action {name} on {d.name} {{ w -> permute(perm=({', '.join(map(str, perm))},), dim={dim}) }}",
                    ]
                elif choice == "family_roll":
                    lines += [f"group {name} = cyclic({size})", f"action {name} on {d.name} by roll(dim={dim})"]
                else:
                    fam = self.pick(["symmetric", "alternating"]) if size >= 3 else "symmetric"
                    lines += [f"group {name} = {fam}({size})", f"action {name} on {d.name} by permute(dims={dim})"]
            else:
                a, b = self.pick(eq)
                da, db = self.pick([(a, b), (a - rank, b - rank)])
                if choice == "rot90":
                    lines += [f"group {name} = <r | r^4>", f"action {name} on {d.name} {{ r -> rot90(dims=({da}, {db})) }}"]
                elif choice == "transpose":
                    lines += [f"group {name} = <s | s^2>", f"action {name} on {d.name} {{ s -> transpose({da}, {db}) }}"]
                else:
                    lines += [
                        f"group {name} = <r, s | r^4, s^2, (s r)^2>",
                        f"action {name} on {d.name} {{",
                        f"  r -> rot90(dims=({da}, {db}))",
                        f"  s -> flip(dim={db})",
                        "}",
                    ]
        else:
            return None
        self.lines += lines
        g = Grp(name, [d], finite, explicit=any(x.startswith("action") for x in lines))
        self.groups.append(g)
        return g

    def product_or_alias(self):
        if not self.groups:
            return
        a = self.pick(self.groups)
        if self.coin():
            name = self.names.fresh("H", odd_ok=False)
            self.lines.append(f"group {name} = {a.name}")
            self.groups.append(Grp(name, list(a.acts_on), a.finite))
            return
        partners = [b for b in self.groups if b is not a and b.acts_on[0].key() == a.acts_on[0].key()]
        if not partners:
            return
        b = self.pick(partners)
        name = self.names.fresh("H", odd_ok=False)
        self.lines.append(f"group {name} = {a.name} x {b.name}")
        self.groups.append(Grp(name, list(a.acts_on), a.finite and b.finite))


# ---------------------------------------------------------------------------- laws


class Law:
    """Builds one law's text; records the variables it uses (name -> Dom) and the binders it needs."""

    def __init__(self, b: Builder):
        self.b = b
        self.vars: dict[str, Dom] = {}
        self.need_binder: set = set()
        self.elems: dict[str, Grp] = {}
        self.depth = 0

    # variables
    def var(self, d: Dom, direct: bool, pname: str | None = None) -> str:
        b = self.b
        if d.kind in ("tensor", "real"):
            # drawn tensors and reals are not compiled: use a batch field (a parameter name)
            v = pname if pname is not None else b.pick(d.batch)
            self.vars[v] = d
            return v
        pool = list(d.batch)
        if d.fresh and b.coin():
            pool = list(d.fresh)
        if b.coin(4):
            v = b.names.fresh("w")
            d.fresh.append(v)
        else:
            v = b.pick(pool)
        self.vars[v] = d
        if not direct or v in d.fresh:
            if not direct or b.coin(3) == 0:
                self.need_binder.add(v)
        return v

    def elem(self, d: Dom) -> str | None:
        gs = [g for g in self.b.groups if any(x is d for x in g.acts_on)]
        if not gs:
            return None
        g = self.b.pick(gs)
        for name, h in self.elems.items():
            if h is g and self.b.coin():
                return name
        name = self.b.names.fresh("e")
        self.elems[name] = g
        return name

    # arguments of a parameter's domain
    def arg(self, d: Dom, pname: str | None = None) -> str:
        b = self.b
        self.depth += 1
        try:
            opts = ["var", "var", "var"]
            if d.integer:
                opts += ["const", "shift", "shiftvar", "scale"]
                if d.kind == "cyclic":
                    opts.append("neg")
                if d.kind == "range" and d.hi - d.lo >= 1:
                    opts.append("minmax")
            if d.kind in ("labels",):
                opts.append("label")
            if d.kind == "bool":
                opts.append("const01")
            if d.kind == "real":
                opts += ["rneg", "rscale", "rconst"]
            if any(any(x is d for x in g.acts_on) for g in b.groups):
                opts += ["act", "act"]
            inner = [m for m in b.models if m.out_dom is not None and m.out_dom.key() == d.key()]
            if d.kind == "real":
                inner += [m for m in b.models if m.out_kind == "real"]
            if inner and self.depth <= 2:
                opts.append("nested")
            what = b.pick(opts)
            if what == "const":
                return str(b.pick(d.values))
            if what == "const01":
                return str(b.i(0, 1))
            if what == "label":
                return b.pick(d.labels)
            if what == "shift":
                return f"{self.var(d, True)} {b.pick(['+', '-'])} {b.i(0, 3)}"
            if what == "shiftvar":
                return f"{self.var(d, True)} + {self.var(d, True)}"
            if what == "scale":
                return f"{b.i(0, 3)} * {self.var(d, True)}"
            if what == "neg":
                return f"-{self.var(d, True)}"
            if what == "minmax":
                return f"{b.pick(['min', 'max'])}({self.var(d, False)}, {self.var(d, False)})"
            if what == "rneg":
                return f"-{self.var(d, True, pname)}"
            if what == "rscale":
                return f"{self.var(d, True, pname)} * {b.pick(['2', '0.5'])}"
            if what == "rconst":
                return b.pick(["0.5", "1.0", "0.0"])
            if what == "act":
                e = self.elem(d)
                if not e:
                    return self.var(d, True, pname)
                inner_text = self.arg(d, pname)
                if re.fullmatch(r"-?[0-9.]+", inner_text) or inner_text in d.labels:
                    inner_text = self.var(d, True, pname)
                if not re.fullmatch(r"[A-Za-z_0-9]+|[A-Za-z_0-9]+\(.*\)|[A-Za-z_0-9]+ \. .*", inner_text):
                    inner_text = f"({inner_text})"
                return f"{e} . {inner_text}"
            if what == "nested":
                return self.call(b.pick(inner))
            return self.var(d, True, pname)
        finally:
            self.depth -= 1

    def call(self, m: Model) -> str:
        return f"{m.name}(" + ", ".join(self.arg(d, p) for p, d in m.params) + ")"

    # sides
    def side(self, m: Model, allow_partner: bool = True) -> tuple[str, str]:
        """A term built on a call of m, and its type: dist/prob/real/tensor."""
        b = self.b
        c = self.call(m)
        if m.out_kind == "class":
            d = m.out_dom
            opts = ["plain", "plain"]
            if d.integer:
                opts += ["shiftc", "neg" if d.kind == "cyclic" or b.coin() else "plain"]
                if allow_partner:
                    opts.append("shiftv")
            if d.kind == "cyclic":
                opts.append("scale")
            if d.kind == "range":
                others = [x for x in b.models if x.out_kind == "class" and x.out_dom.kind == "range"]
                if others and allow_partner:
                    opts.append("conv")
            if any(any(x is d for x in g.acts_on) for g in b.groups):
                opts.append("act")
            what = b.pick(opts)
            if what == "shiftc":
                return f"{c} {b.pick(['+', '-'])} {b.i(0, 3)}", "dist"
            if what == "shiftv":
                return f"{c} + {self.var(d, False)}", "dist"
            if what == "neg":
                return f"-{c}", "dist"
            if what == "scale":
                return f"{c} * {b.i(0, 4)}", "dist"
            if what == "conv":
                o = b.pick(others)
                return f"{c} {b.pick(['+', '-'])} {self.call(o)}", "dist"
            if what == "act":
                e = self.elem(d)
                return (f"{e} . {c}" if e else c), "dist"
            return c, "dist"
        if m.out_kind == "bool":
            what = b.pick(["plain", "plain", "not", "bt", "andor"])
            if what == "not":
                return f"not {c}", "prob"
            if what == "bt":
                return f"sigmoid(logit({c}) + logit({self.call(m)}))", "prob"
            if what == "andor":
                return f"({c} {b.pick(['and', 'or'])} {self.call(m)})", "prob"
            return c, "prob"
        if m.out_kind == "real":
            what = b.pick(["plain", "plain", "neg", "scale", "sum", "abs", "minmax"])
            if what == "neg":
                return f"-{c}", "real"
            if what == "scale":
                return f"{b.pick(['2', '0.5'])} * {c}", "real"
            if what == "sum":
                return f"{c} + {self.call(m)}", "real"
            if what == "abs":
                return f"abs({c})", "real"
            if what == "minmax":
                return f"{b.pick(['min', 'max'])}({c}, {self.call(m)})", "real"
            return c, "real"
        # tensor
        d = m.out_dom
        if any(any(x is d for x in g.acts_on) for g in b.groups) and b.coin():
            e = self.elem(d)
            if e:
                return f"{e} . {c}", "tensor"
        return c, "tensor"

    def other_side(self, m: Model, kind: str, plain: bool = True) -> str:
        """Something comparable with ``==`` to a side of m's output type."""
        b = self.b
        if kind == "dist":
            d = m.out_dom
            opts = ["side", "side"]
            if d.integer and plain:
                opts.append("const")
            if d.kind == "labels":
                opts.append("label")
            if d.kind in ("labels", "nodes", "cyclic", "range"):
                opts.append("var")
            if d.kind == "range":
                opts.append("absdiff")
            what = b.pick(opts)
            if what == "const":
                return str(b.pick(d.values))
            if what == "label":
                return b.pick(d.labels)
            if what == "var":
                return self.var(d, False)
            if what == "absdiff":
                same = [x for x in b.domains if x.integer]
                x = b.pick(same)
                return f"abs({self.var(x, False)} - {self.var(x, False)})"
            return self.side(m)[0]
        if kind == "prob":
            what = b.pick(["side", "side", "const"])
            return str(b.i(0, 1)) if what == "const" else self.side(m)[0]
        if kind == "real":
            reals = [x for x in b.models if x.out_kind == "real"]
            what = b.pick(["side", "side", "const", "logit"] + (["other"] if reals else []))
            if what == "const":
                return b.pick(["0", "1", "0.5", "10.5"])
            if what == "logit":
                bools = [x for x in b.models if x.out_kind == "bool"]
                if bools:
                    return f"logit({self.call(b.pick(bools))})"
                return "0"
            if what == "other":
                return self.side(b.pick(reals))[0]
            return self.side(m)[0]
        return self.side(m)[0] if b.coin(4) else b.pick([self.side(m)[0], "0"])

    def relation(self, m: Model, logic: bool = True) -> str:
        b = self.b
        lhs, kind = self.side(m)
        if kind == "prob":
            form = b.pick(["assert", "eq", "implies", "chain_imp"] if logic else ["assert", "eq"])
            if form == "assert":
                return lhs
            if form == "implies":
                return f"{lhs} => {self.side(m)[0]}"
            if form == "chain_imp":
                return f"{lhs} and {self.side(m)[0]} => {self.side(m)[0]}"
            return f"{lhs} == {self.other_side(m, kind)}"
        if kind == "tensor":
            return f"{lhs} == {self.other_side(m, kind)}"
        ordered = kind == "real" or (kind == "dist" and m.out_dom.integer)
        op = b.pick(["==", "==", "<=", ">=", "<", ">"]) if ordered else "=="
        rhs = self.other_side(m, kind, plain=lhs.startswith(m.name + "(") and lhs.endswith(")"))
        if op == "==" and kind == "dist" and m.out_dom.integer and b.coin(4):
            op = b.pick(["<=", ">="])
        text = f"{lhs} {op} {rhs}"
        if ordered and op != "==" and b.coin(4):
            text += f" {op} {self.side(m)[0]}"  # chain: every link has a model call
        return text

    def guard(self) -> str | None:
        b = self.b
        finite = [(v, d) for v, d in self.vars.items() if d.finite]
        if not finite:
            return None
        conds = []
        for _ in range(b.i(1, 2)):
            v, d = b.pick(finite)
            same = [w for w, e in finite if e.key() == d.key()]
            opts = ["ne_const"]
            if len(same) >= 2:
                opts += ["cmp", "ne"]
                if d.integer:
                    opts += ["chain", "absdiff", "minmax"]
            if d.kind == "nodes" and len(same) >= 3:
                opts += ["between"] * 2
            if d.integer:
                opts += ["cmp_const", "cmp_const"]
            what = b.pick(opts)
            if what == "ne_const":
                c = b.pick(d.labels) if d.kind == "labels" else str(b.pick(d.values))
                conds.append(f"{v} {b.pick(['!=', '=='])} {c}")
            elif what == "cmp":
                w = b.pick([x for x in same if x != v])
                op = b.pick(["<", "<=", ">", ">=", "!="]) if d.integer else "!="
                conds.append(f"{v} {op} {w}")
            elif what == "ne":
                w = b.pick([x for x in same if x != v])
                conds.append(f"{v} != {w}")
            elif what == "chain":
                ws = b.draw(st.permutations(same))[:3]
                op = b.pick(["<", "<=", ">", ">="])
                conds.append(f" {op} ".join(ws))
            elif what == "absdiff":
                w = b.pick([x for x in same if x != v])
                conds.append(f"abs({v} - {w}) {b.pick(['>', '<=', '>='])} {b.i(0, 2)}")
            elif what == "minmax":
                w = b.pick([x for x in same if x != v])
                conds.append(f"{b.pick(['min', 'max'])}({v}, {w}) {b.pick(['>=', '<', '=='])} {b.pick(d.values)}")
            elif what == "between":
                u, w, x = b.draw(st.permutations(same))[:3]
                conds.append(f"between({d.graph}, {u}, {w}, {x})")
            else:
                conds.append(f"{v} {b.pick(['<', '<=', '>', '>='])} {b.pick(d.values)}")
        if len(conds) == 1:
            c = conds[0]
            return f"not ({c})" if b.coin(6) == 0 else c
        return f" {b.pick(['and', 'or'])} ".join(conds)

    def options(self) -> str:
        b = self.b
        opts = []
        for name in b.draw(st.lists(st.sampled_from(["weight", "tol", "rtol", "samples"]), unique=True, max_size=3)):
            if name == "samples":
                small = [p for p, v in b.params.items() if v <= 3]
                opts.append(f"samples {b.pick(small) if small and b.coin(3) == 0 else b.i(1, 3)}")
            else:
                opts.append(f"{name} {b.pick(['0', '0.5', '1', '2', '1e-3', '1e-4'])}")
        return " [" + ", ".join(opts) + "]" if opts else ""

    def text(self, name: str) -> str:
        b = self.b
        m = b.pick(b.models)
        body = self.relation(m)
        if b.coin(6) == 0 and "=>" not in body:
            body = f"{body} and {self.relation(b.pick(b.models), logic=False)}"
        guard = self.guard() if b.coin(3) == 0 else None
        binders = [f"{v}: {self.vars[v].ref(b.draw)}" for v in sorted(self.need_binder)]
        binders += [f"{e}: {g.name}" for e, g in self.elems.items()]
        order = b.draw(st.permutations(binders)) if binders else []
        head = f"forall {', '.join(order)}. " if order else ""
        return f"law {name}: {head}{body}" + (f" when {guard}" if guard else "") + self.options()


# ---------------------------------------------------------------------------- the language of issue 13


def _order_mod(u: int, n: int) -> int:
    """The multiplicative order of the unit u modulo n (1 for n = 1)."""
    if n == 1:
        return 1
    k, x = 1, u % n
    while x != 1 % n:
        x, k = x * u % n, k + 1
    return k


class NewForms:
    """Self-contained blocks of the forms added by issue 13, each with fresh names, each well typed on its own:
    ``by identity``, products whose factors act on different domains, ``matrix(dims=...)``, arithmetic on reals
    and tensors (``real(lo, hi)`` variables), logic over class outputs, ``-f(x)`` and shifts on range class outputs,
    constant elements ``G.r . x``, ``units(n)`` (domain and group), ``compose(...)`` entries, ``relabel(...)``,
    and the physics groups (translations, E(n), SE(n), Lorentz).  Every block checks and compiles."""

    KINDS = [
        "identity", "product", "matrix", "arith", "classlogic", "rangeneg", "constant", "units", "compose",
        "relabel", "physics", "mixed", "conv",
    ]  # fmt: skip

    def __init__(self, b: Builder):
        self.b = b

    def add(self, kind: str | None = None) -> str:
        kind = kind or self.b.pick(self.KINDS)
        getattr(self, kind)()
        return kind

    # ---- helpers
    def fresh(self, prefix: str) -> str:
        return self.b.names.fresh(prefix)

    def decl(self, prefix: str) -> str:
        return self.b.names.fresh(prefix, odd_ok=False)

    def line(self, text: str) -> None:
        self.b.lines.append(text)

    def domain(self, text: str, prefix: str = "D") -> str:
        """A declared domain, or (sometimes) the constructor written inline where it is used."""
        if self.b.coin(4) == 0 and "[" not in text:
            return text
        name = self.decl(prefix)
        self.line(f"domain {name} = {text}")
        return name

    def model(self, params: list, out: str) -> str:
        name = self.fresh("f")
        self.line(f"model {name}(" + ", ".join(f"{p}: {d}" for p, d in params) + f") -> {out}")
        return name

    def law(self, body: str, binders: list = (), guard: str | None = None, opts: str = "") -> None:
        b = self.b
        head = f"forall {', '.join(b.draw(st.permutations(list(binders))))}. " if binders else ""
        tail = f" when {guard}" if guard else ""
        self.line(f"law {self.fresh('law_')}: {head}{body}{tail}{opts}")

    def tol(self) -> str:
        return self.b.pick(["", " [tol 1e-4]", " [tol 1e-3, rtol 1e-3]", " [weight 0.5, tol 1e-4]", " [samples 2, tol 1e-4]"])

    def labels(self, k: int) -> list:
        return [self.decl("lab") for _ in range(k)]

    def size(self) -> str | int:
        return self.b.pick(["N", 4, 5])

    # ---- blocks
    def identity(self):
        b = self.b
        g = self.decl("H")
        fam = b.pick(["pres", "cyclic", "SO", "dihedral", "product"])
        gtext = {
            "pres": f"<a | a^{b.i(1, 4)}>",
            "cyclic": f"cyclic({b.i(2, 5)})",
            "SO": f"{b.pick(['SO', 'O'])}(3)",
            "dihedral": f"dihedral({b.pick([3, 5])})",
            "product": f"cyclic({b.i(2, 3)}) x O(3)",
        }[fam]
        self.line(f"group {g} = {gtext}")
        kind = b.pick(["cyclic", "tensor", "labels"])
        x = self.fresh("x")
        d = self.decl("D")  # an action names a declared domain
        if kind == "cyclic":
            self.line(f"domain {d} = cyclic({b.i(6, 8)})")  # never the cyclic group's size (acting by addition)
            out = b.pick([f"class({d})", "real", "bool"])
        elif kind == "labels":
            self.line(f"domain {d} = set({', '.join(self.labels(b.i(2, 3)))})")
            out = b.pick([f"class({d})", "real"])
        else:
            d_text = b.pick(["2", "4", "2, 2", "N, 2"])
            self.line(f"domain {d} = tensor[{d_text}]")
            out = b.pick([d, "real"])
        self.line(f"action {g} on {d} by identity")
        if kind == "tensor" and fam in ("pres", "cyclic", "dihedral") and "N" not in d_text and b.coin(3) == 0:
            self.line(f"layer {self.fresh('L')}: {d} -> {b.pick([d, 'real'])} under {g}")
        f = self.model([(x, d)], out)
        e = self.fresh("g")
        if fam == "pres" and b.coin(3) == 0:  # a constant element that acts as the identity
            self.law(f"{f}({g}.a . {x}) == {f}({x})", opts=self.tol())
        if out in (d, f"class({d})") and b.coin():
            self.law(f"{f}({e} . {x}) == {e} . {f}({x})", [f"{e}: {g}"], opts=self.tol())
        else:
            self.law(f"{f}({e} . {x}) == {f}({x})", [f"{e}: {g}"], opts=self.tol())

    def product(self):
        b = self.b
        n, dim = self.size(), b.pick([2, 3])
        rot = f"{b.pick(['O', 'SO'])}({dim})"
        e = self.decl("E")
        if b.coin():
            r = self.decl("R")
            self.line(f"group {r} = {rot}")
            rot = r
        if b.coin():
            p = self.decl("P")
            self.line(f"group {p} = symmetric({n})")
            self.line(f"group {e} = {p} x {rot}")
        else:
            self.line(f"group {e} = {b.pick([f'symmetric({n}) x {rot}', f'{rot} x symmetric({n})'])}")
        pts = self.domain(f"tensor[{n}, {dim}]", "Pts")
        x, g = self.fresh("x"), self.fresh("g")
        forms = b.draw(st.lists(st.sampled_from(["inv", "moment", "stress", "pairs"]), min_size=1, max_size=3, unique=True))
        if "stress" in forms and rot.startswith(("O(", "SO(")):
            forms.remove("stress")  # the matrix action is declared on the named factor
        for form in forms or ["inv"]:
            if form == "inv":
                f = self.model([(x, pts)], "real")
                self.law(f"{f}({g} . {x}) == {f}({x})", [f"{g}: {e}"], opts=self.tol())
            elif form == "moment":
                f = self.model([(x, pts)], self.domain(f"tensor[{dim}]", "V"))
                self.law(f"{f}({g} . {x}) == {g} . {f}({x})", [f"{g}: {e}"], opts=self.tol())
            elif form == "pairs":
                f = self.model([(x, pts)], self.domain(f"tensor[{n}, {n}]", "Pair"))
                self.law(f"{f}({g} . {x}) == {g} . {f}({x})", [f"{g}: {e}"], opts=self.tol())
            elif form == "stress":
                s = self.decl("S")
                self.line(f"domain {s} = tensor[{n}, {dim}, {dim}]")
                self.line(f"action {rot} on {s} by matrix(dims=(-2, -1))")
                f = self.model([(x, pts)], s)
                self.law(f"{f}({g} . {x}) == {g} . {f}({x})", [f"{g}: {e}"], opts=self.tol())

    def matrix(self):
        b = self.b
        dim = b.pick([2, 3])
        r = self.decl("R")
        fam = b.pick(["O", "SO"])
        self.line(f"group {r} = {fam}({dim})")
        shape = b.pick(["mat", "mat", "batched", "order3", "positive"])
        m = self.decl("M")
        shape_text, dims = {
            "mat": (f"{dim}, {dim}", "(-2, -1)"),
            "batched": (f"N, {dim}, {dim}", "(-2, -1)"),
            "order3": (f"{dim}, {dim}, {dim}", "(-3, -2, -1)"),
            "positive": (f"{dim}, {dim}", "(0, 1)"),
        }[shape]
        self.line(f"domain {m} = tensor[{shape_text}]")
        self.line(f"action {r} on {m} by matrix(dims={dims})")
        x, y, g = self.fresh("x"), self.fresh("y"), self.fresh("g")
        pts = self.domain(f"tensor[N, {dim}]", "Pts")
        f = self.model([(x, pts)], m)
        self.law(f"{f}({g} . {x}) == {g} . {f}({x})", [f"{g}: {r}"], opts=self.tol())
        if b.coin():
            out = b.pick(["real", m])
            h = self.model([(y, m)], out)
            rhs = f"{g} . {h}({y})" if out == m else f"{h}({y})"
            self.law(f"{h}({g} . {y}) == {rhs}", [f"{g}: {r}"], opts=self.tol())
        if shape != "batched" and b.coin(3) == 0:
            # an odd-order tensor has no invariant under -I (in O(n), and in SO(2)): only SO(3)'s det
            target = b.pick([m, "real"]) if shape != "order3" or (fam, dim) == ("SO", 3) else m
            self.line(f"layer {self.fresh('L')}: {m} -> {target} under {r}")

    def real_bounds(self) -> str:
        b = self.b
        lo = b.pick(["-1", "0", "0.5", "-2.5", "1"])
        hi = b.pick(["2", "3.5", "10"])
        if b.params and b.coin(4) == 0:
            hi = b.pick(sorted(b.params)) if float(lo) < 1 else hi
        return f"real({lo}, {hi})"

    def arith(self):
        b = self.b
        for _ in range(b.i(1, 3)):
            form = b.pick(["sorter", "energy", "total", "realmodel"])
            if form == "sorter":
                n = b.pick(["N", 3])
                s = self.fresh("s")
                d = self.domain(f"tensor[{n}]")
                f = self.model([(s, d)], d)
                c = self.fresh("c")
                what = b.pick(["shift", "shiftb", "const", "param", "scale"])
                if what == "shift":
                    self.law(f"{f}({s} + {c}) == {f}({s}) + {c}", [f"{c}: real"], opts=self.tol())
                elif what == "shiftb":
                    self.law(f"{f}({s} - {c}) == {f}({s}) - {c}", [f"{c}: {self.real_bounds()}"])
                elif what == "scale":
                    self.law(f"{f}({c} * {s}) == {c} * {f}({s})", [f"{c}: {self.real_bounds()}"], opts=self.tol())
                elif what == "param" and b.params:
                    p = b.pick(sorted(b.params))
                    self.law(f"{f}({s} + {p}) == {p} + {f}({s})")
                else:
                    self.law(f"{f}(2 * {s} - 1.5) == 2 * {f}({s}) - 1.5", opts=self.tol())
            elif form == "energy":
                dim = b.pick([2, 3])
                x = self.fresh("x")
                d = self.domain(f"tensor[{b.pick(['N', 4])}, {dim}]")
                f = self.model([(x, d)], "real")
                t = self.fresh("t")
                what = b.pick(["translate", "scale", "neg", "translate_real"])
                if what == "translate":
                    self.law(f"{f}({x} + {t}) == {f}({x})", [f"{t}: tensor[{dim}]"], opts=self.tol())
                elif what == "translate_real":
                    self.law(f"{f}({x} - {t}) == {f}({x})", [f"{t}: {b.pick(['real', self.real_bounds()])}"])
                elif what == "scale":
                    self.law(f"{f}({t} * {x}) == {t} * {f}({x})", [f"{t}: {self.real_bounds()}"], opts=self.tol())
                else:
                    self.law(f"{f}(-{x}) == {f}({x})")
            elif form == "total":
                k, dim = b.i(2, 4), b.pick([2, 3])
                v, u = self.fresh("v"), self.fresh("u")
                d = self.domain(f"tensor[{k}, {dim}]")
                f = self.model([(v, d)], self.domain(f"tensor[{dim}]"))
                if b.coin():
                    self.law(f"{f}({v} - {u}) == {f}({v}) - {k} * {u}", [f"{u}: tensor[{dim}]"], opts=self.tol())
                else:
                    self.law(f"{f}(-{v}) == -{f}({v})")
            else:
                u, t = self.fresh("u"), self.fresh("t")
                f = self.model([(u, b.pick(["real", self.real_bounds()]))], "real")
                if b.coin():
                    self.law(f"{f}({u} + {t}) == {f}({u}) + {t}", [f"{t}: {self.real_bounds()}"])
                else:
                    self.law(f"{f}(2 * {u}) >= 2 * {f}({u}) - 1")

    def classlogic(self):
        b = self.b
        m = b.i(2, 6)
        e = self.domain(b.pick([f"range(0, {m})", f"cyclic({m})"]))
        if b.coin():
            labs = self.labels(3)
            rel = self.decl("Rel")  # declared: the labels of an inline set are not constants (a bug, see the report)
            self.line(f"domain {rel} = set({', '.join(labs)})")
            lt, eq, gt = labs
        else:
            k = b.i(2, 4)
            rel = str(k)
            lt, eq, gt = "0", str(k // 2), str(k - 1)
        i, j, k_ = self.fresh("i"), self.fresh("j"), self.fresh("k")
        params = [(i, e), (j, e)]
        extra = ""
        if b.coin():
            a = self.fresh("a")
            params.insert(1, (a, self.domain(f"cyclic({b.i(2, 3)})")))
            extra = f"{a}, "
        f = self.model(params, f"class({rel})")

        def c(u, v):
            return f"{f}({u}, {extra}{v})"

        for _ in range(b.i(1, 3)):
            form = b.pick(["refl", "trans", "anti", "total", "or", "and_or", "value", "guarded"])
            if form == "refl":
                self.law(f"{c(i, i)} == {eq}")
            elif form == "trans":
                x = b.pick([lt, eq, gt])
                self.law(f"{c(i, j)} == {x} and {c(j, k_)} == {x} => {c(i, k_)} == {x}", opts=self.tol())
            elif form == "anti":
                self.law(f"{c(i, j)} == {lt} => {c(j, i)} == {gt}", guard=f"{i} != {j}" if b.coin() else None)
            elif form == "total":
                self.law(f"not ({c(i, j)} == {lt}) or not ({c(i, j)} == {gt})")
            elif form == "value" and rel[0].isalpha():
                v = self.fresh("v")
                guard = f"{v} != {lt}" if b.coin() else None
                self.law(f"{c(i, j)} == {v} => {c(j, i)} == {v}", [f"{v}: {rel}"], guard=guard, opts=self.tol())
            elif form == "guarded":
                op = b.pick(["<", "!=", "<="]) if e.startswith("range") or b.coin() else "!="
                self.law(f"{c(i, j)} == {lt} and {c(j, k_)} == {lt} => {c(i, k_)} == {lt}", guard=f"{i} {op} {k_}")
            elif form == "or":
                self.law(f"{c(i, j)} == {lt} or {c(i, j)} == {eq} or {c(i, j)} == {gt}")
            else:
                self.law(f"({c(i, j)} == {lt} or {c(j, i)} == {lt}) => not ({c(i, i)} == {gt})")

    def rangeneg(self):
        b = self.b
        r = b.i(1, 2)
        n = b.i(2, 5)
        i, j = self.fresh("i"), self.fresh("j")
        d = self.domain(f"cyclic({n})")
        f = self.model([(i, d), (j, d)], f"class(range(-{r}, {r + 1}))")
        form = b.pick(["neg", "shift", "both"])
        if form in ("neg", "both"):
            self.law(f"{f}({i}, {j}) == -{f}({j}, {i})")
        if form in ("shift", "both"):
            k = b.i(0, 2)
            self.law(f"{f}({i}, {j}) + {k} == {k} - {f}({j}, {i})")
        lo = b.i(-3, -1)
        hi = lo + b.i(2, 4)
        x, y = self.fresh("x"), self.fresh("y")
        jd = self.domain(f"range({lo}, {hi})")
        g = self.model([(x, jd), (y, jd)], f"class(range({lo}, {hi}))")
        what = b.pick(["const", "event", "neg", "neglogic", "negor"])
        if what == "neglogic":
            self.law(f"-{g}({x}, {y}) == {-lo} => {g}({y}, {x}) == {lo}")
        elif what == "negor":
            self.law(f"not ({g}({x}, {y}) == {lo}) or {g}({y}, {x}) == {lo}", guard=f"{x} != {y}" if b.coin() else None)
        elif what == "const":
            self.law(f"{g}({x}, {lo}) == {lo}", guard=f"{x} > {lo}" if b.coin() else None)
        elif what == "event":
            self.law(f"{g}({x}, {y}) == {lo} => {g}({y}, {x}) == {hi - 1}")
        else:
            self.law(f"{g}({x}, {y}) + {hi - 1} == {hi - 1} - {g}({y}, {x})")

    def constant(self):
        b = self.b
        kind = b.pick(["d4", "shift", "cyclic", "dihedral", "symmetric", "units"])
        a, x = self.fresh("a"), self.fresh("x")
        if kind == "d4":
            s = b.pick([2, 3, 4])
            g = self.decl("D4_")
            img = self.decl("Img")
            self.line(f"domain {img} = tensor[{b.pick(['', 'N, '])}{s}, {s}]")
            self.line(f"group {g} = <r, s | r^4, s^2, (s r)^2>")
            self.line(f"action {g} on {img} {{ r -> rot90(dims=(-2, -1)), s -> flip(dim=-1) }}")
            word = b.pick([f"{g}.r", f"{g}.s", f"{g}.r . {g}.s", f"{g}.s . {g}.r . {g}.r"])
            if b.coin(3) == 0:  # the same constant on two arguments, next to a drawn element
                y, h = self.fresh("y"), self.fresh("h")
                f = self.model([(x, img), (y, img)], "real")
                self.law(f"{f}({word} . {x}, {word} . {y}) == {f}({h} . {x}, {h} . {y})", [f"{h}: {g}"], opts=self.tol())
                return
            f = self.model([(x, img)], b.pick([img, "real"]))
            rhs = f"{word} . {f}({x})" if b.lines[-1].endswith(img) else f"{f}({x})"
            self.law(f"{f}({word} . {x}) == {rhs}", opts=self.tol())
            return
        n = b.i(2, 8)
        z = self.decl("Z")
        self.line(f"domain {z} = cyclic({n})")
        g = self.decl("C")
        if kind == "shift":
            k = b.i(1, n - 1)
            self.line(f"group {g} = <c | c^{n // math.gcd(n, k)}>")
            self.line(f"action {g} on {z} {{ c -> shift({k}) }}")
            gens = ["c"]
        elif kind == "cyclic":
            self.line(f"group {g} = cyclic({n})")
            gens = ["c"]
        elif kind == "dihedral":
            self.line(f"group {g} = dihedral({n})")
            self.line(f"action {g} on {z} by shift")
            gens = ["r", "s"]
        elif kind == "units":
            from symspec.analysis.units import unit_generators

            self.line(f"group {g} = units({n})")
            gens = [f"u{k}" for k in unit_generators(n)]
        else:
            labs = self.labels(b.i(2, 4))
            self.b.lines[-1] = f"domain {z} = set({', '.join(labs)})"
            self.line(f"group {g} = symmetric({len(labs)})")
            gens = ["t", "c"] if len(labs) > 2 else ["t"]
        if not gens:
            return
        f = self.model([(a, z)], b.pick([f"class({z})", "real"]))
        word = " . ".join(f"{g}.{b.pick(gens)}" for _ in range(b.i(1, 2)))
        rhs = f"{word} . {f}({a})" if b.lines[-1].endswith(f"class({z})") else f"{f}({a})"
        self.law(f"{f}({word} . {a}) == {rhs}")

    def units(self):
        b = self.b
        n = b.pick([2, 3, 5, 7, 8, 9, 10, 12])
        p = None
        if b.coin(3) == 0:
            p = self.decl("p")
            b.params[p] = n
            self.line(f"param {p} = {n}")
        nt = p or str(n)
        z = self.decl("Zp")
        self.line(f"domain {z} = cyclic({nt})")
        a, c = self.fresh("a"), self.fresh("b")
        f = self.model([(a, z), (c, z)], f"class({z})")
        u = self.fresh("u")
        guard = f"{u} > 1" if b.coin(4) == 0 and n > 3 else None
        self.law(f"{f}({a}, {c} * {u}) == {f}({a}, {c}) * {u}", [f"{u}: units({nt})"], guard=guard)
        if b.coin(3) == 0:  # a unit is a value of cyclic(n): an argument, and a factor of an output
            self.law(f"{f}({u}, {c}) == {f}({c}, {u})", [f"{u}: units({nt})"], opts=self.tol())
        if b.coin():
            g, e = self.decl("U"), self.fresh("g")
            self.line(f"group {g} = units({nt})")
            self.law(f"{f}({a}, {e} . {c}) == {e} . {f}({a}, {c})", [f"{e}: {g}"])

    def compose(self):
        b = self.b
        n = b.pick([5, 7, 8, 9])
        z = self.decl("Zp")
        self.line(f"domain {z} = cyclic({n})")
        g = self.decl("U")
        k = b.i(1, 2)
        if b.coin(4) == 0:  # x -> -(x + k), an involution
            self.line(f"group {g} = <u | u^2>")
            self.line(f"action {g} on {z} {{ u -> compose(negate, shift({k})) }}")
        elif b.coin():
            unit = b.pick([v for v in range(2, n) if math.gcd(v, n) == 1])
            self.line(f"group {g} = <u | u^{_order_mod(unit, n)}>")
            self.line(f"action {g} on {z} {{ u -> compose(shift(-{k}), scale({unit}), shift({k})) }}")
        else:
            self.line(f"group {g} = units({n})")
            self.line(f"action {g} on {z} by compose(shift(-{k}), scale, shift({k}))")
        a, c, e = self.fresh("a"), self.fresh("b"), self.fresh("g")
        f = self.model([(a, z), (c, z)], f"class({z})")
        self.law(f"{f}({e} . {a}, {c}) == {e} . {f}({a}, {c})", [f"{e}: {g}"])
        if b.coin():
            t = self.decl("T")
            m = b.i(2, 4)
            self.line(f"domain {t} = tensor[2, {m}]")
            w = self.decl("W")
            self.line(f"group {w} = <w | w^{2 * m // math.gcd(2, m)}>")
            self.line(f"action {w} on {t} {{ w -> compose(flip(dim=0), roll(1, dim=-1)) }}")
            x = self.fresh("x")
            h = self.model([(x, t)], "real")
            self.law(f"{h}({w}.w . {x}) == {h}({x})", opts=self.tol())
            if b.coin():
                self.line(f"layer {self.fresh('L')}: {t} -> {b.pick([t, 'real'])} under {w}")

    def conv(self):
        """Convolutional layers (``[kernel k, padding p, grid d, stride 2]``): p4, p4m or a 1D mirror, regular fibers,
        lifting, projection, pooling to real, a strided layer (5 -> 3); often an invariance law on the same domain."""
        b = self.b
        fam = b.pick(["p4", "p4m", "mirror"])
        n = b.pick(["N", 5, 6])
        grid = "{n}" if fam == "mirror" else "{n}, {n}"
        fiber = {"p4": 4, "p4m": 8, "mirror": 2}[fam]
        plain = self.domain(f"tensor[{grid.format(n=n)}]", "Img")
        feat = self.domain(f"tensor[{fiber}, {grid.format(n=n)}]", "Feat")
        g = self.decl("P")
        self.line(f"group {g} = " + {"p4": "<r | r^4>", "p4m": "<r, s | r^4, s^2, (s r)^2>", "mirror": "<s | s^2>"}[fam])
        regular = {  # each generator's entry on the plain grid and on the regular fiber
            "p4": [("r -> rot90(dims=(0, 1))", "r -> compose(roll(dim=0), rot90(dims=(1, 2)))")],
            "p4m": [
                ("r -> rot90(dims=(0, 1))", "r -> compose(permute(perm=(3, 0, 1, 2, 7, 4, 5, 6), dim=0), rot90(dims=(1, 2)))"),
                ("s -> flip(dim=1)", "s -> compose(permute(perm=(4, 7, 6, 5, 0, 3, 2, 1), dim=0), flip(dim=2))"),
            ],
            "mirror": [("s -> flip(dim=0)", "s -> compose(flip(dim=0), flip(dim=1))")],
        }[fam]
        self.line(f"action {g} on {plain} {{ {', '.join(p for p, _ in regular)} }}")
        self.line(f"action {g} on {feat} {{ {', '.join(r for _, r in regular)} }}")
        if n == 5 and b.coin():  # stride 2 keeps every other point, corners included: 5 -> 3
            small = self.domain(f"tensor[{fiber}, {grid.format(n=3)}]", "Small")
            self.line(f"action {g} on {small} {{ {', '.join(r for _, r in regular)} }}")
            grid_opt = ", grid 1" if fam == "mirror" else ""
            self.line(f"layer {self.fresh('L')}: {feat} -> {small} under {g} [kernel {b.pick([1, 3])}, stride 2{grid_opt}]")
        for _ in range(b.i(1, 3)):
            src, dst = b.pick([(plain, feat), (feat, feat), (feat, plain), (plain, plain)])
            opts = [f"kernel {b.pick([1, 3, 5])}"]
            if b.coin():
                opts.append(f"padding {b.pick(['zeros', 'circular'])}")
            if b.coin(3) == 0 or (fam == "mirror" and n != "N"):  # fixed sizes and no rotation: the grid must be given
                opts.append(f"grid {1 if fam == 'mirror' else 2}")
            opts = b.draw(st.permutations(opts))
            self.line(f"layer {self.fresh('L')}: {src} -> {dst} under {g} [{', '.join(opts)}]")
        if n == "N" and b.coin():
            self.line(f"layer {self.fresh('L')}: {feat} -> real under {g}")
        if b.coin(3) != 0:
            x, e = self.fresh("x"), self.fresh("g")
            f = self.model([(x, feat)], "real")
            self.law(f"{f}({e} . {x}) == {f}({x})", [f"{e}: {g}"], opts=self.tol())

    def relabel(self):
        b = self.b
        k = b.i(2, 4)
        labs = self.labels(k)
        c = self.decl("Color")
        self.line(f"domain {c} = set({', '.join(labs)})")
        g = self.decl("S")
        kind = b.pick(["cycle", "swap", "family"])
        if kind == "cycle":
            self.line(f"group {g} = <s | s^{k}>")
            cyc = ", ".join(f"{labs[i]}={labs[(i + 1) % k]}" for i in range(k))
            self.line(f"action {g} on {c} {{ s -> relabel({cyc}) }}")
            gen = "s"
        elif kind == "swap":
            self.line(f"group {g} = <t | t^2>")
            self.line(f"action {g} on {c} {{ t -> relabel({labs[0]}={labs[1]}, {labs[1]}={labs[0]}) }}")
            gen = "t"
        else:
            fam = b.pick(["symmetric", "alternating"]) if k >= 3 else "symmetric"
            self.line(f"group {g} = {fam}({k})")
            gen = "t" if fam == "symmetric" else "c3"
        a, d, e = self.fresh("a"), self.fresh("b"), self.fresh("g")
        f = self.model([(a, c), (d, c)], f"class({c})")
        self.law(f"{f}({e} . {a}, {e} . {d}) == {e} . {f}({a}, {d})", [f"{e}: {g}"])
        if b.coin():
            self.law(f"{f}({g}.{gen} . {a}, {d}) == {f}({a}, {g}.{gen} . {d})")

    def mixed(self):
        """Forms of issue 13 used together: group actions inside arithmetic, constants next to drawn elements."""
        b = self.b
        n, dim = self.size(), b.pick([2, 3])
        e = self.decl("E")
        self.line(f"group {e} = {b.pick([f'symmetric({n}) x O({dim})', f'SO({dim})', f'E({dim})', f'translations({dim})'])}")
        pts = self.decl("Pts")
        self.line(f"domain {pts} = tensor[{n}, {dim}]")
        x, g, t, k = self.fresh("x"), self.fresh("g"), self.fresh("t"), self.fresh("k")
        f = self.model([(x, pts)], "real")
        form = b.pick(["act_plus", "scale_act", "act_of_sum", "two", "out_plus"])
        if form == "act_plus":
            self.law(f"{f}({g} . {x} + {t}) == {f}({x})", [f"{g}: {e}", f"{t}: tensor[{dim}]"], opts=self.tol())
        elif form == "scale_act":
            self.law(f"{f}({k} * ({g} . {x})) == {k} * {f}({x})", [f"{g}: {e}", f"{k}: {self.real_bounds()}"])
        elif form == "act_of_sum":
            self.law(f"{f}({g} . ({x} - {t})) == {f}({x})", [f"{g}: {e}", f"{t}: real"], opts=self.tol())
        elif form == "two":
            h = self.fresh("h")
            self.law(f"{f}({g} . {h} . {x}) == {f}({h} . {x})", [f"{g}: {e}", f"{h}: {e}"], opts=self.tol())
        else:
            v = self.decl("V")
            self.line(f"domain {v} = tensor[{dim}]")
            m = self.model([(x, pts)], v)
            self.law(f"{m}({g} . {x}) + {t} == {g} . {m}({x}) + {t}", [f"{g}: {e}", f"{t}: {v}"], opts=self.tol())

    def physics(self):
        b = self.b
        kind = b.pick(["translations", "E", "SE", "lorentz"])
        g, e, x = self.decl("G"), self.fresh("g"), self.fresh("x")
        if kind == "lorentz":
            self.line(f"group {g} = {b.pick(['SO', 'O'])}(1, 3)")
            d = self.domain("tensor[N, 4]")
            f = self.model([(x, d)], "real")
            self.law(f"{f}({e} . {x}) == {f}({x})", [f"{e}: {g}"], opts=" [tol 1e-2, rtol 1e-3, scale 0.5]")
            return
        dim = b.pick([2, 3])
        self.line(f"group {g} = {'translations' if kind == 'translations' else kind}({dim})")
        d = self.domain(f"tensor[{b.pick(['N', 4])}, {dim}]")
        if b.coin():
            f = self.model([(x, d)], "real")
            self.law(f"{f}({e} . {x}) == {f}({x})", [f"{e}: {g}"], opts=" [tol 1e-4]")
        else:
            f = self.model([(x, d)], self.domain(f"tensor[{dim}]"))
            self.law(f"{f}({e} . {x}) == {e} . {f}({x})", [f"{e}: {g}"], opts=" [tol 1e-4]")


@st.composite
def new_language_specs(draw) -> str:
    """A .sym text of one to three blocks of issue 13's forms (``NewForms``): it must check, compile and run."""
    b = Builder(draw)
    if draw(st.booleans()):
        b.param()
    forms = NewForms(b)
    for _ in range(draw(st.integers(1, 3))):
        forms.add()
    return "\n".join(b.lines) + "\n"


# ---------------------------------------------------------------------------- the strategy


def _break_options(b: Builder) -> str:
    """A valid ``[...]`` of a break statement (or none): some of each bias's options, or one bias off."""
    opts = []
    off = b.pick([None, None, "query", "value"])
    for slot in ("query", "value"):
        if slot == off:
            opts.append(f"{slot} none")
            continue
        if b.coin(3):
            opts.append(f"{slot}_mean {b.pick(['0.5', '-1', '0', '2.5e-1'])}")
        if b.coin(3):
            lo = b.pick(["0", "0.05", "1"])
            opts.append(f"{slot}_std {lo}")
            if b.coin():
                opts.append(f"{slot}_std_hi {b.pick(['1', '1.5', '3e0'])}")
    if b.coin(4):
        opts.append(f"modules {b.names.fresh('blk')}")
    order = b.draw(st.permutations(opts))
    return f" [{', '.join(order)}]" if order else ""


@st.composite
def specs(draw) -> str:
    """A .sym text: declarations first or shuffled, laws from typed templates, layers, priors."""
    b = Builder(draw)
    if draw(st.booleans()):
        b.lines.append(f"spec {b.names.fresh('s', odd_ok=False)}")
    for _ in range(draw(st.integers(0, 2))):
        b.param()
    for _ in range(draw(st.integers(1, 4))):
        b.domain()
    for _ in range(draw(st.integers(0, 3))):
        d = b.pick(b.domains)
        b.groups_for(d)
    if draw(st.booleans()):
        b.product_or_alias()
    for _ in range(draw(st.integers(1, 3))):
        b.model()
    if not b.models:
        b.model()
    if b.models:
        for _ in range(draw(st.integers(1, 4))):
            name = b.names.fresh("law_", odd_ok=True)
            b.lines.append(Law(b).text(name))
    if draw(st.integers(0, 2)) == 0:  # the forms of issue 13, in self-contained blocks
        forms = NewForms(b)
        for _ in range(draw(st.integers(1, 2))):
            forms.add()
    # layers: tensor domains under a group acting on them, or symmetric(N)
    tensors = [d for d in b.domains if d.kind == "tensor"]
    for _ in range(draw(st.integers(0, 2))):
        if not tensors:
            break
        d = b.pick(tensors)
        gs = [g for g in b.groups if any(x is d for x in g.acts_on)]
        under = b.pick(gs).name if gs and b.coin(3) != 0 else ("symmetric(N)" if d.dims[0] == "N" else None)
        if under is None:
            continue
        target = d.ref(draw) if b.coin() else "real"
        b.lines.append(f"layer {b.names.fresh('L')}: {d.ref(draw)} -> {target} under {under}")
    for _ in range(draw(st.integers(0, 1))):
        kind = b.pick(["nuclear", "entropy", "lipschitz"])
        if kind == "lipschitz" and b.models:
            arg = b.pick(b.models).name
        else:
            kind = "nuclear" if kind == "lipschitz" else kind
            arg = b.names.fresh("emb")
        w = f" [weight {b.pick(['1e-3', '0.5', '0'])}]" if b.coin() else ""
        b.lines.append(f"prior {b.names.fresh('pr')}: {kind}({arg}){w}")
    for m in draw(st.lists(st.sampled_from(b.models), max_size=2, unique_by=lambda m: m.name)) if b.models else []:
        b.lines.append(f"break {b.names.fresh('brk')}: attention({m.name}){_break_options(b)}")  # one per model
    lines = b.lines
    if draw(st.integers(0, 4)) == 0:
        lines = draw(st.permutations(lines))  # forward references
    # presentation action blocks span lines: keep them together when shuffled
    text = "\n".join(lines) + "\n"
    if "{\n" in text and lines is not b.lines:
        text = "\n".join(b.lines) + "\n"
    return text


# ---------------------------------------------------------------------------- tiny models

SYMBOLIC = 4  # the size of every symbolic dim in the test batches


def _tensor_shape(dims, sizes=None) -> tuple:
    sizes = sizes or {}
    return tuple(d if isinstance(d, int) else sizes.get(d, SYMBOLIC) for d in dims)


def tiny_models(module, seed: int = 0) -> dict:
    """One small model per entry of ``module.MODELS``, built from ``INPUTS`` / ``OUTPUTS``."""
    import torch

    from symspec import runtime as rt

    class Tiny(torch.nn.Module):
        def __init__(self, name, inputs, output):
            super().__init__()
            self.name = name
            self.inputs = inputs
            self.output = output
            width = 8
            self.parts = torch.nn.ModuleList()
            for desc in inputs:
                if isinstance(desc, rt.Values):
                    self.parts.append(torch.nn.Embedding(max(desc.hi - desc.lo, 1), width))
                else:
                    self.parts.append(torch.nn.Linear(3 if isinstance(desc, rt.TensorOf) else 1, width))
            if isinstance(output, rt.ClassOutput):
                self.head = torch.nn.Linear(width, output.size)
            else:
                self.head = torch.nn.Linear(width, 2)
            if isinstance(output, rt.TensorOutput):
                fixed = tuple(d if isinstance(d, int) else 1 for d in output.dims)
                self.pattern = torch.nn.Parameter(torch.randn(fixed))
                self.same = next(
                    (i for i, d in enumerate(inputs) if isinstance(d, rt.TensorOf) and tuple(d.dims) == tuple(output.dims)),
                    None,
                )

        def forward(self, *args):
            assert len(args) == len(self.inputs), f"{self.name}: {len(args)} arguments for {len(self.inputs)} inputs"
            h = 0
            sizes = {}
            for arg, desc, part in zip(args, self.inputs, self.parts):
                if isinstance(desc, rt.Values):
                    assert not arg.is_floating_point(), f"{self.name}: a finite input arrived as {arg.dtype}"
                    if arg.numel():
                        lo, hi = int(arg.min()), int(arg.max())
                        assert desc.lo <= lo and hi < desc.hi, (
                            f"{self.name}: values {lo}..{hi} reached an input of values {desc.lo}..{desc.hi - 1}"
                        )
                    h = h + part(arg.long() - desc.lo)
                elif isinstance(desc, rt.TensorOf):
                    assert arg.dim() == 1 + len(desc.dims), f"{self.name}: tensor of shape {tuple(arg.shape)} for {desc.dims}"
                    for d, s in zip(desc.dims, arg.shape[1:]):
                        if isinstance(d, int):
                            assert s == d, f"{self.name}: tensor of shape {tuple(arg.shape)} for {desc.dims}"
                        else:
                            sizes.setdefault(d, s)
                    flat = arg.reshape(arg.shape[0], -1).to(part.weight.dtype)
                    stats = (
                        torch.stack([flat.mean(1), flat.pow(2).mean(1), flat.abs().mean(1)], 1)
                        if flat.shape[1]
                        else torch.zeros(arg.shape[0], 3)
                    )
                    h = h + part(stats)
                else:
                    assert arg.dim() == 1 or (arg.dim() == 2 and arg.shape[1] == 1), (
                        f"{self.name}: real of shape {tuple(arg.shape)}"
                    )
                    h = h + part(arg.reshape(-1, 1).to(part.weight.dtype))
            h = torch.tanh(h)
            out = self.head(h)
            if isinstance(self.output, rt.ClassOutput):
                return out
            if isinstance(self.output, (rt.BoolOutput, rt.RealOutput)):
                return out[:, 0]
            shape = _tensor_shape(self.output.dims, sizes)
            view = (-1,) + (1,) * len(shape)
            y = out[:, 0].view(view) * self.pattern + out[:, 1].view(view)
            y = y.expand(out.shape[0], *shape)
            if self.same is not None:
                y = y + 0.5 * args[self.same].to(y.dtype)
            return y.contiguous()

    torch.manual_seed(seed)
    return {name: Tiny(name, tuple(module.INPUTS[name]), module.OUTPUTS[name]) for name in module.MODELS}


def random_batch(module, n: int = 8, generator=None) -> dict:
    """A batch with a field per model parameter (the first model's descriptor wins for shared names)."""
    import torch

    from symspec import runtime as rt

    batch: dict = {}
    for model, names in module.MODELS.items():
        for name, desc in zip(names, module.INPUTS[model]):
            if name in batch:
                continue
            if isinstance(desc, rt.Values):
                batch[name] = torch.randint(desc.lo, desc.hi, (n,), generator=generator)
            elif isinstance(desc, rt.TensorOf):
                batch[name] = torch.randn((n, *_tensor_shape(desc.dims)), generator=generator)
            else:
                batch[name] = torch.randn((n,), generator=generator)
    return batch
