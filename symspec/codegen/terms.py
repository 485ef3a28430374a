"""Law terms as tensor expressions, in one of two modes.

``Mode.SOFT``: what the loss compares (log-probabilities, logits, divergences).
``Mode.DECISION``: what validation compares (argmax classes, ``logit > 0``,
values within a tolerance).  Dispatch is on the term node's class name
(``t_Int``, ``t_Name``, ``t_Call``, ...), so a typed term tree with the same
node names can replace the syntax tree as input.
"""

from __future__ import annotations

from enum import Enum

from ..analysis.domains import BoolDomain, ClassOf, Cyclic, Labels, Range, RealDomain, Tensor
from ..analysis.terms import Kind, Ref
from ..analysis.typerules import broadcast_dims
from ..syntax.unparse import unparse
from .actions import apply_parts
from .core import UNSUPPORTED_HINT, LawScope, V, int_bounds
from .draws import distances
from .expr import Attr, BinOp, Const, Name, TupleE, Unary, call, free_names, method, rt, torch_
from .names import call_hint
from .ranges import arith_image, confine, extremum_image, term_bounds

__all__ = ["Mode", "Terms", "bool_expr", "DEFAULT_TOL", "DEFAULT_RTOL", "tolerances"]


def tolerances(tol, rtol) -> tuple:
    """A law's (tol, rtol) for validation: the defaults when it gives neither, else what it gives (rtol 0 by default)."""
    if tol is None and rtol is None:
        return DEFAULT_TOL, DEFAULT_RTOL
    return (float(tol) if tol is not None else DEFAULT_TOL, float(rtol) if rtol is not None else 0.0)


DEFAULT_TOL = 1e-5  # absolute tolerance of real/tensor relations when a law gives none
DEFAULT_RTOL = 1e-4  # relative tolerance (of the right side's magnitude)


class Mode(Enum):
    SOFT = "soft"  # the loss
    DECISION = "decision"  # validation: the models' decisions


def bool_expr(op: str, a, b):
    """Two per-example bool tensors combined by ``and``, ``or`` or ``=>``."""
    if op == "=>":
        return BinOp("|", Unary("~", a), b)
    return BinOp("&" if op == "and" else "|", a, b)


def _eval_int(a: int, op: str, b: int) -> int:
    return {"+": a + b, "-": a - b, "*": a * b}[op]


def _output_kind(out) -> Kind:
    """The kind of a model call's output, for syntax trees without types."""
    if isinstance(out, ClassOf):
        return Kind.DIST
    if isinstance(out, BoolDomain):
        return Kind.PROB
    return Kind.REAL if isinstance(out, RealDomain) else Kind.TENSOR


def _argmax(t: V):
    e = method(t.e, "argmax", -1)
    return BinOp("+", e, Const(t.offset)) if t.offset else e


class Terms:
    """Lowers the terms of one law (its scope holds the variables' values and the model calls)."""

    def __init__(self, ls: LawScope, tol: float = DEFAULT_TOL, rtol: float = DEFAULT_RTOL):
        self.ls = ls
        self.spec = ls.spec
        self.tol = tol
        self.rtol = rtol

    def term(self, e, mode: Mode) -> V:
        return getattr(self, "t_" + type(e).__name__)(e, mode)

    def soft(self, e) -> V:
        return self.term(e, Mode.SOFT)

    def decide(self, e) -> V:
        return self.term(e, Mode.DECISION)

    def fail(self, message: str, node=None, hint: str | None = UNSUPPORTED_HINT):
        self.ls.fail(message, node, hint)

    def mask(self, cond) -> None:
        """Examples where ``cond`` fails are left out (loss) or skipped (validation)."""
        if cond not in self.ls.masks:
            self.ls.masks.append(cond)

    # ---- atoms
    def t_Int(self, e, mode) -> V:
        return V("const", Const(e.value), value=e.value)

    def t_Real(self, e, mode) -> V:
        return V("real", Const(e.value))

    def t_Name(self, e, mode) -> V:
        """A variable (its draw), a parameter (its named constant) or a label (its index), as the analysis resolved it."""
        ref = getattr(e, "ref", None)
        if e.name in self.ls.env and ref in (None, Ref.VARIABLE):
            return self.ls.env[e.name]
        if ref is Ref.PARAM or (ref is None and e.name in self.spec.params):
            return V("const", Name(self.ls.tables.params[e.name]), value=self.spec.params[e.name])
        if ref is Ref.LABEL:
            return V("const", Const(e.ty.value), e.ty.domain, value=e.ty.value)
        if ref is None:  # an untyped tree (kept for callers that lower syntax directly)
            for d in self.spec.domains.values():
                if isinstance(d, Labels) and e.name in d.labels:
                    i = d.labels.index(e.name)
                    return V("const", Const(i), d, value=i)
        self.fail(f"'{e.name}' has no value here", e)

    # ---- model calls
    def _hint(self, e) -> str:
        """A local's name for a call, from what it is called on (``add_ab``, ``add_a_plus_k_b``, ``energy_gx``)."""
        local = {var: v.e.id for var, v in self.ls.env.items() if isinstance(v.e, Name)}
        return call_hint(e, local)[:40]

    def _argument(self, t: V, level: int, param_domain):
        # t.level: the first round that may read t (a nested call runs in a round after the calls it reads)
        if t.kind == "dist":  # a nested call feeds its argmax
            return _argmax(t), max(level, t.level)
        if t.kind == "const":
            if isinstance(param_domain, Cyclic) and isinstance(t.value, int) and not 0 <= t.value < param_domain.n:
                # f(-1), f(7) on cyclic(5): the constant wraps, as cyclic arithmetic does (the model sees 4, 2)
                wrapped = Const(t.value % param_domain.n) if isinstance(t.e, Const) else BinOp("%", t.e, self._n(param_domain))
                return self.ls.full(wrapped), level
            return self.ls.full(t.e), level
        if t.kind in ("real", "prob") and self.is_number(t.e):  # a Python number: a tensor of one per example
            return self._per_example(t), level
        if t.kind == "prob":
            return method(BinOp(">", t.e, Const(0)), "long"), max(level, t.level)
        if t.unchecked and hasattr(param_domain, "size"):  # integer arithmetic: a value outside the domain
            mask, e = confine(t.e, int_bounds(t.domain), int_bounds(param_domain), self.ls.tables.number)
            if mask is not None:  # never reaches the model: a placeholder, and the example is masked out
                self.mask(mask)
            return e, max(level, t.level)
        return t.e, max(level, t.level)

    def is_number(self, e) -> bool:
        """Whether an expression is a Python number at run time (it reads no tensor, only spec parameters)."""
        return free_names(e) <= {"abs", "min", "max", "float", *self.ls.tables.params.values()}  # Python's builtins

    def _per_example(self, t: V):
        """A real or truth constant as a model argument: one value per example, on the batch's device.

        A real takes the dtype of the law's real or tensor variables (the batch's), else torch's default.
        """
        if t.kind == "prob":  # a truth value, as a bool model argument reads it (0 or 1)
            return method(torch_("full", TupleE((self.ls.n,)), BinOp(">", t.e, Const(0)), device=Name("device")), "long")
        like = next((v.e for v in self.ls.env.values() if v.kind in ("real", "tensor") and isinstance(v.e, Name)), None)
        dtype = {"dtype": Attr(like, "dtype")} if like is not None else {}
        value = t.e if isinstance(t.e, Const) and isinstance(t.e.value, float) else call("float", t.e)
        return torch_("full", TupleE((self.ls.n,)), value, device=Name("device"), **dtype)

    def t_Call(self, e, mode) -> V:
        name = e.func.name
        if name in self.spec.models:
            sig = self.spec.models[name]
            args, level = [], 0
            for a, (_, domain) in zip(e.args, sig.params):
                code, level = self._argument(self.term(a, mode), level, domain)
                args.append(code)
            kind = e.ty.kind if getattr(e, "ty", None) is not None else _output_kind(sig.output)
            view = {Kind.DIST: "logprobs", Kind.PROB: "logit", Kind.REAL: "logit"}.get(kind, "output")
            calls = self.ls.scope.calls
            r = calls.add(name, tuple(args), level, lambda: self._hint(e), view)  # named only when new
            read = calls.read(r)
            after = r.level + 1  # a call that reads this output runs a round later
            if kind is Kind.DIST:
                classes = sig.output.domain
                lo, hi = int_bounds(classes)
                offset = lo if isinstance(classes, Range) else 0
                v = V(Kind.DIST, read, classes, offset, hi - lo, after)
                if mode is Mode.DECISION:
                    return V(Kind.VALUE, _argmax(v), v.domain, level=after)
                return v
            if kind is Kind.TENSOR:
                return V(Kind.TENSOR, read, sig.output, level=after)
            return V(kind, read, level=after)  # PROB (a bool output's logit) or REAL
        if name in ("abs", "min", "max"):
            return self._extremum(e, name, [self.term(a, mode) for a in e.args])
        if name == "logit":
            t = self.term(e.args[0], mode)
            return V("real", t.e, level=t.level)
        if name == "sigmoid":
            t = self.term(e.args[0], mode)
            return V("prob", t.e, level=t.level)
        if name == "between":
            dist = distances(self.ls, e.args[0].name)
            u, w, v = (self.term(a, mode).e for a in e.args[1:])
            return V("cond", rt("on_shortest_path", dist, u, w, v))
        self.fail(f"unknown call {name}", e)

    def _extremum(self, e, name: str, args: list) -> V:
        """abs, min and max of exact integers (a range, no wrap-around) or of reals."""
        level = max(a.level for a in args)
        if all(a.kind == "const" for a in args):
            values = [a.value for a in args]
            value = abs(values[0]) if name == "abs" else (min if name == "min" else max)(values)
            return V("const", Const(value), value=value)
        kind = "real" if any(a.kind == "real" for a in args) else "value"
        if name == "abs":
            (a,) = args
            code = call("abs", a.e) if self.is_number(a.e) else method(a.e, "abs")
        else:
            a, b = args
            if self.is_number(a.e):  # a constant (an integer, a real, a parameter): second
                a, b = b, a
            if self.is_number(a.e):  # two Python numbers (reals: constants of a real kind)
                code = call(name, a.e, b.e)
            elif self.is_number(b.e):  # one tensor: clamp it
                code = method(a.e, "clamp", **{"max" if name == "min" else "min": b.e})
            else:
                code = torch_("minimum" if name == "min" else "maximum", a.e, b.e)
        if kind == "real":
            return V("real", code, level=level)
        return V("value", code, extremum_image(name, args), level=level, unchecked=True)

    # ---- group actions
    def t_Act(self, e, mode) -> V:
        g = self.term(e.element, mode)
        x = self.term(e.operand, mode)
        parts = g.domain.get(x.domain)
        if parts is None:
            self.fail(f"no sampled action of {unparse(e.element)} on {x.domain}", e)
        return apply_parts(parts, x)

    # ---- arithmetic
    def t_Neg(self, e, mode) -> V:
        t = self.term(e.operand, mode)
        if t.kind == "const":
            if isinstance(t.e, Const):
                return V("const", Const(-t.value), value=-t.value)
            return V("const", Unary("-", t.e), value=-t.value)
        if t.kind == "real":
            return V("real", Unary("-", t.e), level=t.level)
        if t.kind == "tensor":
            return V("tensor", Unary("-", t.e), t.domain, level=t.level)
        if t.kind == "value" and isinstance(t.domain, Cyclic):
            return V("value", BinOp("%", Unary("-", t.e), self._n(t.domain)), t.domain, level=t.level)
        if t.kind == "dist" and isinstance(t.domain, Cyclic):  # x -> -x is its own inverse
            table = rt("scale_table", self._n(t.domain), -1, Name("device"))
            return V("dist", rt("pushforward_permutation", t.e, table), t.domain, 0, t.size, t.level)
        if t.kind == "dist":  # integers offset..offset+size-1: -X takes -(offset+size-1)..-offset, classes reversed
            low = -(t.offset + t.size - 1)
            reach = _flipped_reach(t)
            return V("dist", method(t.e, "flip", -1), Range(low, low + t.size), low, t.size, t.level, reach=reach)
        if t.kind == "value" and t.domain is not None and hasattr(t.domain, "size"):  # a range value (an argmax)
            lo, hi = term_bounds(t)
            return V("value", Unary("-", t.e), Range(-hi + 1, -lo + 1), level=t.level, unchecked=True)
        self.fail(f"negating {t.kind} values", e)

    def _n(self, domain):
        return self.ls.tables.number(domain.n)

    def t_Not(self, e, mode) -> V:
        t = self._operand(e.operand, mode)
        if t.kind == "prob":
            return V("prob", Unary("-", t.e), level=t.level)
        if t.kind != "cond":
            self.fail(f"'not' of a {t.kind}", e)
        return V("cond", Unary("~", t.e))

    def _operand(self, node, mode) -> V:
        """An operand of ``not``, ``and``, ``or``, ``=>`` as a truth value.  An implication there is one too, the
        probability of ``(not a) or b`` (``1 - P(a) (1 - P(b))``), not the penalty it is as a whole law."""
        if mode is not Mode.SOFT or type(node).__name__ != "Logic":
            return self.term(node, mode)
        if node.op != "=>":
            return self.t_Logic(node, mode, truth=True)
        a, b = self._operand(node.left, mode), self._operand(node.right, mode)
        if a.kind == b.kind == "cond":
            return V("cond", bool_expr("=>", a.e, b.e))
        level = max(a.level, b.level)
        if a.kind == b.kind == "prob":
            return V("prob", rt("or_logits", Unary("-", a.e), b.e), level=level)
        combined = rt("soft_or", rt("soft_not", self.probability(a)), self.probability(b))
        return V("prob", rt("logit", combined), level=level)

    def t_BinOp(self, e, mode) -> V:
        a, b = self.term(e.left, mode), self.term(e.right, mode)
        op = e.op
        if a.kind == b.kind == "const":
            value = _eval_int(a.value, op, b.value)
            return V("const", Const(value), value=value)
        if "dist" in (a.kind, b.kind):
            return self._dist_arith(e, op, a, b)
        level = max(a.level, b.level)
        if "tensor" in (a.kind, b.kind):
            return self._tensor_arith(e, op, a, b, level)
        if "real" in (a.kind, b.kind):
            return V("real", BinOp(op, a.e, b.e), level=level)
        domain = a.domain if a.kind == "value" else b.domain
        if isinstance(domain, Cyclic):
            return V("value", BinOp("%", BinOp(op, a.e, b.e), self._n(domain)), domain, level=level)
        if domain is None or not hasattr(domain, "size"):
            return V("value", BinOp(op, a.e, b.e), domain, level=level)
        # No wrap-around: it may leave the domain.  The analysis types this node with the operand's domain (the
        # domain it is checked against, coarser than the integers it takes), so codegen tracks the image here.
        image = Range(*arith_image(op, term_bounds(a), term_bounds(b)))
        return V("value", BinOp(op, a.e, b.e), image, level=level, unchecked=True)

    def _tensor_arith(self, e, op, a: V, b: V, level: int) -> V:
        """``+ - *`` with a tensor: each operand's dims aligned after the batch dim (``rt.align_batch``), so that a
        real (one per example) or a tensor of fewer dims broadcasts per example as the analysis typed it."""
        ty = getattr(e, "ty", None)
        if ty is not None and isinstance(ty.domain, Tensor):
            domain = ty.domain
        else:  # an untyped tree: the operands' broadcast
            dims = [t.domain.dims for t in (a, b) if t.kind == "tensor"]
            domain = Tensor(dims[0] if len(dims) == 1 else broadcast_dims(*dims))
        rank = len(domain.dims)

        def aligned(t: V):
            if t.kind == "const":
                return self.numeric(t)
            if self.is_number(t.e) or (t.kind == "tensor" and len(t.domain.dims) == rank):
                return t.e
            return rt("align_batch", t.e, rank)

        return V("tensor", BinOp(op, aligned(a), aligned(b)), domain, level=level)

    def _dist_arith(self, e, op, a: V, b: V) -> V:
        level = max(a.level, b.level)
        if a.kind == "dist" and b.kind == "dist":
            if op == "*" or isinstance(a.domain, Cyclic) or isinstance(b.domain, Cyclic):
                self.fail(
                    "sums and differences are compiled for integer-range class outputs only",
                    e,
                    "declare the outputs as class(range(lo, hi)) to sum them, or compare each output on its own",
                )
            if op == "+":
                return V("dist", rt("sum_distribution", a.e, b.e), None, a.offset + b.offset, a.size + b.size - 1, level)
            # X - Y = X + (-Y): -Y takes the values -(offset + size - 1) .. -offset, in reversed class order
            low = a.offset - (b.offset + b.size - 1)
            flipped = method(b.e, "flip", -1)
            return V("dist", rt("sum_distribution", a.e, flipped), None, low, a.size + b.size - 1, level)
        dist, other = (a, b) if a.kind == "dist" else (b, a)
        if isinstance(dist.domain, Cyclic):
            n = self._n(dist.domain)
            size = dist.domain.n
            if op == "*":
                table = rt("scale_table", n, other.e, Name("device"))  # merges classes unless the factor is a unit mod n
                return V("dist", rt("pushforward", dist.e, table), dist.domain, 0, size, level)
            if op == "-" and dist is b:
                self.fail(
                    "constant minus a class output", e, "move the constant to the other side: k - f(x) == y is f(x) == k - y"
                )
            back = Unary("-", other.e) if op == "+" else other.e  # x -> x + s is undone by x -> x - s
            table = rt("shift_table", n, back, Name("device"))
            return V("dist", rt("pushforward_permutation", dist.e, table), dist.domain, 0, size, level)
        if other.kind == "const" and op == "-" and dist is b:  # k - X = k + (-X): classes reversed, then shifted
            low = other.value - (dist.offset + dist.size - 1)
            reach = _flipped_reach(dist)
            return V("dist", method(dist.e, "flip", -1), Range(low, low + dist.size), low, dist.size, level, reach=reach)
        if other.kind == "const" and op in ("+", "-"):
            c = other.value if op == "+" else -other.value
            return V("dist", dist.e, dist.domain, dist.offset + c, dist.size, level, reach=dist.reach)
        if other.kind == "value" and op in ("+", "-") and isinstance(other.domain, Range):
            return self._shift_by_value(op, dist, other, dist is b, level)
        self.fail("this arithmetic on a class output", e)

    def _shift_by_value(self, op, dist: V, k: V, reversed_: bool, level: int) -> V:
        """``X + k``, ``X - k``, ``k - X`` for an integer class output X and a range value k, one per example: the
        support widens to every sum (``rt.shift_support`` places each example's classes at its own shift)."""
        logp, offset = dist.e, dist.offset
        if reversed_ and op == "-":  # k - X = k + (-X)
            logp, offset, op = method(logp, "flip", -1), -(dist.offset + dist.size - 1), "+"
        lo, hi = term_bounds(k)
        if op == "+":
            low, shift = lo, BinOp("-", k.e, Const(lo)) if lo else k.e
        else:  # -k takes -(hi - 1) .. -lo
            low, shift = -(hi - 1), BinOp("-", Const(hi - 1), k.e)
        size = dist.size + (hi - lo) - 1
        start = offset + low
        out = rt("shift_support", logp, shift, size)
        return V("dist", out, Range(start, start + size), start, size, level, reach=(shift, dist.size))

    # ---- relations
    def numeric(self, t: V):
        if t.kind == "dist":
            return rt("expectation_logprobs", t.e, t.offset)
        if t.kind == "prob":
            return torch_("sigmoid", t.e)
        if t.kind == "const":
            return Const(float(t.value)) if isinstance(t.e, Const) else call("float", t.e)
        if t.kind == "value":
            return method(t.e, "float")
        return t.e

    def truth(self, t: V):
        if t.kind == "prob":
            return BinOp(">", t.e, Const(0))
        if t.kind == "cond":
            return t.e
        if t.kind in ("value", "const"):
            return BinOp("!=", t.e, Const(0))
        self.fail(f"a {t.kind} used as a truth value")

    def relation(self, op: str, a: V, b: V, node, mode: Mode) -> V:
        plain = ("value", "const", "cond")
        if a.kind in plain and b.kind in plain:
            return V("cond", BinOp(op, a.e, b.e))
        if mode is Mode.DECISION:
            return self._decided(op, a, b, node)
        level = max(a.level, b.level)
        if op == "==":
            if b.kind == "dist" and a.kind != "dist":
                a, b = b, a
            if a.kind == "dist" and b.kind == "dist":
                if (a.offset, a.size) == (b.offset, b.size):
                    return V("rel", rt("sym_kl_logprobs", a.e, b.e), level=level)
                lo = min(a.offset, b.offset)
                size = max(a.offset + a.size, b.offset + b.size) - lo
                low_a = low_b = lo
                if size > a.size + b.size:  # disjoint supports: classes between them add 0 to the divergence; drop them
                    first, second = (a, b) if a.offset < b.offset else (b, a)
                    size = a.size + b.size
                    lows = {id(first): first.offset, id(second): second.offset - first.size}
                    low_a, low_b = lows[id(a)], lows[id(b)]
                left = rt("pad_support", a.e, a.offset, low_a, size)
                right = rt("pad_support", b.e, b.offset, low_b, size)
                return V("rel", rt("sym_kl_logprobs", left, right), level=level)
            if a.kind == "dist":
                return V("rel", rt("cross_entropy_to", a.e, self._target(a, b)), level=level)
            if b.kind == "prob" and a.kind != "prob":
                a, b = b, a
            if a.kind == "prob" and b.kind == "prob":
                return V("rel", rt("bernoulli_sym_kl", a.e, b.e), level=level)
            if a.kind == "prob":
                return V("rel", rt("bernoulli_cross_entropy", a.e, b.e), level=level)
            if a.kind == "tensor" or b.kind == "tensor":
                return V("rel", rt("squared_error", a.e, b.e), level=level)
            return V("rel", rt("squared_difference", self.numeric(a), self.numeric(b)), level=level)
        if op in ("<=", "<"):
            return V("rel", rt("squared_hinge", self.numeric(a), self.numeric(b)), level=level)
        if op in (">=", ">"):
            return V("rel", rt("squared_hinge", self.numeric(b), self.numeric(a)), level=level)
        self.fail(f"'{op}' between model outputs", node)

    def _target(self, dist: V, b: V, inside: list | None = None):
        """The class index a value stands for in a distribution's support (out-of-support examples masked, or,
        with ``inside`` given, the in-support condition appended to it instead)."""
        if b.kind == "const":
            target = Const(b.value - dist.offset) if isinstance(b.e, Const) or dist.offset else b.e
        else:
            target = BinOp("-", b.e, Const(dist.offset)) if dist.offset and b.kind == "value" else b.e
        if b.kind == "value" and b.domain is not None and hasattr(b.domain, "size"):  # a class of the support?
            lo, hi = int_bounds(b.domain)
            mask, target = confine(target, (lo - dist.offset, hi - dist.offset), (0, dist.size), Const)
            if mask is not None and inside is not None:
                inside.append(mask)
            elif mask is not None:
                self.mask(mask)
        if dist.reach is not None:  # shifted per example: a class of the union support this example cannot hold
            first, count = dist.reach
            reach = BinOp("&", BinOp(">=", target, first), BinOp("<", target, BinOp("+", first, Const(count))))
            if inside is not None:
                inside.append(reach)
            else:
                self.mask(reach)
        return target

    def _decided(self, op: str, a: V, b: V, node) -> V:
        if "prob" in (a.kind, b.kind):
            if op not in ("==", "!="):
                self.fail(f"'{op}' between truth values", node)
            return V("cond", BinOp(op, self.truth(a), self.truth(b)))
        x, y = self.numeric(a), self.numeric(b)
        if op == "==":
            return V("cond", rt("within_tolerance", x, y, self.tol, self.rtol))
        if op in ("<=", "<"):
            return V("cond", rt("at_most", x, y, self.tol))
        if op in (">=", ">"):
            return V("cond", rt("at_most", y, x, self.tol))
        self.fail(f"'{op}' between model outputs", node)

    def t_Compare(self, e, mode) -> V:
        terms = [self.term(o, mode) for o in e.operands]
        ty = getattr(e, "ty", None)
        if mode is Mode.SOFT and ty is not None and ty.kind == Kind.PROB:  # 'class output == value' as a truth value
            return self._event(e, *terms)
        return self.chain(e, terms, mode)

    def _event(self, e, a: V, b: V) -> V:
        """The logit of ``P(X == v)`` for a class output X and a value v (a constant, a label, a value)."""
        dist, other = (a, b) if a.kind == "dist" else (b, a)
        if dist.kind != "dist" or other.kind not in ("const", "value"):
            self.fail("this comparison as a truth value", e)
        inside: list = []  # a value outside the support is an event of probability 0, not a dropped example
        target = self._target(dist, other, inside)
        logit = rt("class_event_logit", dist.e, target, *inside)
        return V("prob", logit, level=max(a.level, b.level))

    def chain(self, e, terms: list, mode: Mode) -> V:
        links = [self.relation(op, a, b, e, mode) for op, a, b in zip(e.ops, terms, terms[1:])]
        if all(link.kind == "cond" for link in links):
            return V("cond", _fold("&", [link.e for link in links]))
        return V("rel", _fold("+", [link.e for link in links]), level=max(link.level for link in links))

    def t_Logic(self, e, mode, truth: bool = False) -> V:
        # truth: an operand of not/and/or/=> itself; an 'and' at the top of a law keeps each operand's own loss
        operand = self._operand if e.op != "and" or truth else self.term
        a, b = operand(e.left, mode), operand(e.right, mode)
        if mode is Mode.DECISION:
            return V("cond", bool_expr(e.op, self.truth(a), self.truth(b)))
        level = max(a.level, b.level)
        if a.kind == "cond" and b.kind == "cond":
            return V("cond", bool_expr(e.op, a.e, b.e))
        if e.op == "and" and "rel" in (a.kind, b.kind):
            return V("rel", BinOp("+", self.asserted(a), self.asserted(b)), level=level)
        if a.kind == b.kind == "prob":  # two logits: combined in log space (finite in half precision)
            fn = {"=>": "implication_logits", "and": "and_logits", "or": "or_logits"}[e.op]
            return V("rel" if e.op == "=>" else "prob", rt(fn, a.e, b.e), level=level)
        pa, pb = self.probability(a), self.probability(b)
        if e.op == "=>":
            return V("rel", rt("implication_penalty", pa, pb), level=level)
        combined = rt("soft_and", pa, pb) if e.op == "and" else rt("soft_or", pa, pb)
        return V("prob", rt("logit", combined), level=level)

    def probability(self, t: V):
        if t.kind == "prob":
            return torch_("sigmoid", t.e)
        if t.kind == "cond":
            return method(t.e, "float")
        self.fail(f"{t.kind} used as a truth value")

    def asserted(self, t: V):
        """The loss of a formula asserted true."""
        if t.kind == "rel":
            return t.e
        if t.kind == "prob":
            return rt("truth_penalty", t.e)
        self.fail(f"a {t.kind} cannot be asserted")


def _flipped_reach(t: V) -> tuple | None:
    """The classes each example holds after the classes of a per-example shifted ``t`` are reversed."""
    if t.reach is None:
        return None
    first, count = t.reach
    return BinOp("-", Const(t.size - count), first), count


def _fold(op: str, items: list):
    out = items[0]
    for x in items[1:]:
        out = BinOp(op, out, x)
    return out
