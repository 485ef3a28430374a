"""A product of products is the product of all their factors: (A x B) x C compiles and acts as A x B x C."""

from __future__ import annotations

import pytest
import torch

import symspec

SPECS = {
    "named inner product": """
domain C = tensor[N, 3]
model f(x: C) -> real
model moment(x: C) -> tensor[3]
group P = symmetric(N) x SO(3)
group Q = P x cyclic(2)
law inv: forall g: Q. f(g . x) == f(x)
law eq: forall g: Q. moment(g . x) == g . moment(x)
""",
    "declared after use": """
domain C = tensor[N, 3]
model f(x: C) -> real
model moment(x: C) -> tensor[3]
group Q = (cyclic(2) x P)
group P = symmetric(N) x O(3)
law inv: forall g: Q. f(g . x) == f(x)
law eq: forall g: Q. moment(g . x) == g . moment(x)
""",
}


def f_exact(x):
    return x.norm(dim=-1).sum(-1)


def f_broken(x):
    return x[:, 0].norm(dim=-1) + x[:, :, 0].sum(-1)


def moment_exact(x):
    return x.sum(1)


def moment_broken(x):
    return x[:, 0]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_nested_product_validates_exact_and_fails_broken(name):
    spec = symspec.loads(SPECS[name], "nested.sym")
    q = spec.ir.group(spec.groups["Q"])
    assert len(q.factors) == 3 and all(not f.factors for f in q.factors), "factors are flattened to leaves"
    assert symspec.validate(spec, f=f_exact, moment=moment_exact, samples=200, dims={"N": 5}).passed
    report = symspec.validate(spec, f=f_broken, moment=moment_broken, samples=200, dims={"N": 5})
    assert {law.name for law in report.laws if not law.passed} == {"inv", "eq"}


def test_nested_product_loss_is_zero_for_exact_models():
    mod = symspec.compile(symspec.loads(SPECS["named inner product"], "nested.sym"))
    x = torch.randn(16, 5, 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    exact = mod.SymmetryLoss(models={"f": f_exact, "moment": moment_exact}, generator=g)({"x": x})
    broken = mod.SymmetryLoss(models={"f": f_broken, "moment": moment_broken}, generator=g)({"x": x})
    assert float(exact) < 1e-20 and float(broken) > 1e-2
