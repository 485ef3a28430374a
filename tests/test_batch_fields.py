"""SymmetryLoss checks the batch fields its laws read against their domains (before any table lookup or call).

Before: a -1 read a table from its end, ``(a + k) % p`` folded 9 into 0..6, a float field reached the model and a
``[n, 1]`` field broadcast against ``[n]`` draws to ``[n, n]``: losses computed on values no law speaks about.
"""

from __future__ import annotations

import pytest
import torch

import symspec
from symspec.errors import BatchError

P = 7


@pytest.fixture(scope="module")
def modular():
    return symspec.compile(symspec.load("examples/modular_addition.sym", params={"p": P}))


class _Add(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.out = torch.nn.Embedding(64, 8), torch.nn.Linear(16, P)  # takes values past p too

    def forward(self, a, b):
        return self.out(torch.cat([self.embed(a.reshape(-1)), self.embed(b.reshape(-1))], -1))


def _loss(modular, a, b):
    loss = modular.SymmetryLoss(add=_Add())
    return loss({"a": a, "b": b}, generator=torch.Generator().manual_seed(0))


def test_a_value_past_the_domain(modular):
    a = torch.tensor([0, 3, 9, 2, 12])
    with pytest.raises(BatchError) as info:
        _loss(modular, a, torch.zeros(5, dtype=torch.long))
    assert str(info.value) == "batch field 'a' holds 9 at row 2 (2 of 5 rows outside), outside its domain Zp (0..6)"


def test_a_negative_value(modular):
    with pytest.raises(BatchError, match=r"batch field 'b' holds -1 at row 0 \(1 of 3 rows outside\)"):
        _loss(modular, torch.zeros(3, dtype=torch.long), torch.tensor([-1, 0, 1]))


def test_floats_where_integers_go(modular):
    with pytest.raises(BatchError) as info:
        _loss(modular, torch.tensor([1.0, 2.0]), torch.tensor([1, 2]))
    assert str(info.value) == (
        "batch field 'a' holds torch.float32 values; its domain Zp (0..6) takes integers: pass an integer tensor (x.long())"
    )


def test_a_column_shaped_field(modular):
    with pytest.raises(BatchError, match=r"a batch of Zp is \[batch\]; got a tensor of shape \[4, 1\] \(batch field 'a'\)"):
        _loss(modular, torch.zeros(4, 1, dtype=torch.long), torch.zeros(4, dtype=torch.long))


def test_fields_of_different_lengths(modular):
    with pytest.raises(BatchError, match="batch field 'b' has 3 rows, field 'a' has 4"):
        _loss(modular, torch.zeros(4, dtype=torch.long), torch.zeros(3, dtype=torch.long))


def test_a_tensor_field_of_the_wrong_shape():
    mod = symspec.compile(symspec.load("examples/image_d4.sym", params={"size": 5}))
    name = next(iter(mod.FIELDS))
    loss = mod.SymmetryLoss({m: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(4)) for m in mod.MODELS})
    with pytest.raises(
        BatchError, match=rf"a batch of Image is \[batch, 5, 5\]; got a tensor of shape \[2, 1, 5, 5\] \(batch field '{name}'\)"
    ):
        loss({name: torch.randn(2, 1, 5, 5)}, generator=torch.Generator())


def test_valid_batches_pass_and_the_check_can_be_switched_off(modular):
    every = torch.arange(P)
    assert _loss(modular, every, every.flip(0)).item() > 0
    assert _loss(modular, every.to(torch.int32), every.to(torch.int32)).item() > 0  # int32 too
    loss = modular.SymmetryLoss(add=_Add())
    loss.check_inputs = False
    assert torch.isfinite(loss({"a": torch.tensor([9, 3]), "b": torch.tensor([1, 2])}, generator=torch.Generator()))


def test_bool_fields_of_a_bool_domain():
    mod = symspec.compile(symspec.loads("model f(a: bool, b: bool) -> bool\nlaw s: f(a, b) == f(b, a)\n", "bools.sym"))
    loss = mod.SymmetryLoss(f=lambda a, b: (a.float() - b.float()) ** 2)
    assert loss({"a": torch.tensor([True, False]), "b": torch.tensor([False, False])}).item() == 0.0
    with pytest.raises(BatchError, match="batch field 'a' holds 2 at row 0"):
        loss({"a": torch.tensor([2, 0]), "b": torch.tensor([0, 1])})


def test_a_symbolic_output_dim_takes_the_size_the_inputs_give():
    """forces(x: tensor[N, 3]) -> tensor[N, 3] (called on 2 x 4 cases: samples 2): [n, 9, 3] for inputs of 8 points passed the shape check (N was
    any size) and failed later, inside the law's arithmetic, naming no model."""
    from symspec.errors import ModelError

    mod = symspec.compile(symspec.load("examples/point_cloud.sym"))
    pad = lambda x: torch.cat([x, x[:, :1]], 1)  # noqa: E731 - one point too many
    loss = mod.SymmetryLoss(energy=lambda x: x.pow(2).sum((1, 2)), forces=pad)
    with pytest.raises(ModelError) as info:
        loss({"x": torch.randn(4, 8, 3)}, generator=torch.Generator().manual_seed(0))
    assert "model 'forces' returned shape (8, 9, 3) for 8 inputs; expected (8, N, 3) (its inputs give N = 8)" in str(info.value)
    good = mod.SymmetryLoss(energy=lambda x: x.pow(2).sum((1, 2)), forces=lambda x: 2 * x)
    assert torch.isfinite(good({"x": torch.randn(4, 8, 3)}, generator=torch.Generator().manual_seed(0)))


def test_augment_checks_the_models_inputs(modular):
    """augment's shifts fold a -1 or a 9 into 0..6: the inputs are checked first, as the loss checks them."""
    batch = {"a": torch.tensor([1, 2, -1]), "b": torch.tensor([0, 1, 2]), "target": torch.tensor([1, 3, 1])}
    with pytest.raises(BatchError, match=r"batch field 'a' holds -1 at row 2 \(1 of 3 rows outside\)"):
        modular.augment(batch, generator=torch.Generator())
    batch["a"] = torch.tensor([1, 2, 6])
    out = modular.augment(batch, generator=torch.Generator().manual_seed(0))
    assert torch.equal((out["a"] + out["b"]) % P, out["target"])


def test_lipschitz_leaves_a_one_value_input_in_place():
    """range(0, 1) has no neighbour: the prior moved it to -1 (found by the well-formed spec fuzzer)."""
    spec = symspec.loads("model f(a: range(0, 1), b: cyclic(5)) -> real\nprior smooth: lipschitz(f)\n", "one.sym")
    mod = symspec.compile(spec)
    seen = []

    def f(a, b):
        seen.append(a)
        return (b.float() - 2) ** 2

    loss = mod.SymmetryLoss(f=f)
    value = loss({"a": torch.zeros(64, dtype=torch.long), "b": torch.arange(64) % 5}, generator=torch.Generator())
    assert torch.isfinite(value) and value.item() > 0
    assert all(bool((a == 0).all()) for a in seen)
