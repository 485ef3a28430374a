"""Front-end limits: linear-time parsing and rendering, exact source positions
after unusual line breaks, a UTF-8 byte-order mark, and integer and real
literals that do not fit."""

from __future__ import annotations

import pytest

import symspec
from symspec.errors import SpecError
from symspec.syntax import ast, lalr, parse


# ---- linear time -------------------------------------------------------------------


class _CountingSplice(lalr._Splice):
    """A _Splice that counts every element copied into one."""

    copied = 0

    def __init__(self, items=()):
        items = list(items)
        type(self).copied += len(items)
        super().__init__(items)

    def extend(self, items):
        items = list(items)
        type(self).copied += len(items)
        super().extend(items)


def test_long_lists_are_built_in_linear_time(monkeypatch):
    """A call with n arguments copies O(n) list elements, not O(n^2) (an 80,000-edge line took 84 s)."""
    monkeypatch.setattr(lalr, "_Splice", _CountingSplice)
    _CountingSplice.copied = 0
    n = 4000
    edges = ", ".join(f"{i}-{i + 1}" for i in range(n))
    tree = parse(f"graph F = edges({edges})\n")
    assert len(tree.statements[0].ctor.args) == n
    assert _CountingSplice.copied < 10 * n, _CountingSplice.copied
