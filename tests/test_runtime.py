"""symspec.runtime kernels: values against direct formulas, numerics, gradients, samplers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symspec import runtime as rt

DTYPES = [torch.float32, torch.float64]


def logits_strategy(n_max=12):
    return st.integers(1, 6).flatmap(
        lambda b: st.integers(2, n_max).flatmap(
            lambda n: st.lists(st.floats(-30, 30), min_size=b * n, max_size=b * n).map(
                lambda xs: torch.tensor(xs, dtype=torch.float64).reshape(b, n)
            )
        )
    )


@settings(max_examples=200, deadline=None)
@given(logits_strategy(), st.data())
def test_sym_kl_matches_the_definition(a, data):
    b = a + torch.tensor(
        data.draw(st.lists(st.floats(-5, 5), min_size=a.numel(), max_size=a.numel())), dtype=torch.float64
    ).reshape(a.shape)
    p, q = torch.softmax(a, -1), torch.softmax(b, -1)
    kl = lambda x, y: (x * (x.log() - y.log())).sum(-1)  # noqa: E731
    expected = (kl(p, q) + kl(q, p)) / 2
    got = rt.sym_kl_logits(a, b)
    assert torch.allclose(got, expected, atol=1e-9, rtol=1e-7)
    assert torch.allclose(rt.sym_kl_logits(b, a), got)  # symmetric
    assert (got >= -1e-12).all()
    assert torch.allclose(rt.sym_kl_logits(a, a + 3.0), torch.zeros_like(got), atol=1e-12)  # shift-invariant, zero on equal


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_sym_kl_finite_for_extreme_logits_in_every_dtype(dtype):
    a = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=dtype)
    b = torch.tensor([[-1e4, 1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=dtype)
    value = rt.sym_kl_logits(a, b)
    assert value.dtype == torch.promote_types(dtype, torch.float32) and torch.isfinite(value).all()
    assert value[0] > 1e3 and abs(float(value[1])) < 1e-2
    assert torch.isfinite(rt.bernoulli_sym_kl(a[:, 0], b[:, 0])).all()


def test_gradients_flow_through_both_sides():
    a = torch.randn(4, 5, requires_grad=True)
    b = torch.randn(4, 5, requires_grad=True)
    rt.sym_kl_logits(a, b).sum().backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


@settings(max_examples=100, deadline=None)
@given(st.floats(-20, 20), st.floats(-20, 20))
def test_bernoulli_sym_kl(x, y):
    p, q = torch.sigmoid(torch.tensor(x, dtype=torch.float64)), torch.sigmoid(torch.tensor(y, dtype=torch.float64))
    kl = lambda a, b: a * torch.log(a / b) + (1 - a) * torch.log((1 - a) / (1 - b))  # noqa: E731
    expected = (kl(p, q) + kl(q, p)) / 2
    got = rt.bernoulli_sym_kl(torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))
    assert torch.allclose(got, expected, atol=1e-9, rtol=1e-6)


def test_cross_entropy_to_constant_and_per_example():
    logits = torch.randn(6, 7, dtype=torch.float64)
    ref = torch.nn.functional.cross_entropy(logits, torch.full((6,), 3), reduction="none")
    assert torch.allclose(rt.cross_entropy_to(logits, 3), ref)
    target = torch.arange(6) % 7
    assert torch.allclose(
        rt.cross_entropy_to(logits, target), torch.nn.functional.cross_entropy(logits, target, reduction="none")
    )


def test_squared_hinge_and_expectation():
    assert torch.equal(rt.squared_hinge(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 1.0])), torch.tensor([0.0, 4.0]))
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    assert torch.allclose(rt.expectation(logits, torch.arange(4)), torch.tensor([1.5]))


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 9), st.integers(1, 4), st.data())
def test_pushforward_moves_probability_mass(n, batch, data):
    perm = torch.tensor(data.draw(st.permutations(list(range(n)))))
    logp = torch.log_softmax(torch.randn(batch, n, dtype=torch.float64), -1)
    q = rt.pushforward(logp, perm).exp()
    p = logp.exp()
    for i in range(n):
        assert torch.allclose(q[:, perm[i]], p[:, i])
    per_example = torch.stack([perm] * batch)
    assert torch.allclose(rt.pushforward(logp, per_example), rt.pushforward(logp, perm))


def test_shift_pushforward_is_a_roll():
    logp = torch.log_softmax(torch.randn(3, 5), -1)
    assert torch.allclose(rt.pushforward(logp, rt.shift_table(5, 2)), torch.roll(logp, 2, -1))
    ks = torch.tensor([0, 1, 4])
    rolled = rt.pushforward(logp, rt.shift_table(5, ks))
    for i, k in enumerate(ks.tolist()):
        assert torch.allclose(rolled[i], torch.roll(logp[i], k))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 5))
def test_sum_distribution_is_the_convolution(n, m, batch):
    p = torch.softmax(torch.randn(batch, n, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(batch, m, dtype=torch.float64), -1)
    got = rt.sum_distribution(p.log(), q.log()).exp()
    for b in range(batch):
        assert np.allclose(got[b].numpy(), np.convolve(p[b].numpy(), q[b].numpy()), atol=1e-12)


def test_soft_logic():
    a, b = torch.tensor([0.0, 1.0, 1.0, 0.3]), torch.tensor([1.0, 0.0, 1.0, 0.5])
    assert torch.allclose(rt.implication_penalty(a, b), torch.tensor([0.0, 1.0, 0.0, 0.15]))
    assert torch.allclose(rt.soft_or(a, b), a + b - a * b) and torch.allclose(rt.soft_not(a), 1 - a)
    assert torch.allclose(rt.sigmoid(rt.logit(torch.tensor([0.2, 0.7]))), torch.tensor([0.2, 0.7]))


@pytest.mark.parametrize("special", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_haar_matrices_are_orthogonal_with_the_right_determinant(special, dtype):
    g = torch.Generator().manual_seed(0)
    q = rt.haar_orthogonal(256, 3, special=special, generator=g, dtype=dtype)
    eye = torch.eye(3, dtype=dtype).expand(256, 3, 3)
    assert q.dtype == dtype and torch.allclose(q @ q.transpose(-1, -2), eye, atol=1e-5)
    det = torch.linalg.det(q.double())
    if special:
        assert torch.allclose(det, torch.ones(256, dtype=torch.float64), atol=1e-5)
    else:
        assert (det > 0).any() and (det < 0).any()


def test_haar_is_uniform_enough():
    # the mean of a Haar-random rotation is 0; the first column is uniform on the sphere
    q = rt.haar_orthogonal(20000, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert q.mean(0).abs().max() < 0.03
    assert abs(float((q[:, 2, 0] ** 2).mean()) - 1 / 3) < 0.01


def test_samplers_are_reproducible_with_a_generator():
    draw = lambda s: rt.random_permutations(8, 6, generator=torch.Generator().manual_seed(s))  # noqa: E731
    assert torch.equal(draw(3), draw(3)) and not torch.equal(draw(3), draw(4))
    assert sorted(draw(3)[0].tolist()) == list(range(6))


def test_interval_sampling_stays_inside_and_masks_empty_intervals():
    low = torch.tensor([0, 5, 3, 7])
    high = torch.tensor([9, 5, 2, 8])
    values, valid = rt.interval_int(low, high, generator=torch.Generator().manual_seed(0))
    assert valid.tolist() == [True, True, False, True]
    assert ((values >= low) & (values <= high))[valid].all()


def test_between_nodes_on_a_path_graph():
    n = 6
    idx = torch.arange(n)
    distances = (idx[:, None] - idx[None, :]).abs()
    u, v = torch.tensor([0, 5, 2, 3]), torch.tensor([4, 1, 2, 3])
    w = rt.between_nodes(distances, u, v, generator=torch.Generator().manual_seed(0))
    lo, hi = torch.minimum(u, v), torch.maximum(u, v)
    assert ((w >= lo) & (w <= hi)).all()


def test_rejection_sampling_reports_its_acceptance_rate():
    g = torch.Generator().manual_seed(0)
    values, ok, rate = rt.rejection(lambda k: torch.randint(0, 10, (k,), generator=g), lambda x, i: x < 5, 1000)
    assert ok.all() and (values < 5).all() and 0.4 < rate < 0.6


# ---- group elements as index tables ------------------------------------------------------


def _d4_generators(size: int) -> torch.Tensor:
    """rot90 and flip of a size x size grid as push maps, from symspec's analysis (numpy)."""
    import symspec

    spec = symspec.loads(
        f"domain I = tensor[{size}, {size}]\ngroup D = <r, s | r^4, s^2, (s r)^2>\naction D on I {{ r -> rot90(dims=(0, 1)), s -> flip(dim=1) }}\n"
    )
    act = spec.ir.groups["D"].actions["I"]
    return torch.stack([torch.as_tensor(act.perms[g].copy()) for g in ("r", "s")])


def test_element_table_of_d4_has_eight_rows_and_matches_torch():
    gens = _d4_generators(4)
    table = element_table = rt.element_table(gens)
    assert element_table.shape == (8, 16) and torch.equal(table[0], torch.arange(16))
    x = torch.arange(16.0).reshape(1, 4, 4)
    images = {tuple(rt.act_on_positions(x, row, 2).flatten().tolist()) for row in table}
    expected = set()
    for k in range(4):
        r = torch.rot90(x, k, (1, 2))
        expected |= {tuple(r.flatten().tolist()), tuple(torch.flip(r, (2,)).flatten().tolist())}
    assert images == expected


def test_act_on_positions_rot90_equals_torch_rot90_per_example():
    gens = _d4_generators(5)
    x = torch.randn(3, 2, 5, 5, dtype=torch.float64)  # batch, channels, H, W
    push = torch.stack([gens[0], torch.arange(25), gens[1]])
    y = rt.act_on_positions(x, push, 2)
    assert torch.equal(y[0], torch.rot90(x[0], 1, (1, 2)))
    assert torch.equal(y[1], x[1])
    assert torch.equal(y[2], torch.flip(x[2], (2,)))


def test_random_words_stay_in_the_group():
    gens = _d4_generators(3)
    table = {tuple(row.tolist()) for row in rt.element_table(gens)}
    words = rt.random_words(gens, 200, 12, generator=torch.Generator().manual_seed(0))
    assert {tuple(w.tolist()) for w in words} <= table
    assert len({tuple(w.tolist()) for w in words}) == 8  # long words reach every element


def test_random_words_build_at_most_pool_walks_per_call():
    gens = _d4_generators(3)
    table = {tuple(row.tolist()) for row in rt.element_table(gens)}
    words = rt.random_words(gens, 5000, 12, generator=torch.Generator().manual_seed(0), pool=16)
    assert words.shape == (5000, 9) and {tuple(w.tolist()) for w in words} <= table
    n = 40  # on symmetric(40) sixteen walks give sixteen distinct elements, shared by the 5000 examples
    cycle, swap = torch.roll(torch.arange(n), 1), torch.arange(n)
    swap[[0, 1]] = swap[[1, 0]]
    many = rt.random_words(torch.stack([cycle, swap]), 5000, 64, generator=torch.Generator().manual_seed(0), pool=16)
    assert len({tuple(w.tolist()) for w in many}) <= 16 and (many.sort(1).values == torch.arange(n)).all()


def test_act_on_values_and_inverse():
    push = torch.tensor([[1, 2, 0], [0, 2, 1]])
    values = torch.tensor([0, 1])
    assert rt.act_on_values(values, push).tolist() == [1, 2]
    assert torch.equal(rt.compose(push, rt.invert(push)), torch.arange(3).expand(2, 3))


def test_element_table_refuses_huge_groups():
    n = 12
    cycle = torch.roll(torch.arange(n), 1)
    swap = torch.arange(n)
    swap[[0, 1]] = swap[[1, 0]]
    with pytest.raises(ValueError, match="random words"):
        rt.element_table(torch.stack([cycle, swap]), max_order=1000)


def test_runtime_exports_every_kernel():
    import symspec.runtime.actions as a
    import symspec.runtime.arith as ar
    import symspec.runtime.breaking as br
    import symspec.runtime.calls as c
    import symspec.runtime.checks as ch
    import symspec.runtime.conv as co
    import symspec.runtime.descriptors as de
    import symspec.runtime.distributions as d
    import symspec.runtime.divergences as v
    import symspec.runtime.fields as fi
    import symspec.runtime.groups as gr
    import symspec.runtime.layers as la
    import symspec.runtime.logic as lo
    import symspec.runtime.physics as ph
    import symspec.runtime.priors as p
    import symspec.runtime.sampling as s
    import symspec.runtime.steerable as st
    import symspec.runtime.tables as t

    names = set().union(*(set(m.__all__) for m in (a, ar, br, c, ch, co, de, d, v, fi, gr, la, lo, ph, p, s, st, t)))
    assert names == set(rt.__all__) and all(hasattr(rt, n) for n in names)
    assert len(rt.__all__) == len(set(rt.__all__)), "two submodules export the same name"


@pytest.mark.parametrize("fused", [False, True])
def test_an_empty_batch_gives_a_zero_loss_with_zero_gradients(fused):
    """A mean over 0 examples was NaN for every unguarded law (and an all-reduce would spread it to every rank)."""
    import symspec

    mod = symspec.compile(symspec.load("examples/modular_addition.sym", params={"p": 7}))

    class Add(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.out = torch.nn.Embedding(7, 8), torch.nn.Linear(16, 7)

        def forward(self, a, b):
            return self.out(torch.cat([self.embed(a), self.embed(b)], -1))

    model = Add()
    loss = mod.SymmetryLoss(add=model, fused=fused)
    empty = torch.zeros(0, dtype=torch.long)
    value = loss({"a": empty, "b": empty}, generator=torch.Generator().manual_seed(0))
    value.backward()
    assert value.item() == 0.0 and set(loss.terms) == {"commutes", "shift", "assoc"}
    assert all(t.item() == 0.0 for t in loss.terms.values())
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    full = torch.arange(7)
    assert loss({"a": full, "b": full.flip(0)}, generator=torch.Generator().manual_seed(0)).item() > 0
