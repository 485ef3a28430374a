"""The AST of a .sym file: frozen dataclasses with slots, every node with a source span.

Constructor expressions (``cyclic(p)``, ``tensor[N, 3]``, ``rot90(dims=(-2,
-1))``, ``class(Zp)``) stay generic here (:class:`Call`, :class:`Index`,
:class:`Name`); the analysis gives them meaning.  Law formulas use the same
expression nodes plus :class:`Act`, :class:`Not`, :class:`Compare` and
:class:`Logic`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

from ..errors import Span

__all__ = [
    "Node",
    "Ident",
    "Int",
    "Real",
    "Name",
    "Call",
    "Index",
    "KwArg",
    "Tuple",
    "BinOp",
    "Neg",
    "Not",
    "Act",
    "Compare",
    "Logic",
    "Expr",
    "Power",
    "Word",
    "Relator",
    "Presentation",
    "GroupProduct",
    "SpecDecl",
    "ParamDecl",
    "DomainDecl",
    "GraphDecl",
    "GroupDecl",
    "GenMap",
    "ActionDecl",
    "ModelParam",
    "ModelDecl",
    "Binder",
    "Option",
    "LawDecl",
    "LayerDecl",
    "PriorDecl",
    "BreakDecl",
    "Statement",
    "SpecFile",
    "walk",
]


@dataclass(frozen=True, slots=True)
class Node:
    span: Span


@dataclass(frozen=True, slots=True)
class Ident(Node):
    """A name as written, where it is written."""

    name: str


# ---- expressions --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Int(Node):
    value: int


@dataclass(frozen=True, slots=True)
class Real(Node):
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A reference to something declared, a variable, or a bare constructor."""

    name: str


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``func(args)``: a model call, builtin, or constructor."""

    func: Ident
    args: tuple


@dataclass(frozen=True, slots=True)
class Index(Node):
    """``func[args]``, as in ``tensor[N, 3]``."""

    func: Ident
    args: tuple


@dataclass(frozen=True, slots=True)
class KwArg(Node):
    name: Ident
    value: Expr


@dataclass(frozen=True, slots=True)
class Tuple(Node):
    items: tuple


@dataclass(frozen=True, slots=True)
class BinOp(Node):
    op: str  # '+', '-', '*'
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Act(Node):
    """``element . operand``: a group element acting on a value or output."""

    element: Expr
    operand: Expr


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``a OP b [OP c ...]``; a chain means the conjunction of its links."""

    operands: tuple
    ops: tuple  # of str: '==', '!=', '<', '<=', '>', '>='


@dataclass(frozen=True, slots=True)
class Logic(Node):
    op: str  # 'and', 'or', '=>'
    left: Expr
    right: Expr


Expr = Union[Int, Real, Name, Call, Index, KwArg, Tuple, BinOp, Neg, Not, Act, Compare, Logic]


# ---- groups -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Power(Node):
    """``base ^ exponent`` in a relator; base is a generator or a bracketed word."""

    base: Union[Ident, Word]
    exponent: int


@dataclass(frozen=True, slots=True)
class Word(Node):
    """A product of powers; the empty word (written ``1``) is the identity."""

    powers: tuple


@dataclass(frozen=True, slots=True)
class Relator(Node):
    """``lhs`` (meaning lhs = 1) or the equation ``lhs = rhs``."""

    lhs: Word
    rhs: Word | None


@dataclass(frozen=True, slots=True)
class Presentation(Node):
    generators: tuple  # of Ident
    relators: tuple  # of Relator


@dataclass(frozen=True, slots=True)
class GroupProduct(Node):
    """``A x B x ...``, the direct product."""

    factors: tuple


# ---- statements ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpecDecl(Node):
    name: Ident


@dataclass(frozen=True, slots=True)
class ParamDecl(Node):
    name: Ident
    value: int
    value_span: Span


@dataclass(frozen=True, slots=True)
class DomainDecl(Node):
    name: Ident
    type: Expr


@dataclass(frozen=True, slots=True)
class GraphDecl(Node):
    name: Ident
    ctor: Expr


@dataclass(frozen=True, slots=True)
class GroupDecl(Node):
    name: Ident
    expr: object  # Name | Call | Presentation | GroupProduct


@dataclass(frozen=True, slots=True)
class GenMap(Node):
    generator: Ident
    transform: Expr


@dataclass(frozen=True, slots=True)
class ActionDecl(Node):
    """``action G on D { gen -> t ... }`` (``maps``) or ``action G on D by t`` (``by``)."""

    group: Ident
    domain: Ident
    maps: tuple | None
    by: Expr | None


@dataclass(frozen=True, slots=True)
class ModelParam(Node):
    name: Ident
    type: Expr


@dataclass(frozen=True, slots=True)
class ModelDecl(Node):
    name: Ident
    params: tuple
    output: Expr


@dataclass(frozen=True, slots=True)
class Binder(Node):
    var: Ident
    type: Expr


@dataclass(frozen=True, slots=True)
class Option(Node):
    name: Ident
    value: Expr


@dataclass(frozen=True, slots=True)
class LawDecl(Node):
    name: Ident
    binders: tuple
    body: Expr
    guard: Expr | None
    options: tuple


@dataclass(frozen=True, slots=True)
class LayerDecl(Node):
    name: Ident
    source: Expr
    target: Expr
    group: object
    options: tuple = ()  # [kernel k, padding circular, ...]: Option nodes


@dataclass(frozen=True, slots=True)
class PriorDecl(Node):
    name: Ident
    kind: Ident
    args: tuple
    options: tuple


@dataclass(frozen=True, slots=True)
class BreakDecl(Node):
    """``break NAME: attention(MODEL) [options]``: fixed biases that break a model's attention symmetries."""

    name: Ident
    kind: Ident  # attention: the one kind so far
    args: tuple
    options: tuple


Statement = Union[
    SpecDecl,
    ParamDecl,
    DomainDecl,
    GraphDecl,
    GroupDecl,
    ActionDecl,
    ModelDecl,
    LawDecl,
    LayerDecl,
    PriorDecl,
    BreakDecl,
]


@dataclass(frozen=True, slots=True)
class SpecFile(Node):
    """A whole parsed file."""

    file: str
    statements: tuple


def walk(node) -> Iterator[Node]:
    """Yield ``node`` and every node below it, depth first, in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple):
            stack.extend(reversed(current))
            continue
        if not isinstance(current, Node):
            continue
        yield current
        children = [getattr(current, f) for f in current.__dataclass_fields__ if f != "span"]
        stack.extend(reversed(children))
