"""Non-compact groups: Lorentz groups SO(1, n) / O(1, n), translations(n), E(n), SE(n), through every backend."""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT

import symspec
import symspec.runtime as rt

LORENTZ = ROOT / "tests" / "specs" / "valid" / "physics_lorentz.sym"
RIGID = ROOT / "tests" / "specs" / "valid" / "physics_rigid.sym"


def mass(p: torch.Tensor) -> torch.Tensor:
    """The invariant mass squared of the summed four-momenta: E^2 - |p|^2 (metric diag(+1, -1, -1, -1))."""
    s = p.sum(-2)
    return s[..., 0] ** 2 - (s[..., 1:] ** 2).sum(-1)


def euclidean(p: torch.Tensor) -> torch.Tensor:
    """The Euclidean norm squared of the summed four-momenta: not Lorentz invariant."""
    return (p.sum(-2) ** 2).sum(-1)


def pair_distances(x: torch.Tensor) -> torch.Tensor:
    return torch.cdist(x, x).sum((-1, -2))


def sum_of_norms(x: torch.Tensor) -> torch.Tensor:
    return x.norm(dim=-1).sum(-1)


def centroid(x: torch.Tensor) -> torch.Tensor:
    return x.mean(-2)


def first_point(x: torch.Tensor) -> torch.Tensor:
    return x[..., 0, :] * 1.5


def test_lorentz_mass_passes_validation_and_euclidean_norm_fails():
    def column_mass(q):
        return mass(q.transpose(-1, -2))

    def column_euclidean(q):
        return euclidean(q.transpose(-1, -2))

    good = symspec.validate(LORENTZ, mass=mass, column_mass=column_mass, dims={"N": 5}, samples=2000, seed=0)
    assert good.passed, good.render()
    bad = symspec.validate(LORENTZ, mass=euclidean, column_mass=column_euclidean, dims={"N": 5}, samples=2000, seed=0)
    assert not bad["boost"].passed and not bad["full"].passed and not bad["columns"].passed
    assert bad["boost"].rate > 0.5


def test_lorentz_mass_has_zero_loss_and_euclidean_norm_does_not():
    mod = symspec.compile(symspec.load(LORENTZ).select(["boost", "full"]))
    torch.manual_seed(0)
    batch = {"p": torch.randn(256, 5, 4, dtype=torch.float64)}
    exact = mod.SymmetryLoss(mass=mass, generator=torch.Generator().manual_seed(0))
    exact(batch)
    assert exact.terms["boost"].item() < 1e-16 and exact.terms["full"].item() < 1e-16
    broken = mod.SymmetryLoss(mass=euclidean, generator=torch.Generator().manual_seed(0))
    broken(batch)
    assert broken.terms["boost"].item() > 1.0


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_lorentz_matrices_preserve_the_metric(n, full):
    g = torch.Generator().manual_seed(n)
    m = rt.random_lorentz(2000, n, full=full, generator=g)
    assert m.dtype == torch.float64 and m.shape == (2000, n + 1, n + 1)
    eta = rt.minkowski_metric(n)
    err = (m.transpose(-1, -2) @ eta @ m - eta).abs().amax((-1, -2)) / m.abs().amax((-1, -2)) ** 2
    assert err.max().item() < 1e-13
    det = torch.linalg.det(m)
    assert ((det.abs() - 1).abs() < 1e-8).all()
    if not full:  # SO(1, n) draws its identity component: det +1 and time orientation kept
        assert (det > 0).all() and (m[:, 0, 0] >= 1 - 1e-12).all()
    else:  # O(1, n): each of the four components with probability 1/4
        parts = torch.stack([det > 0, m[:, 0, 0] > 0], -1).long()
        counts = torch.bincount(parts[:, 0] * 2 + parts[:, 1], minlength=4)
        assert (counts > 350).all(), counts
    inv = rt.lorentz_inverse(m)
    assert (inv @ m - torch.eye(n + 1, dtype=torch.float64)).abs().max().item() < 1e-9 * m.abs().max().item() ** 2


def test_pairwise_distances_pass_translations_and_rigid_motions_sum_of_norms_fails():
    laws = ["shifted", "moved"]
    good = symspec.validate(RIGID, energy=pair_distances, dims={"N": 6}, samples=1000, seed=0, laws=laws)
    assert good.passed, good.render()
    bad = symspec.validate(RIGID, energy=sum_of_norms, dims={"N": 6}, samples=1000, seed=0, laws=laws)
    assert not bad["shifted"].passed and not bad["moved"].passed


def test_centroid_is_rigid_motion_equivariant_and_a_scaled_point_is_not():
    good = symspec.validate(RIGID, centroid=centroid, dims={"N": 6}, samples=1000, seed=0, laws=["center"])
    assert good.passed, good.render()
    bad = symspec.validate(RIGID, centroid=first_point, dims={"N": 6}, samples=1000, seed=0, laws=["center"])
    assert not bad["center"].passed


def test_a_direction_acted_on_by_matrix_rotates_without_translating():
    def principal(y):  # the first point's direction from the centroid: rotates, does not translate
        return y[..., 0, :] - y.mean(-2)

    good = symspec.validate(RIGID, axis=principal, dims={"N": 6}, samples=500, seed=0, laws=["turned"])
    assert good.passed, good.render()
    bad = symspec.validate(RIGID, axis=centroid, dims={"N": 6}, samples=500, seed=0, laws=["turned"])
    assert not bad["turned"].passed


def test_product_of_permutations_and_rigid_motions():
    good = symspec.validate(RIGID, shape=pair_distances, dims={"N": 6}, samples=500, seed=0, laws=["relabeled"])
    assert good.passed, good.render()
    bad = symspec.validate(
        RIGID, shape=lambda x: (x[..., 0, :] ** 2).sum(-1), dims={"N": 6}, samples=500, seed=0, laws=["relabeled"]
    )
    assert not bad["relabeled"].passed


def test_augment_transforms_batches_reproducibly():
    mod = symspec.compile(symspec.load(RIGID).select(["shifted", "center"]))
    x = torch.randn(16, 6, 3)
    target = centroid(x)
    one = mod.augment({"x": x, "target": target}, model="centroid", generator=torch.Generator().manual_seed(4))
    two = mod.augment({"x": x, "target": target}, model="centroid", generator=torch.Generator().manual_seed(4))
    assert torch.equal(one["x"], two["x"]) and torch.equal(one["target"], two["target"])
    assert (one["x"] - x).abs().max() > 0.1
    assert torch.allclose(centroid(one["x"]), one["target"], atol=1e-5)  # the target moved with the input
    shifted = mod.augment({"x": x}, model="energy", generator=torch.Generator().manual_seed(5))["x"]
    moved = shifted - x  # one vector per example, added to every point
    assert torch.allclose(moved, moved[:, :1].expand_as(moved), atol=1e-6) and moved.abs().max() > 0.1


def test_lorentz_augment_keeps_the_mass_and_follows_dtype():
    mod = symspec.compile(symspec.load(LORENTZ).select(["boost"]))
    p = torch.randn(32, 5, 4, dtype=torch.float64)
    out = mod.augment({"p": p}, generator=torch.Generator().manual_seed(0))["p"]
    assert out.dtype == torch.float64 and not torch.allclose(out, p)
    assert torch.allclose(mass(out), mass(p), rtol=1e-9, atol=1e-9)
    half = mod.augment({"p": p.float()}, generator=torch.Generator().manual_seed(0))["p"]
    assert half.dtype == torch.float32 and torch.allclose(half.double(), out, rtol=1e-4, atol=1e-4)


def _spread(source: str, law: str) -> float:
    mod = symspec.compile(symspec.loads(source, "spread.sym"))
    x = torch.zeros(4000, 1, 3)
    out = mod.augment({"x": x}, generator=torch.Generator().manual_seed(0))["x"]
    return out.std().item()


def test_scale_option_changes_the_spread():
    base = "domain Cloud = tensor[N, 3]\nmodel f(x: Cloud) -> real\n"
    one = _spread(base + "law t: forall g: translations(3). f(g . x) == f(x)\n", "t")
    three = _spread(base + "law t: forall g: translations(3). f(g . x) == f(x) [scale 3]\n", "t")
    assert 0.9 < one < 1.1 and 2.7 < three < 3.3
    zero = _spread(base + "law t: forall g: E(3). f(g . x) == f(x) [scale 0]\n", "t")
    assert zero == 0.0


def test_lorentz_scale_bounds_the_rapidity():
    def rapidities(scale):
        m = rt.GroupSampler("L", [{"kind": "SO1", "name": "L", "n": 3, "scale": scale, "on": {}}]).draw(
            3000, torch.Generator().manual_seed(0)
        )[0]
        return torch.acosh(m[:, 0, 0].clamp_min(1))

    small, large = rapidities(0.1), rapidities(2.0)
    # |N(0, s^2)|: mean s * sqrt(2 / pi)
    assert abs(small.mean().item() - 0.1 * 0.798) < 0.01 and abs(large.mean().item() - 2 * 0.798) < 0.1


def test_symmetrize_translations_is_exact_by_centering():
    mod = symspec.compile(symspec.load(RIGID).select(["shifted"]))
    sym = mod.symmetrize("energy", sum_of_norms)
    x = torch.randn(8, 6, 3, dtype=torch.float64)
    t = torch.randn(8, 1, 3, dtype=torch.float64)
    assert torch.allclose(sym(x + t), sym(x), atol=1e-12)
    assert torch.allclose(sym(x), sum_of_norms(x - x.mean(-2, keepdim=True)))


def test_symmetrize_rigid_motion_is_exact_in_translations_and_averages_rotations():
    mod = symspec.compile(symspec.load(RIGID).select(["center"]))
    lin = torch.nn.Linear(3, 3).double()

    def model(x):
        return lin(x).mean(-2)

    x = torch.randn(8, 6, 3, dtype=torch.float64)
    t = torch.randn(8, 1, 3, dtype=torch.float64)
    first = mod.symmetrize("centroid", model, samples=4, generator=torch.Generator().manual_seed(1))(x + t)
    second = mod.symmetrize("centroid", model, samples=4, generator=torch.Generator().manual_seed(1))(x)
    assert torch.allclose(first, second + t[:, 0], atol=1e-10)  # the same rotations: exactly translation-equivariant
    good = mod.symmetrize("centroid", centroid, samples=4)(x)
    assert torch.allclose(good, centroid(x), atol=1e-10)  # an equivariant model is unchanged


def test_lorentz_groups_have_no_symmetrizer():
    mod = symspec.compile(symspec.load(LORENTZ).select(["boost"]))
    with pytest.raises(ValueError, match="symmetrize takes a model with"):
        mod.symmetrize("mass", euclidean)


def test_explain_states_the_sampling_distribution():
    spec = symspec.load(LORENTZ)
    plan = spec.ir.laws["full"].variables["g"].detail
    assert "rapidity |N(0, 0.5^2)|" in plan and "validation covers this one only" in plan
    text = symspec.load(RIGID).ir.laws["moved"].variables["g"].detail
    assert "N(0, 2^2)" in text


@pytest.mark.parametrize(
    "source, message",
    [
        ("group L = SO(1, 0)", "SO(1, n) needs 1 <= n <= 63, got 0"),
        ("group L = O(1, 64)", "O(1, n) needs 1 <= n <= 63, got 64"),
        ("group T = E(65)", "E(n) needs 1 <= n <= 64, got 65"),
        (
            "group L = SO(1, 3)\ndomain D = tensor[4, 4]\naction L on D by matrix(dims=(-2, -1))",
            "SO(1, 3) acts on one dim, but matrix(",
        ),
        ("group T = translations(3)\ndomain D = real\naction T on D by translate", "translate acts on tensor dims"),
    ],
)
def test_family_errors(source, message):
    with pytest.raises(symspec.SpecError) as info:
        symspec.loads(source, "bad.sym")
    assert message in info.value.render()


@pytest.mark.parametrize("group", ["SO(1, 3)", "O(1, 3)", "translations(4)", "E(4)", "SE(4)"])
def test_non_compact_layers_are_refused(group):
    with pytest.raises(symspec.SpecError) as info:
        symspec.compile(symspec.loads(f"layer l: tensor[4] -> real under {group}", "l.sym"))
    text = info.value.render()
    assert "cannot compile layer l yet" in text and f"{group} is not compact: no layers under it yet" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_draws_follow_the_device():
    g = torch.Generator(device="cuda").manual_seed(0)
    for kind in ("SO1", "O1", "translations", "E", "SE"):
        desc = [{"kind": kind, "name": kind, "n": 3, "on": {"D": {"shape": ("N", 4 if kind in ("SO1", "O1") else 3), "dim": 1}}}]
        s = rt.GroupSampler(kind, desc)
        x = torch.randn(5, 7, 4 if kind in ("SO1", "O1") else 3, device="cuda")
        (e,) = s.draw(5, g, "cuda")
        y = s.act((e,), "D", x)
        assert y.device == x.device and y.dtype == x.dtype
        assert torch.allclose(s.act_inverse((e,), "D", y), x, atol=1e-3)


def test_a_declared_group_named_like_a_family_is_still_that_group():
    spec = symspec.loads(
        "group E = translations(3)\ndomain C = tensor[N, 3]\nmodel f(x: C) -> real\nlaw l: forall g: E. f(g . x) == f(x)\n",
        "e.sym",
    )
    assert spec.ir.group(spec.laws["l"].variables["g"].group).definition.kind == "translations"


def test_symmetrize_a_product_with_translations_centers_and_permutes():
    source = (
        "domain Cloud = tensor[N, 3]\ngroup G = symmetric(N) x translations(3)\nmodel f(x: Cloud) -> real\n"
        "law l: forall g: G. f(g . x) == f(x)\n"
    )
    mod = symspec.compile(symspec.loads(source, "pt.sym"))
    weights = torch.arange(1.0, 7.0, dtype=torch.float64)

    def model(x):  # neither permutation- nor translation-invariant
        return (x.norm(dim=-1) * weights).sum(-1)

    x = torch.randn(4, 6, 3, dtype=torch.float64)
    t = torch.randn(4, 1, 3, dtype=torch.float64)
    a = mod.symmetrize("f", model, samples=8, generator=torch.Generator().manual_seed(2))(x + t)
    b = mod.symmetrize("f", model, samples=8, generator=torch.Generator().manual_seed(2))(x)
    assert torch.allclose(a, b, atol=1e-10)  # the same permutations drawn: exact in the translations


def test_e1_and_so11_act_and_invert():
    for kind, size in (("E", 1), ("SE", 1), ("translations", 1), ("SO1", 2), ("O1", 2)):
        n = 1
        s = rt.GroupSampler(kind, [{"kind": kind, "name": kind, "n": n, "on": {"D": {"shape": ("N", size), "dim": 1}}}])
        x = torch.randn(5, 7, size, dtype=torch.float64)
        g = s.draw(5, torch.Generator().manual_seed(0))
        assert torch.allclose(s.act_inverse(g, "D", s.act(g, "D", x)), x, atol=1e-9)


def test_identity_action_and_scale_from_a_param():
    source = (
        "param k = 4\ngroup T = translations(3)\ndomain C = tensor[N, 3]\ndomain Q = tensor[N, 4]\n"
        "action T on Q by identity\nmodel f(x: C, q: Q) -> real\n"
        "law l: forall g: T. f(g . x, g . q) == f(x, q) [tol 1e-4, scale k]\n"
    )
    spec = symspec.loads(source, "id.sym")
    assert "N(0, 4^2)" in spec.ir.laws["l"].variables["g"].detail
    mod = symspec.compile(spec)
    x, q = torch.zeros(3000, 1, 3), torch.randn(3000, 2, 4)
    out = mod.augment({"x": x, "q": q}, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out["q"], q) and 3.6 < out["x"].std().item() < 4.4

    def model(x, q):
        return pair_distances(x) + q.sum((-1, -2))

    assert symspec.validate(spec, f=model, dims={"N": 4}, samples=300, seed=0).passed
