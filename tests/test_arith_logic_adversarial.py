"""Adversarial review of arithmetic on reals/tensors and logic over class outputs (issue 13, items 4 and 5):
regressions for silent wrong answers found by trying the features as an adversary."""

from __future__ import annotations

import pytest
import torch

import symspec
from symspec.errors import SpecError

# A value outside a class output's support, compared with it inside '=>', 'or', 'not'.
OUT_OF_SUPPORT = """
spec event_out_of_support
domain I = range(0, 5)
model f(i: I) -> bool
model g(i: I) -> class(range(0, 3))
law imp: f(i) => g(i) == i
law neg: not (g(i) == i)
law asserted: not (not (g(i) == i))
"""


class AlwaysTrue(torch.nn.Module):
    def forward(self, i):
        return torch.full(i.shape, 5.0, dtype=torch.float64)


class Identity3(torch.nn.Module):
    """g(i) = i with certainty for i < 3 (a class of range(0, 3)); 0 for the others."""

    def forward(self, i):
        return torch.nn.functional.one_hot(torch.where(i < 3, i, 0), 3).double() * 40.0


def test_an_event_outside_the_support_is_false_not_dropped():
    """'g(i) == i' with i = 3, 4 outside g's classes is false (probability 0): 'f(i) => g(i) == i' then needs f(i)
    false, and 'not (g(i) == i)' holds.  The examples were masked out of the loss and skipped by validation, so an
    always-true f had zero loss and passed."""
    spec = symspec.loads(OUT_OF_SUPPORT)
    mod = symspec.compile(spec)
    i = torch.arange(5).repeat(20)
    loss = mod.SymmetryLoss(f=AlwaysTrue(), g=Identity3())
    loss({"i": i})
    # 2 of every 5 examples violate the implication with P(f) = sigmoid(5): the mean penalty is 0.4 sigmoid(5)
    assert abs(loss.terms["imp"].item() - 0.4 * torch.sigmoid(torch.tensor(5.0)).item()) < 1e-4
    # not (g(i) == i): false for i < 3 (penalty softplus(40 - log 2) each), true for i = 3, 4 (penalty 0)
    assert abs(loss.terms["neg"].item() - 0.6 * (40.0 - torch.log(torch.tensor(2.0)).item())) < 1e-3
    # asserting an event that cannot hold costs a large finite loss (log tiny), not inf
    assert 100.0 < loss.terms["asserted"].item() < 1000.0
    report = symspec.validate(spec, f=AlwaysTrue(), g=Identity3(), seed=0)
    assert not report["imp"].passed


def test_an_event_outside_the_support_has_finite_gradients():
    spec = symspec.loads(OUT_OF_SUPPORT)
    mod = symspec.compile(spec)
    logits = torch.zeros(5, 3, requires_grad=True)
    bias = torch.zeros(5, requires_grad=True)
    g = lambda i: logits[i]  # noqa: E731
    f = lambda i: bias[i]  # noqa: E731
    loss = mod.SymmetryLoss(f=f, g=g)
    loss({"i": torch.arange(5)}).backward()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(bias.grad).all()
    assert bias.grad[3] > 0 and bias.grad[4] > 0  # f(3), f(4) pushed toward false


class Recorder(torch.nn.Module):
    """A class(cyclic(5)) output through an embedding of the 5 values (an index outside 0..4 raises)."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(5, 5)
        self.seen: list = []

    def forward(self, i):
        self.seen.append(i.clone())
        return self.embed(i)


def test_a_constant_argument_on_a_cyclic_domain_wraps():
    """'f(7)' and 'f(-1)' on cyclic(5) pass the check (constants wrap on cyclic domains) but reached the model as 7
    and -1: an embedding raised, a table indexed with -1 read another row by Python's negative indexing."""
    spec = symspec.loads(
        "spec wrap\nparam p = -6\nmodel f(i: cyclic(5)) -> class(cyclic(5))\n"
        "law a: f(7) == 2\nlaw b: f(-1) == 4\nlaw c: f(p) == f(3)\n"
    )
    mod = symspec.compile(spec)
    rec = Recorder()
    loss = mod.SymmetryLoss(f=rec)
    loss(4)
    seen = sorted({int(v) for x in rec.seen for v in x})
    assert seen == [2, 3, 4]  # 7 -> 2, -1 -> 4, -6 -> 4, and 3


def test_a_real_variable_in_a_guard_says_how_to_bound_it():
    """'when k > 0' on a drawn real: the hint said 'a law needs at least one model call on a side of its relation'."""
    src = "spec g\nmodel e(x: tensor[N, 3]) -> real\nlaw s: forall k: real. e(k * x) == k * e(x) when k > 0\n"
    with pytest.raises(SpecError) as info:
        symspec.loads(src, file="g.sym")
    text = str(info.value)
    assert "g.sym:3:50: error: cannot compare a real value here" in text
    assert "real(0.5, 2)" in text and "model call" not in text


NESTED = """
spec nested_implications
domain I = range(0, 5)
model p(i: I) -> bool
model q(i: I) -> bool
model r(i: I) -> bool
model cmp(i: I) -> class(range(0, 3))
law not_imp: not (p(i) => q(i)) => r(i)
law imp_imp: (p(i) => q(i)) => r(i)
law right: cmp(i) == 0 => (cmp(i) == 1 => r(i))
law top_and: p(i) and (p(i) => q(i))
"""


class Table(torch.nn.Module):
    def __init__(self, values):
        super().__init__()
        self.values = torch.tensor(values, dtype=torch.float64)

    def forward(self, i):
        return self.values[i]


def test_an_implication_inside_not_or_another_implication_is_its_truth_value():
    """'not (a => b) => c' passed the check and compiled to '~' of the implication's penalty (a float tensor: a
    TypeError at run time); '(a => b) => c' and 'a => (b => c)' were check errors.  Inside not/and/or/=> an
    implication is the probability of '(not a) or b'; at the top, and under a top-level 'and', its penalty."""
    spec = symspec.loads(NESTED)
    mod = symspec.compile(spec)
    lp, lq, lr = [0.3, -1.0, 2.0, 0.0, 1.5], [1.0, 0.5, -2.0, 0.2, -0.7], [-0.4, 0.9, 0.1, -1.2, 0.6]
    cl = [[0.1, 0.5, -0.3], [1.0, 0.0, 0.0], [-1.0, 2.0, 0.5], [0.3, 0.3, 0.3], [2.0, -1.0, 0.0]]
    loss = mod.SymmetryLoss(p=Table(lp), q=Table(lq), r=Table(lr), cmp=Table(cl))
    i = torch.arange(5)
    loss({"i": i})
    P, Q, R = (torch.sigmoid(torch.tensor(v, dtype=torch.float64)) for v in (lp, lq, lr))
    C = torch.softmax(torch.tensor(cl, dtype=torch.float64), -1)
    imp = 1 - P * (1 - Q)
    expected = {
        "not_imp": ((1 - imp) * (1 - R)).mean(),
        "imp_imp": (imp * (1 - R)).mean(),
        "right": (C[:, 0] * C[:, 1] * (1 - R)).mean(),
        "top_and": (-torch.log(P) + P * (1 - Q)).mean(),
    }
    for law, value in expected.items():
        assert abs(loss.terms[law].item() - value.item()) < 1e-6, law
    truth = lambda v: torch.tensor(v) > 0  # noqa: E731
    report = symspec.validate(spec, p=Table(lp), q=Table(lq), r=Table(lr), cmp=Table(cl), seed=0)
    p_, q_, r_ = truth(lp), truth(lq), truth(lr)
    assert report["not_imp"].passed == bool(((p_ & ~q_) <= r_).all())
    assert report["imp_imp"].passed == bool(((~p_ | q_) <= r_).all())


def test_reals_drawn_for_an_integer_batch_field_are_floating():
    """A real or tensor variable is drawn in the batch's dtype; an integer batch field (positions given as int64)
    made torch.randn raise NotImplementedError ('normal_kernel_cpu' not implemented for 'Long')."""
    mod = symspec.compile(
        symspec.loads(
            "spec ints\nmodel sorter(s: tensor[N]) -> tensor[N]\n"
            "law shift: forall c: real. sorter(s + c) == sorter(s) + c\n"
            "law lift: forall c: real(1, 2). sorter(s - c) == sorter(s) - c\n"
        )
    )
    s = torch.randint(0, 9, (16, 5))
    exact = mod.SymmetryLoss(sorter=lambda s: torch.sort(s, -1).values)
    exact({"s": s})
    assert exact.terms["shift"].item() < 1e-10 and exact.terms["lift"].item() < 1e-10
    broken = mod.SymmetryLoss(sorter=lambda s: torch.sort(s, -1).values ** 2)
    broken({"s": s})
    assert broken.terms["shift"].item() > 0.1 and broken.terms["lift"].item() > 0.1


def test_not_equal_on_a_class_output_hints_at_the_negated_event():
    src = (
        "spec ne\ndomain Rel = set(lt, eq, gt)\nmodel cmp(i: cyclic(4), j: cyclic(4)) -> class(Rel)\n"
        "law ne: cmp(i, j) != lt => cmp(j, i) == gt\n"
    )
    with pytest.raises(SpecError) as info:
        symspec.loads(src, file="ne.sym")
    text = str(info.value)
    assert "ne.sym:4:9: error: '!=' between model outputs gives no loss" in text
    assert "not (cmp(i, j) == lt)" in text


def test_real_interval_bounds_take_real_arithmetic():
    """'real(0, 0.5 * m)' was an error 'a bound of real(lo, hi) must be an integer, not 0.5' (real(0, 0.5) is
    accepted); + - * of numbers and params is computed in floats, and an infinite result is still an error."""
    spec = symspec.loads(
        "spec rb\nparam m = 4\nmodel f(x: tensor[N]) -> tensor[N]\n"
        "law s: forall k: real(-0.5 * m, 2.5 - m). f(k * x) == k * f(x)\n"
    )
    domain = spec.laws["s"].variables["k"].domain
    assert (domain.lo, domain.hi) == (-2.0, -1.5)
    mod = symspec.compile(spec)
    loss = mod.SymmetryLoss(f=lambda x: x * x, generator=torch.Generator().manual_seed(0))
    loss({"x": torch.ones(64, 3)})
    # f(k x) - k f(x) = k^2 - k per entry for x = 1, k uniform on [-2, -1.5): between 3.75 and 6
    assert 3.75**2 <= loss.terms["s"].item() <= 6.0**2
    with pytest.raises(SpecError, match="needs finite bounds"):
        symspec.loads("spec rb\nmodel f(x: tensor[N]) -> tensor[N]\nlaw s: forall k: real(0, 1e300 * 1e300). f(k * x) == f(x)\n")


SHIFTED = """
spec shifted
domain R = range(0, 3)
model f(a: R) -> class(3)
model p(a: R) -> bool
law l: f(a) + a == 0
law neg: -(f(a) + a) == -1
law e: p(a) => f(a) + a == 0
"""


def test_a_value_a_shifted_example_cannot_hold_is_masked_or_false():
    """'f(a) + a == 0': the union support 0..4 holds 0, but an example with a > 0 cannot: its cross-entropy was
    -log 0 = inf (the whole loss inf).  Such an example is masked, as a value outside a class output's support is,
    and skipped by validation; inside '=>' the event is false (probability 0)."""
    spec = symspec.loads(SHIFTED)
    mod = symspec.compile(spec)
    logits = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, 0.0], [0.0, 3.0, -2.0]], dtype=torch.float64)
    f = lambda a: logits[a]  # noqa: E731
    p = lambda a: torch.full(a.shape, 3.0, dtype=torch.float64)  # noqa: E731
    loss = mod.SymmetryLoss(f=f, p=p)
    a = torch.tensor([0, 1, 2, 0, 1])
    loss({"a": a})
    lp = logits.log_softmax(-1)
    assert abs(loss.terms["l"].item() - (-lp[0, 0]).item()) < 1e-9  # only a = 0 can reach 0
    # -(f(a) + a) == -1: f(a) + a == 1, reachable at a = 0 (class 1) and a = 1 (class 0)
    expected = -(lp[0, 1] + lp[1, 0] + lp[0, 1] + lp[1, 0]) / 4
    assert abs(loss.terms["neg"].item() - expected.item()) < 1e-9
    # p(a) => f(a) + a == 0: penalty P(p) (1 - P(f(a) + a = 0)), the event false where a > 0
    P = torch.sigmoid(torch.tensor(3.0, dtype=torch.float64))
    pen = torch.stack([P * (1 - lp[0, 0].exp()), P, P, P * (1 - lp[0, 0].exp()), P]).mean()
    assert abs(loss.terms["e"].item() - pen.item()) < 1e-9
    report = symspec.validate(spec, f=f, p=p, seed=0)
    assert report["l"].skipped > 0 and report["e"].skipped == 0


def test_a_cyclic_value_compared_with_a_constant_outside_it_is_an_error():
    """'when i == -1' on cyclic(5) passed the check and never held (the law covered no example, silently), while
    'f(-1)' wraps to 4; 'i != 7' always held."""
    for guard, col, message in (("i == -1", 28, "never holds"), ("i != 7", 28, "always holds")):
        src = f"spec g\nmodel f(i: cyclic(5)) -> class(cyclic(5))\nlaw a: f(i) == 0 when {guard}\n"
        with pytest.raises(SpecError) as info:
            symspec.loads(src, file="g.sym")
        assert f"g.sym:3:{col}: error:" in str(info.value) and message in str(info.value)
    symspec.loads("spec g\nmodel f(i: cyclic(5)) -> class(cyclic(5))\nlaw a: f(i) == 0 when i + 1 == 0\n")
