"""What every lowering pass shares: compiled values, the module's tables, model-call requests, a law's scope."""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis.domains import Range
from ..analysis.terms import Kind
from ..errors import Diagnostic, SpecError
from ..syntax import ast
from ..syntax.unparse import unparse
from .expr import Assign, Attr, Call, Const, Expr, ExprStmt, Index, Name, TupleE, as_expr, call, free_names, method, torch_
from .names import Namespace, comment_text, py

__all__ = [
    "formula",
    "comment_text",
    "CompileError",
    "UNSUPPORTED_HINT",
    "V",
    "REPRESENTATION",
    "represents",
    "ModuleTables",
    "Calls",
    "Request",
    "Scope",
    "LawScope",
    "int_bounds",
    "fail",
]


class CompileError(SpecError):
    """A law uses a form the code generator does not compile yet."""


UNSUPPORTED_HINT = (
    "docs/compile.md lists the forms each relation and term compiles to; state this part as its own law in one of "
    "those forms, or leave it out"
)


def fail(spec, message: str, node, hint: str | None = UNSUPPORTED_HINT) -> None:
    raise CompileError([Diagnostic(message, node.span, hint, kind="compile")], {spec.file: spec.source})


def formula(law) -> tuple:
    """(body, guard) of a law: the typed trees analysis keeps (node classes named as the syntax's), else the syntax."""
    body = getattr(law, "body", None)
    if body is None:
        return law.decl.body, law.decl.guard
    return body, getattr(law, "guard", None)


def int_bounds(domain) -> tuple:
    if isinstance(domain, Range):
        return domain.lo, domain.hi
    return 0, domain.size


@dataclass
class V:
    """A compiled term: the expression and what it holds at run time.

    kind: the analysis's :class:`~symspec.analysis.terms.Kind` of what the
    expression holds at run time (:data:`REPRESENTATION` says which kinds a
    term of each type lowers to in each mode).  ``value`` is the
    integer of a constant; ``offset`` and ``size`` say which integers a class
    distribution's classes stand for; ``level`` is the first call round that
    may read the expression (one after the latest round whose outputs it reads,
    0 when it reads none); ``unchecked`` marks arithmetic on a range value that
    may leave its domain (checked before a model sees it); ``reach`` marks a class
    distribution shifted by a value per example (the classes each example holds).
    """

    kind: Kind
    e: Expr
    domain: object = None
    offset: int = 0
    size: int = 0
    level: int = 0
    value: int | None = None
    unchecked: bool = False
    reach: tuple | None = None  # a dist shifted per example: (first class index, class count) each example holds

    def __post_init__(self) -> None:
        self.kind = Kind(self.kind)


# How a term of each analysis type is held at run time, per mode (SOFT: the loss; DECISION: validation).
# The lowering never types a term: it starts from the typed tree, and only these changes of representation happen.
REPRESENTATION = {
    "SOFT": {
        Kind.LABEL: {Kind.CONST},  # a label is its index
        Kind.REALCONST: {Kind.REAL},
        Kind.PROB: {Kind.PROB, Kind.REL},  # an asserted formula (a => b) becomes its penalty
    },
    "DECISION": {
        Kind.LABEL: {Kind.CONST},
        Kind.REALCONST: {Kind.REAL},
        Kind.DIST: {Kind.VALUE},  # a class output is decided by its argmax
        Kind.PROB: {Kind.PROB, Kind.COND},  # a bool output is decided by logit > 0
        Kind.REL: {Kind.COND},  # a relation is decided: it holds or not
    },
}


def represents(mode: str, ty_kind: Kind, kind: Kind) -> bool:
    """Whether a term typed ``ty_kind`` may be held as ``kind`` in ``mode`` (the identity, or a change listed above)."""
    return kind == ty_kind or kind in REPRESENTATION[mode].get(Kind(ty_kind), set())


class ModuleTables:
    """Module-level names: spec parameters, constants and precomputed tables (buffers of the loss module)."""

    def __init__(self, spec):
        # module names: the generated classes and functions; never the locals of a generated function
        classes = {py(name) for name in spec.layers}
        classes |= {f"_augment_{py(m)}" for m in spec.models} | {f"_Symmetrized_{py(m)}" for m in spec.models}
        locals_ = {py(p) for sig in spec.models.values() for p, _ in sig.params}
        locals_ |= {py(v) for law in spec.laws.values() for v in law.variables}
        self.ns = Namespace(classes, avoid=locals_)
        self.params: dict = {}  # param name -> constant name
        self.constants: dict = {}  # name -> (Expr, comment)
        self.buffers: dict = {}  # name -> (Expr, comment)
        self.keys: dict = {}  # what a table holds -> its name
        self.by_value: dict = {}  # a parameter's value -> its constant, for parameters that size domains
        self._texts: dict = {}  # id(node) -> (node, its text)
        sizing = _sizing_params(spec)
        for name, value in spec.params.items():
            const = self.ns.create_name(name.upper())
            self.params[name] = const
            if name in sizing:
                self.by_value.setdefault(value, []).append(const)

    def number(self, value: int) -> Expr:
        """A domain bound: the parameter it equals when exactly one sizing parameter does, else the integer."""
        names = self.by_value.get(value, [])
        if len(names) == 1 and value not in (0, 1):
            return Name(names[0])
        return Const(value)

    def dims(self, dims) -> Expr:
        """A tensor shape: each dim a parameter's constant where one sizes it, an int, or a run-time name."""
        return TupleE(tuple(self.number(d) if isinstance(d, int) else Const(d) for d in dims))

    def constant(self, key, hint: str, value, comment: str | None = None) -> str:
        """The module constant holding what ``key`` names, made once.

        ``value``: its Expr, or a function building it, called only the first time ``key`` is asked for (big
        constants, such as a graph's edge list, are then converted to a tree once per module, not once per use).
        """
        return self._table(self.constants, key, hint, value, comment)

    def buffer(self, key, hint: str, value, comment: str | None = None) -> str:
        """A precomputed table (a buffer of the loss module), made once per ``key``; ``value`` as for :meth:`constant`."""
        return self._table(self.buffers, key, hint, value, comment)

    def _table(self, into: dict, key, hint: str, value, comment) -> str:
        name = self.keys.get(key)
        if name is not None:
            return name
        name = self.ns.create_name(hint)
        self.keys[key] = name
        into[name] = (value() if callable(value) else value, comment)
        return name

    def text(self, node) -> str:
        """``unparse(node)``, once per node (comments of the loss, the checks and augment quote the same laws)."""
        found = self._texts.get(id(node))
        if found is None or found[0] is not node:
            found = self._texts[id(node)] = (node, unparse(node))
        return found[1]


def _sizing_params(spec) -> set:
    """Parameters written inside domain, model and binder types (their values size domains)."""
    params = set(spec.params)
    out = set()
    for stmt in spec.ast.statements:
        types = []
        if isinstance(stmt, ast.DomainDecl):
            types.append(stmt.type)
        elif isinstance(stmt, ast.ModelDecl):
            types += [p.type for p in stmt.params] + [stmt.output]
        elif isinstance(stmt, ast.LawDecl):
            types += [b.type for b in stmt.binders if b.type is not None]
        for t in types:
            out |= {n.name for n in ast.walk(t) if isinstance(n, ast.Name) and n.name in params}
    return out


@dataclass
class Request:
    handle: str
    model: str
    args: tuple
    level: int
    view: str  # "logprobs" (class outputs), "logit" (bool and real outputs) or "output" (tensors)
    local: str | None = None  # the local holding the output as the terms read it (None: calls[handle])


class Calls:
    """Model calls of one function: deduplicated, grouped in rounds (a round reads earlier rounds' outputs)."""

    def __init__(self, ns: Namespace):
        self.ns = ns
        self.requests: list[Request] = []
        self.by_key: dict = {}  # (model, args) -> its Request: one call per distinct model and arguments

    def add(self, model: str, args: tuple, level: int, hint, view: str) -> Request:
        """The request of ``model(*args)``: the earlier one when these arguments were asked for already.

        ``hint`` (a local's name, or a function making one) is only used for a new request.
        """
        key = (model, args)  # emitted trees are frozen dataclasses: equal arguments hash equal
        found = self.by_key.get(key)
        if found is not None:
            return found
        handle = self.ns.create_name(hint() if callable(hint) else hint)
        suffix = {"logprobs": "lp", "logit": "logit"}.get(view)
        local = self.ns.create_name(f"{handle}_{suffix}") if suffix else None
        r = Request(handle, model, args, level, view, local)
        self.requests.append(r)
        self.by_key[key] = r
        return r

    def read(self, r: Request) -> Expr:
        """How the terms read a request's output."""
        return Name(r.local) if r.local else output(r)

    def stmts(self, batch: Expr) -> list:
        """``calls = <batch>``, then per round: the requests, ``calls.run()``, the outputs as the terms read them."""
        out = [Assign((Name("calls"),), batch)]
        calls = Name("calls")
        for level in sorted({r.level for r in self.requests}):
            round_ = [r for r in self.requests if r.level == level]
            for r in round_:
                out.append(Assign((Name(r.handle),), method(calls, "add", Const(r.model), *r.args)))
            out.append(ExprStmt(method(calls, "run")))
            for r in round_:
                if r.view == "logprobs":
                    out.append(Assign((Name(r.local),), torch_("log_softmax", output(r), -1)))
                elif r.view == "logit":
                    out.append(Assign((Name(r.local),), call(Attr(Name("rt"), "as_logit"), output(r))))
        return out


def output(r: Request) -> Expr:
    return Index(Name("calls"), Name(r.handle))


class Scope:
    """One generated function: its names, model calls, and how it reads the module's tables."""

    def __init__(self, spec, tables: ModuleTables, taken=(), in_module: bool = True):
        self.spec = spec
        self.tables = tables
        self.ns = Namespace(taken, parent=tables.ns)
        self.calls = Calls(self.ns)
        self.in_module = in_module  # forward() of a loss module reads tables as self.NAME
        self.n = Name("n")
        self.bound: dict = {}  # table -> the local holding it on the inputs' device (functions outside the module)

    def table(self, name: str) -> Expr:
        """A precomputed table: a buffer of the loss module, else a local bound once per function."""
        if self.in_module:
            return Attr(Name("self"), name)
        if name not in self.bound:
            self.bound[name] = Name(self.ns.create_name(name.lower()))
        return self.bound[name]

    def table_stmts(self, body: list) -> list:
        """The bindings of the tables ``body`` reads, in a function outside the module (after ``device`` is known)."""
        cached = Attr(Name("rt"), "cached_to")
        used = free_names(body)
        return [
            Assign((local,), call(cached, Name(name), Name("device"))) for name, local in self.bound.items() if local.id in used
        ]


class LawScope:
    """One law inside a scope: its variables' values, draws, masks."""

    def __init__(self, scope: Scope, law, ir, samples: int = 1, prefix: bool = True):
        self.scope = scope
        self.spec = scope.spec
        self.tables = scope.tables
        self.law = law
        self.ir = ir
        self.samples = samples
        self.prefix = prefix  # name drawn locals after the law too (a scope shared by laws)
        self.env: dict = {}  # variable -> V
        self.draws: dict = {}  # variable -> Draw
        self.setup: list = []
        self.masks: list = []
        self.n = scope.n

    def local(self, hint: str) -> Name:
        return Name(self.scope.ns.create_name(f"{self.law.name}_{hint}" if self.prefix else hint))

    def fail(self, message: str, node=None, hint: str | None = UNSUPPORTED_HINT) -> None:
        fail(self.spec, f"cannot compile law {self.law.name} yet: {message}", node or self.law.decl, hint)

    def table(self, name: str) -> Expr:
        return self.scope.table(name)

    def full(self, value) -> Call:
        """A per-example constant: ``torch.full((n,), value, device=device)``."""
        return torch_("full", TupleE((self.n,)), as_expr(value), device=Name("device"))
