"""A law whose output side is scaled by a drawn unit compiles; it is not augmented.

Before: ``forall u: units(5). f(a * u) * u == f(a) * u * u`` passed the analysis marked augmentable
('target -> ... * u^-1 (mod 5)'), then ``symspec check`` and ``symspec.compile`` failed with 'cannot augment
with law s: scaling by a value not known when compiling': the loss and validation of a correct law were
unusable because augment could not invert a drawn scaling.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import symspec

SPEC = "domain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw s: forall u: units(5). f(a * u) * u == f(a) * u * u\n"


def _model(table):
    table = torch.tensor(table)
    return lambda a: torch.nn.functional.one_hot(table[a], 5).float() * 20


def test_the_law_compiles_and_says_why_it_is_not_augmented():
    spec = symspec.loads(SPEC, "scale.sym")
    symspec.check(spec)
    law = spec.ir.laws["s"]
    assert not law.augment
    assert law.augment_why == ("the output transform scales by u, drawn per example (u): augment cannot undo it on the target")
    assert law.law_class.value == "equivariance"


def test_its_loss_and_validation_match_brute_force():
    mod = symspec.compile(symspec.loads(SPEC, "scale.sym"))
    a = torch.arange(5).repeat(20)
    exact = [0, 2, 4, 1, 3]  # f(a) = 2a: f(a u) = f(a) u
    loss = mod.SymmetryLoss(f=_model(exact), generator=torch.Generator().manual_seed(0))
    loss({"a": a})
    assert float(loss.terms["s"]) < 1e-4
    broken = [0, 2, 4, 1, 0]  # wrong at a = 4 only
    loss = mod.SymmetryLoss(f=_model(broken), generator=torch.Generator().manual_seed(0))
    loss({"a": a})
    assert float(loss.terms["s"]) > 0.5
    report = symspec.validate(mod, f=_model(broken))
    brute = sum((broken[a * u % 5] * u) % 5 != (broken[a] * u * u) % 5 for a, u in itertools.product(range(5), range(1, 5)))
    assert (report["s"].mode, report["s"].cases, report["s"].violations) == ("exhaustive", 20, brute)
    assert brute == 6


@pytest.mark.parametrize(("interval", "low", "high"), [("real(0.1, 10)", 0.1, 10.0), ("real(-4, -0.5)", -4.0, -0.5)])
def test_scaling_by_a_real_drawn_away_from_zero_is_augmented(interval, low, high):
    """``k`` drawn from an interval without 0 is known nonzero: x -> k x is invertible, so augment uses the law."""
    spec = symspec.loads(f"model f(x: real) -> real\nlaw t: forall k: {interval}. f(k * x) == f(x)\n", "scale.sym")
    assert spec.ir.laws["t"].augment
    mod = symspec.compile(spec)
    x = torch.randn(500, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 3.0
    out = mod.augment({"x": x, "target": x.clone()}, generator=torch.Generator().manual_seed(1))
    ratio = out["x"] / x
    assert bool(((ratio >= low) & (ratio < high)).all()) and float(ratio.std()) > 0.1
    assert torch.equal(out["target"], x)


def test_scaling_by_a_real_that_may_be_zero_is_not_augmented():
    spec = symspec.loads("model f(x: real) -> real\nlaw t: forall k: real(-1, 1). f(k * x) == f(x)\n", "zero.sym")
    assert not spec.ir.laws["t"].augment
    assert "scaling by k is not known to be nonzero" in spec.ir.laws["t"].augment_why
