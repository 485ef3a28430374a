"""Finite groups moving symbolic dims by ops (rot90, flip, roll on tensor[4, H, H]): elements enumerated on a probe
size, tables per run-time size; the loss, augment and validation work at any size."""

from __future__ import annotations

import pytest
import torch

import symspec

SPEC = """
spec grids
domain Feat = tensor[4, H, H]
domain Img = tensor[H, W]
group C4 = <r | r^4>
action C4 on Feat { r -> compose(roll(dim=0), rot90(dims=(1, 2))) }
group F = <a, b | a^2, b^2, (a b)^2>
action F on Img {
  a -> flip(dim=0)
  b -> flip(dim=1)
}
model f(x: Feat) -> Feat
model cls(y: Img) -> class(3)
law eq: forall g: C4. f(g . x) == g . f(x) [tol 1e-5]
law inv: forall g: F. cls(g . y) == cls(y)
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    path = tmp_path_factory.mktemp("grids") / "grids.sym"
    path.write_text(SPEC)
    return symspec.compile(symspec.load(path))


def p4(x: torch.Tensor, k: int) -> torch.Tensor:
    """r^k on [..., 4, H, H]: roll the fiber, rotate the grid."""
    for _ in range(k):
        x = torch.rot90(torch.roll(x, 1, dims=-3), 1, dims=(-2, -1))
    return x


@pytest.mark.parametrize("size", [1, 2, 5, 7, 16])
def test_drawn_elements_are_the_ops_at_any_size(mod, size):
    sampler = mod.SAMPLER_eq_g
    g = torch.Generator().manual_seed(size)
    x = torch.randn(32, 2, 4, size, size, dtype=torch.float64, generator=g)
    e = sampler.draw(32, generator=g)
    y = sampler.act(e, "Feat", x)
    powers = [p4(x, k) for k in range(4)]
    for b in range(32):
        assert any(torch.equal(y[b], p[b]) for p in powers)
    assert torch.equal(sampler.act_inverse(e, "Feat", y), x)


def test_every_element_once(mod):
    every = mod.SAMPLER_eq_g.every()
    x = torch.randn(1, 1, 4, 7, 7).expand(4, 1, 4, 7, 7)
    images = mod.SAMPLER_eq_g.act(every, "Feat", x)
    assert len({tuple(v.flatten().tolist()) for v in images}) == 4
    # a rectangular grid: the Klein group of flips, 4 distinct images
    every = mod.SAMPLER_inv_g.every()
    y = torch.randn(1, 3, 5).expand(4, 3, 5)
    assert len({tuple(v.flatten().tolist()) for v in mod.SAMPLER_inv_g.act(every, "Img", y)}) == 4


class P4Equivariant(torch.nn.Module):
    def forward(self, x):
        return 2 * x + p4(x, 2) + x.mean(dim=-3, keepdim=True)


class NotEquivariant(torch.nn.Module):
    def forward(self, x):
        return torch.roll(x, 1, dims=-1)


def flip_invariant(y):
    return torch.stack([y.abs().sum((-2, -1)), (y**2).sum((-2, -1)), y.amax((-2, -1))], -1)


def test_loss_zero_only_for_an_equivariant_model(mod):
    g = torch.Generator().manual_seed(0)
    batch = {"x": torch.randn(16, 4, 9, 9, dtype=torch.float64), "y": torch.randn(16, 3, 8, dtype=torch.float64)}
    good = mod.SymmetryLoss(models={"f": P4Equivariant(), "cls": flip_invariant})
    assert float(good(batch, generator=g)) < 1e-20
    bad = mod.SymmetryLoss(models={"f": NotEquivariant(), "cls": flip_invariant})
    assert float(bad(batch, generator=g)) > 1e-3


def test_augment_moves_the_grid_at_any_size(mod):
    g = torch.Generator().manual_seed(3)
    y = torch.randn(64, 6, 11)
    out = mod.augment({"y": y}, generator=g, model="cls")
    flips = [y, y.flip(1), y.flip(2), y.flip(1).flip(2)]
    assert all(any(torch.equal(out["y"][b], f[b]) for f in flips) for b in range(64))
    assert not torch.equal(out["y"], y)


def test_validate_at_a_run_time_size(mod):
    models = {"f": P4Equivariant(), "cls": flip_invariant}
    report = symspec.validate(mod, models=models, samples=64, dims={"H": 6, "W": 3})
    assert report.passed, report
    report = symspec.validate(mod, models={**models, "f": NotEquivariant()}, samples=64, dims={"H": 6, "W": 3})
    assert not report.passed


def _sampler(ops: dict, shape: tuple, order: int) -> symspec.runtime.GroupSampler:
    return symspec.runtime.GroupSampler(
        "G", [{"kind": "finite", "name": "G", "order": order, "on": {"x": {"shape": shape, "ops": ops}}}]
    )


def test_tables_at_a_run_time_size_are_the_probe_elements_in_the_probe_order(mod):
    from symspec.runtime.actions import joint_elements
    from symspec.runtime.tables import action_table

    factor = mod.SAMPLER_eq_g.factors[0]
    ops, _ = factor.symbolic["Feat"]
    for size in (1, 3, 8):
        rows, gathers = factor._sized("Feat", (4, size, size), torch.device("cpu"))
        # the search over the probe and this size together (the enumeration's own order) lists the same rows
        assert torch.equal(rows, joint_elements([*factor.tables, action_table(ops, shape=(4, size, size))])[-1])
        assert torch.equal(gathers.gather(-1, rows), torch.arange(4 * size * size).expand(4, -1))


def test_empty_grids_and_empty_batches_are_left_as_they_are(mod):
    sampler = mod.SAMPLER_eq_g
    for x in (torch.randn(3, 2, 4, 0, 0), torch.randn(0, 4, 5, 5)):
        assert sampler.act(sampler.draw(x.shape[0]), "Feat", x) is x
    with pytest.raises(ValueError, match="acts on the last 3 dims of Feat: got a tensor \\(4, 5\\)"):
        sampler.act(sampler.draw(1), "Feat", torch.randn(4, 5))


def test_an_action_that_is_not_faithful_anywhere_is_drawn_as_with_fixed_sizes():
    # a acts trivially on the image (r^4): 8 group elements, 4 distinct images at every size, fixed or symbolic
    source = (
        "domain {d}\ngroup G = <r, a | r^4, a^2, r a = a r>\n"
        "action G on Img {{\n  r -> rot90(dims=(0, 1))\n"
        "  a -> compose(rot90(dims=(0, 1)), rot90(dims=(0, 1)), rot90(dims=(0, 1)), rot90(dims=(0, 1)))\n}}\n"
        "model f(x: Img) -> Img\nlaw eq: forall g: G. f(g . x) == g . f(x)\n"
    )
    fixed = symspec.compile(symspec.loads(source.format(d="Img = tensor[6, 6]"), "fixed.sym")).SAMPLER_eq_g
    free = symspec.compile(symspec.loads(source.format(d="Img = tensor[H, H]"), "free.sym")).SAMPLER_eq_g
    assert fixed.order == free.order == 4
    x = torch.randn(1, 6, 6).expand(4, 6, 6)
    assert torch.equal(fixed.act(fixed.every(), "Img", x), free.act(free.every(), "Img", x))


def test_a_size_where_other_relations_hold_is_refused():
    # a 5-cycle on the probe; at 6 points roll has order 6, so the 5 listed elements are not closed there
    sampler = _sampler({"t": [("roll", {"dim": 0})]}, ("L",), 5)
    assert sampler.act(sampler.every(), "x", torch.randn(5, 5)).shape == (5, 5)
    with pytest.raises(ValueError, match=r"G acting on x at sizes \(6,\) does not satisfy the relations its 5 elements"):
        sampler.act(sampler.every(), "x", torch.randn(5, 6))


def test_only_the_last_sizes_keep_their_tables(mod):
    sampler = mod.SAMPLER_eq_g
    for size in range(2, 14):
        sampler.act(sampler.draw(1), "Feat", torch.randn(1, 4, size, size))
    factor = sampler.factors[0]
    assert len(factor.sized) == symspec.runtime.groups.SIZED_TABLES
    assert ("Feat", (4, 13, 13), torch.device("cpu")) in factor.sized


def test_a_run_time_size_past_the_table_limit_is_an_error_not_an_allocation(mod):
    from symspec.runtime.groups import MAX_SIZED_POSITIONS

    side = int(MAX_SIZED_POSITIONS**0.5) + 1
    x = torch.zeros(1, 1, 4, side, side, dtype=torch.uint8)
    with pytest.raises(ValueError, match="positions, more than the 4,000,000"):
        mod.SAMPLER_eq_g.act(mod.SAMPLER_eq_g.draw(1), "Feat", x)
