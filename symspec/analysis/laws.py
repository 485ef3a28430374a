"""Type checking of laws: variables typed by use, typed arithmetic, relations.

Terms have a :class:`Ty`: exact values (a value of a finite domain, an
integer constant, a label, an exact condition), model-dependent "soft"
quantities (a class distribution, a bool probability, a real, a tensor), a
group element, or a relation (a loss).  The rules are those of the law
section of docs/language.md; the typed tree (``terms.py``) keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import Span
from ..syntax import ast
from .context import Context
from .domains import (
    INTEGER,
    BoolDomain,
    ClassOf,
    Cyclic,
    Nodes,
    Range,
    RealDomain,
    Tensor,
    eval_int,
    resolve_domain,
)
from .scope import KIND_WORDS, did_you_mean
from .structures import GROUP_FAMILIES, GroupDef, resolve_group
from .terms import Kind, Ref, Term, Ty, typed_tree

if TYPE_CHECKING:  # pragma: no cover
    from .records import ModelSig

__all__ = ["Ty", "Kind", "Variable", "LawInfo", "check_law", "check_options", "LAW_OPTIONS", "BUILTINS"]

BUILTINS = ("logit", "sigmoid", "between", "abs", "min", "max")
ARITHMETIC_BUILTINS = {"abs": 1, "min": 2, "max": 2}  # name -> arity: exact integers or reals in, the same kind out
LAW_OPTIONS = {"weight": "number", "tol": "number", "rtol": "number", "samples": "count"}


@dataclass
class Variable:
    """A law variable: what it ranges over and where that was decided."""

    name: str
    domain: object = None  # a Domain, or None for group elements / untyped
    group: GroupDef | None = None
    span: Span | None = None  # where it got its type
    bound: bool = False  # by forall
    first_use: Span | None = None
    used: bool = False


@dataclass
class LawInfo:
    """A checked law: its variables, options and the models it calls."""

    name: str
    decl: ast.LawDecl
    variables: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    models: tuple = ()
    guarded: bool = False
    acts: tuple = ()  # (Act node, GroupDef, domain): every 'g . x' and the domain it acts on
    body: Term | None = None  # the typed law formula (every node with its type); None if it did not type
    guard: Term | None = None  # the typed when-guard
    relation: str = "assert"  # what the body states: the first op of a top-level comparison, and/or/=>, else "assert"


def _is_integer(domain) -> bool:
    return isinstance(domain, INTEGER)


def _compatible(a, b) -> bool:
    """Domains hold the same kind of values for comparing distributions/values."""
    if a == b:
        return True
    return isinstance(a, Range) and isinstance(b, Range)


def _integer_bounds(t: Ty) -> tuple:
    """(lo, hi) of the integers an exact integer term can take (cyclic values as 0..n-1)."""
    if t.kind == Kind.CONST:
        return t.value, t.value + 1
    d = t.domain
    return (0, d.n) if isinstance(d, Cyclic) else (d.lo, d.hi)


def _integer_image(name: str, types: list) -> Range:
    """The range of abs/min/max of exact integers (a Range: no wrap-around)."""
    bounds = [_integer_bounds(t) for t in types]
    if name == "abs":
        lo, hi = bounds[0]
        top = max(abs(lo), abs(hi - 1))
        bottom = 0 if lo <= 0 < hi else min(abs(lo), abs(hi - 1))
        return Range(bottom, top + 1)
    pick = min if name == "min" else max
    return Range(pick(b[0] for b in bounds), pick(b[1] - 1 for b in bounds) + 1)


def _sum_domain(op: str, a, b):
    """Support of (a op b) for integer domains; None when it is not defined."""
    if isinstance(a, Cyclic) or isinstance(b, Cyclic):
        if a == b or (isinstance(a, Cyclic) and b is None) or (isinstance(b, Cyclic) and a is None):
            return a if isinstance(a, Cyclic) else b
        return None
    lo_a, hi_a = (a.lo, a.hi) if a is not None else (0, 1)
    lo_b, hi_b = (b.lo, b.hi)
    if op == "+":
        return Range(lo_a + lo_b, hi_a + hi_b - 1)
    return Range(lo_a - hi_b + 1, hi_a - lo_b)


class _LawChecker:
    def __init__(self, ctx: Context, decl: ast.LawDecl):
        self.ctx = ctx
        self.decl = decl
        self.r = ctx.reporter
        self.vars: dict[str, Variable] = {}
        self.models: list[str] = []
        self.reported: set[str] = set()
        self.unknown_calls: set[str] = set()
        self.acts: list = []  # (Act node, GroupDef, domain acted on)
        self.labels = ctx.labels
        self.types: dict[int, Ty] = {}  # id(AST node) -> its type, for the typed tree
        self.refs: dict[int, Ref] = {}  # id(Name node) -> what it names

    # ---- names -----------------------------------------------------------------
    def is_var(self, name: str) -> bool:
        return name in self.vars or (self.ctx.symbols.values.get(name) is None and name not in self.labels)

    def bind(self, name: str, domain, span: Span) -> None:
        v = self.vars.setdefault(name, Variable(name, first_use=span))
        if v.domain is None and v.group is None:
            v.domain, v.span = domain, span
            return
        if v.group is not None or domain is None:
            return
        if not _compatible(v.domain, domain) and name not in self.reported:
            self.reported.add(name)
            where = "by its forall" if v.bound else f"at {v.span.where}"
            self.r.error(
                f"variable '{name}' is used as a value of {domain} here, but it is {v.domain} {where}",
                span,
                "use a different variable, or make the two domains agree",
                notes=[(v.span, f"'{name}' gets its domain here")],
            )

    # ---- pass 1: give variables domains from where they are used ---------------
    def peek(self, e):
        """The output domain of a class-valued term, for typing its partner."""
        if isinstance(e, ast.Call):
            sig = self.ctx.models.get(e.func.name)
            if sig is not None and isinstance(sig.output, ClassOf):
                return sig.output.domain
            return None
        if isinstance(e, ast.BinOp):
            return self.peek(e.left) or self.peek(e.right)
        if isinstance(e, (ast.Neg, ast.Act)):
            return self.peek(e.operand)
        return None

    def assign(self, e, expected) -> None:
        if isinstance(e, ast.Name):
            if self.is_var(e.name):
                v = self.vars.setdefault(e.name, Variable(e.name, first_use=e.span))
                v.used = True
                if expected is not None:
                    self.bind(e.name, expected, e.span)
        elif isinstance(e, ast.Call):
            sig = self.ctx.models.get(e.func.name)
            if sig is not None:
                for i, a in enumerate(e.args):
                    self.assign(a, sig.params[i][1] if i < len(sig.params) else None)
            elif e.func.name == "between" and e.args and isinstance(e.args[0], ast.Name):
                graph = self.ctx.graphs.get(e.args[0].name)
                nodes = Nodes(graph.name, graph.num_nodes) if graph is not None else None
                for a in e.args[1:]:
                    self.assign(a, nodes)
            else:
                for a in e.args:
                    self.assign(a, None)
        elif isinstance(e, ast.BinOp):
            d = expected if expected is not None else (self.peek(e.left) or self.peek(e.right))
            self.assign(e.left, d)
            self.assign(e.right, d)
        elif isinstance(e, ast.Compare):
            d = next((x for x in map(self.peek, e.operands) if x is not None), None)
            for o in e.operands:
                self.assign(o, d)
        elif isinstance(e, ast.Neg):
            self.assign(e.operand, expected)
        elif isinstance(e, ast.Act):
            self.assign(e.element, None)
            self.assign(e.operand, expected)
        elif isinstance(e, ast.Not):
            self.assign(e.operand, None)
        elif isinstance(e, ast.Logic):
            self.assign(e.left, None)
            self.assign(e.right, None)

    # ---- pass 2: types -----------------------------------------------------------
    def type(self, e) -> Ty | None:
        method = getattr(self, "t_" + type(e).__name__, None)
        if method is None:
            self.r.error("this is not allowed in a law", e.span)
            return None
        t = method(e)
        if t is not None:
            self.types[id(e)] = t
        return t

    def typed(self, e) -> Term | None:
        """The typed tree of a formula that typed (every node has a type), else None."""
        try:
            return typed_tree(e, self.types, self.refs, self.ctx.models)
        except KeyError:
            return None

    def t_Int(self, e: ast.Int) -> Ty:
        return Ty("const", value=e.value)

    def t_Real(self, e: ast.Real) -> Ty:
        return Ty("realconst", value=e.value)

    def t_Name(self, e: ast.Name) -> Ty | None:
        name = e.name
        if name in self.vars:
            v = self.vars[name]
            self.refs[id(e)] = Ref.VARIABLE
            if v.group is not None:
                return Ty("elem", group=v.group)
            if v.domain is None:
                if name not in self.reported:
                    self.reported.add(name)
                    self.r.error(
                        f"cannot tell what '{name}' ranges over: it is never an argument of a model",
                        v.first_use or e.span,
                        f"bind it with 'forall {name}: DOMAIN.'",
                    )
                return None
            return self._value_of(v.domain)
        sym = self.ctx.symbols.lookup(name)
        if sym is not None:
            if sym.kind == "param":
                self.refs[id(e)] = Ref.PARAM
                return Ty("const", value=self.ctx.params[name])
            hint = None
            if sym.kind == "group":
                hint = f"act with an element: 'forall g: {name}. ... g . x'"
            elif sym.kind == "model":
                hint = f"call it: {name}(...)"
            self.r.error(f"'{name}' is {KIND_WORDS[sym.kind]}, not a value", e.span, hint, kind="name")
            return None
        if name in self.labels:
            domain = self.labels[name]
            self.refs[id(e)] = Ref.LABEL
            return Ty("label", domain=domain, value=domain.labels.index(name))
        return None  # pragma: no cover - every name is a var, a symbol or a label

    def _value_of(self, domain) -> Ty:
        if isinstance(domain, RealDomain):
            return Ty("real", domain=domain)
        if isinstance(domain, Tensor):
            return Ty("tensor", domain=domain)
        if isinstance(domain, BoolDomain):
            return Ty("value", domain=domain)
        return Ty("value", domain=domain)

    def t_Call(self, e: ast.Call) -> Ty | None:
        name = e.func.name
        sig = self.ctx.models.get(name)
        if sig is not None:
            return self._model_call(e, sig)
        if name in BUILTINS:
            return self._builtin(e)
        sym = self.ctx.symbols.lookup(name)
        if sym is not None:
            if sym.kind == "model":  # declared but its signature had errors
                for a in e.args:
                    self.type(a)
                return None
            self.r.error(
                f"'{name}' is {KIND_WORDS[sym.kind]}, not a model; only models and {', '.join(BUILTINS)} can be called",
                e.func.span,
                kind="name",
            )
            return None
        if name not in self.unknown_calls:
            self.unknown_calls.add(name)
            self.r.error(
                f"unknown model or function '{name}'",
                e.func.span,
                did_you_mean(name, list(self.ctx.models) + list(BUILTINS), "declare it with 'model NAME(x: D, ...) -> TYPE'"),
                kind="name",
            )
        for a in e.args:  # its arguments cannot be typed: say nothing more about them
            if isinstance(a, ast.Name) and a.name in self.vars and self.vars[a.name].domain is None:
                self.reported.add(a.name)
            else:
                self.type(a)
        return None

    def _model_call(self, e: ast.Call, sig: ModelSig) -> Ty | None:
        self.models.append(sig.name)
        ok = True
        if len(e.args) != len(sig.params):
            self.r.error(
                f"model '{sig.name}' takes {len(sig.params)} argument{'s' if len(sig.params) != 1 else ''}, got {len(e.args)}",
                e.span,
                f"it is declared as {sig.signature()}",
                notes=[(sig.span, f"'{sig.name}' declared here")],
            )
            ok = False
        for a, (pname, domain) in zip(e.args, sig.params):
            t = self.type(a)
            if t is None:
                ok = False
                continue
            if not self._fits(t, domain, a, f"argument '{pname}' of {sig.name}"):
                ok = False
        for a in e.args[len(sig.params) :]:
            self.type(a)
        if not ok:
            return None
        out = sig.output
        if isinstance(out, ClassOf):
            return Ty("dist", domain=out.domain, soft=True)
        if isinstance(out, BoolDomain):
            return Ty("prob", soft=True)
        if isinstance(out, RealDomain):
            return Ty("real", soft=True)
        return Ty("tensor", domain=out, soft=True)

    def _fits(self, t: Ty, domain, node, what: str) -> bool:
        """Can a term of type t be passed where a value of ``domain`` is expected?"""
        if isinstance(node, ast.Name) and node.name in self.reported:
            return False  # its conflict is reported already
        if t.kind == "value" and (t.domain == domain):
            return True
        if t.kind == "const" and _is_integer(domain):
            lo, hi = (0, domain.n) if isinstance(domain, Cyclic) else (domain.lo, domain.hi)
            if lo <= t.value < hi or isinstance(domain, Cyclic):
                return True
            self.r.error(f"{t.value} is outside {domain}, the domain of {what}", node.span)
            return False
        if t.kind == "const" and isinstance(domain, BoolDomain) and t.value in (0, 1):
            return True
        if t.kind == "label" and t.domain == domain:
            return True
        if t.kind == "dist" and t.domain == domain:
            return True  # a nested call feeds its argmax
        if t.kind == "prob" and isinstance(domain, BoolDomain):
            return True
        if t.kind == "real" and isinstance(domain, RealDomain) and not t.soft:
            return True
        if t.kind in ("real", "realconst") and isinstance(domain, RealDomain):
            return True
        if t.kind == "tensor" and t.domain == domain:
            return True
        self.r.error(f"{what} must be a value of {domain}, but this is {t}", node.span)
        return False

    def _arithmetic_builtin(self, e: ast.Call) -> Ty | None:
        """abs(x), min(x, y), max(x, y) on exact integers (values of cyclic/range domains, constants) or reals."""
        name = e.func.name
        arity = ARITHMETIC_BUILTINS[name]
        if len(e.args) != arity:
            usage = f"{name}(x)" if arity == 1 else f"{name}(x, y)"
            self.r.error(f"{usage} takes {arity} argument{'s' if arity != 1 else ''}, got {len(e.args)}", e.span)
            for a in e.args:
                self.type(a)
            return None
        types = [self.type(a) for a in e.args]
        if any(t is None for t in types):
            return None
        for t, a in zip(types, e.args):
            exact = t.kind == Kind.CONST or (t.kind == Kind.VALUE and _is_integer(t.domain))
            if not (exact or t.kind in (Kind.REAL, Kind.REALCONST)):
                hint = (
                    "compare the class output's expectation instead, as in f(a) <= abs(b - c)"
                    if t.kind == Kind.DIST
                    else f"{name} works on integer values, constants and reals"
                )
                self.r.error(f"{name}(...) needs integers or reals, but this is {t}", a.span, hint)
                return None
        kinds = {t.kind for t in types}
        if kinds <= {Kind.CONST}:
            values = [t.value for t in types]
            return Ty(Kind.CONST, value=abs(values[0]) if name == "abs" else (min if name == "min" else max)(values))
        if kinds & {Kind.REAL, Kind.REALCONST}:
            if kinds & {Kind.VALUE}:
                self.r.error(f"cannot mix {types[0]} and {types[-1]} in {name}(...)", e.span, "reals and integer values do not mix")
                return None
            soft = any(t.soft for t in types)
            return Ty(Kind.REAL, soft=soft) if Kind.REAL in kinds else Ty(Kind.REALCONST)
        return Ty(Kind.VALUE, domain=_integer_image(name, types))

    def _builtin(self, e: ast.Call) -> Ty | None:
        name = e.func.name
        if name in ARITHMETIC_BUILTINS:
            return self._arithmetic_builtin(e)
        if name == "between":
            if len(e.args) != 4:
                self.r.error(
                    f"between(G, u, v, w) takes 4 arguments, got {len(e.args)}",
                    e.span,
                    "it holds when v lies on a shortest u-w path of G",
                )
                return None
            g = e.args[0]
            graph = self.ctx.graph_ref(g) if isinstance(g, ast.Name) else None
            if not isinstance(g, ast.Name):
                self.r.error("between's first argument must be a graph", g.span)
            if graph is None:
                return None
            self.types[id(g)] = Ty(Kind.GRAPH)
            self.refs[id(g)] = Ref.GRAPH
            nodes = Nodes(graph.name, graph.num_nodes)
            ok = True
            for a in e.args[1:]:
                t = self.type(a)
                if t is None or not self._fits(t, nodes, a, f"an argument of between({graph.name}, ...)"):
                    ok = False
            return Ty("cond") if ok else None
        if len(e.args) != 1:
            self.r.error(f"{name}(x) takes one argument, got {len(e.args)}", e.span)
            return None
        t = self.type(e.args[0])
        if t is None:
            return None
        if name == "logit":
            if t.kind != "prob":
                self.r.error(
                    f"logit(...) needs a bool output, but this is {t}", e.args[0].span, "logit turns a probability into a real"
                )
                return None
            return Ty("real", soft=t.soft)
        if t.kind not in ("real", "realconst", "const"):
            self.r.error(f"sigmoid(...) needs a real, but this is {t}", e.args[0].span, "sigmoid turns a real into a probability")
            return None
        return Ty("prob", soft=t.soft)

    def t_Act(self, e: ast.Act) -> Ty | None:
        g = self.type(e.element)
        x = self.type(e.operand)
        if g is not None and g.kind != "elem":
            hint = None
            if isinstance(e.element, ast.Name) and e.element.name in self.vars:
                hint = f"bind it to a group with 'forall {e.element.name}: GROUP.'"
            self.r.error(f"only a group element can act with '.', but this is {g}", e.element.span, hint)
            return None
        if g is None or x is None:
            return None
        if x.kind not in ("value", "dist", "tensor"):
            self.r.error(f"a group element acts on values, class outputs and tensors, not on {x}", e.operand.span)
            return None
        self.acts.append((e, g.group, x.domain))
        return x

    def t_Neg(self, e: ast.Neg) -> Ty | None:
        t = self.type(e.operand)
        if t is None:
            return None
        if t.kind == "const":
            return Ty("const", value=-t.value)
        if t.kind in ("realconst", "real"):
            return t
        if t.kind in ("value", "dist") and isinstance(t.domain, Cyclic):
            return t
        if t.kind == "dist" and isinstance(t.domain, Range):
            return Ty("dist", domain=Range(-t.domain.hi + 1, -t.domain.lo + 1), soft=True)
        self.r.error(f"cannot negate {t}", e.span, "negation works on cyclic values, integer class outputs and reals")
        return None

    def t_BinOp(self, e: ast.BinOp) -> Ty | None:
        a = self.type(e.left)
        b = self.type(e.right)
        if a is None or b is None:
            return None
        op = e.op
        kinds = {a.kind, b.kind}
        if kinds <= {"const"}:
            return Ty("const", value={"+": a.value + b.value, "-": a.value - b.value, "*": a.value * b.value}[op])
        if kinds <= {"real", "realconst", "const"}:
            return Ty("real", soft=a.soft or b.soft) if "real" in kinds else Ty("realconst")
        bad = next((t for t in (a, b) if t.kind in ("prob", "cond", "rel", "label", "elem", "tensor")), None)
        if bad is None:
            bad = next((t for t in (a, b) if t.kind in ("value", "dist") and not _is_integer(t.domain)), None)
        if bad is not None:
            hint = {
                "prob": "combine bool outputs with and / or / not, or use logit(...) for a real",
                "tensor": "arithmetic on tensors is not part of the language",
                "elem": "a group element acts with '.', as in g . x",
            }.get(bad.kind, "arithmetic needs cyclic or range values, integer class outputs or reals")
            self.r.error(f"'{op}' cannot take {bad}", e.span, hint)
            return None
        if "real" in kinds or "realconst" in kinds:
            self.r.error(f"cannot mix {a} and {b} in '{op}'", e.span, "reals and integer values do not mix")
            return None
        if "dist" in kinds:
            return self._dist_arith(e, op, a, b)
        # exact integer values
        da = a.domain if a.kind == "value" else None
        db = b.domain if b.kind == "value" else None
        if da is not None and db is not None and da != db:
            self.r.error(f"cannot combine a value of {da} with a value of {db}", e.span)
            return None
        return Ty("value", domain=da or db)

    def _dist_arith(self, e, op: str, a: Ty, b: Ty) -> Ty | None:
        if op == "*":
            dist, other = (a, b) if a.kind == "dist" else (b, a)
            if other.kind == "dist":
                self.r.error(
                    "cannot multiply two class outputs",
                    e.span,
                    "sums of independent outputs are convolutions; products are not supported",
                )
                return None
            if not isinstance(dist.domain, Cyclic):
                self.r.error(f"scaling needs a distribution over a cyclic domain, not {dist.domain}", e.span)
                return None
            return dist
        if a.kind == "dist" and b.kind == "dist":
            domain = _sum_domain(op, a.domain, b.domain)
        elif a.kind == "dist":
            shift = b.domain if b.kind == "value" else Range(b.value, b.value + 1)
            domain = (
                a.domain
                if isinstance(a.domain, Cyclic) and (b.kind == "const" or b.domain == a.domain)
                else (_sum_domain(op, a.domain, shift) if isinstance(a.domain, Range) and isinstance(shift, Range) else None)
            )
        else:
            base = a.domain if a.kind == "value" else Range(a.value, a.value + 1)
            if isinstance(b.domain, Cyclic):
                domain = b.domain if (a.kind == "const" or a.domain == b.domain) else None
            else:
                domain = _sum_domain(op, base, b.domain) if isinstance(base, Range) else None
        if domain is None:
            self.r.error(
                f"cannot combine {a} and {b} with '{op}'",
                e.span,
                "both sides must live on the same cyclic domain, or on integer ranges",
            )
            return None
        return Ty("dist", domain=domain, soft=True)

    def t_Not(self, e: ast.Not) -> Ty | None:
        t = self.type(e.operand)
        if t is None:
            return None
        if t.kind in ("prob", "cond"):
            return t
        self.r.error(f"'not' needs a bool output or a condition, but this is {t}", e.operand.span)
        return None

    def t_Logic(self, e: ast.Logic) -> Ty | None:
        a = self.type(e.left)
        b = self.type(e.right)
        if a is None or b is None:
            return None
        if e.op == "and" and {a.kind, b.kind} <= {"rel", "prob"} and "rel" in {a.kind, b.kind}:
            return Ty("rel", soft=True)
        for t, node in ((a, e.left), (b, e.right)):
            if t.kind not in ("prob", "cond"):
                hint = "'=>' relates bool outputs, as in gt(a, b) and gt(b, c) => gt(a, c)" if e.op == "=>" else None
                if t.kind == "rel" and e.op != "and":
                    hint = f"'{e.op}' cannot combine relations; state each as its own law"
                self.r.error(f"'{e.op}' needs bool operands, but this is {t}", node.span, hint)
                return None
        soft = a.soft or b.soft
        return Ty("prob", soft=True) if soft else Ty("cond")

    def t_Compare(self, e: ast.Compare) -> Ty | None:
        types = [self.type(o) for o in e.operands]
        if any(t is None for t in types):
            return None
        soft = False
        for i, op in enumerate(e.ops):
            a, b = types[i], types[i + 1]
            if not self._link(op, a, b, e.operands[i], e.operands[i + 1]):
                return None
            soft = soft or a.soft or b.soft
        return Ty("rel", soft=True) if soft else Ty("cond")

    def _link(self, op: str, a: Ty, b: Ty, na, nb) -> bool:
        span = Span(na.span.file, na.span.line, na.span.column, nb.span.end_line, nb.span.end_column)
        for t, node in ((a, na), (b, nb)):
            if t.kind in ("elem", "rel"):
                self.r.error(f"cannot compare {t}", node.span)
                return False
        if not (a.soft or b.soft):
            return self._exact_link(op, a, b, span)
        if op == "!=":
            self.r.error(
                "'!=' between model outputs gives no loss", span, "state what must hold (==, <=, ...), or use != in a when guard"
            )
            return False
        if op == "==":
            if self._eq_ok(a, b) or self._eq_ok(b, a):
                return True
            self.r.error(f"cannot compare {a} with {b}", span, self._eq_hint(a, b))
            return False
        for t, node in ((a, na), (b, nb)):
            numeric = t.kind in ("real", "realconst", "const", "prob") or (t.kind in ("dist", "value") and _is_integer(t.domain))
            if not numeric:
                self.r.error(
                    f"'{op}' compares numbers, but this is {t}",
                    node.span,
                    "order comparisons need integer class outputs (their expectations) or reals",
                )
                return False
        return True

    def _eq_ok(self, a: Ty, b: Ty) -> bool:
        if a.kind == "dist":
            if b.kind == "dist":
                return _compatible(a.domain, b.domain) or (
                    _is_integer(a.domain)
                    and _is_integer(b.domain)
                    and not (isinstance(a.domain, Cyclic) or isinstance(b.domain, Cyclic))
                )
            if b.kind == "const":
                d = a.domain
                return _is_integer(d) and (
                    isinstance(d, Cyclic) and 0 <= b.value < d.n or isinstance(d, Range) and d.lo <= b.value < d.hi
                )
            if b.kind in ("value", "label"):
                return _compatible(a.domain, b.domain)
            return False
        if a.kind == "prob":
            return b.kind in ("prob", "cond") or (b.kind == "const" and b.value in (0, 1))
        if a.kind == "real":
            return b.kind in ("real", "realconst", "const")
        if a.kind == "tensor":
            return (b.kind == "tensor" and b.domain == a.domain) or b.kind in ("realconst", "const")
        return False

    def _eq_hint(self, a: Ty, b: Ty) -> str | None:
        kinds = {a.kind, b.kind}
        if "dist" in kinds and "const" in kinds:
            return "the constant must be one of the output's classes"
        if "prob" in kinds and "dist" in kinds:
            return "a bool output compares with bool outputs"
        if "dist" in kinds:
            return "both sides must be distributions over the same classes"
        return None

    def _exact_link(self, op: str, a: Ty, b: Ty, span: Span) -> bool:
        values = ("value", "const", "label", "cond")
        if a.kind not in values or b.kind not in values:
            bad = a if a.kind not in values else b
            self.r.error(f"cannot compare {bad} here", span, "a law needs at least one model call on a side of its relation")
            return False
        da = a.domain if a.kind in ("value", "label") else None
        db = b.domain if b.kind in ("value", "label") else None
        if da is not None and db is not None and not _compatible(da, db):
            self.r.error(f"cannot compare a value of {da} with a value of {db}", span)
            return False
        if op in ("<", "<=", ">", ">="):
            for d, t in ((da, a), (db, b)):
                if t.kind == "label" or (d is not None and not _is_integer(d)) or t.kind == "cond":
                    what = f"values of {d}" if d is not None else str(t)
                    self.r.error(
                        f"'{op}' needs ordered values, but {what} have no order",
                        span,
                        "order comparisons work on cyclic and range values",
                    )
                    return False
        return True


def _binder_target(ctx: Context, b: ast.Binder):
    """A binder ranges over a domain or a group: (domain, None) or (None, group)."""
    t = b.type
    if isinstance(t, ast.Name):
        sym = ctx.symbols.values.get(t.name)
        if sym is not None and sym.kind == "group":
            return None, ctx.group_ref(t)
    if isinstance(t, ast.Call) and t.func.name in GROUP_FAMILIES and t.func.name != "cyclic":
        return None, resolve_group(ctx, t, "")
    if isinstance(t, ast.Name) and ctx.symbols.values.get(t.name) is None and t.name not in ("real", "bool"):
        ctx.reporter.error(
            f"unknown domain or group '{t.name}'",
            t.span,
            did_you_mean(
                t.name, ctx.symbols.names_of("domain", "group"), "declare it with 'domain NAME = ...' or 'group NAME = ...'"
            ),
            kind="name",
        )
        return None, None
    d = resolve_domain(ctx, t, role="a domain or group")
    return d, None


def check_options(ctx: Context, options, allowed: dict) -> dict:
    """Validate ``[name value, ...]`` options; returns {name: value}."""
    out: dict = {}
    seen: dict = {}
    for opt in options:
        name = opt.name.name
        if name not in allowed:
            ctx.reporter.error(
                f"unknown option '{name}'",
                opt.name.span,
                did_you_mean(name, allowed, "options are: " + ", ".join(allowed)),
            )
            continue
        if name in seen:
            ctx.reporter.error(f"option '{name}' is given twice", opt.span, notes=[(seen[name], "first given here")])
            continue
        seen[name] = opt.span
        v = opt.value
        if isinstance(v, ast.Name):
            value = eval_int(ctx, v, f"option '{name}'")
            if value is None:
                continue
        else:
            value = v.value
        if allowed[name] == "count":
            if not isinstance(value, int) or value < 1:
                ctx.reporter.error(f"option '{name}' must be a positive integer, got {getattr(v, 'text', value)}", v.span)
                continue
        elif value < 0:
            ctx.reporter.error(f"option '{name}' must be non-negative, got {getattr(v, 'text', value)}", v.span)
            continue
        out[name] = value
    return out


def _silence_untypable(c: _LawChecker, decl: ast.LawDecl, ctx: Context) -> None:
    """Variables used only inside calls of models whose signature failed (or of unknown names) cannot be typed:
    that failure is already reported, so saying "cannot tell what 'a' ranges over" would only cascade."""
    for node in ast.walk(decl.body):
        if isinstance(node, ast.Call) and node.func.name not in ctx.models and node.func.name not in BUILTINS:
            for n in ast.walk(node):
                v = c.vars.get(n.name) if isinstance(n, ast.Name) else None
                if v is not None and v.domain is None and v.group is None:
                    c.reported.add(n.name)


def check_law(ctx: Context, decl: ast.LawDecl) -> LawInfo:
    c = _LawChecker(ctx, decl)
    for b in decl.binders:
        name = b.var.name
        sym = ctx.symbols.values.get(name)
        if sym is not None:
            ctx.reporter.error(
                f"'{name}' is already {KIND_WORDS[sym.kind]}; a variable needs its own name",
                b.var.span,
                notes=[(sym.span, f"'{name}' declared here")],
                kind="name",
            )
            continue
        if name in c.vars:
            ctx.reporter.error(f"variable '{name}' is bound twice", b.var.span, kind="name")
            continue
        domain, group = _binder_target(ctx, b)
        if domain is None and group is None:
            c.vars[name] = Variable(name, bound=True, span=b.span)
            c.reported.add(name)
            continue
        c.vars[name] = Variable(name, domain=domain, group=group, span=b.var.span, bound=True)
    c.assign(decl.body, None)
    if decl.guard is not None:
        c.assign(decl.guard, None)
    _silence_untypable(c, decl, ctx)
    body = c.type(decl.body)
    if body is not None:
        if body.kind not in ("rel", "prob") or not body.soft:
            if not body.soft:
                ctx.reporter.error(
                    "this law never calls a model, so no model can satisfy or break it",
                    decl.body.span,
                    "a law relates a model's outputs, as in f(a, b) == f(b, a)",
                )
            else:
                ctx.reporter.error(
                    f"a law must state a relation, but this is {body}",
                    decl.body.span,
                    "compare it with ==, <=, ... or, for a bool output, assert it as it stands",
                )
    if decl.guard is not None:
        guard = c.type(decl.guard)
        if guard is not None and guard.kind != "cond":
            if guard.soft:
                ctx.reporter.error(
                    "a when guard cannot depend on a model's output",
                    decl.guard.span,
                    "the guard selects which inputs the law covers; it may compare variables or use between(G, u, v, w)",
                )
            else:
                ctx.reporter.error(f"a when guard must be a condition, but this is {guard}", decl.guard.span)
    for v in c.vars.values():
        if v.bound and not v.used and v.name not in c.reported:
            ctx.reporter.warning(f"variable '{v.name}' is bound but never used", v.span)
    options = check_options(ctx, decl.options, LAW_OPTIONS)
    return LawInfo(
        decl.name.name,
        decl,
        dict(c.vars),
        options,
        tuple(dict.fromkeys(c.models)),
        decl.guard is not None,
        tuple(c.acts),
        c.typed(decl.body),
        c.typed(decl.guard) if decl.guard is not None else None,
        _relation(decl.body),
    )


def _relation(body) -> str:
    """The relation a law states: the first op of a top-level comparison, the op of a top-level and/or/=>, else assert."""
    if isinstance(body, ast.Compare):
        return body.ops[0]
    if isinstance(body, ast.Logic):
        return body.op
    return "assert"
