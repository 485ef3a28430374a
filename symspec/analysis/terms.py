"""The typed law tree: what analysis hands every later stage instead of the raw AST.

Each typed node *is* the AST node it was checked from (a subclass with the same
fields and span) plus its :class:`Ty`, set once by the type checker
(``laws.py``), in the way miniwdl decorates its tree.  Later stages read
``node.ty`` and never re-type a formula; code written against the AST (walks,
``unparse``, ``isinstance(e, ast.Call)``) keeps working on the typed tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..syntax import ast

__all__ = [
    "Kind",
    "Ref",
    "Ty",
    "Int",
    "Real",
    "Name",
    "Call",
    "BinOp",
    "Neg",
    "Not",
    "Act",
    "Compare",
    "Logic",
    "Term",
    "typed_tree",
]


class Kind(str, Enum):
    """What a term holds.  Exact kinds are known without a model; soft kinds depend on a model's output."""

    VALUE = "value"  # a value of a finite domain (or a real/tensor variable: see Ty.domain)
    CONST = "const"  # an integer constant (Ty.value)
    REALCONST = "realconst"  # a real constant
    LABEL = "label"  # a label of a set domain (Ty.value: its index)
    COND = "cond"  # an exact condition (guards, comparisons of values)
    DIST = "dist"  # a class distribution over Ty.domain (a model output, or arithmetic on one)
    PROB = "prob"  # a bool probability (a bool output) or a bool value
    REAL = "real"  # a real (a real output, logit(...), a real variable)
    TENSOR = "tensor"  # a tensor of Ty.domain
    ELEM = "elem"  # an element of group Ty.group
    REL = "rel"  # a relation between outputs: a loss
    GRAPH = "graph"  # a graph named as between's first argument

    def __str__(self) -> str:
        return self.value


class Ref(str, Enum):
    """What a name in a law refers to."""

    VARIABLE = "variable"
    PARAM = "param"
    LABEL = "label"
    GRAPH = "graph"


@dataclass(frozen=True)
class Ty:
    """The type of a term or formula."""

    kind: Kind
    domain: object = None  # the Domain of a value/dist/tensor
    soft: bool = False  # depends on a model's output
    value: object = None  # for CONST: the int; for LABEL: the index
    group: object = None  # for ELEM: the GroupDef

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))

    def __str__(self) -> str:
        k = self.kind
        if k is Kind.VALUE:
            return f"a value of {self.domain}"
        if k is Kind.CONST:
            return f"the integer {self.value}"
        if k is Kind.REALCONST:
            return "a real constant"
        if k is Kind.LABEL:
            return f"the label {self.domain.labels[self.value]} of {self.domain}"
        if k is Kind.COND:
            return "a condition"
        if k is Kind.DIST:
            return f"a distribution over {self.domain}"
        if k is Kind.PROB:
            return "a bool output" if self.soft else "a bool value"
        if k is Kind.REAL:
            return "a real output" if self.soft else "a real value"
        if k is Kind.TENSOR:
            return f"a tensor output of {self.domain}" if self.soft else f"a tensor of {self.domain}"
        if k is Kind.ELEM:
            return f"an element of group {getattr(self.group, 'name', '') or self.group}"
        if k is Kind.GRAPH:
            return "a graph"
        return "a relation"


@dataclass(frozen=True)
class Int(ast.Int):
    ty: Ty


@dataclass(frozen=True)
class Real(ast.Real):
    ty: Ty


@dataclass(frozen=True)
class Name(ast.Name):
    ty: Ty
    ref: Ref


@dataclass(frozen=True)
class Call(ast.Call):
    """A model call (``func.name`` in the spec's models) or a builtin (logit, sigmoid, between)."""

    ty: Ty
    model: bool  # a call of a declared model


@dataclass(frozen=True)
class BinOp(ast.BinOp):
    ty: Ty


@dataclass(frozen=True)
class Neg(ast.Neg):
    ty: Ty


@dataclass(frozen=True)
class Not(ast.Not):
    ty: Ty


@dataclass(frozen=True)
class Act(ast.Act):
    ty: Ty


@dataclass(frozen=True)
class Compare(ast.Compare):
    ty: Ty


@dataclass(frozen=True)
class Logic(ast.Logic):
    ty: Ty


Term = Int | Real | Name | Call | BinOp | Neg | Not | Act | Compare | Logic


def typed_tree(e: ast.Node, types: dict, refs: dict, models) -> Term:
    """The typed copy of a checked law expression; ``types``/``refs`` map ``id(node)`` to what the checker found."""

    def go(n):
        ty = types[id(n)]
        if isinstance(n, ast.Int):
            return Int(n.span, n.value, ty)
        if isinstance(n, ast.Real):
            return Real(n.span, n.value, n.text, ty)
        if isinstance(n, ast.Name):
            return Name(n.span, n.name, ty, refs[id(n)])
        if isinstance(n, ast.Call):
            return Call(n.span, n.func, tuple(go(a) for a in n.args), ty, n.func.name in models)
        if isinstance(n, ast.BinOp):
            return BinOp(n.span, n.op, go(n.left), go(n.right), ty)
        if isinstance(n, ast.Neg):
            return Neg(n.span, go(n.operand), ty)
        if isinstance(n, ast.Not):
            return Not(n.span, go(n.operand), ty)
        if isinstance(n, ast.Act):
            return Act(n.span, go(n.element), go(n.operand), ty)
        if isinstance(n, ast.Compare):
            return Compare(n.span, tuple(go(o) for o in n.operands), n.ops, ty)
        if isinstance(n, ast.Logic):
            return Logic(n.span, n.op, go(n.left), go(n.right), ty)
        raise TypeError(f"no typed form of {type(n).__name__}")  # pragma: no cover - the checker rejects it first

    return go(e)
