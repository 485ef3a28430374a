"""Finite groups with element tables act on domain values by indexing the tables (element, value) directly;
the value, inverse and class-distribution paths must agree with each other and with the tables."""

from __future__ import annotations

import torch

import symspec
from symspec.runtime.groups import GroupSampler

LO_SPEC_FACTOR = {
    "kind": "finite",
    "name": "R",
    "order": 4,
    "on": {"V": {"n": 4, "lo": 3, "ops": {"r": [["shift", {"k": 1}]]}}},
}


def _sampler(path: str, name: str) -> GroupSampler:
    return getattr(symspec.compile(symspec.load(path)), name)


def _agree(sampler: GroupSampler, key: str, n: int, lo: int) -> None:
    g = torch.Generator().manual_seed(0)
    elements = sampler.every(repeat=50)
    m = elements[0].shape[0]
    x = torch.randint(lo, lo + n, (m,), generator=g)
    y = sampler.act(elements, key, x)
    assert y.dtype == x.dtype and ((y >= lo) & (y < lo + n)).all()
    assert torch.equal(sampler.act_inverse(elements, key, y), x)
    # each element moves the values by a permutation: distinct values stay distinct
    for e in range(sampler.order):
        rows = elements[0] == e
        if rows.any():
            column = torch.arange(lo, lo + n)
            moved = sampler.act(sampler.pick(torch.full((n,), e)), key, column)
            assert sorted(moved.tolist()) == column.tolist()
    # a class distribution is moved as its classes are: one-hot of x goes to one-hot of g . x
    logp = torch.full((m, n), -30.0, dtype=torch.float64)
    logp[torch.arange(m), x - lo] = 0.0
    moved = sampler.act(elements, key, logp, kind="dist")
    assert torch.equal(moved.argmax(-1) + lo, y)
    back = sampler.act_inverse(elements, key, moved, kind="dist")
    assert torch.equal(back, logp)


def test_automorphisms_on_nodes():
    sampler = _sampler("examples/graph_distance.sym", "SAMPLER_automorphism_g")
    assert sampler.order == 8
    _agree(sampler, "Node", 49, 0)


def test_values_with_a_low_end():
    sampler = GroupSampler("R", [LO_SPEC_FACTOR])
    assert sampler.order == 4
    _agree(sampler, "V", 4, 3)
    r = sampler.pick(torch.tensor([1, 1, 1, 1]))  # one generator step: x -> x + 1 on 3..6, wrapping
    assert sampler.act(r, "V", torch.tensor([3, 4, 5, 6])).tolist() in ([4, 5, 6, 3], [6, 3, 4, 5])
