"""Lower checked laws to Python source lines over ``symspec.runtime`` kernels.

Each law becomes: draws of its variables (batch fields, uniform values,
interval or shortest-path draws, rejection, group elements), a mask from its
guard, model-call requests (collected for one fused forward per model and
call round), and a per-example loss expression.  Names from the spec reach
the text only as validated identifiers, mangled by :func:`py`, or as string
literals made with :func:`repr`.
"""

from __future__ import annotations

import builtins
import json
import keyword
import math
from dataclasses import dataclass, field

from ..analysis.domains import BoolDomain, ClassOf, Cyclic, Labels, Range, RealDomain, Tensor
from ..errors import Diagnostic, SpecError
from ..syntax import ast
from ..syntax.unparse import unparse

__all__ = ["py", "literal", "Lowered", "lower_spec", "CompileError"]

MAX_TABLE_ORDER = 5000  # larger finite groups are sampled as random words, not from a table of every element
WORD_LENGTH = 64

RESERVED = {
    "torch",
    "F",
    "rt",
    "self",
    "batch",
    "n",
    "device",
    "generator",
    "calls",
    "terms",
    "mask",
    "per",
    "bound",
    "SPEC",
    "PARAMS",
    "LAWS",
    "MODELS",
    "LAYERS",
    "SymmetryLoss",
    "augment",
    "symmetrize",
}


def literal(value) -> str:
    """Python source for a constant (dicts, lists, tuples, strings, numbers), strings double-quoted."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def py(name: str) -> str:
    """A spec name as a safe Python identifier (names are already [A-Za-z_][A-Za-z0-9_]*)."""
    if (
        keyword.iskeyword(name)
        or keyword.issoftkeyword(name)
        or hasattr(builtins, name)
        or name in RESERVED
        or name.startswith("_")
    ):
        return name + "_"
    return name


class CompileError(SpecError):
    """A law uses a form the code generator does not compile yet."""


@dataclass
class V:
    """A compiled term: its code and what it holds at run time."""

    kind: str  # value const real prob dist tensor cond rel elem
    code: str
    domain: object = None
    offset: int = 0  # dist: class i stands for the value offset + i
    size: int = 0
    level: int = 0  # the call round whose outputs the code reads


@dataclass
class LoweredLaw:
    name: str
    comment: str
    setup: list = field(default_factory=list)
    loss: str = ""
    mask: str | None = None


@dataclass
class Lowered:
    batch_vars: dict = field(default_factory=dict)  # name -> python name
    requests: dict = field(default_factory=dict)  # level -> [(handle, model, [arg codes])]
    laws: list = field(default_factory=list)
    buffers: dict = field(default_factory=dict)  # buffer name -> init code
    priors: list = field(default_factory=list)  # (name, code, comment)
    log_probs: set = field(default_factory=set)  # handles of class outputs, read as log-probabilities
    taken: set = field(default_factory=set)  # Python names in use in forward()
    constants: dict = field(default_factory=dict)  # module constant name -> literal code


def _bool_code(op: str, a: str, b: str) -> str:
    """Two per-example bool tensors combined by ``and``, ``or`` or ``=>``."""
    return f"(~{a} | {b})" if op == "=>" else f"({a} {'&' if op == 'and' else '|'} {b})"


def _int_bounds(domain):
    if isinstance(domain, Range):
        return domain.lo, domain.hi
    return 0, domain.size


class _LawLowering:
    def __init__(self, spec, law, ir_law, out: Lowered):
        self.spec = spec
        self.law = law
        self.ir = ir_law
        self.out = out
        self.env: dict[str, V] = {}
        self.setup: list[str] = []
        self.masks: list[str] = []
        self.samples = int(law.options.get("samples", 1))
        self.n = "n"

    def table(self, name: str) -> str:
        """How forward() reads a precomputed table: a buffer of the loss module."""
        return f"self.{name}"

    def fail(self, message: str, node) -> None:
        raise CompileError(
            [Diagnostic(f"cannot compile law {self.law.name} yet: {message}", node.span, kind="compile")],
            {self.spec.file: self.spec.source},
        )

    # ---- variables ------------------------------------------------------------
    def local(self, var: str) -> str:
        """A fresh Python name for a law's drawn variable."""
        name = py(f"{self.law.name}_{var}")
        while name in self.out.taken:
            name += "_"
        self.out.taken.add(name)
        return name

    def variables(self) -> None:
        plans = self.ir.variables
        if self.samples > 1:
            self.n = self.local("n")
            self.setup.append(f"{self.n} = n * {self.samples}")
        order = sorted(plans.values(), key=lambda p: p.source != "batch")
        for plan in order:
            v = self.law.variables[plan.name]
            if plan.source == "batch":
                name = py(plan.name)
                self.out.batch_vars[plan.name] = name
                if self.samples > 1:  # each example repeated: one draw of the law's variables per copy
                    copy = self.local(plan.name)
                    self.setup.append(f"{copy} = rt.repeat_examples({name}, {self.samples})")
                    name = copy
                self.env[plan.name] = self._value(v.domain, name)
            elif plan.source == "group":
                self._group_variable(plan.name, v)
        for plan in order:
            if plan.source in ("uniform", "interval", "between", "rejection"):
                self._draw(plan, self.law.variables[plan.name])

    def _draw(self, plan, v) -> str:
        """Setup lines drawing a value variable as its plan says; returns its local name."""
        name = self.local(plan.name)
        if plan.source == "uniform":
            lo, hi = _int_bounds(v.domain) if not isinstance(v.domain, Tensor | RealDomain) else (None, None)
            if lo is None:
                self.fail(f"variable '{plan.name}' ranges over {v.domain}, which cannot be drawn uniformly", self.law.decl)
            self.setup.append(f"{name} = rt.uniform_int({lo}, {hi}, {self.n}, generator, device)")
        elif plan.source == "interval":
            self._interval(plan.name, v, name)
        elif plan.source == "between":
            self._between(plan.name, name)
        else:
            self._rejection(plan.name, v, name)
        self.env[plan.name] = self._value(v.domain, name)
        return name

    def _value(self, domain, code: str) -> V:
        if isinstance(domain, Tensor):
            return V("tensor", code, domain)
        if isinstance(domain, RealDomain):
            return V("real", code, domain)
        return V("value", code, domain)

    def _conjuncts(self, var: str):
        from ..analysis.lawclass import conjuncts, names_in

        return [c for c in conjuncts(self.law.decl.guard) if var in names_in(c)]

    def _interval(self, var: str, v, name: str) -> None:
        lo, hi = _int_bounds(v.domain)
        lows, highs = [str(lo)], [str(hi - 1)]
        for c in self._conjuncts(var):
            a, b = c.operands
            op = c.ops[0]
            if isinstance(b, ast.Name) and b.name == var:  # put the variable on the left
                a, b = b, a
                op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
            other = self.term(b).code
            if op == "<":
                highs.append(f"{other} - 1")
            elif op == "<=":
                highs.append(other)
            elif op == ">":
                lows.append(f"{other} + 1")
            else:
                lows.append(other)
        low = f"torch.full(({self.n},), {lows[0]}, device=device)"
        for x in lows[1:]:
            low = f"torch.maximum({low}, {x})"
        high = f"torch.full(({self.n},), {highs[0]}, device=device)"
        for x in highs[1:]:
            high = f"torch.minimum({high}, {x})"
        self.setup.append(f"{name}, {name}_ok = rt.interval_int({low}, {high}, generator)")
        self.masks.append(f"{name}_ok")

    def _distances(self, graph: str) -> str:
        g = self.spec.ir.graphs[graph]
        const = py(f"EDGES_{graph}")
        edges = [(u, v) for u, nbrs in enumerate(g.adjacency) for v in nbrs if u < v]
        self.out.constants[const] = literal(edges)
        buf = py(f"DISTANCES_{graph}")
        self.out.buffers[buf] = f"rt.graph_distances({g.num_nodes}, {const})"
        return self.table(buf)

    def _between(self, var: str, name: str) -> None:
        (call,) = [c for c in self._conjuncts(var) if isinstance(c, ast.Call)]
        dist = self._distances(call.args[0].name)
        u, v = self.term(call.args[1]).code, self.term(call.args[3]).code
        self.setup.append(f"{name} = rt.between_nodes({dist}, {u}, {v}, generator)")

    def _rejection(self, var: str, v, name: str) -> None:
        lo, hi = _int_bounds(v.domain)
        saved = dict(self.env)
        for k, val in list(self.env.items()):
            if val.kind in ("value", "real", "tensor"):
                self.env[k] = V(val.kind, f"{val.code}[i]", val.domain)
        self.env[var] = self._value(v.domain, "x")
        accept = " & ".join(f"({self.term(c).code})" for c in self._conjuncts(var))
        self.env = saved
        self.setup.append(
            f"{name}, {name}_ok, {name}_rate = rt.rejection(lambda k: rt.uniform_int({lo}, {hi}, k, generator, device), "
            f"lambda x, i: {accept}, n)"
        )
        self.masks.append(f"{name}_ok")

    def _group_variable(self, var: str, v) -> None:
        gir = self.spec.ir.group(v.group)
        domains = [d for node, g, d in self.law.acts if isinstance(node.element, ast.Name) and node.element.name == var]
        uniq = []
        for d in domains:
            if d not in uniq:
                uniq.append(d)
        name = self.local(var)
        parts = {}
        finite = all(self._finite_action(gir, d) for d in uniq)
        if finite and (gir.order or 0) > MAX_TABLE_ORDER:
            self._random_words(gir, uniq, var, name, parts)
        elif finite:
            tables, skipped = [], []
            for d in uniq:
                act = self.spec.ir.action(gir, d)
                ops = {g: [(op, dict(args)) for op, args in act.ops[g]] for g in gir.generators}
                lead = _untouched_leading_dims(d, ops)
                if lead:  # the transforms leave the leading dims alone: index only the trailing ones
                    ops = {g: [(op, _shift_dims(args, -lead)) for op, args in seq] for g, seq in ops.items()}
                where = f"shape={tuple(d.dims[lead:])!r}" if isinstance(d, Tensor) else f"n={d.size}"
                tables.append(f"rt.action_table({literal(ops)}, {where})")
                skipped.append(lead)
            buf = py(f"ELEMENTS_{self.law.name}_{var}")
            joint = f"rt.joint_elements([{', '.join(tables)}])"
            for i, d in enumerate(uniq):  # row r of every table is the same group element
                self.out.buffers[f"{buf}_{i}"] = f"{joint}[{i}]"
                push = self.table(f"{buf}_{i}")
                if isinstance(d, Tensor):
                    gather = f"GATHER_{buf}_{i}"
                    self.out.buffers[gather] = f"rt.invert({buf}_{i})"
                    parts[d] = [("gather", f"{self.table(gather)}[{name}]", len(d.dims) - skipped[i], f"{push}[{name}]")]
                else:
                    parts[d] = [("push", f"{push}[{name}]")]
            self.setup.append(
                f"{name} = torch.randint(0, {self.table(f'{buf}_0')}.shape[0], ({self.n},), generator=generator, device=device)"
            )
        else:
            for d in uniq:
                parts[d] = self._continuous_parts(gir, d, name)
        self.env[var] = V("elem", name, parts)

    def _random_words(self, gir, domains, var: str, name: str, parts: dict) -> None:
        """Groups too large for a table of all elements: per example, a random word in the generators."""
        buf = py(f"GENERATORS_{self.law.name}_{var}")
        tables = []
        for d in domains:
            act = self.spec.ir.action(gir, d)
            ops = {g: [(op, dict(args)) for op, args in act.ops[g]] for g in gir.generators}
            where = f"shape={tuple(d.dims)!r}" if isinstance(d, Tensor) else f"n={d.size}"
            tables.append(f"rt.action_table({literal(ops)}, {where})")
        self.out.buffers[buf] = f"rt.concat_actions([{', '.join(tables)}])"
        self.setup.append(f"{name} = rt.random_words({self.table(buf)}, {self.n}, {WORD_LENGTH}, generator)")
        offset = 0
        for d in domains:
            points = d.size if not isinstance(d, Tensor) else math.prod(d.dims)
            rows = name if len(domains) == 1 else f"({name}[:, {offset}:{offset + points}] - {offset})"
            parts[d] = [("gather", f"rt.invert({rows})", len(d.dims), rows)] if isinstance(d, Tensor) else [("push", rows)]
            offset += points

    def _finite_action(self, gir, domain) -> bool:
        act = self.spec.ir.action(gir, domain)
        return act is not None and bool(act.perms) and not gir.continuous and act.kind in ("values", "positions")

    def _continuous_parts(self, gir, domain, name: str) -> list:
        """Factor by factor, how a sampled element acts on a tensor domain with symbolic dims or matrices."""
        factors = gir.factors or (gir,)
        parts = []
        for i, f in enumerate(factors):
            act = self.spec.ir.action(f, domain)
            part = f"{name}_{i}" if len(factors) > 1 else name
            if act.kind == "matrix":
                special = "True" if f.definition.kind == "SO" else "False"
                size = f.definition.arg
                self.setup.append(f"{part} = rt.haar_orthogonal({self.n}, {size}, {special}, generator, device, torch.float64)")
                parts.append(("matrix", part, act.matrix_dim))
            elif act.kind == "symbolic" and f.definition.kind == "symmetric":
                dims = dict(next(iter(act.ops.values()))[0][1])["dims"]
                ref = next((val.code for val in self.env.values() if val.kind == "tensor" and val.domain == domain), None)
                if ref is None:
                    self.fail(f"no tensor of {domain} to size a permutation of {f.name}", self.law.decl)
                self.setup.append(f"{part} = rt.random_permutations({self.n}, {ref}.shape[{dims[0] + 1}], generator, device)")
                parts.append(("permute", part, dims))
            else:
                self.fail(f"sampling {f.name} acting on {domain} is not supported", self.law.decl)
        return parts

    # ---- terms --------------------------------------------------------------------
    def term(self, e) -> V:
        method = getattr(self, "t_" + type(e).__name__)
        return method(e)

    def t_Int(self, e) -> V:
        return V("const", str(e.value))

    def t_Real(self, e) -> V:
        return V("real", repr(e.value))

    def t_Name(self, e) -> V:
        if e.name in self.env:
            return self.env[e.name]
        if e.name in self.spec.params:
            return V("const", str(self.spec.params[e.name]))
        for d in self.spec.domains.values():
            if isinstance(d, Labels) and e.name in d.labels:
                return V("const", str(d.labels.index(e.name)), d)
        self.fail(f"'{e.name}' has no value here", e)

    def request(self, model: str, args: list[str], level: int) -> str:
        """A handle for the output of ``model(*args)``; equal requests share one (names start with _c: no spec name can)."""
        key = (model, tuple(args))
        for items in self.out.requests.values():
            for handle, m, a in items:
                if (m, tuple(a)) == key:
                    return handle
        handle = f"_c{sum(len(v) for v in self.out.requests.values())}"
        self.out.requests.setdefault(level, []).append((handle, model, args))
        return handle

    def t_Call(self, e) -> V:
        name = e.func.name
        if name in self.spec.models:
            sig = self.spec.models[name]
            args, level = [], 0
            for a in e.args:
                t = self.term(a)
                level = max(level, t.level)
                if t.kind == "dist":  # a nested call feeds its argmax
                    level = max(level, t.level + 1)
                    code = f"({t.code}.argmax(-1) + {t.offset})" if t.offset else f"{t.code}.argmax(-1)"
                elif t.kind == "const":
                    code = f"torch.full(({self.n},), {t.code}, device=device)"
                elif t.kind == "prob":
                    code = f"({t.code} > 0).long()"
                else:
                    code = t.code
                args.append(code)
            handle = self.request(name, args, level)
            out = sig.output
            raw = f"calls[{handle}]"
            if isinstance(out, ClassOf):
                lo, hi = _int_bounds(out.domain)
                self.out.log_probs.add(handle)
                return V(
                    "dist", handle.replace("_c", "_lp"), out.domain, lo if isinstance(out.domain, Range) else 0, hi - lo, level
                )
            if isinstance(out, BoolDomain):
                return V("prob", f"rt.as_logit({raw})", level=level)
            if isinstance(out, RealDomain):
                return V("real", f"rt.as_logit({raw})", level=level)
            return V("tensor", raw, out, level=level)
        if name == "logit":
            t = self.term(e.args[0])
            return V("real", t.code, level=t.level)
        if name == "sigmoid":
            t = self.term(e.args[0])
            return V("prob", t.code, level=t.level)
        if name == "between":
            dist = self._distances(e.args[0].name)
            u, w, v = (self.term(a).code for a in e.args[1:])
            return V("cond", f"rt.on_shortest_path({dist}, {u}, {w}, {v})")
        self.fail(f"unknown call {name}", e)

    def t_Act(self, e) -> V:
        g = self.term(e.element)
        x = self.term(e.operand)
        parts = g.domain.get(x.domain)
        if parts is None:
            self.fail(f"no sampled action of {unparse(e.element)} on {x.domain}", e)
        return self._apply(parts, x)

    def _apply(self, parts: list, x: V) -> V:
        """A sampled group element acting on a value, a class output or a tensor."""
        code = x.code
        for kind, table, *rest in parts:
            if kind == "push":
                if x.kind == "dist":
                    code = f"rt.pushforward({code}, {table})"
                elif x.kind == "value":
                    lo = x.domain.lo if isinstance(x.domain, Range) else 0
                    code = (
                        f"rt.act_on_values({code}, {table})" if not lo else f"(rt.act_on_values({code} - {lo}, {table}) + {lo})"
                    )
                else:
                    code = f"rt.act_on_positions({code}, {table}, {len(x.domain.dims)})"
            elif kind == "gather":  # tensors: one gather over the moved trailing dims
                code = f"rt.gather_positions({code}, {table}, {rest[0]})"
            elif kind == "matrix":
                code = f"rt.matrix_event_dim({code}, {table}, {rest[0]})"
            else:
                for d in rest[0]:
                    code = f"rt.permute_event_dim({code}, {table}, {d})"
        return V(x.kind, code, x.domain, x.offset, x.size, x.level)

    def t_Neg(self, e) -> V:
        t = self.term(e.operand)
        if t.kind == "const":
            return V("const", f"-{t.code}" if not t.code.startswith("-") else t.code[1:])
        if t.kind in ("real",):
            return V("real", f"(-{t.code})", level=t.level)
        if t.kind == "value" and isinstance(t.domain, Cyclic):
            return V("value", f"((-{t.code}) % {t.domain.n})", t.domain)
        if t.kind == "dist" and isinstance(t.domain, Cyclic):
            return V("dist", f"rt.pushforward({t.code}, rt.scale_table({t.domain.n}, -1, device))", t.domain, 0, t.size, t.level)
        self.fail(f"negating {t.kind} values", e)

    def t_Not(self, e) -> V:
        t = self.term(e.operand)
        if t.kind == "prob":
            return V("prob", f"(-{t.code})", level=t.level)
        return V("cond", f"(~{t.code})")

    def t_BinOp(self, e) -> V:
        a, b = self.term(e.left), self.term(e.right)
        op = e.op
        if a.kind == b.kind == "const":
            return V("const", str(eval_int(int(a.code), op, int(b.code))))
        if "dist" in (a.kind, b.kind):
            return self._dist_arith(e, op, a, b)
        if "real" in (a.kind, b.kind):
            return V("real", f"({a.code} {op} {b.code})", level=max(a.level, b.level))
        domain = a.domain if a.kind == "value" else b.domain
        code = f"({a.code} {op} {b.code})"
        if isinstance(domain, Cyclic):
            code = f"({a.code} {op} {b.code}) % {domain.n}"
        return V("value", code, domain)

    def _dist_arith(self, e, op, a: V, b: V) -> V:
        if a.kind == "dist" and b.kind == "dist":
            if op == "*" or isinstance(a.domain, Cyclic) or isinstance(b.domain, Cyclic):
                self.fail("sums and differences are compiled for integer-range class outputs only", e)
            level = max(a.level, b.level)
            if op == "+":
                return V(
                    "dist", f"rt.sum_distribution({a.code}, {b.code})", None, a.offset + b.offset, a.size + b.size - 1, level
                )
            # X - Y = X + (-Y): -Y takes the values -(offset + size - 1) .. -offset, in reversed class order
            low = a.offset - (b.offset + b.size - 1)
            return V("dist", f"rt.sum_distribution({a.code}, {b.code}.flip(-1))", None, low, a.size + b.size - 1, level)
        dist, other = (a, b) if a.kind == "dist" else (b, a)
        level = max(a.level, b.level)
        if isinstance(dist.domain, Cyclic):
            n = dist.domain.n
            if op == "*":
                return V(
                    "dist", f"rt.pushforward({dist.code}, rt.scale_table({n}, {other.code}, device))", dist.domain, 0, n, level
                )
            shift = other.code if op == "+" else f"-({other.code})"
            if op == "-" and dist is b:
                self.fail("constant minus a class output", e)
            return V("dist", f"rt.pushforward({dist.code}, rt.shift_table({n}, {shift}, device))", dist.domain, 0, n, level)
        if other.kind == "const" and op in ("+", "-"):
            c = int(other.code) if op == "+" else -int(other.code)
            return V("dist", dist.code, dist.domain, dist.offset + c, dist.size, level)
        self.fail("this arithmetic on a class output", e)

    def _numeric(self, t: V) -> str:
        if t.kind == "dist":
            return f"rt.expectation_logprobs({t.code}, {t.offset})"
        if t.kind == "prob":
            return f"torch.sigmoid({t.code})"
        if t.kind == "const":
            return f"float({t.code})"
        if t.kind == "value":
            return f"{t.code}.float()"
        return t.code

    def _relation(self, op: str, a: V, b: V, node) -> V:
        level = max(a.level, b.level)
        if a.kind in ("value", "const", "cond") and b.kind in ("value", "const", "cond"):
            pyop = {"==": "==", "!=": "!="}.get(op, op)
            return V("cond", f"({a.code} {pyop} {b.code})")
        if op == "==":
            if b.kind == "dist" and a.kind != "dist":
                a, b = b, a
            if a.kind == "dist" and b.kind == "dist":
                if (a.offset, a.size) == (b.offset, b.size):
                    return V("rel", f"rt.sym_kl_logprobs({a.code}, {b.code})", level=level)
                lo = min(a.offset, b.offset)
                size = max(a.offset + a.size, b.offset + b.size) - lo
                return V(
                    "rel",
                    f"rt.sym_kl_logprobs(rt.pad_support({a.code}, {a.offset}, {lo}, {size}), rt.pad_support({b.code}, {b.offset}, {lo}, {size}))",
                    level=level,
                )
            if a.kind == "dist":
                target = b.code if b.kind != "const" else str(int(b.code) - a.offset)
                if b.kind == "value" and a.offset:
                    target = f"({b.code} - {a.offset})"
                return V("rel", f"rt.cross_entropy_to({a.code}, {target})", level=level)
            if b.kind == "prob" and a.kind != "prob":
                a, b = b, a
            if a.kind == "prob" and b.kind == "prob":
                return V("rel", f"rt.bernoulli_sym_kl({a.code}, {b.code})", level=level)
            if a.kind == "prob":
                return V("rel", f"rt.bernoulli_cross_entropy({a.code}, {b.code})", level=level)
            if a.kind == "tensor" or b.kind == "tensor":
                return V("rel", f"rt.squared_error({a.code}, {b.code})", level=level)
            return V("rel", f"({self._numeric(a)} - {self._numeric(b)}).pow(2)", level=level)
        if op in ("<=", "<"):
            return V("rel", f"rt.squared_hinge({self._numeric(a)}, {self._numeric(b)})", level=level)
        if op in (">=", ">"):
            return V("rel", f"rt.squared_hinge({self._numeric(b)}, {self._numeric(a)})", level=level)
        self.fail(f"'{op}' between model outputs", node)

    def t_Compare(self, e) -> V:
        terms = [self.term(o) for o in e.operands]
        links = [self._relation(op, a, b, e) for op, a, b in zip(e.ops, terms, terms[1:])]
        if all(link.kind == "cond" for link in links):
            return V("cond", " & ".join(link.code for link in links) if len(links) > 1 else links[0].code)
        return V("rel", " + ".join(link.code for link in links), level=max(link.level for link in links))

    def t_Logic(self, e) -> V:
        a, b = self.term(e.left), self.term(e.right)
        level = max(a.level, b.level)
        if a.kind == "cond" and b.kind == "cond":
            return V("cond", _bool_code(e.op, a.code, b.code))
        if e.op == "and" and "rel" in (a.kind, b.kind):
            return V("rel", f"{self._assert(a)} + {self._assert(b)}", level=level)
        pa, pb = self._prob(a), self._prob(b)
        if e.op == "=>":
            return V("rel", f"rt.implication_penalty({pa}, {pb})", level=level)
        combined = f"rt.soft_and({pa}, {pb})" if e.op == "and" else f"rt.soft_or({pa}, {pb})"
        return V("prob", f"rt.logit({combined})", level=level)

    def _prob(self, t: V) -> str:
        if t.kind == "prob":
            return f"torch.sigmoid({t.code})"
        if t.kind == "cond":
            return f"{t.code}.float()"
        self.fail(f"{t.kind} used as a truth value", self.law.decl)

    def _assert(self, t: V) -> str:
        """The loss of a formula asserted true."""
        if t.kind == "rel":
            return t.code
        if t.kind == "prob":
            return f"rt.truth_penalty({t.code})"
        self.fail(f"a {t.kind} cannot be asserted", self.law.decl)

    def lower(self) -> LoweredLaw:
        decl = self.law.decl
        self.variables()
        if decl.guard is not None:
            guard = self.term(decl.guard)
            if guard.kind == "cond":
                self.masks.append(guard.code)
        body = self.term(decl.body)
        loss = self._assert(body)
        mask = " & ".join(f"({m})" for m in self.masks) if self.masks else None
        comment = f"{self.spec.file}:{decl.span.line}  {unparse(decl.body)}" + (
            f" when {unparse(decl.guard)}" if decl.guard else ""
        )
        return LoweredLaw(self.law.name, comment, self.setup, loss, mask)


def eval_int(a: int, op: str, b: int) -> int:
    return {"+": a + b, "-": a - b, "*": a * b}[op]


def _prior(spec, prior) -> tuple:
    where = f"{spec.file}:{prior.span.line}"
    if prior.kind in ("nuclear", "entropy"):
        fn = "nuclear_prior" if prior.kind == "nuclear" else "spectral_entropy"
        code = f"rt.{fn}(rt.bound_tensor(bound, {literal(prior.target)}, {literal(prior.name)}))"
        return prior.name, code, f"{where}  {prior.kind}({prior.target})"
    sig = spec.models[prior.target]
    kinds = []
    for _, d in sig.params:
        if isinstance(d, Cyclic):
            kinds.append(("cyclic", d.n))
        elif isinstance(d, Range):
            kinds.append(("range", d.lo, d.hi))
        elif isinstance(d, RealDomain | Tensor):
            kinds.append(("real",))
        else:
            kinds.append(("fixed",))
    args = ", ".join(f"rt.field(batch, {literal(p)}, {literal(prior.name)})" for p, _ in sig.params)
    code = (
        f"rt.lipschitz_penalty(self.models[{literal(sig.name)}], ({args},), {literal(tuple(kinds))}, "
        f"{isinstance(sig.output, ClassOf)}, generator=generator)"
    )
    return prior.name, code, f"{where}  lipschitz({prior.target})"


def lower_spec(spec) -> Lowered:
    out = Lowered()
    out.taken = {py(v) for ir in spec.ir.laws.values() for v, p in ir.variables.items() if p.source == "batch"}
    for name, law in spec.laws.items():
        out.laws.append(_LawLowering(spec, law, spec.ir.laws[name], out).lower())
    for prior in spec.priors.values():
        out.priors.append(_prior(spec, prior))
    return out


def _untouched_leading_dims(domain, ops: dict) -> int:
    """How many leading dims of a tensor domain no transform touches."""
    if not isinstance(domain, Tensor):
        return 0
    touched = []
    for seq in ops.values():
        for _, args in seq:
            for k, v in args.items():
                if k in ("dim", "i", "j"):
                    touched.append(v)
                elif k in ("dims",):
                    touched += list(v)
    return min(touched) if touched else 0


def _shift_dims(args: dict, delta: int) -> dict:
    out = {}
    for k, v in args.items():
        if k in ("dim", "i", "j"):
            v = v + delta
        elif k == "dims":
            v = tuple(d + delta for d in v)
        out[k] = v
    return out


class _AugmentLowering(_LawLowering):
    """One equivariance law as a data augmentation: ``(x, y) -> (T x, S y)`` with T, S drawn per example."""

    def table(self, name: str) -> str:
        return f"rt.cached_to({name}, device)"

    def lower_augment(self, sig) -> list | None:
        base, base_ops, moved, moved_ops, params = self.ir.sides
        decl = self.law.decl
        lines = [f"# {self.law.name}: {unparse(decl.body)}  ({self.spec.file}:{decl.span.line})"]
        if moved_ops:
            return lines + ["# (not augmented: the transformed call also transforms its output)"]
        fields = [p for p, _ in sig.params]
        names = [py(f) for f in fields]
        lines.append(f"{', '.join(names)} = {', '.join(f'out[{literal(f)}]' for f in fields)}")
        for j, a in enumerate(base.args):
            self.env[a.name] = self._value(sig.params[j][1], names[j])
        for p in params:
            plan = self.ir.variables[p]
            v = self.law.variables[p]
            if plan.source == "group":
                self._group_variable(p, v)
            else:
                lo, hi = _int_bounds(v.domain)
                name = self.local(p)
                self.setup.append(f"{name} = rt.uniform_int({lo}, {hi}, n, generator, device)")
                self.env[p] = self._value(v.domain, name)
        lines += self.setup
        new = [self.term(a).code for a in moved.args]
        target = self._target(base_ops, sig.output)
        if params:
            for f, code in zip(fields, new):
                lines.append(f"out[{literal(f)}] = {code}")
            if target is not None:
                lines.append(f'if "target" in out:\n        out["target"] = {target}')
            return lines
        # no parameter: the transform and the identity, each with probability 1/2 (for involutions such as swaps)
        flip = self.local("flip")
        lines.append(f"{flip} = torch.rand(n, generator=generator, device=device) < 0.5")
        for f, code, old in zip(fields, new, names):
            lines.append(f"out[{literal(f)}] = rt.where_examples({flip}, {code}, {old})")
        if target is not None:
            lines.append(f'if "target" in out:\n        out["target"] = rt.where_examples({flip}, {target}, out["target"])')
        return lines

    def _target(self, ops, output) -> str | None:
        """The target moved by the output transform, or None when the transform leaves it unchanged."""
        if not ops:
            return None
        code = 'out["target"]'
        domain = output.domain if isinstance(output, ClassOf) else output
        for kind, arg in reversed(ops):  # innermost first
            if kind == "act":
                g = self.term(arg)
                if isinstance(domain, Tensor):
                    t = self.t_Act_on(g, V("tensor", code, domain))
                else:
                    t = self.t_Act_on(g, V("value", code, domain))
                code = t.code
            elif kind == "not":
                code = f"(1 - {code})"
            elif isinstance(domain, Cyclic):
                n_ = domain.n
                if kind == "neg":
                    code = f"(-{code}) % {n_}"
                else:
                    other = self.term(arg).code
                    sign = {"+": "+", "-": "-", "*": "*", "rsub": "-"}[kind]
                    code = f"({other} - {code}) % {n_}" if kind == "rsub" else f"({code} {sign} {other}) % {n_}"
            else:
                self.fail("an output transform augmentation cannot apply to this target", self.law.decl)
        return code

    def t_Act_on(self, g: V, x: V) -> V:
        parts = g.domain.get(x.domain)
        if parts is None:
            self.fail(f"no sampled action on {x.domain}", self.law.decl)
        return self._apply(parts, x)


def lower_augment(spec, out: Lowered) -> dict:
    """Per model, the lines of its augmentation (equivariance laws in order)."""
    result = {}
    for name, sig in spec.models.items():
        blocks = []
        taken = {py(p) for p, _ in sig.params}
        for law_name, law in spec.laws.items():
            ir = spec.ir.laws[law_name]
            if ir.law_class != "equivariance" or ir.model != name or ir.sides is None:
                continue
            sub = Lowered(buffers=out.buffers, constants=out.constants, taken=taken)
            lowering = _AugmentLowering(spec, law, ir, sub)
            blocks.append(lowering.lower_augment(sig))
        if blocks:
            result[name] = blocks
    return result


def _reps(spec, gir, domain):
    """(code, runtime value) of a domain's representation under the group, for rt.BasisLinear; None if not buildable."""
    import torch  # noqa: F401 - the runtime builds the action tables

    from .. import runtime as rt

    if isinstance(domain, RealDomain):
        return "None", None
    if not isinstance(domain, Tensor) or not all(isinstance(d, int) for d in domain.dims):
        return None
    codes, values = [], []
    for f in gir.factors or (gir,):
        act = spec.ir.action(f, domain)
        if act is None:
            return None
        if act.kind == "matrix":
            kind = "so" if f.definition.kind == "SO" else "o"
            codes.append(f"({literal(kind)}, {f.definition.arg}, {act.matrix_dim})")
            values.append((kind, f.definition.arg, act.matrix_dim))
        elif act.perms and f.generators:
            ops = {g: [(op, dict(args)) for op, args in act.ops[g]] for g in f.generators}
            code = f"rt.action_table({literal(ops)}, shape={literal(tuple(domain.dims))})"
            codes.append(f'("perm", {code})')
            values.append(("perm", rt.action_table(ops, shape=tuple(domain.dims))))
        elif not f.generators and act.kind != "matrix":
            continue  # a trivial factor
        else:
            return None
    return "[" + ", ".join(codes) + "]", values


def _matrix_layer(spec, name: str, layer, gir):
    """Constructor arguments of an rt.BasisLinear layer (continuous groups on fixed shapes), or None."""
    if not gir.continuous:
        return None
    src = _reps(spec, gir, layer.source)
    dst = _reps(spec, gir, layer.target)
    if src is None or dst is None or src[1] is None:
        return None
    from ..runtime.layers import equivariant_basis

    in_shape = tuple(layer.source.dims)
    out_shape = tuple(layer.target.dims) if isinstance(layer.target, Tensor) else ()
    if equivariant_basis(src[1], dst[1], in_shape, out_shape).shape[0] == 0:
        raise CompileError(
            [
                Diagnostic(
                    f"no nonzero linear map from {spec.domain_name(layer.source)} to {spec.domain_name(layer.target)} "
                    f"commutes with {gir.name} except 0, so layer {name} would always output zero",
                    layer.span,
                    "map to a domain the group acts on (an invariant output needs invariant features first)",
                    kind="compile",
                )
            ],
            {spec.file: spec.source},
        )
    return f"c_in, c_out, {src[0]}, {dst[0]}, {literal(in_shape)}, {literal(out_shape)}, bias"


def lower_layers(spec) -> list:
    """Per layer: (class name, base class, constructor arguments code, comment)."""
    out = []
    for name, layer in spec.layers.items():
        gir, src, dst = spec.ir.layers[name]
        where = f"{spec.file}:{layer.span.line}"
        comment = f"{where}  layer {name}: {layer.source} -> {layer.target} under {gir.name}"
        # symmetric(n) has closed forms (DeepSets, the Bell maps) whose size does not grow with n: prefer them
        closed_form = gir.definition.kind == "symmetric"
        if src is not None and src.perms and (dst.kind == "trivial" or dst.perms) and not gir.continuous and not closed_form:
            ops = {g: [(op, dict(args)) for op, args in src.ops[g]] for g in gir.generators}
            in_table = f"rt.action_table({literal(ops)}, shape={literal(tuple(layer.source.dims))})"
            if dst.kind == "trivial":
                out_table = f"torch.zeros({len(gir.generators)}, 1, dtype=torch.long)"
                out_shape = "()"
            else:
                ops = {g: [(op, dict(args)) for op, args in dst.ops[g]] for g in gir.generators}
                out_table = f"rt.action_table({literal(ops)}, shape={literal(tuple(layer.target.dims))})"
                out_shape = literal(tuple(layer.target.dims))
            args = f"c_in, c_out, {in_table}, {out_table}, {literal(tuple(layer.source.dims))}, {out_shape}, bias"
            out.append((py(name), "rt.OrbitLinear", args, comment, name))
            continue
        factors = gir.factors or (gir,)
        perm = [f for f in factors if f.definition.kind == "symmetric"]
        rest = [f for f in factors if f.definition.kind not in ("symmetric",)]
        first_dim_perm = (
            len(perm) == 1
            and isinstance(layer.source, Tensor)
            and all(isinstance(d, int) for d in layer.source.dims[1:])
            and all(f.definition.kind in ("SO", "O") and f.definition.arg >= 3 for f in rest)
            and isinstance(layer.source, Tensor)
            and src is not None
            and all(
                dict(ops[0][1]).get("dims") == (0,)
                for g, ops in spec.ir.action(perm[0], layer.source).ops.items()
            )
        )
        if first_dim_perm and isinstance(layer.target, Tensor) and layer.target == layer.source:
            # symmetric(N) on dim 0 (x rotations acting on a vector dim, whose commutant is the scalars)
            rest_size = math.prod(d for d in layer.source.dims[1:] if isinstance(d, int))
            if rest:  # rotations: keep each coordinate apart, tie the weights across them
                out.append((py(name), "rt.DeepSetsLinear", "c_in, c_out, bias", comment, name))
            else:  # nothing acts on the other dims: they are features
                args = f"c_in, c_out, bias, rest_as_features=True, rest_size={rest_size}"
                out.append((py(name), "rt.DeepSetsLinear", args, comment + " (other dims as features)", name))
            continue
        if first_dim_perm and layer.target == RealDomain() and not rest:
            rest_size = math.prod(d for d in layer.source.dims[1:] if isinstance(d, int))
            out.append((py(name), "rt.DeepSetsPool", f"c_in * {rest_size}, c_out, bias", comment, name))
            continue
        basis = _matrix_layer(spec, name, layer, gir)
        if basis is not None:
            out.append((py(name), "rt.BasisLinear", basis, comment, name))
            continue
        pair = (
            len(perm) == 1
            and not rest
            and isinstance(layer.source, Tensor)
            and layer.source == layer.target
            and len(layer.source.dims) == 2
            and layer.source.dims[0] == layer.source.dims[1]
            and src is not None
            and all(dict(ops[0][1]).get("dims") == (0, 1) for ops in src.ops.values())
        )
        if pair:  # symmetric(N) permuting both dims of tensor[N, N]: the Bell-number basis
            out.append((py(name), "rt.PairLinear", "c_in, c_out, bias", comment, name))
            continue
        hint = None
        if (
            isinstance(layer.source, Tensor)
            and len(layer.source.dims) >= 2
            and not all(isinstance(d, int) for d in layer.source.dims[1:])
        ):
            hint = "symmetric(N) acts on dim 0 by default; for pair tensors declare 'action G on D by permute(dims=(0, 1))'"
        raise CompileError(
            [
                Diagnostic(
                    f"cannot compile layer {name} yet: {gir.name} acting on {layer.source} -> {layer.target} needs "
                    "layers symspec does not build yet (matrix actions, or sizes known only at run time) (issue 5)",
                    layer.span,
                    hint,
                    kind="compile",
                )
            ],
            {spec.file: spec.source},
        )
    return out


class _SymmetrizeLowering(_AugmentLowering):
    """A model averaged over its group law: ``f_sym(x) = mean_g S_g^-1 f(T_g x)``, one batched forward.

    Finite groups: every element, for every example (exact). Continuous groups
    (and random-word groups): ``samples`` random elements per example (approximate).
    """

    def lower_symmetrize(self, sig) -> list | None:
        base, base_ops, moved, moved_ops, params = self.ir.sides
        if moved_ops or len(params) != 1 or self.law.variables[params[0]].group is None:
            return None
        if any(kind != "act" for kind, _ in base_ops):
            return None
        var = params[0]
        gir = self.spec.ir.group(self.law.variables[var].group)
        exact = not gir.continuous and (gir.order or 0) <= MAX_TABLE_ORDER
        fields = [py(p) for p, _ in sig.params]
        lines = []
        self.n = "m"
        copies = self.local("copies")
        if exact:
            buf_probe = py(f"ELEMENTS_{self.law.name}_{var}_0")
            lines.append(f"{copies} = {buf_probe}.shape[0]  # every element of {gir.name}")
        else:
            lines.append(f"{copies} = self.samples  # random elements of {gir.name}: an approximate average")
        if not exact:  # the samplers draw m = n * copies elements
            lines.append(f"m = n * {copies}")
        for j, a in enumerate(base.args):
            local = self.local(f"{a.name}_all")
            lines.append(f"{local} = rt.repeat_examples({fields[j]}, {copies})")
            self.env[a.name] = self._value(sig.params[j][1], local)
        self._group_variable(var, self.law.variables[var])
        if exact:  # replace the random draw by every element, copy-major
            name = self.local_name_of(var)
            self.setup = [
                f"{name} = torch.arange({copies}, device=device).repeat_interleave(n)"
                if line.startswith(f"{name} = torch.randint")
                else line
                for line in self.setup
            ]
        lines += self.setup
        args = ", ".join(self.term(a).code for a in moved.args)
        lines.append(f"out = self.model({args})")
        code = "out"
        g = self.env[var]
        for _ in base_ops:  # each is an action of g: undo it (on logits: a permutation of classes)
            if isinstance(sig.output, ClassOf):
                code = self._inverse(g, V("dist", code, sig.output.domain))
            else:
                code = self._inverse(g, V("tensor", code, sig.output))
        if code != "out":
            lines.append(f"out = {code}")
        lines.append(f"return out.view({copies}, n, *out.shape[1:]).mean(0)")
        return lines

    def local_name_of(self, var: str) -> str:
        return self.env[var].code

    def _inverse(self, g: V, y: V) -> str:
        parts = g.domain.get(y.domain)
        if parts is None:
            self.fail(f"no action of the group on the output {y.domain}", self.law.decl)
        code = y.code
        for kind, table, *rest in reversed(parts):
            if kind == "gather":  # the push rows of g are the gather rows of g^-1
                code = f"rt.gather_positions({code}, {rest[1]}, {rest[0]})"
            elif kind == "push" and y.kind == "dist":
                code = f"rt.pushforward({code}, rt.invert({table}))"
            elif kind == "push":
                code = f"rt.act_on_values({code}, rt.invert({table}))"
            elif kind == "matrix":
                code = f"rt.matrix_event_dim({code}, {table}.transpose(-1, -2), {rest[0]})"
            else:
                for d in rest[0]:
                    code = f"rt.permute_event_dim({code}, rt.invert({table}), {d})"
        return code


def literal_args(names: list) -> str:
    """A tuple of Python names as source: (a,) or (a, b)."""
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"


def _finite_symmetrize(spec, sig, out: Lowered):
    """For a model on finite inputs: its laws' generators as one joint action, averaged by the runtime."""
    from ..analysis.orbits import input_sizes, joint_push

    sizes = input_sizes(sig)
    laws = [ir for ir in spec.ir.laws.values() if ir.law_class == "equivariance" and ir.model == sig.name]
    if sizes is None or not laws or not all(ir.finite for ir in laws):
        return None
    output = "class" if isinstance(sig.output, ClassOf) else ("bool" if isinstance(sig.output, BoolDomain) else "real")
    gens = [g for ir in laws for g in ir.generators]
    if output == "real" and not all(g.out_identity for g in gens):
        return None
    out_n = next((len(g.out_perm) for g in gens if g.out_perm is not None), 0) if output != "real" else 0
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    total = sum(sizes) + out_n
    joint = []
    for g in gens:
        if output != "real" and g.out_perm is None:
            return None
        joint.append(joint_push(g, offsets, sum(sizes), total))
    const = py(f"JOINT_{sig.name}")
    out.constants[const] = literal(joint)
    lows = [d.lo if isinstance(d, Range) else 0 for _, d in sig.params]
    fields = [py(p) for p, _ in sig.params]
    names = ", ".join(ir.name for ir in laws)
    return (
        ", ".join(names.split(", ")),
        [
            f"# the group generated by {names}: every element when it has at most 5000, else random words",
            f"return rt.symmetrize_finite(self.model, {literal_args(fields)}, {const}, {literal(sizes)}, {literal(lows)}, "
            f"{literal(output)}, self.samples, generator)",
        ],
    )


def lower_symmetrize(spec, out: Lowered) -> dict:
    """Per model: the lines of its symmetrized forward (finite inputs: all its laws; tensors: its group law)."""
    result = {}
    for name, sig in spec.models.items():
        finite = _finite_symmetrize(spec, sig, out)
        if finite is not None:
            result[name] = finite
            continue
        laws = [
            law
            for law_name, law in spec.laws.items()
            if spec.ir.laws[law_name].law_class == "equivariance"
            and spec.ir.laws[law_name].model == name
            and spec.ir.laws[law_name].sides
        ]
        group_laws = [law for law in laws if any(law.variables[p].group is not None for p in spec.ir.laws[law.name].sides[4])]
        if len(group_laws) != 1:
            continue
        law = group_laws[0]
        sub = Lowered(buffers=out.buffers, constants=out.constants, taken={py(p) for p, _ in sig.params} | {"m", "out"})
        lines = _SymmetrizeLowering(spec, law, spec.ir.laws[law.name], sub).lower_symmetrize(sig)
        if lines is not None:
            result[name] = (law.name, lines)
    return result


# ---- validation checks ---------------------------------------------------------------
DEFAULT_TOL = 1e-5  # absolute tolerance of real/tensor relations when a law gives none
DEFAULT_RTOL = 1e-4  # relative tolerance (of the right side's magnitude)


@dataclass
class LoweredCheck:
    name: str
    method: str
    comment: str
    lines: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)  # var -> descriptor tuple (docs/validation.md)
    error: str | None = None  # why no check could be compiled


def _describe(domain) -> tuple:
    if isinstance(domain, Tensor):
        return ("tensor", tuple(domain.dims))
    if isinstance(domain, RealDomain):
        return ("real",)
    lo, hi = _int_bounds(domain)
    return ("values", lo, hi)


class _CheckLowering(_LawLowering):
    """One law as a validation check: per case its loss, whether it holds on the model's decisions, and its sides.

    Decisions: the argmax of a class output, ``logit > 0`` for a bool output,
    the value itself for reals and tensors (compared within ``tol + rtol*|rhs|``).
    Variables come from ``values`` when given (exhaustive enumeration), else
    are drawn exactly as the loss draws them.
    """

    def __init__(self, spec, law, ir_law, out: Lowered):
        super().__init__(spec, law, ir_law, out)
        self.samples = 1
        self.decide = False
        self.space: dict = {}
        self.tol = float(law.options.get("tol", DEFAULT_TOL))
        self.rtol = float(law.options.get("rtol", DEFAULT_RTOL if "tol" not in law.options else 0.0))

    # ---- variables: given, or drawn as the loss draws them
    def variables(self) -> None:
        plans = self.ir.variables
        order = sorted(plans.values(), key=lambda p: p.source != "batch")
        for plan in order:
            v = self.law.variables[plan.name]
            if plan.source == "batch":
                name = self.local(plan.name)
                self.setup.append(f"{name} = values[{literal(plan.name)}]")
                self.env[plan.name] = self._value(v.domain, name)
                self.space[plan.name] = ("batch", *_describe(v.domain))
        for plan in order:
            v = self.law.variables[plan.name]
            if plan.source == "batch":
                continue
            before = len(self.setup)
            if plan.source == "group":
                self._group_variable(plan.name, v)
                drawn = self.env[plan.name].code
                buf = py(f"ELEMENTS_{self.law.name}_{plan.name}") + "_0"
                if buf in self.out.buffers and f"{drawn} = torch.randint" in self.setup[-1]:
                    self.space[plan.name] = ("group", "elements", buf)
                else:
                    self.space[plan.name] = ("group", "sampled")
            else:
                drawn = self._draw(plan, v)
                self.space[plan.name] = (plan.source, *_describe(v.domain))
            lines = self.setup[before:]
            del self.setup[before:]
            if self.space[plan.name][1] in ("values", "elements"):
                given = [f"{drawn} = values[{literal(plan.name)}]"]
                given += [f"{drawn}_ok = torch.ones_like({drawn}, dtype=torch.bool)" for x in lines if f"{drawn}_ok" in x]
                self.setup.append(f"if {literal(plan.name)} in values:")
                self.setup += ["    " + x for x in given]
                self.setup.append("else:")
                self.setup += ["    " + x for x in lines]
            else:
                self.setup += lines

    # ---- decision-level terms
    def t_Call(self, e) -> V:
        v = super().t_Call(e)
        if self.decide and v.kind == "dist":
            code = f"({v.code}.argmax(-1) + {v.offset})" if v.offset else f"{v.code}.argmax(-1)"
            return V("value", code, v.domain, level=v.level)
        return v

    def _truth(self, t: V) -> str:
        if t.kind == "prob":
            return f"({t.code} > 0)"
        if t.kind == "cond":
            return t.code
        if t.kind in ("value", "const"):
            return f"({t.code} != 0)"
        self.fail(f"a {t.kind} used as a truth value", self.law.decl)

    def _relation(self, op: str, a: V, b: V, node) -> V:
        if not self.decide:
            return super()._relation(op, a, b, node)
        plain = ("value", "const", "cond")
        if a.kind in plain and b.kind in plain:
            return super()._relation(op, a, b, node)
        if "prob" in (a.kind, b.kind):
            if op not in ("==", "!="):
                self.fail(f"'{op}' between truth values", node)
            return V("cond", f"({self._truth(a)} {op} {self._truth(b)})")
        x, y = self._numeric(a), self._numeric(b)
        if op == "==":
            return V("cond", f"rt.within_tolerance({x}, {y}, {self.tol!r}, {self.rtol!r})")
        if op in ("<=", "<"):
            return V("cond", f"rt.at_most({x}, {y}, {self.tol!r})")
        if op in (">=", ">"):
            return V("cond", f"rt.at_most({y}, {x}, {self.tol!r})")
        self.fail(f"'{op}' between model outputs", node)

    def t_Logic(self, e) -> V:
        if not self.decide:
            return super().t_Logic(e)
        return V("cond", _bool_code(e.op, self._truth(self.term(e.left)), self._truth(self.term(e.right))))

    def _side(self, t: V, label: str, sides: list, lines: list) -> V:
        """Bind a top-level side to a local (reported with counterexamples)."""
        if t.kind == "const":
            return t
        local = f"_side{len(sides)}"
        lines.append(f"{local} = {t.code}")
        shown = {"prob": f"torch.sigmoid({local})", "value": local, "cond": local}.get(t.kind, local)
        sides.append((label, shown))
        return V(t.kind, local, t.domain, t.offset, t.size, t.level)

    def _shown_values(self) -> list:
        """(label, local) of every variable's value per case; a product group's element shows factor by factor."""
        defined = {line.strip().split(" = ")[0].split(",")[0] for line in self.setup if " = " in line}
        shown = []
        for var in self.ir.variables:
            code = self.env[var].code
            if code in defined or self.space.get(var, ("",))[0] == "batch":
                shown.append((var, code))
            else:
                shown += [(f"{var}[{i}]", f"{code}_{i}") for i in range(8) if f"{code}_{i}" in defined]
        return shown

    def _reuse_sides(self, body, raw: list, terms: list) -> str | None:
        """The loss of a comparison reading the sides' locals where a side's decision is its value (reals, tensors).

        Without this, ``g . forces(x)`` would be computed once for the decision and again for the loss.
        """
        self.decide = False
        soft = [self.term(o) for o in body.operands]
        reused = False
        for i, (s, r, t) in enumerate(zip(soft, raw, terms)):
            if s.kind in ("tensor", "real") and s.code == r.code and t.code != r.code:
                soft[i] = V(s.kind, t.code, s.domain, level=s.level)
                reused = True
        loss = None
        if reused:
            links = [self._relation(op, a, b, body) for op, a, b in zip(body.ops, soft, soft[1:])]
            loss = " + ".join(link.code for link in links)
        self.decide = True
        return loss

    def lower_check(self) -> LoweredCheck:
        decl = self.law.decl
        comment = f"{self.law.name}: {unparse(decl.body)}" + (f" when {unparse(decl.guard)}" if decl.guard else "")
        comment += f"  ({self.spec.file}:{decl.span.line})"
        method = py(f"check_{self.law.name}")
        self.variables()
        if decl.guard is not None:
            guard = self.term(decl.guard)
            if guard.kind == "cond":
                self.masks.append(guard.code)
        loss = self._assert(self.term(decl.body))
        self.decide = True
        body, sides, side_lines = decl.body, [], []
        if isinstance(body, ast.Compare):
            raw = [self.term(o) for o in body.operands]
            terms = [self._side(t, unparse(o), sides, side_lines) for t, o in zip(raw, body.operands)]
            links = [self._relation(op, a, b, body) for op, a, b in zip(body.ops, terms, terms[1:])]
            holds = " & ".join(f"({link.code})" for link in links) if len(links) > 1 else links[0].code
            loss = self._reuse_sides(body, raw, terms) or loss
        elif isinstance(body, ast.Logic):
            a = self._side(self.term(body.left), unparse(body.left), sides, side_lines)
            b = self._side(self.term(body.right), unparse(body.right), sides, side_lines)
            holds = _bool_code(body.op, self._truth(a), self._truth(b))
        else:
            holds = self._truth(self._side(self.term(body), unparse(body), sides, side_lines))
        lines = list(self.setup)
        lines.append("calls = rt.CheckedCalls(self.models, self.OUTPUTS)")
        for _level, requests in sorted(self.out.requests.items()):
            for handle, model, args in requests:
                lines.append(f"{handle} = calls.add({literal(model)}, {', '.join(args)})")
            lines.append("calls.run()")
            for handle, _, _ in requests:
                if handle in self.out.log_probs:
                    lines.append(f"{handle.replace('_c', '_lp')} = torch.log_softmax(calls[{handle}], -1)")
        lines += side_lines
        mask = " & ".join(f"({m})" for m in self.masks) if self.masks else "None"
        shown = ", ".join(f"{literal(label)}: {code}" for label, code in self._shown_values())
        sides_code = ", ".join(f"{literal(label)}: {code}" for label, code in sides)
        lines += [
            "return rt.checked(",
            "    n,",
            f"    loss={loss},",
            f"    holds={holds},",
            f"    mask={mask},",
            "    finite=calls.finite(n),",
            f"    values={{{shown}}},",
            f"    sides={{{sides_code}}},",
            ")",
        ]
        return LoweredCheck(self.law.name, method, comment, lines, self.space)


def lower_checks(spec, out: Lowered) -> list:
    """Per law: a validation check method (or why none could be compiled)."""
    result = []
    for name, law in spec.laws.items():
        sub = Lowered(buffers=out.buffers, constants=out.constants, taken={"values", "n", "device", "calls", "generator"})
        lowering = _CheckLowering(spec, law, spec.ir.laws[name], sub)
        try:
            result.append(lowering.lower_check())
        except CompileError as err:
            message = err.errors[0].message if err.errors else str(err)
            result.append(LoweredCheck(name, py(f"check_{name}"), "", error=message))
    return result


def model_outputs(spec) -> dict:
    """Per model: what a forward must return (checked by the validator)."""
    result = {}
    for name, sig in spec.models.items():
        out = sig.output
        if isinstance(out, ClassOf):
            result[name] = ("class", out.domain.size)
        elif isinstance(out, BoolDomain):
            result[name] = ("bool",)
        elif isinstance(out, RealDomain):
            result[name] = ("real",)
        else:
            result[name] = ("tensor", tuple(out.dims))
    return result


def model_inputs(spec) -> dict:
    """Per model: each parameter's domain as a descriptor (``("values", lo, hi)``, ``("tensor", dims)``, ``("real",)``)."""
    return {name: tuple(_describe(d) for _, d in sig.params) for name, sig in spec.models.items()}
