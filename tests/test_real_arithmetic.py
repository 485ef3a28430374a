"""Arithmetic on reals and tensors in laws (issue 13, item 4): typing with torch broadcasting, drawing real and
tensor variables, the loss, augment and validation on exact and broken models."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

import symspec
from symspec.analysis.domains import RealDomain, Tensor
from symspec.analysis.typerules import broadcast_dims
from symspec.errors import SpecError

SPEC = ROOT / "tests" / "specs" / "valid" / "arith_sorting_energy.sym"
CONSTANTS = ROOT / "tests" / "specs" / "valid" / "arith_constants.sym"


class Sorter(torch.nn.Module):
    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, s):
        out = torch.sort(s, dim=-1).values
        return out**2 if self.broken else out


class Energy(torch.nn.Module):
    """``pairwise``: the sum of pairwise distances (translation invariant, degree 1); ``squares``: of their squares
    (translation invariant, degree 2); ``norms``: the sum of the points' norms (degree 1, not translation invariant)."""

    def __init__(self, kind: str = "pairwise"):
        super().__init__()
        self.kind = kind

    def forward(self, x):
        if self.kind == "norms":
            return x.norm(dim=-1).sum(-1)
        diff = x.unsqueeze(-2) - x.unsqueeze(-3)
        squared = diff.pow(2).sum(-1)
        if self.kind == "squares":
            return squared.sum((-1, -2)) / 2
        return squared.clamp_min(1e-12).sqrt().sum((-1, -2)) / 2


def _validate(spec, **models):
    return symspec.validate(spec, samples=256, seed=0, dims={"N": 5}, **models)


def test_the_laws_type_and_plan_their_variables():
    spec = symspec.load(SPEC)
    body = spec.laws["translate"].body
    assert body.operands[0].args[0].ty.domain == Tensor(("N", 3))  # x + t: tensor[N, 3] by broadcasting
    assert spec.laws["scale"].variables["k"].domain == RealDomain(0.5, 2)
    plans = {name: {v: str(p.source) for v, p in ir.variables.items()} for name, ir in spec.ir.laws.items()}
    assert plans == {
        "shift": {"c": "normal", "s": "batch"},
        "translate": {"t": "normal", "x": "batch"},
        "scale": {"k": "uniform", "x": "batch"},
    }


def test_exact_models_have_zero_loss_and_broken_ones_do_not():
    mod = symspec.compile(symspec.load(SPEC))
    batch = {"s": torch.randn(64, 7, generator=torch.Generator().manual_seed(1)), "x": torch.randn(64, 5, 3)}
    exact = mod.SymmetryLoss(sorter=Sorter(), energy=Energy())
    exact(batch)
    for law in ("shift", "translate", "scale"):
        assert exact.terms[law].item() < 1e-8, law
    broken = mod.SymmetryLoss(sorter=Sorter(broken=True), energy=Energy("norms"))
    broken(batch)
    assert broken.terms["shift"].item() > 0.1
    assert broken.terms["translate"].item() > 0.1
    squares = mod.SymmetryLoss(sorter=Sorter(), energy=Energy("squares"))
    squares(batch)
    assert squares.terms["translate"].item() < 1e-6 and squares.terms["scale"].item() > 0.1


def test_validation_passes_exact_models_and_fails_broken_ones():
    spec = symspec.load(SPEC)
    good = _validate(spec, sorter=Sorter(), energy=Energy())
    assert good.passed, good.render()
    bad = _validate(spec, sorter=Sorter(broken=True), energy=Energy("norms"))
    assert not bad["shift"].passed and not bad["translate"].passed and bad["scale"].passed
    degree2 = _validate(spec, sorter=Sorter(), energy=Energy("squares"))
    assert degree2["translate"].passed and not degree2["scale"].passed


def test_augment_moves_inputs_and_targets_per_example():
    mod = symspec.compile(symspec.load(SPEC))
    s = torch.randn(32, 6)
    out = mod.augment({"s": s, "target": torch.sort(s, -1).values}, torch.Generator().manual_seed(0), model="sorter")
    assert not torch.allclose(out["s"], s)
    assert torch.allclose(torch.sort(out["s"], -1).values, out["target"], atol=1e-6)
    x = torch.randn(16, 5, 3)
    moved = mod.augment({"x": x, "target": Energy()(x)}, torch.Generator().manual_seed(0), model="energy")
    shift = moved["x"] - x  # one vector per example, the same for every row
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)
    assert torch.allclose(Energy()(moved["x"]), moved["target"], atol=1e-4)


def test_constants_negation_and_fixed_shapes():
    spec = symspec.load(CONSTANTS)

    class Total(torch.nn.Module):
        def forward(self, v):
            return v.sum(-2)

    class Max(torch.nn.Module):  # not linear: fails flip_sum's shift and negate
        def forward(self, v):
            return v.max(-2).values

    good = _validate(spec, sorter=Sorter(), total=Total())
    assert good.passed, good.render()
    bad = _validate(spec, sorter=Sorter(broken=True), total=Max())
    assert not any(bad[law].passed for law in ("double", "offset", "negate"))
    assert bad["flip_sum"].passed is False


def test_draws_follow_the_generator_and_dtype():
    mod = symspec.compile(symspec.load(SPEC))
    batch = {"s": torch.randn(8, 4, dtype=torch.float64), "x": torch.randn(8, 5, 3, dtype=torch.float64)}
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(x.dtype)
            return Energy()(x)

    loss = mod.SymmetryLoss(sorter=Sorter(), energy=Spy())
    loss.generator = torch.Generator().manual_seed(3)
    first = loss(batch).item()
    loss.generator = torch.Generator().manual_seed(3)
    assert loss(batch).item() == first
    assert set(seen) == {torch.float64}


@pytest.mark.parametrize(
    ("law", "message"),
    [
        ("forall t: tensor[4]. energy(x + t) == energy(x)", "cannot broadcast tensor[N, 3] with tensor[4] in '+'"),
        ("forall t: tensor[M, 3]. energy(x + t) == energy(x)", "cannot broadcast tensor[N, 3] with tensor[M, 3] in '+'"),
        ("forall k: real(2, 1). energy(k * x) == energy(x)", "real(2, 1) is empty"),
        ("vec(x) == cls(a) + vec(x)", "'+' cannot combine a distribution over cyclic(3) with a tensor output of tensor[3]"),
        ("energy(x) == cls(a) + energy(x)", "cannot mix a distribution over cyclic(3) and a real output in '+'"),
    ],
)
def test_check_errors(law, message):
    text = (
        "model energy(x: tensor[N, 3]) -> real\nmodel vec(x: tensor[N, 3]) -> tensor[3]\n"
        "model cls(a: cyclic(3)) -> class(cyclic(3))\nlaw l: " + law + "\n"
    )
    with pytest.raises(SpecError) as err:
        symspec.loads(text, "bad.sym")
    assert message in str(err.value)


def test_a_drawn_tensor_with_an_unsized_symbolic_dim_is_a_compile_error():
    text = "model g(y: tensor[M]) -> tensor[M]\nlaw l: forall t: tensor[M], y2: tensor[M]. g(t) == g(y2)\n"
    with pytest.raises(SpecError, match="no tensor of the law's batch has the dim M"):
        symspec.compile(symspec.loads(text, "unsized.sym"))


DIM = st.one_of(st.integers(1, 4), st.sampled_from(["N", "M"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(DIM, max_size=4), st.lists(DIM, max_size=4))
def test_broadcast_dims_agrees_with_torch(a, b):
    """The checker's broadcasting is torch's on fixed sizes; a symbolic dim matches only itself or 1."""
    got = broadcast_dims(tuple(a), tuple(b))
    sizes = {"N": 5, "M": 6}
    ta, tb = [sizes.get(d, d) for d in a], [sizes.get(d, d) for d in b]
    try:
        torch_shape = tuple(torch.broadcast_shapes(tuple(ta), tuple(tb)))
    except RuntimeError:
        torch_shape = None
    if got is None:
        clash = any(x != y and x != 1 and y != 1 for x, y in zip(reversed(a), reversed(b)))
        assert clash
    else:
        assert torch_shape == tuple(sizes.get(d, d) for d in got)
        assert broadcast_dims(tuple(b), tuple(a)) == got  # symmetric


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.lists(st.integers(1, 3), min_size=1, max_size=3))
def test_the_type_checker_broadcasts_tensor_arithmetic(a, b):
    dims = lambda d: ", ".join(map(str, d))  # noqa: E731
    text = (
        f"model f(x: tensor[{dims(a)}]) -> real\nmodel g(y: tensor[{dims(b)}]) -> real\n"
        f"law l: forall u: tensor[{dims(a)}], v: tensor[{dims(b)}]. f(u) + g(v) == f(u) * g(v) + 0\n"
    )
    symspec.loads(text, "ok.sym")  # reals of any tensors: no broadcasting involved
    try:
        expected = tuple(torch.broadcast_shapes(tuple(a), tuple(b)))
    except RuntimeError:
        expected = None
    law = f"model h(x: tensor[{dims(a)}], y: tensor[{dims(b)}]) -> real\nlaw l: h(x, y) == h(x, y) + 0\n"
    symspec.loads(law, "ok.sym")
    text = f"model h(x: tensor[{dims(a)}], y: tensor[{dims(b)}]) -> tensor[{dims(a)}]\nlaw l: h(x, y) == h(x, y) + y\n"
    if expected is None:
        with pytest.raises(SpecError, match="cannot broadcast"):
            symspec.loads(text, "bad.sym")
    elif expected == tuple(a):
        symspec.loads(text, "ok.sym")
    else:
        with pytest.raises(SpecError, match="cannot compare"):
            symspec.loads(text, "bad.sym")


def test_a_bounded_real_input_is_drawn_from_its_interval_in_validation():
    """A model input over real(0, 1) is validated on [0, 1) (it was drawn standard normal: x * x <= 1 then failed)."""
    spec = symspec.loads("model sq(x: real(0, 1)) -> real\nlaw unit: sq(x) <= 1.0\n", "bounded.sym")

    class Square(torch.nn.Module):
        def forward(self, x):
            return x * x

    report = symspec.validate(spec, sq=Square(), seed=0)
    assert report.passed, report.render()
