"""abs, min and max: typed by the analysis, lowered in the loss and in validation, honoured by guards."""

from __future__ import annotations

import torch
from conftest import ROOT

import symspec

SPEC = ROOT / "tests" / "specs" / "valid" / "abs_min_max.sym"


class GapModel(torch.nn.Module):
    """dist(a, b) = |a - b| exactly (sharp logits); score(a) = a."""

    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, a, b):
        target = (a - b).abs() if not self.broken else (a + b) % 10
        return torch.nn.functional.one_hot(target, 10).double() * 40.0


def _spec():
    return symspec.load(SPEC).select(["gap", "cap"])


def test_abs_target_loss_is_zero_for_the_exact_model_and_positive_otherwise():
    mod = symspec.compile(_spec())
    batch = {"a": torch.arange(10).repeat(10), "b": torch.arange(10).repeat_interleave(10)}
    exact = mod.SymmetryLoss(dist=GapModel())
    exact(batch)
    assert exact.terms["gap"].item() < 1e-6
    assert exact.terms["cap"].item() < 1e-6
    broken = mod.SymmetryLoss(dist=GapModel(broken=True))
    broken(batch)
    assert broken.terms["gap"].item() > 1.0


def test_validation_decides_abs_min_max_exactly():
    good = symspec.validate(_spec(), dist=GapModel(), seed=0)
    assert good.passed, good.render()
    bad = symspec.validate(_spec(), dist=GapModel(broken=True), seed=0)
    assert not bad["gap"].passed and bad["gap"].cases == 100  # every (a, b) of range(0, 10)^2


def test_abs_in_a_guard_gets_an_exact_acceptance_rate():
    spec = symspec.load(SPEC)
    plan = spec.ir.laws["far"].variables["c"]
    assert str(plan.source) == "rejection"
    assert plan.acceptance == 0.56  # pairs of 0..9 more than 2 apart: 56 of 100


def test_abs_of_constants_folds_and_types():
    spec = symspec.loads("model f(a: range(0, 10)) -> class(range(0, 10))\nlaw c: f(a) == abs(3 - 5) + max(1, 2) - min(4, 0)\n")
    assert spec.laws["c"].body.operands[1].ty.value == 4


def test_max_of_range_arithmetic_keeps_the_domain_mask():
    """max(a + 1, 0) on range(0, 10) takes 1..10: the value 10 must be masked, never handed to the model."""
    spec = symspec.loads(
        "model f(a: range(0, 10)) -> class(range(0, 10))\nmodel g(a: range(0, 10)) -> class(range(0, 10))\n"
        "law l: g(max(a + 1, 0)) == f(a)\n",
        "mask.sym",
    )
    mod = symspec.compile(spec)
    seen = []

    class Embedded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Embedding(10, 10)

        def forward(self, a):
            seen.append(a.clone())
            return self.table(a)  # raises on 10

    loss = mod.SymmetryLoss(f=Embedded(), g=Embedded())
    value = loss({"a": torch.arange(10)})
    assert torch.isfinite(value)
    assert all(int(x.max()) <= 9 and int(x.min()) >= 0 for x in seen)
