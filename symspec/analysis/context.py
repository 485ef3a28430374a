"""What the resolvers of domains, graphs, groups and laws may ask of the analysis.

:class:`Context` is a structural type: the analyzer (``resolve.Analyzer``)
satisfies it, and the resolver modules depend on this protocol instead of on
the analyzer, so the analysis package has no import cycle.
"""

from __future__ import annotations

from typing import Protocol

from ..syntax import ast
from .scope import Reporter, SymbolTable

__all__ = ["Context"]


class Context(Protocol):
    """Resolution state shared by the resolvers of one spec."""

    reporter: Reporter
    symbols: SymbolTable
    params: dict  # param name -> int
    labels: dict  # set label -> its Labels domain
    models: dict  # model name -> ModelSig
    graphs: dict  # graph name -> GraphDef (resolved so far)

    def callables(self):
        """The models and builtins as ``scope.Candidates`` (suggestions for an unknown call)."""

    def domain_of(self, name: str):
        """The resolved domain declared as ``name`` (None if it failed)."""

    def graph_ref(self, ref: ast.Name):
        """The graph a name refers to, or None after reporting why not."""

    def group_ref(self, ref: ast.Name):
        """The group a name refers to, or None after reporting why not."""
