"""The law type checker: variables typed by use, every node typed once (the typed tree keeps the types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import Span
from ..syntax import ast
from .constants import named_generators
from .context import Context
from .domains import (
    BoolDomain,
    ClassOf,
    Cyclic,
    Nodes,
    RealDomain,
    Tensor,
)
from .scope import KIND_WORDS, did_you_mean
from .structures import GroupDef
from .terms import Kind, Ref, Term, Ty, typed_tree

if TYPE_CHECKING:  # pragma: no cover
    from .records import ModelSig
from .typerules import ARITHMETIC_BUILTINS, ArithmeticRules, RelationRules, compatible, is_integer

__all__ = ["LawChecker", "Variable", "BUILTINS"]

_EVENT_HINT = (
    "a comparison is a truth value there only as 'class output == value' (its probability), as in "
    "cmp(i, j) == lt => cmp(j, i) == gt; state any other relation as its own law"
)

BUILTINS = ("logit", "sigmoid", "between", *ARITHMETIC_BUILTINS)


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
    element: str = ""  # a constant group element 'G.r' (analysis/constants.py): the generator it is fixed at


BOOL_WORDS = {"true": 1, "false": 0}  # not constants: written as names they would be free variables


class LawChecker(ArithmeticRules, RelationRules):
    """Types one law: a first pass gives variables domains from their uses, a second types every node."""

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
        if not compatible(v.domain, domain) and name not in self.reported:
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
            if e.name in BOOL_WORDS and e.name not in self.vars and self.is_var(e.name) and e.name not in self.reported:
                self.reported.add(e.name)  # not a silent variable named 'true' ranging over a whole domain
                self.r.error(
                    f"'{e.name}' is not a value in .sym: bool values are 1 (true) and 0 (false)",
                    e.span,
                    f"write {BOOL_WORDS[e.name]} (e.g. gt(a, b) == {BOOL_WORDS[e.name]}), or the formula itself "
                    f"({'gt(a, b)' if BOOL_WORDS[e.name] else 'not gt(a, b)'})",
                )
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
            if isinstance(d, Tensor):  # tensor arithmetic broadcasts: a variable with a domain already keeps it
                self.assign(e.left, None if self._has_domain(e.left) else d)
                self.assign(e.right, None if self._has_domain(e.right) else d)
                return
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

    def _has_domain(self, e) -> bool:
        """``e`` is a variable (possibly negated) whose domain is known already (a binder, an earlier use)."""
        while isinstance(e, ast.Neg):
            e = e.operand
        if not (isinstance(e, ast.Name) and self.is_var(e.name)):
            return False
        v = self.vars.get(e.name)
        return v is not None and (v.domain is not None or v.group is not None)

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
                gdef = self.ctx.group_ref(e)
                gens = named_generators(gdef) if gdef is not None else ()
                if gens:  # its generators are constant elements (analysis/constants.py)
                    hint += f", or with a generator: '{name}.{gens[0]} . x'"
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
                did_you_mean(name, self.ctx.callables(), "declare it with 'model NAME(x: D, ...) -> TYPE'"),
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
        if t.kind == "const" and is_integer(domain):
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

    def t_Not(self, e: ast.Not) -> Ty | None:
        t = self.type(e.operand)
        if t is None:
            return None
        t = self._event(e.operand) or t
        if t.kind in ("prob", "cond"):
            return t
        self.r.error(
            f"'not' needs a bool output or a condition, but this is {t}",
            e.operand.span,
            _EVENT_HINT if t.kind == "rel" else None,
        )
        return None

    def _event(self, node) -> Ty | None:
        """A formula as a truth value inside ``=>``, ``or``, ``not``: a bool output or condition as it is; a
        comparison ``class output == value`` (a constant, a label, a value) as its probability (PROB), and an ``and``
        of such formulas as their product t-norm (PROB).  None when ``node`` is none of these (its type stays)."""
        t = self.types.get(id(node))
        if t is None:
            return None
        if t.kind in ("prob", "cond"):
            return t
        if t.kind != "rel":
            return None
        if isinstance(node, ast.Compare) and node.ops == ("==",):
            a, b = (self.types.get(id(o)) for o in node.operands)
            if a is not None and b is not None and {a.kind, b.kind} & {"dist"}:
                other = b if a.kind == "dist" else a
                if other.kind in ("const", "label", "value"):
                    ty = Ty("prob", soft=True)
                    self.types[id(node)] = ty
                    return ty
            return None
        if isinstance(node, ast.Logic) and node.op == "and":
            left, right = self._event(node.left), self._event(node.right)
            if left is None or right is None:
                return None
            ty = Ty("prob", soft=True)
            self.types[id(node)] = ty
            return ty
        return None

    def t_Logic(self, e: ast.Logic) -> Ty | None:
        a = self.type(e.left)
        b = self.type(e.right)
        if a is None or b is None:
            return None
        if e.op == "and" and {a.kind, b.kind} <= {"rel", "prob"} and "rel" in {a.kind, b.kind}:
            return Ty("rel", soft=True)
        if e.op != "and" or "cond" in (a.kind, b.kind):  # inside '=>', 'or' (and with a condition): its probability
            a = self._event(e.left) or a
            b = self._event(e.right) or b
        for t, node in ((a, e.left), (b, e.right)):
            if t.kind not in ("prob", "cond"):
                hint = "'=>' relates bool outputs, as in gt(a, b) and gt(b, c) => gt(a, c)" if e.op == "=>" else None
                if t.kind == "rel" and e.op != "and":
                    hint = f"'{e.op}' cannot combine relations; {_EVENT_HINT}"
                what = f"this is {t}"
                if t.kind == "value" and str(t).endswith("bool"):  # a bool input value (0 or 1), not a truth value
                    text = node.name if isinstance(node, ast.Name) else "it"
                    what = f"{text} is a bool value (0 or 1), not a truth value"
                    hint = f"compare it: {text} == 1"
                self.r.error(f"'{e.op}' needs bool operands, but {what}", node.span, hint)
                return None
        soft = a.soft or b.soft
        return Ty("prob", soft=True) if soft else Ty("cond")
