"""What a generated module tells validation about its models and laws (named, not positional).

``INPUTS[model]``: one input descriptor per parameter (:class:`Values`,
:class:`TensorOf`, :class:`Real`).  ``OUTPUTS[model]``: an output descriptor
(:class:`ClassOutput`, :class:`BoolOutput`, :class:`RealOutput`,
:class:`TensorOutput`).  ``CHECKS[law]["variables"][var]``: a
:class:`CheckVariable` (where the loss gets the variable, and its values:
an input descriptor, :class:`GroupElements` or :class:`Sampled`).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "Values",
    "TensorOf",
    "Real",
    "ClassOutput",
    "BoolOutput",
    "RealOutput",
    "TensorOutput",
    "GroupElements",
    "Sampled",
    "CheckVariable",
    "SOURCES",
]

SOURCES = ("batch", "uniform", "interval", "between", "rejection", "group")


class Values(NamedTuple):
    """The integers ``lo .. hi - 1``."""

    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo


class TensorOf(NamedTuple):
    """A real tensor per example; a dim is an int or a name sized at run time."""

    dims: tuple


class Real(NamedTuple):
    """One real number per example; in ``[lo, hi)`` when both are given (a ``real(lo, hi)`` input)."""

    lo: float | None = None
    hi: float | None = None


class ClassOutput(NamedTuple):
    """Logits over ``size`` classes: shape ``[n, size]``."""

    size: int


class BoolOutput(NamedTuple):
    """One logit per example: ``[n]`` or ``[n, 1]``."""


class RealOutput(NamedTuple):
    """One value per example: ``[n]`` or ``[n, 1]``."""


class TensorOutput(NamedTuple):
    """A tensor per example: ``[n, *dims]``."""

    dims: tuple


class GroupElements(NamedTuple):
    """Rows of a table of every element of a finite group (the table is ``getattr(validator, table)``)."""

    table: str


class Sampled(NamedTuple):
    """Drawn at random with no finite list of values (continuous groups, random words)."""


class CheckVariable(NamedTuple):
    """A law's variable: how the loss gets it (one of :data:`SOURCES`) and the values it takes."""

    source: str
    domain: object  # Values | TensorOf | Real | GroupElements | Sampled
