"""Logic over class outputs (issue 13, item 5): 'class output == value' as a truth value inside =>, or, not (its
probability; the product t-norm inside such an 'and'), argmax equality in validation; negation and shifts of range
class outputs; class outputs compared with negative constants."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT

import symspec
from symspec.analysis.terms import Kind
from symspec.errors import SpecError

ATTRIBUTES = ROOT / "tests" / "specs" / "valid" / "classlogic_attributes.sym"
RANGES = ROOT / "tests" / "specs" / "valid" / "classlogic_range_negation.sym"
M = 3  # attribute values 0..2; entity e has attributes (e // 9, e // 3 % 3, e % 3)


def attribute(e: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return e // (M ** (2 - a)) % M


class TrueComparison(torch.nn.Module):
    """cmp(i, a, j): lt / eq / gt of attribute a of entities i and j, as sharp logits."""

    def forward(self, i, a, j):
        diff = attribute(i, a) - attribute(j, a)
        label = torch.where(diff < 0, 0, torch.where(diff == 0, 1, 2))
        return torch.nn.functional.one_hot(label, 3).double() * 40.0


class RandomComparison(torch.nn.Module):
    """A fixed random logit table over (i, a, j)."""

    def __init__(self):
        super().__init__()
        self.table = torch.randn(27, 3, 27, 3, generator=torch.Generator().manual_seed(0)) * 3

    def forward(self, i, a, j):
        return self.table[i, a, j]


def test_precedence_types_events_as_probabilities():
    spec = symspec.load(ATTRIBUTES)
    refl = spec.laws["refl"].body
    assert refl.ty.kind == Kind.REL  # alone at the top: cross-entropy
    trans = spec.laws["trans_lt"].body
    assert trans.op == "=>" and trans.left.op == "and"
    assert trans.left.ty.kind == Kind.PROB  # an 'and' operand of '=>': product t-norm
    assert trans.left.left.ty.kind == Kind.PROB and trans.right.ty.kind == Kind.PROB  # probabilities
    total = spec.laws["total"].body
    assert total.left.operand.ty.kind == Kind.PROB  # inside 'not'
    both = (
        symspec.loads(
            "domain Rel = set(lt, eq, gt)\nmodel c(i: cyclic(4), j: cyclic(4)) -> class(Rel)\nlaw l: c(i, j) == lt and c(j, i) == gt\n"
        )
        .laws["l"]
        .body
    )
    assert both.ty.kind == Kind.REL and both.left.ty.kind == Kind.REL  # a top-level 'and': two relations


def test_exact_comparison_has_zero_loss_and_random_logits_do_not():
    mod = symspec.compile(symspec.load(ATTRIBUTES))
    i, a, j = (x.reshape(-1) for x in torch.meshgrid(torch.arange(27), torch.arange(3), torch.arange(27), indexing="ij"))
    batch = {"i": i, "a": a, "j": j}
    exact = mod.SymmetryLoss(cmp=TrueComparison())
    exact(batch)
    for law in ("refl", "trans_lt", "trans_eq", "anti", "total"):
        assert exact.terms[law].item() < 1e-6, law
    rand = mod.SymmetryLoss(cmp=RandomComparison())
    rand(batch)
    for law in ("trans_lt", "trans_eq", "anti"):
        assert rand.terms[law].item() > 0.01, law


def test_validation_decides_by_argmax():
    spec = symspec.load(ATTRIBUTES)
    good = symspec.validate(spec, cmp=TrueComparison(), samples=20_000, seed=0)
    assert good.passed, good.render()
    bad = symspec.validate(spec, cmp=RandomComparison(), samples=20_000, seed=0)
    for law in ("refl", "trans_lt", "trans_eq", "anti"):
        assert not bad[law].passed, law


def test_the_soft_truth_is_the_class_probability():
    mod = symspec.compile(
        symspec.loads("domain Rel = set(lt, eq, gt)\nmodel c(i: cyclic(2)) -> class(Rel)\nlaw l: c(i) == lt => c(i) == gt\n")
    )
    logits = torch.tensor([[0.3, -1.0, 0.7], [2.0, 0.1, -0.4]])

    class Fixed(torch.nn.Module):
        def forward(self, i):
            return logits[i]

    loss = mod.SymmetryLoss(c=Fixed())
    loss({"i": torch.tensor([0, 1])})
    p = logits.softmax(-1)
    expected = (p[:, 0] * (1 - p[:, 2])).mean()  # the penalty of a => b: P(a) (1 - P(b))
    assert torch.allclose(loss.terms["l"], expected, atol=1e-6)


class Sign(torch.nn.Module):
    """cmp(i, j) = sign(i - j) on cyclic(5) read as 0..4, over range(-1, 2): antisymmetric."""

    def __init__(self, constant: int | None = None):
        super().__init__()
        self.constant = constant  # broken: always this value

    def forward(self, i, j):
        s = torch.sign(i - j) + 1
        if self.constant is not None:
            s = torch.full_like(s, self.constant + 1)
        return torch.nn.functional.one_hot(s, 3).double() * 40.0


def test_range_negation_and_shifts_compile_and_validate():
    spec = symspec.load(RANGES)
    good = symspec.validate(spec, cmp=Sign(), sgn=Sign(), seed=0)
    assert good.passed, good.render()
    bad = symspec.validate(spec, cmp=Sign(1), sgn=Sign(1), seed=0)
    assert not bad["anti"].passed and not bad["shifted"].passed and not bad["low"].passed
    assert bad["event"].passed  # its premise sgn(x, y) == -1 never holds
    low = symspec.validate(spec, cmp=Sign(-1), sgn=Sign(-1), seed=0)
    assert not low["event"].passed and not low["floor"].passed and low["low"].passed
    mod = symspec.compile(spec)
    i, j = (x.reshape(-1) for x in torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij"))
    x, y = i - 2, j - 2
    exact = mod.SymmetryLoss(cmp=Sign(), sgn=Sign())
    exact({"i": i, "j": j, "x": x, "y": y})
    assert all(v.item() < 1e-6 for v in exact.terms.values()), exact.terms


def test_constant_minus_a_range_output_reverses_its_classes():
    """``1 - X`` on range(-1, 2) takes 0..2 with P(1 - X = v) = P(X = 1 - v): it was compiled as X - 1."""
    mod = symspec.compile(
        symspec.loads(
            "model c(i: cyclic(3)) -> class(range(-1, 2))\nmodel d(i: cyclic(3)) -> class(range(0, 3))\nlaw l: d(i) == 1 - c(i)\n"
        )
    )
    logits = torch.tensor([[0.0, 1.0, 3.0]])

    class C(torch.nn.Module):
        def forward(self, i):
            return logits.expand(len(i), 3)

    class D(torch.nn.Module):
        def forward(self, i):
            return logits.flip(-1).expand(len(i), 3)

    loss = mod.SymmetryLoss(c=C(), d=D())
    loss({"i": torch.arange(3)})
    assert loss.terms["l"].item() < 1e-9


@pytest.mark.parametrize(
    ("law", "message"),
    [
        ("c(i, j) == 5 => c(j, i) == 1", "cannot compare a distribution over range(-1, 2) with the integer 5"),
        ("r(i) <= 1.0 => c(i, i) == 0", "'=>' needs bool operands, but this is a relation"),
        ("c(i, j) == c(j, i) or c(i, j) == 0", "'or' needs bool operands, but this is a relation"),
        ("not c(i, j) == 0", "'not' needs a bool output or a condition, but this is a distribution over range(-1, 2)"),
    ],
)
def test_check_errors(law, message):
    text = "domain I = cyclic(5)\nmodel c(i: I, j: I) -> class(range(-1, 2))\nmodel r(i: I) -> real\nlaw l: " + law + "\n"
    with pytest.raises(SpecError) as err:
        symspec.loads(text, "bad.sym")
    assert message in str(err.value)


def test_events_with_values_conditions_and_shifted_outputs():
    """An event against a drawn value, an 'and' with a condition inside '=>', 'or' of a shifted output's event."""
    text = (
        "domain Z = cyclic(5)\ndomain Rel = set(lt, eq, gt)\n"
        "model add(a: Z, b: Z) -> class(Z)\nmodel cmp(i: Z, j: Z) -> class(Rel)\n"
        "law value: forall v: Z. add(a, b) == v => add(b, a) == v\n"
        "law cond: cmp(i, j) == eq and i != j => cmp(j, i) == eq\n"
        "law shifted: add(a, b) + 1 == 0 or not (add(a, b) == 1)\n"
    )
    spec = symspec.loads(text, "events.sym")
    assert spec.laws["cond"].body.left.ty.kind == Kind.PROB

    class Add(torch.nn.Module):
        def forward(self, a, b):
            return torch.nn.functional.one_hot((a + b) % 5, 5).double() * 40.0

    class Eq(torch.nn.Module):
        def forward(self, i, j):
            return torch.nn.functional.one_hot(torch.sign(i - j) + 1, 3).double() * 40.0

    good = symspec.validate(spec, add=Add(), cmp=Eq(), seed=0)
    assert good["value"].passed and good["cond"].passed and not good["shifted"].passed  # a + b == 1 happens

    class Skew(torch.nn.Module):
        def forward(self, a, b):
            return torch.nn.functional.one_hot((2 * a + b) % 5, 5).double() * 40.0

    bad = symspec.validate(spec, add=Skew(), cmp=Eq(), seed=0)
    assert not bad["value"].passed
    loss = symspec.compile(spec).SymmetryLoss(add=Add(), cmp=Eq())
    a, b = (x.reshape(-1) for x in torch.meshgrid(torch.arange(5), torch.arange(5), indexing="ij"))
    loss({"a": a, "b": b, "i": a, "j": b})
    assert loss.terms["value"].item() < 1e-9
    assert loss.terms["cond"].item() < 1e-5  # a condition in soft logic: the logit of a probability clamped to 1 - 1e-6


def test_the_attribute_comparison_example_passes_for_the_true_comparison():
    spec = symspec.load(ROOT / "examples" / "attribute_comparison.sym")
    good = symspec.validate(spec, cmp=TrueComparison(), samples=20_000, seed=0)
    assert good.passed, good.render()
    bad = symspec.validate(spec, cmp=RandomComparison(), samples=20_000, seed=0)
    assert not any(report.passed for report in bad.laws)


@pytest.mark.parametrize(("side", "support"), [("f(x) + k", (-1, 4)), ("f(x) - k", (-3, 2)), ("k - f(x)", (-1, 4))])
def test_a_range_output_shifted_by_a_value(side, support):
    """X + k, X - k and k - X for a range output X over range(-1, 2) and k a value of range(0, 3), one per example:
    the loss compares g with the exact distribution of the shifted X (its support widened to every sum)."""
    lo, hi = support
    text = (
        f"model f(x: cyclic(4)) -> class(range(-1, 2))\nmodel g(x: cyclic(4), k: range(0, 3)) -> class(range({lo}, {hi}))\n"
        f"law s: g(x, k) == {side}\n"
    )
    mod = symspec.compile(symspec.loads(text, "shift.sym"))
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    op = {"f(x) + k": lambda v, k: v + k, "f(x) - k": lambda v, k: v - k, "k - f(x)": lambda v, k: k - v}[side]

    class F(torch.nn.Module):
        def forward(self, x):
            return logits[x]

    class G(torch.nn.Module):  # the exact law of op(X, k); broken: of op(X, 0) whatever k is
        def __init__(self, broken: bool = False):
            super().__init__()
            self.broken = broken

        def forward(self, x, k):
            k = torch.zeros_like(k) if self.broken else k
            p = logits[x].softmax(-1)
            out = torch.zeros(len(x), hi - lo, dtype=torch.float64)
            for c, v in enumerate((-1, 0, 1)):
                out[torch.arange(len(x)), op(v, k) - lo] += p[:, c]
            return out.clamp_min(1e-300).log()

    x, k = (t.reshape(-1) for t in torch.meshgrid(torch.arange(4), torch.arange(3), indexing="ij"))
    loss = mod.SymmetryLoss(f=F(), g=G())
    loss({"x": x, "k": k})
    assert loss.terms["s"].item() < 1e-9
    broken = mod.SymmetryLoss(f=F(), g=G(broken=True))
    broken({"x": x, "k": k})
    assert broken.terms["s"].item() > 0.1
