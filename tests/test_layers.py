"""Compiled layers: weights tied by orbits (counts against brute force), exact equivariance in float64."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt


def randomize_(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Draw every parameter (weights and biases) from N(0, 1) with a seeded generator, in place."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    return module


def d4_elements(shape):
    gens = rt.action_table(
        {"r": [("rot90", {"dims": (len(shape) - 2, len(shape) - 1)})], "s": [("flip", {"dim": len(shape) - 1})]}, shape=shape
    )
    return rt.element_table(gens)


def brute_orbitals(elements) -> int:
    points = elements.shape[-1]
    seen, count = set(), 0
    for o, i in itertools.product(range(points), repeat=2):
        if (o, i) in seen:
            continue
        count += 1
        seen |= {(int(e[o]), int(e[i])) for e in elements}
    return count


def test_d4_on_a_2x5x5_grid_has_364_orbitals():
    gens = rt.action_table({"r": [("rot90", {"dims": (1, 2)})], "s": [("flip", {"dim": 2})]}, shape=(2, 5, 5))
    layer = rt.OrbitLinear(1, 1, gens, gens, (2, 5, 5), (2, 5, 5))
    assert layer.num_orbits == 364 == brute_orbitals(d4_elements((2, 5, 5)))
    assert layer.weight.numel() == 364


@pytest.mark.parametrize("size", [3, 4, 6])
def test_image_layers_are_exactly_equivariant_and_sized_by_orbits(size):
    mod = symspec.compile(symspec.load(ROOT / "examples" / "image_d4.sym", params={"size": size}))
    conv = randomize_(mod.LAYERS["conv"](2, 3).double(), 0)
    readout = randomize_(mod.LAYERS["readout"](2, 4).double(), 1)
    elements = d4_elements((size, size))
    assert conv.num_orbits == brute_orbitals(elements)
    x = torch.randn(5, 2, size, size, dtype=torch.float64)
    for e in elements:
        gx = rt.act_on_positions(x, e, 2)
        assert torch.allclose(conv(gx), rt.act_on_positions(conv(x), e, 2), atol=1e-10)
        assert torch.allclose(readout(gx), readout(x), atol=1e-10)
    assert readout(x).shape == (5, 4)


def test_point_cloud_layers_commute_with_permutations_and_rotations():
    mod = symspec.compile(symspec.load(ROOT / "examples" / "point_cloud.sym"))
    mix = randomize_(mod.LAYERS["mix"](2, 3).double(), 0)
    pool = randomize_(mod.LAYERS["pool"](2, 4).double(), 1)
    g = torch.Generator().manual_seed(0)
    for n in (1, 4, 9):  # one layer, any N
        x = torch.randn(5, 2, n, 3, dtype=torch.float64, generator=g)
        perm = torch.randperm(n, generator=g)
        q = rt.haar_orthogonal(1, 3, generator=g, dtype=torch.float64)[0]
        assert torch.allclose(mix(x[:, :, perm] @ q.T), mix(x)[:, :, perm] @ q.T, atol=1e-10)
        assert torch.allclose(pool(x[:, :, perm]), pool(x), atol=1e-10)


def test_deep_sets_form_matches_the_definition():
    layer = rt.DeepSetsLinear(2, 3, bias=True, rest_as_features=True, rest_size=1).double()
    x = torch.randn(4, 2, 6, 1, dtype=torch.float64)
    flat = x[..., 0]
    expected = torch.einsum("oi,bin->bon", layer.identity, flat) + torch.einsum("oi,bi->bo", layer.ones, flat.mean(-1)).unsqueeze(
        -1
    )
    expected = expected + layer.bias.view(1, -1, 1)
    assert torch.allclose(layer(x)[..., 0], expected, atol=1e-12)


def test_layers_train():
    layer = rt.DeepSetsPool(3 * 2, 1)  # channels x the other dims, as features
    x = torch.randn(64, 3, 5, 2)
    y = x.mean(2).sum((1, 2)).unsqueeze(-1)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        loss = (layer(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 1e-3


def test_assert_equivariant_on_every_example_layer_and_on_a_broken_one():
    for name, params, shapes in (
        ("image_d4", {"size": 5}, {"conv": (2, 5, 5), "readout": (2, 5, 5)}),
        ("point_cloud", None, {"mix": (2, 6, 3), "pool": (2, 6, 3)}),
    ):
        spec = symspec.load(ROOT / "examples" / f"{name}.sym", params=params)
        mod = symspec.compile(spec)
        for layer, shape in shapes.items():
            module = randomize_(mod.LAYERS[layer](shape[0], 3).double(), 0)
            x = torch.randn(4, *shape, dtype=torch.float64)
            g = torch.Generator().manual_seed(0)
            assert symspec.assert_equivariant(module, spec, layer, x, generator=g, randomize=False) < 1e-10 * max(
                1.0, float(module(x).detach().abs().max())
            )
            symspec.assert_equivariant(module, spec, layer, x, generator=g)  # a fresh random copy: raises if not
            symspec.assert_equivariant(module.float(), spec, layer, x.float(), generator=g)  # float32: 1e-4 relative
    spec = symspec.load(ROOT / "examples" / "image_d4.sym", params={"size": 5})
    dense = torch.nn.Conv2d(2, 3, 3, padding=1).double()  # a plain convolution is not rotation-equivariant in general
    with pytest.raises(AssertionError, match="layer conv is not equivariant"):
        symspec.assert_equivariant(dense, spec, "conv", torch.randn(4, 2, 5, 5, dtype=torch.float64))


def test_symmetrized_models_are_exactly_invariant_for_finite_groups():
    mod = symspec.compile(symspec.load(ROOT / "examples" / "image_d4.sym", params={"size": 6}))
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 10)).double()
    sym = mod.symmetrize("classify", net)
    x = torch.randn(7, 6, 6, dtype=torch.float64)
    base = sym(x)
    for k in range(4):
        for flip in (False, True):
            gx = torch.rot90(x, k, (1, 2))
            gx = torch.flip(gx, (2,)) if flip else gx
            assert torch.allclose(sym(gx), base, atol=1e-12)
    assert not torch.allclose(net(torch.rot90(x, 1, (1, 2))), net(x))  # the plain model is not invariant


def test_symmetrizing_an_equivariant_model_changes_nothing_and_continuous_groups_average_samples():
    mod = symspec.compile(symspec.load(ROOT / "examples" / "point_cloud.sym"))
    forces = lambda c: c * c.norm(dim=-1, keepdim=True)  # noqa: E731 - already equivariant
    x = torch.randn(5, 4, 3, dtype=torch.float64)
    sym = mod.symmetrize("forces", forces, samples=8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(sym(x), forces(x), atol=1e-12)
    biased = lambda c: c + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)  # noqa: E731
    averaged = mod.symmetrize("forces", biased, samples=4000, generator=torch.Generator().manual_seed(1))(x)
    assert (averaged - x).abs().max() < 0.1  # the constant shift averages out over rotations
    with pytest.raises(ValueError, match="one group law"):
        mod.symmetrize("nope", forces)


def test_symmetrized_class_output_is_exactly_equivariant_under_shifts():
    spec = symspec.loads(
        "domain Z = cyclic(5)\ngroup C = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw l: forall g: C. f(g . a) == g . f(a)\n"
    )
    mod = symspec.compile(spec)
    table = torch.randn(5, 5, dtype=torch.float64)
    sym = mod.symmetrize("f", lambda a: table[a])
    a = torch.arange(5)
    out = sym(a)
    for k in range(5):  # f(a + k) == roll(f(a), k)
        assert torch.allclose(sym((a + k) % 5), torch.roll(out, k, -1), atol=1e-12)


def test_pair_layers_use_the_fifteen_bell_maps_and_commute_with_permutations():
    spec = symspec.loads(
        "domain Adj = tensor[N, N]\ngroup P = symmetric(N)\naction P on Adj by permute(dims=(0, 1))\nlayer edge: Adj -> Adj under P\n"
    )
    layer = randomize_(symspec.compile(spec).LAYERS["edge"](2, 3).double(), 0)
    assert layer.weight.shape == (3, 2, 15)
    g = torch.Generator().manual_seed(0)
    for n in (2, 5, 8):
        x = torch.randn(4, 2, n, n, dtype=torch.float64, generator=g)
        p = torch.randperm(n, generator=g)
        assert torch.allclose(layer(x[:, :, p][:, :, :, p]), layer(x)[:, :, p][:, :, :, p], atol=1e-10)
    assert symspec.assert_equivariant(layer, spec, "edge", torch.randn(3, 2, 6, 6, dtype=torch.float64), randomize=False) < 1e-10
    from symspec.runtime.layers import _pair_basis

    maps = _pair_basis(torch.randn(6, 1, 5, 5, dtype=torch.float64))[:, 0].transpose(0, 1).reshape(15, -1)
    assert int(torch.linalg.matrix_rank(maps)) == 15  # linearly independent as maps


def test_pair_tensors_get_the_pair_action_by_default_and_symbolic_features_are_an_error():
    from symspec.codegen import CompileError

    spec = symspec.loads("domain Pair = tensor[N, N]\nlayer edge: Pair -> Pair under symmetric(N)\n")
    layer = randomize_(symspec.compile(spec).LAYERS["edge"](1, 2).double(), 0)
    assert isinstance(layer, rt.PairLinear)
    assert symspec.assert_equivariant(layer, spec, "edge", torch.randn(3, 1, 5, 5, dtype=torch.float64), randomize=False) < 1e-10
    bad = symspec.loads("domain Odd = tensor[N, M]\nlayer f: Odd -> Odd under symmetric(N)\n")
    with pytest.raises(CompileError, match="cannot compile layer f yet"):
        symspec.compile(bad)


@pytest.mark.parametrize(
    "in_reps, out_reps, in_shape, out_shape, dim",
    [
        ([("so", 3, 0)], [("so", 3, 0)], (3,), (3,), 1),  # only multiples of the identity
        ([("o", 3, 0)], [("o", 3, 0)], (3,), (3,), 1),
        ([("so", 2, 0)], [("so", 2, 0)], (2,), (2,), 2),  # rotations of the plane commute with themselves
        ([("so", 3, 1)], [("so", 3, 1)], (4, 3), (4, 3), 16),  # any 4x4 mixing of the vectors
        ([("so", 3, 0)], None, (3,), (), 0),  # no linear invariant of a vector
    ],
)
def test_equivariant_basis_dimensions(in_reps, out_reps, in_shape, out_shape, dim):
    from symspec.runtime.layers import equivariant_basis

    assert equivariant_basis(in_reps, out_reps, in_shape, out_shape).shape[0] == dim


def test_matrix_layers_compile_commute_and_report_empty_bases():
    from symspec.codegen import CompileError

    spec = symspec.loads(
        "domain V = tensor[4, 3]\ngroup R = SO(3)\ngroup S = symmetric(4)\ngroup E = S x R\n"
        "layer mix: V -> V under R\nlayer both: V -> V under E\n",
        "m.sym",
    )
    mod = symspec.compile(spec)
    mix = randomize_(mod.LAYERS["mix"](2, 3).double(), 0)
    assert mix.basis.shape[0] == 16
    both = randomize_(mod.LAYERS["both"](2, 3).double(), 1)  # S4 x SO(3): identity and all-ones terms, the DeepSets form
    assert isinstance(both, rt.DeepSetsLinear) and both.identity.numel() + both.ones.numel() == 2 * 3 * 2
    for name, layer in (("mix", mix), ("both", both)):
        x = torch.randn(3, 2, 4, 3, dtype=torch.float64)
        assert symspec.assert_equivariant(layer, spec, name, x, randomize=False) < 1e-10 * max(
            1.0, float(layer(x).detach().abs().max())
        )
    with pytest.raises(CompileError, match="no nonzero linear map from Cloud to real commutes with SO\\(3\\) except 0"):
        symspec.compile(symspec.loads("domain Cloud = tensor[5, 3]\nlayer bad: Cloud -> real under SO(3)\n"))


def test_train_image_d4_example_runs_and_reports(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "train_image_d4.py"),
            "--steps",
            "20",
            "--seeds",
            "0",
            "--size",
            "12",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert set(result) == {"config", "models"} and set(result["models"]) == {"p4", "p4m", "cnn", "cnn_aug"}
    assert 0.0 <= result["models"]["p4m"]["rotated_mean"] <= 1.0 and result["models"]["p4m"]["parameters"] > 0


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_set_and_pair_layers_commute_with_random_permutations_for_random_n(n, c_in, c_out, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    for layer, x, act in (
        (
            rt.DeepSetsLinear(c_in, c_out).double(),
            torch.randn(3, c_in, n, 2, dtype=torch.float64, generator=g),
            lambda t: t[:, :, perm],
        ),
        (
            rt.DeepSetsLinear(c_in, c_out, rest_as_features=True, rest_size=2).double(),  # with a bias per feature
            torch.randn(3, c_in, n, 2, dtype=torch.float64, generator=g),
            lambda t: t[:, :, perm],
        ),
        (
            rt.PairLinear(c_in, c_out).double(),
            torch.randn(3, c_in, n, n, dtype=torch.float64, generator=g),
            lambda t: t[:, :, perm][:, :, :, perm],
        ),
    ):
        with torch.no_grad():
            for p in layer.parameters():
                p.normal_(generator=g)
        assert torch.allclose(layer(act(x)), act(layer(x)), atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_orbit_layers_commute_with_random_d4_elements(size, seed):
    g = torch.Generator().manual_seed(seed)
    gens = rt.action_table({"r": [("rot90", {"dims": (0, 1)})], "s": [("flip", {"dim": 1})]}, shape=(size, size))
    layer = rt.OrbitLinear(2, 2, gens, gens, (size, size), (size, size)).double()
    with torch.no_grad():
        layer.weight.normal_(generator=g)
        layer.bias.normal_(generator=g)
    element = rt.random_words(gens, 1, 9, generator=g)[0]
    x = torch.randn(3, 2, size, size, dtype=torch.float64, generator=g)
    assert torch.allclose(layer(rt.act_on_positions(x, element, 2)), rt.act_on_positions(layer(x), element, 2), atol=1e-10)


def test_product_of_a_finite_permutation_group_and_rotations():
    spec = symspec.loads(
        "domain V = tensor[4, 3]\ngroup C = cyclic(4)\naction C on V by roll(dim=0)\ngroup E = C x SO(3)\nlayer mix: V -> V under E\n",
        "c.sym",
    )
    layer = randomize_(symspec.compile(spec).LAYERS["mix"](2, 2).double(), 0)
    assert isinstance(layer, rt.BasisLinear) and layer.basis.shape[0] == 4  # circulant 4x4 mixing x identity on R^3
    x = torch.randn(3, 2, 4, 3, dtype=torch.float64)
    assert symspec.assert_equivariant(layer, spec, "mix", x, randomize=False) < 1e-10 * max(
        1.0, float(layer(x).detach().abs().max())
    )


def test_symmetrize_on_finite_inputs_averages_the_group_of_all_the_laws():
    p = 7
    mod = symspec.compile(symspec.load(ROOT / "examples" / "modular_addition.sym", params={"p": p}))
    table = torch.randn(p, p, p, dtype=torch.float64)
    sym = mod.symmetrize("add", lambda a, b: table[a, b])
    a, b = torch.arange(p).repeat(p), torch.arange(p).repeat_interleave(p)
    out = sym(a, b)
    assert torch.allclose(sym(b, a), out, atol=1e-12)  # commutes
    for k in range(p):  # shift: add(a + k, b) = roll(add(a, b), k)
        assert torch.allclose(sym((a + k) % p, b), torch.roll(out, k, -1), atol=1e-12)
    exact = lambda x, y: torch.nn.functional.one_hot((x + y) % p, p).double() * 5  # noqa: E731 - already symmetric
    assert torch.allclose(mod.symmetrize("add", exact)(a, b), exact(a, b), atol=1e-12)


def test_symmetrize_graph_distances_and_bool_outputs():
    spec = symspec.load(ROOT / "examples" / "graph_distance.sym")
    mod = symspec.compile(spec)
    raw = torch.randn(49, 49, 13, dtype=torch.float64)
    sym = mod.symmetrize("dist", lambda u, v: raw[u, v])
    u, v = torch.arange(49).repeat(49), torch.arange(49).repeat_interleave(49)
    out = sym(u, v)
    assert torch.allclose(sym(v, u), out, atol=1e-12)
    flip = torch.tensor([48 - (i % 7) - 7 * (i // 7) for i in range(49)])  # the 180 degree rotation of the grid
    assert torch.allclose(sym(flip[u], flip[v]), out, atol=1e-12)
    spec = symspec.loads(
        "domain D = range(0, 4)\nmodel g(a: D, b: D) -> bool\nlaw anti: g(a, b) == not g(b, a) when a != b\nlaw s: g(a, b) == g(a, b)\n"
    )
    with pytest.raises(ValueError, match="one group law"):
        symspec.compile(spec).symmetrize("g", lambda a, b: a.double())


# ---- regressions: biases of basis layers, assert_equivariant on maps between different domains ----------------


def test_basis_linear_bias_was_free_over_the_whole_output_so2_regression():
    """SO(2) on tensor[2]: the bias basis ignored the group (error 1.4 once the bias left zero); now there is none."""
    spec = symspec.loads("domain V = tensor[2]\nlayer f: V -> V under SO(2)\n", "so2.sym")
    layer = symspec.compile(spec).LAYERS["f"](2, 3).double()
    assert isinstance(layer, rt.BasisLinear) and layer.bias is None and layer.bias_basis.shape == (0, 2)
    x = torch.randn(16, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    target = torch.randn(16, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) + 5.0
    randomize_(layer, 2)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(3):  # training steps, toward a non-equivariant target
        opt.zero_grad()
        (layer(x) - target).pow(2).mean().backward()
        opt.step()
    assert symspec.assert_equivariant(layer, spec, "f", x, randomize=False) < 1e-10 * max(
        1.0, float(layer(x).detach().abs().max())
    )
    symspec.assert_equivariant(layer, spec, "f", x.float(), randomize=True)  # float32, a fresh random copy


def test_basis_linear_bias_spans_exactly_the_invariant_vectors():
    from symspec.runtime.layers import equivariant_basis, invariant_basis

    d4 = rt.action_table({"r": [("rot90", {"dims": (0, 1)})], "s": [("flip", {"dim": 1})]}, shape=(3, 3))
    flip = rt.action_table({"s": [("flip", {"dim": 0})]}, shape=(5, 3))
    assert invariant_basis(None, ()).tolist() == [[1.0]]  # a real output: one free bias
    assert invariant_basis([("so", 2, 0)], (2,)).shape == (0, 2)
    assert invariant_basis([("o", 3, 1)], (5, 3)).shape == (0, 15)
    assert invariant_basis([("perm", flip), ("o", 3, 1)], (5, 3)).shape == (0, 15)
    assert invariant_basis([("perm", torch.zeros(0, 4, dtype=torch.long))], (4,)).shape == (4, 4)  # no generators: free
    vectors = invariant_basis([("perm", d4)], (3, 3))
    orbits = rt.OrbitLinear(1, 1, d4, d4, (3, 3), (3, 3)).bias_orbits
    assert vectors.shape == (3, 9) == (int(orbits.max()) + 1, 9)  # corners, edges, centre
    for v in vectors:  # constant on each orbit of positions
        for k in range(3):
            assert torch.allclose(v[orbits == k], v[orbits == k][0].expand(int((orbits == k).sum())), atol=1e-12)
    # a permutation-only basis layer: its bias is tied by the output orbits too, at random values
    layer = randomize_(rt.BasisLinear(2, 2, [("perm", d4)], [("perm", d4)], (3, 3), (3, 3)).double(), 0)
    assert layer.bias.shape == (2, 3)
    x = torch.randn(4, 2, 3, 3, dtype=torch.float64)
    for e in d4_elements((3, 3)):
        assert torch.allclose(layer(rt.act_on_positions(x, e, 2)), rt.act_on_positions(layer(x), e, 2), atol=1e-10)
    invariant = rt.BasisLinear(2, 3, [("perm", d4)], None, (3, 3), ())  # an invariant output: one free bias per channel
    assert invariant.bias.shape == (3, 1) and invariant.bias_basis.tolist() == [[1.0]]
    with pytest.raises(ValueError, match="no nonzero linear map"):  # no invariant of O(3) on vectors
        rt.BasisLinear(2, 3, [("o", 3, 1)], None, (5, 3), ())
    with pytest.raises(ValueError, match="different generators"):
        equivariant_basis([("so", 3, 1)], [("perm", flip), ("so", 3, 1)], (5, 3), (5, 3))


def _points_spec(group: str, extra: str = "") -> str:
    return f"domain Pts = tensor[5, 3]\ndomain Vec = tensor[3]\n{extra}group E = {group}\nlayer f: Pts -> Vec under E\n"


@pytest.mark.parametrize(
    "source",
    [
        _points_spec("O(3)"),
        _points_spec("SO(3)"),
        # a finite factor that acts trivially on the target (the identity permutation there)
        _points_spec(
            "F x O(3)",
            "group F = <s | s^2>\naction F on Pts { s -> flip(dim=0) }\naction F on Vec { s -> permute(perm=(0, 1, 2), dim=0) }\n",
        ),
        # the same with no action of F on Vec: inside the product, F leaves Vec unchanged
        _points_spec("F x O(3)", "group F = <s | s^2>\naction F on Pts { s -> flip(dim=0) }\n"),
    ],
    ids=["O3", "SO3", "finite-x-O3", "finite-x-O3-implied-identity"],
)
def test_assert_equivariant_on_tensor_5x3_to_tensor_3_under_o3_raised_index_error_regression(source):
    spec = symspec.loads(source, "pts.sym")
    layer = symspec.compile(spec).LAYERS["f"](2, 3).double()
    assert isinstance(layer, rt.BasisLinear)
    x = torch.randn(4, 2, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    randomize_(layer, 3)
    assert symspec.assert_equivariant(layer, spec, "f", x, generator=g, randomize=False) < 1e-10 * max(
        1.0, float(layer(x).detach().abs().max())
    )
    symspec.assert_equivariant(layer, spec, "f", x, generator=g)
    symspec.assert_equivariant(layer.float(), spec, "f", x.float(), generator=g)
    # a hand-written equivariant map (the mean point) passes; a fixed direction added to it does not
    weights = torch.tensor([1.0, 2.0, 3.0, 2.0, 1.0], dtype=torch.float64)  # symmetric under flipping the points

    class MeanPoint(torch.nn.Module):
        def __init__(self, shift: float):
            super().__init__()
            self.shift = shift

        def forward(self, t):
            y = torch.einsum("bcnk,n->bck", t, weights.to(t.dtype)).sum(1, keepdim=True)
            return y + self.shift * torch.tensor([1.0, 0.0, 0.0], dtype=t.dtype)

    assert symspec.assert_equivariant(MeanPoint(0.0), spec, "f", x, generator=g) < 1e-10 * 100
    with pytest.raises(AssertionError, match="layer f is not equivariant"):
        symspec.assert_equivariant(MeanPoint(1.0), spec, "f", x, generator=g)


def test_symmetric_5_x_o3_on_tensor_5x3_to_tensor_3_acts_trivially_on_the_target_through_the_permutations():
    """Inside a product, symmetric(5) (no action on tensor[3]) leaves Vec unchanged: the layer is the sum of the points
    (its one equivariant map); symmetric(5) alone still has no action on Vec."""
    spec = symspec.loads(_points_spec("symmetric(5) x O(3)"), "pts.sym")
    layer = symspec.compile(spec).LAYERS["f"](2, 3).double()
    assert isinstance(layer, rt.BasisLinear) and layer.basis.shape[0] == 1
    x = torch.randn(4, 2, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    symspec.assert_equivariant(layer, spec, "f", x, generator=g)
    symspec.assert_equivariant(layer.float(), spec, "f", x.float(), generator=g)
    with pytest.raises(AssertionError, match="layer f is not equivariant"):
        symspec.assert_equivariant(lambda t: t[:, :, 0], spec, "f", x, generator=g)  # the first point only
    with pytest.raises(symspec.errors.SpecTypeError, match="group 'E' has no action on Vec"):
        symspec.loads(_points_spec("symmetric(5)"), "pts.sym")


def test_assert_equivariant_acts_on_each_end_by_its_own_action():
    """Adjacency -> node features under symmetric(N): rows and columns permuted on the input, one dim on the output."""
    spec = symspec.loads(
        "domain Adj = tensor[N, N]\ndomain Nodes = tensor[N]\nlayer deg: Adj -> Nodes under symmetric(N)\n", "deg.sym"
    )
    x = torch.randn(3, 2, 6, 6, dtype=torch.float64)
    degree = lambda t: t.mean(-1) + t.diagonal(dim1=-2, dim2=-1)  # noqa: E731 - equivariant
    assert symspec.assert_equivariant(degree, spec, "deg", x) < 1e-10 * 100
    with pytest.raises(AssertionError, match="layer deg is not equivariant"):
        symspec.assert_equivariant(lambda t: t[..., 0], spec, "deg", x)  # column 0: not equivariant


def test_assert_equivariant_fails_on_a_basis_layer_whose_bias_is_not_invariant():
    """A BasisLinear-like layer with a free bias is equivariant at init (bias zero): only random parameters catch it."""
    spec = symspec.loads("domain V = tensor[2]\nlayer f: V -> V under SO(2)\n", "so2.sym")
    layer = symspec.compile(spec).LAYERS["f"](2, 3).double()
    layer.bias_basis = torch.eye(2, dtype=torch.float64)  # the old, free bias over the whole output
    layer.bias = torch.nn.Parameter(torch.zeros(3, 2, dtype=torch.float64))
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    before = [p.detach().clone() for p in layer.parameters()]
    assert symspec.assert_equivariant(layer, spec, "f", x, randomize=False) < 1e-10  # the trap: fine at init
    with pytest.raises(AssertionError, match="layer f is not equivariant"):
        symspec.assert_equivariant(layer, spec, "f", x, generator=torch.Generator().manual_seed(0))  # default: random
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))  # checked on a copy
    with torch.no_grad():
        layer.bias.normal_(generator=torch.Generator().manual_seed(1))
    with pytest.raises(AssertionError, match="layer f is not equivariant"):
        symspec.assert_equivariant(layer, spec, "f", x, randomize=False)
    with pytest.raises(AssertionError, match="layer f is not equivariant"):
        symspec.assert_equivariant(layer.float(), spec, "f", x.float(), randomize=False)


def test_assert_equivariant_samples_words_of_large_finite_groups():
    """symmetric(8) on fixed dims has 40320 elements: random words instead of a table, and it still catches a bad map."""
    spec = symspec.loads("domain S = tensor[8, 2]\ngroup P = symmetric(8)\nlayer f: S -> S under P\n", "s8.sym")
    layer = randomize_(symspec.compile(spec).LAYERS["f"](2, 3).double(), 0)
    x = torch.randn(4, 2, 8, 2, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    assert symspec.assert_equivariant(layer, spec, "f", x, generator=g) < 1e-10 * 100
    cumulative = lambda t: t.cumsum(2)  # noqa: E731 - depends on the order of the points
    with pytest.raises(AssertionError, match="layer f is not equivariant"):
        symspec.assert_equivariant(cumulative, spec, "f", x, generator=g)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_assert_equivariant_follows_the_device_of_the_inputs():
    g = torch.Generator().manual_seed(0)  # a CPU generator: elements are drawn on the CPU and moved
    for source, name, shape in (
        (
            "domain V = tensor[4, 3]\ngroup C = cyclic(4)\naction C on V by roll(dim=0)\ngroup E = C x SO(3)\nlayer f: V -> V under E\n",
            "f",
            (2, 4, 3),
        ),
        ("domain Adj = tensor[N, N]\nlayer f: Adj -> Adj under symmetric(N)\n", "f", (2, 5, 5)),
    ):
        spec = symspec.loads(source, "cuda.sym")
        layer = symspec.compile(spec).LAYERS[name](2, 3).cuda()
        x = torch.randn(4, *shape, device="cuda")
        assert layer(x).device.type == "cuda"
        symspec.assert_equivariant(layer, spec, name, x, generator=g)
        symspec.assert_equivariant(layer.double(), spec, name, x.double(), generator=g)


def test_assert_equivariant_reads_the_analysis_only_through_the_frozen_lookups():
    """The helper sees a spec whose IR answers only ``group(gdef)`` and ``action(gir, domain)``."""

    class OnlyLookups:
        def __init__(self, ir):
            self.group, self.action = ir.group, ir.action

    class Narrowed:
        def __init__(self, spec):
            self.layers, self.ir = spec.layers, OnlyLookups(spec.ir)

    cloud = (ROOT / "examples" / "point_cloud.sym").read_text()
    adjacency = "domain Adj = tensor[N, N]\ndomain Nodes = tensor[N]\nlayer f: Adj -> Nodes under symmetric(N)\n"
    for source, name, shape, compiled in (
        (cloud, "mix", (2, 6, 3), True),
        (cloud, "pool", (2, 6, 3), True),
        (_points_spec("O(3)"), "f", (2, 5, 3), True),
        (adjacency, "f", (2, 5, 5), False),  # no compiled layer for it: the row means by hand
    ):
        spec = symspec.loads(source, "narrow.sym")
        narrowed = Narrowed(spec)
        assert not hasattr(narrowed.ir, "layers") and not hasattr(narrowed.ir, "symmetry")
        x = torch.randn(3, *shape, dtype=torch.float64)
        module = symspec.compile(spec).LAYERS[name](2, 3).double() if compiled else (lambda t: t.mean(-1))
        symspec.assert_equivariant(module, narrowed, name, x, generator=torch.Generator().manual_seed(0))


def test_basis_layer_bases_stay_float64_through_a_cast_down_and_back():
    """`.float().double()` used to round the float64 basis, breaking fp64 equivariance (to ~1e-8)."""
    src = "group R = SO(3)\ndomain M = tensor[3, 3]\naction R on M by matrix(dims=(-2, -1))\nlayer m: M -> M under R\n"
    spec = symspec.loads(src, "m.sym")
    layer = symspec.compile(spec).LAYERS["m"](2, 2)
    exact = layer.basis.clone()
    layer.float().half().double()
    assert layer.basis.dtype == torch.float64 and torch.equal(layer.basis, exact)
    x = torch.randn(3, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    symspec.assert_equivariant(layer, spec, "m", x, generator=torch.Generator().manual_seed(1))


def test_assert_equivariant_names_what_it_takes_when_given_the_spec_text():
    src = "group R = SO(3)\ndomain V = tensor[3]\nlayer v: V -> V under R\n"
    mod = symspec.compile(symspec.loads(src, "v.sym"))
    with pytest.raises(TypeError, match=r"takes the loaded spec \(symspec.load"):
        symspec.assert_equivariant(mod.LAYERS["v"](1, 1), mod.SPEC, "v", torch.randn(2, 1, 3))


@pytest.mark.parametrize("shape", [(4, 2, 25), (2, 5, 5, 2), (4, 2, 5, 5, 1), (4, 1, 5, 5), (4, 5, 5)])
def test_orbit_layer_refuses_a_wrong_layout(shape):
    """[b, 5, 5, 2] for [b, 2, 5, 5] has the same number of entries: a reshape took it silently."""
    mod = symspec.compile(symspec.load(str(ROOT / "examples" / "image_d4.sym"), params={"size": 5}))
    layer = mod.LAYERS["conv"](2, 3)
    assert isinstance(layer, rt.OrbitLinear)
    with pytest.raises(ValueError) as info:
        layer(torch.randn(shape))
    assert str(info.value).endswith(f"expects an input [batch, 2, 5, 5], got {list(shape)}")
    assert layer(torch.randn(4, 2, 5, 5)).shape == (4, 3, 5, 5)
