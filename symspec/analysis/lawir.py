"""The records of a classified law (what analysis hands on), and the tree helpers every law pass shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..syntax import ast
from .sealed import Sealed

__all__ = ["LawClass", "Source", "TransformPair", "VariablePlan", "LawIR", "NotTransform", "conjuncts", "names_in", "calls_in"]


class NotTransform(Exception):
    """The expression is not an invertible transform of one variable."""


@dataclass
class TransformPair(Sealed):
    """One generator of an equivariance law: where each argument comes from, and the maps."""

    label: str  # e.g. "k = 1" or "g = r"
    sources: tuple  # argument i of f(T x) is built from argument sources[i] of f(x)
    arg_perms: tuple  # per argument: push map on its values/positions, or None if not finite
    out_perm: np.ndarray | None  # push map on the output classes/positions; None if not finite
    out_identity: bool = False


class LawClass(str, Enum):
    """An equivariance law f(T x) == S f(x), or any other law (a constraint)."""

    EQUIVARIANCE = "equivariance"
    CONSTRAINT = "constraint"

    def __str__(self) -> str:
        return self.value


class Source(str, Enum):
    """Where a law variable's value comes from at training time."""

    BATCH = "batch"  # the batch field of that name
    UNIFORM = "uniform"  # uniform over its finite domain
    GROUP = "group"  # a group element: uniform (finite) or Haar (continuous)
    INTERVAL = "interval"  # uniform over the values its interval guards allow (exact)
    BETWEEN = "between"  # uniform over the vertices on shortest paths (exact)
    REJECTION = "rejection"  # uniform, rejected unless its guards hold
    NORMAL = "normal"  # a real or every entry of a tensor: standard normal (real(lo, hi) is UNIFORM on [lo, hi))

    def __str__(self) -> str:
        return self.value


@dataclass
class VariablePlan(Sealed):
    """How a law variable gets its value at training time."""

    name: str
    source: Source
    detail: str
    domain: object = None
    acceptance: float | None = None  # for rejection sampling, when it can be computed exactly

    def __post_init__(self) -> None:
        self.source = Source(self.source)


@dataclass
class LawIR(Sealed):
    name: str
    law_class: LawClass
    reason: str  # why a constraint; what the transform is for an equivariance law
    model: str | None  # the model an equivariance law constrains
    variables: dict = field(default_factory=dict)  # name -> VariablePlan
    forward_passes: int = 0
    generators: list = field(default_factory=list)  # of TransformPair
    finite: bool = False  # every generator has finite argument and output maps
    redundant: bool = False
    implied_by: tuple = ()
    line: int = 0
    span: object = None
    options: dict = field(default_factory=dict)
    sides: tuple | None = None  # equivariance: (base call, its output ops, moved call, its output ops, parameters)
    augment: bool = False  # usable as a data augmentation: (x, target) -> (T x, S target), S from the target alone
    augment_why: str = ""  # the augmentation when augment (inputs and target), why not otherwise


# ---- peeling the two sides -------------------------------------------------------


def calls_in(e) -> list:
    out = []
    for node in ast.walk(e):
        if isinstance(node, ast.Call):
            out.append(node)
    return out


def names_in(e) -> set:
    return {n.name for n in ast.walk(e) if isinstance(n, ast.Name)}


def conjuncts(e) -> list:
    if e is None:
        return []
    if isinstance(e, ast.Logic) and e.op == "and":
        return conjuncts(e.left) + conjuncts(e.right)
    if isinstance(e, ast.Compare) and len(e.ops) > 1:
        return [ast.Compare(e.span, (a, b), (op,)) for a, b, op in zip(e.operands, e.operands[1:], e.ops)]
    return [e]
