"""SO(n)/O(n) samplers refuse inputs they would silently misread (as the non-compact factors do)."""

from __future__ import annotations

import pytest
import torch

import symspec

SPEC = """
domain C = tensor[N, 3]
domain M = tensor[3, 3]
model f(x: C) -> real
model h(m: M) -> real
action O3 on M by matrix(dims=(-2, -1))
group O3 = O(3)
law inv: forall g: SO(3). f(g . x) == f(x)
law rep: forall g: O3. h(g . m) == h(m)
"""


@pytest.fixture(scope="module")
def mod():
    return symspec.compile(symspec.loads(SPEC, "matrix_inputs.sym"))


def test_integer_tensors_are_refused_not_truncated(mod):
    g = mod.SAMPLER_inv_g.draw(4, torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="int64"):
        mod.SAMPLER_inv_g.act(g, "C", torch.randint(0, 5, (4, 6, 3)))


@pytest.mark.parametrize("shape", [(4, 3), (4, 6, 4)])
def test_a_batch_without_the_domain_rank_or_size_is_refused(mod, shape):
    g = mod.SAMPLER_inv_g.draw(4, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"got a tensor of shape"):
        mod.SAMPLER_inv_g.act(g, "C", torch.randn(shape))


def test_tensor_representation_checks_every_listed_dim(mod):
    g = mod.SAMPLER_rep_g.draw(2, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"got a tensor of shape \[2, 3, 4\]"):
        mod.SAMPLER_rep_g.act(g, "M", torch.randn(2, 3, 4))
    m = torch.randn(2, 3, 3, dtype=torch.float64)
    out = mod.SAMPLER_rep_g.act(g, "M", m)
    back = mod.SAMPLER_rep_g.act_inverse(g, "M", out)
    assert out.dtype == torch.float64 and torch.allclose(back, m, atol=1e-12)


def test_an_empty_batch_gives_zero_not_nan_nor_a_crash(mod):
    """Every term over no examples is 0 (docs/compile.md: a NaN would spread through an all-reduce); the NaN check
    must not crash on it."""
    loss = mod.SymmetryLoss(models={"f": lambda x: x.norm(dim=-1).sum(-1), "h": lambda m: m.pow(2).sum((-1, -2))})
    out = loss({"x": torch.randn(0, 5, 3), "m": torch.randn(0, 3, 3)})
    assert out.item() == 0.0 and all(t.item() == 0.0 for t in loss.terms.values())
