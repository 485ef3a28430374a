"""Deeply nested laws are a SpecError at the law, never a traceback or a generated file Python refuses.

Before: a guard chaining 500 comparisons passed ``symspec check`` and ``symspec.compile`` raised a
RecursionError; a sum of 120 terms passed check and compiled to text Python could not parse (more than 200
nested brackets); a recursion in the analysis was reported at 1:1 whatever statement nested.
"""

from __future__ import annotations

import ast as pyast

import pytest

import symspec
from symspec import pipeline
from symspec.errors import SpecError

HEAD = "domain Z = cyclic(5)\nmodel f(a: Z, b: Z) -> class(Z)\n"


def _first(err) -> tuple[str, str]:
    d = err.value.diagnostics[0]
    return f"{d.span.file}:{d.span.line}:{d.span.column}", d.message


def test_a_long_comparison_chain_in_a_guard_is_an_error_at_the_guard():
    text = HEAD + "law l: f(a, b) == f(b, a) when " + " < ".join(["a", "b"] * 250) + "\n"
    with pytest.raises(SpecError) as err:
        symspec.loads(text, "chain.sym")
    assert _first(err) == ("chain.sym:3:32", "law l's guard nests 500 levels deep, more than the limit of 64")
    assert "split it into several laws" in err.value.render()


def test_a_long_sum_is_an_error_at_the_formula_not_invalid_python():
    text = HEAD + "law l: f(" + " + ".join(["a"] * 120) + ", b) == f(b, a)\n"
    with pytest.raises(SpecError) as err:
        symspec.loads(text, "sum.sym")
    assert _first(err) == ("sum.sym:3:8", "law l's formula nests 122 levels deep, more than the limit of 64")


def test_a_long_chain_of_relations_is_an_error():
    text = HEAD + "law l: " + " == ".join(["f(a, b)", "f(b, a)"] * 250) + "\n"
    with pytest.raises(SpecError) as err:
        symspec.loads(text, "rel.sym")
    assert _first(err) == ("rel.sym:3:8", "law l's formula nests 501 levels deep, more than the limit of 64")


@pytest.mark.parametrize(
    "law",
    [
        "f(" + " + ".join(["a"] * 60) + ", b) == f(b, a)",  # 62 levels
        "f(a, b) == f(b, a) when " + " < ".join(["a", "b"] * 31),  # 62 links
        "f(" + "-" * 60 + "a, b) == f(b, a)",
    ],
)
def test_laws_at_the_limit_compile_to_valid_python_and_run(law):
    import torch

    spec = symspec.loads(HEAD + f"law l: {law}\n", "ok.sym")
    pyast.parse(pipeline.compile_source(spec))
    mod = symspec.compile(spec)
    loss = mod.SymmetryLoss(f=lambda a, b: torch.nn.functional.one_hot((a + b) % 5, 5).float())
    value = loss({"a": torch.arange(5), "b": torch.arange(5).flip(0)})
    assert torch.isfinite(value)


def test_a_recursion_in_the_analysis_points_at_the_statement_that_nests():
    text = "spec s\ndomain Z = cyclic(" + "+".join(["1"] * 800) + ")\n"
    with pytest.raises(SpecError) as err:
        symspec.loads(text, "deep.sym")
    assert _first(err) == ("deep.sym:2:1", "the spec nests too deeply to analyze")


def test_a_recursion_while_lowering_is_a_spec_error_at_the_deepest_law(monkeypatch):
    import symspec.codegen as codegen

    spec = symspec.loads(HEAD + "law l: f(a, b) == f(b, a)\nlaw m: f(a + a + a, b) == f(b, a)\n", "net.sym")

    def recurse(_spec):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(codegen, "lower_module", recurse)
    with pytest.raises(SpecError) as err:
        pipeline.check(spec)
    assert _first(err) == ("net.sym:4:1", "the spec nests too deeply to compile")
