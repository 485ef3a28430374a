"""Hints that repeat what the user wrote: a graph written where its name goes, binders without '.', '->' for '=>'."""

from __future__ import annotations

import pytest

import symspec
from symspec.errors import SpecError


def _first(text: str):
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "h.sym")
    return info.value.diagnostics[0]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("model f(a: nodes(grid(3, 3))) -> real\n", "declare 'graph G = grid(3, 3)' and write nodes(G)"),
        ("group A = automorphisms(petersen())\n", "declare 'graph G = petersen()' and write automorphisms(G)"),
        ("model f(a: nodes(7)) -> real\n", "declare 'graph G = cycle(6)' and write nodes(G)"),
    ],
)
def test_a_graph_where_its_name_goes(text, hint):
    diag = _first(text)
    assert diag.message.endswith("takes the name of a graph") and diag.hint == hint


def test_binders_without_their_dot():
    diag = _first("domain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw s: forall k: Z f(a + k) == f(a) + k\n")
    assert (diag.span.line, diag.span.column) == (3, 20)
    assert diag.hint == "end the binders with '.': 'law s: forall k: Z. f ...'"


def test_a_decimal_in_a_binder_is_no_dot():
    diag = _first("model f(a: real) -> real\nlaw s: forall t: real(0.1, 2) f(a * t) == f(a)\n")
    assert diag.hint == "end the binders with '.': 'law s: forall t: real(0.1, 2). f ...'"


def test_an_arrow_for_the_implication():
    diag = _first("domain Z = cyclic(5)\nmodel f(a: Z, b: Z) -> bool\nlaw t: f(a, b) -> f(b, a)\n")
    assert (diag.span.line, diag.span.column) == (3, 17)
    assert diag.hint == "an implication is written '=>': law l: premise => conclusion"


def test_no_law_hint_outside_laws():
    diag = _first("domain Z = cyclic(5)\nmodel f(a: Z) - > real\n")
    assert diag.hint is None or "implication" not in diag.hint


def test_no_never_used_warning_after_an_error_in_the_user():
    """A typo in the statement that uses a parameter made the parameter 'never used' too: a cascade."""
    with pytest.raises(SpecError) as info:
        symspec.loads("param p = 7\ndomain Z = cyclc(p)\nmodel f(a: Z) -> class(Z)\n", "typo.sym")
    messages = [d.message for d in info.value.diagnostics]
    assert messages == ["unknown domain constructor 'cyclc'"]
    spec = symspec.loads("param p = 7\nparam q = 3\ndomain Z = cyclic(p)\nmodel f(a: Z) -> class(Z)\n", "ok.sym")
    assert [w.message for w in spec.warnings] == ["parameter 'q' is declared but never used"]
