"""Regression tests for code generation bugs, one per bug, named after it."""

from __future__ import annotations

import torch

import symspec
from symspec.codegen import compile_source

RANGE_SPEC = """\
domain D = range(0, 10)
model f(a: D, b: D) -> class(D)
law inc: f(a + 1, b) == f(a, b) + 1 when a < 9
law inc_unguarded: f(a + 1, b) == f(a, b) + 1
"""


class Strict(torch.nn.Module):
    """f(a, b) = a exactly, through an nn.Embedding(10, ...): any input outside 0..9 raises."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 10)
        with torch.no_grad():
            self.embed.weight.copy_(50 * torch.eye(10))
        self.seen = []

    def forward(self, a, b):
        self.seen.append(torch.cat([a, b]))
        return self.embed(a) + 0 * self.embed(b)


def test_guarded_arithmetic_on_a_range_never_feeds_the_model_out_of_domain_values():
    spec = symspec.loads(RANGE_SPEC)
    mod = symspec.compile(spec)
    model = Strict()
    a, b = torch.arange(10).repeat_interleave(10), torch.arange(10).repeat(10)
    loss = mod.SymmetryLoss(f=model)
    value = loss({"a": a, "b": b})  # before the fix: IndexError inside nn.Embedding on f(10, b)
    assert torch.isfinite(value)
    assert all(float(v) < 1e-3 for v in loss.terms.values()), loss.terms  # the exact model satisfies both laws
    seen = torch.cat(model.seen)
    assert int(seen.min()) >= 0 and int(seen.max()) <= 9
    # validate: every case enumerated; the a = 9 cases are skipped (out of the domain or excluded by the guard)
    report = symspec.validate(spec, f=Strict())
    by_name = {law.name: law for law in report.laws}
    for name in ("inc", "inc_unguarded"):
        law = by_name[name]
        assert law.mode == "exhaustive" and law.cases + law.skipped == 100, (law.cases, law.skipped)
        assert law.skipped == 10 and law.violations == 0, (name, law.skipped, law.violations)
    assert report.passed


SUB_SPEC = """\
domain Z = cyclic(7)
model sub(x: Z, y: Z) -> class(Z)
law anti: sub(x, y) == -sub(y, x)
law shift: forall k: Z. sub(x, y) == sub(x + k, y) - k
law scale: sub(x, y) == 5 * sub(3 * x, 3 * y)
"""


def test_augmentation_applies_laws_with_an_output_transform_on_the_moved_call():
    spec = symspec.loads(SUB_SPEC)
    source = compile_source(spec)
    assert "not augmented" not in source
    mod = symspec.compile(spec)
    for law in ("anti", "shift", "scale"):
        ir = spec.ir.laws[law]
        assert ir.law_class == "equivariance" and ir.sides[3], law  # the moved call carries an output transform
        assert ir.augment is True, law
    x, y = torch.arange(7).repeat_interleave(7), torch.arange(7).repeat(7)
    batch = {"x": x, "y": y, "target": (x - y) % 7}
    for seed in range(5):
        out = mod.augment(batch, generator=torch.Generator().manual_seed(seed))
        # the augmented examples are still examples of the task: target = x - y mod 7
        assert torch.equal(out["target"], (out["x"] - out["y"]) % 7), seed
        assert not torch.equal(out["x"], x)
    assert torch.equal(batch["x"], x)  # the batch itself is untouched


def test_augmentation_inverts_each_output_transform():
    spec = symspec.loads(
        "domain Z = cyclic(7)\nmodel sub(x: Z, y: Z) -> class(Z)\nlaw scale: sub(x, y) == 5 * sub(3 * x, 3 * y)\n"
    )
    mod = symspec.compile(spec)
    x, y = torch.arange(7).repeat_interleave(7), torch.arange(7).repeat(7)
    out = mod.augment({"x": x, "y": y, "target": (x - y) % 7}, generator=torch.Generator().manual_seed(0))
    moved = out["x"] != x
    assert moved.any() and (~moved).any()  # the transform or the identity, per example
    assert torch.equal(out["target"][moved], (3 * (x - y) % 7)[moved])  # 5^-1 = 3 mod 7


def test_augmentation_undoes_a_group_action_on_the_moved_call_with_the_inverse_element():
    spec = symspec.loads(
        "domain Z = cyclic(5)\ngroup C = cyclic(5)\naction C on Z by shift\n"
        "model f(a: Z) -> class(Z)\nlaw neg: forall g: C. g . f(g . a) == f(a)\n"
    )
    mod = symspec.compile(spec)
    a = torch.arange(5).repeat(8)
    out = mod.augment({"a": a, "target": (-a) % 5}, generator=torch.Generator().manual_seed(0))
    assert (out["a"] != a).any()
    assert torch.equal(out["target"], (-out["a"]) % 5)  # f(a) = -a satisfies the law; the target follows it


def test_symmetrize_over_symmetric_n_samples_instead_of_enumerating():
    """symmetric(N) has no known order: symmetrize averages over random permutations (was `None.shape[0]`)."""
    spec = symspec.loads(
        "domain Cloud = tensor[N, 3]\ngroup P = symmetric(N)\nmodel forces(x: Cloud) -> Cloud\n"
        "law e: forall g: P. forces(g . x) == g . forces(x)\n"
    )
    mod = symspec.compile(spec)
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    weights = torch.randn(3, 3, dtype=torch.float64)
    sym = mod.symmetrize("forces", lambda t: t @ weights + t.sum(-2, keepdim=True), samples=8)
    expected = x @ weights + x.sum(-2, keepdim=True)  # already permutation-equivariant: averaging leaves it
    assert torch.allclose(sym(x), expected, atol=1e-12)


TWO_BETWEENS = """\
graph G = grid(3, 3)
domain V = nodes(G)
model f(a: V, b: V) -> real
law l: forall m: V, z: V. f(a, m) == f(m, z) when between(G, a, m, b) and between(G, a, m, z)
"""


def test_a_variable_in_two_between_guards_is_drawn_by_the_one_whose_ends_are_known():
    """Found by the deep fuzz: two between(...) conjuncts on m made the lowering unpack two calls (ValueError)."""
    import networkx as nx

    spec = symspec.loads(TWO_BETWEENS, "two_betweens.sym")
    symspec.check(spec)
    seen = []

    def f(a, b):
        seen.append((a.clone(), b.clone()))
        return (a * 10 + b).float()

    loss = symspec.compile(spec).SymmetryLoss(models={"f": f}, generator=torch.Generator().manual_seed(0))
    a = torch.arange(9).repeat(8)
    b = torch.arange(9).repeat_interleave(8)
    value = loss({"a": a, "b": b})
    assert torch.isfinite(value)
    dist = dict(nx.all_pairs_shortest_path_length(nx.grid_2d_graph(3, 3)))
    node = [(i, j) for i in range(3) for j in range(3)]
    first_a, first_m = seen[0]  # f(a, m): m lies on a shortest a-b path, for every example
    for ai, mi, bi in zip(first_a.tolist(), first_m.tolist(), b.tolist()):
        assert dist[node[ai]][node[mi]] + dist[node[mi]][node[bi]] == dist[node[ai]][node[bi]]
