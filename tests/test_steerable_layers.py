"""Steerable layers (rt.SteerableLinear) under symmetric(N) x O(3) / SO(3), and the equivariant nonlinearities.

Every check draws EVERY parameter at random (weights and biases from N(0, 1)),
in float64. Elements are random permutations times random orthogonal matrices
(a reflection included for O(3)), applied here by hand from the spec's
declared dims, and through ``symspec.assert_equivariant``. Parameter counts are
compared with an independent computation: the Maron et al. counts of the point
part times the dimension of the rotation part by character integration over
the Haar measure (``tests/test_steerable_dims.py`` checks those integrals).
The factorized basis spans exactly the brute-force null space of the whole
group on small fixed N.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT
from test_steerable_dims import haar_dim

import symspec
from symspec import runtime as rt
from symspec.codegen import CompileError
from symspec.testing import randomized_copy

SPEC = ROOT / "tests" / "specs" / "valid" / "steerable_layers.sym"

# domain -> (point dims, coordinate dims, free feature size) as declared in the spec
DOMAINS = {
    "Cloud": ((0,), (1,), 1),
    "Vec": ((), (0,), 1),
    "Mat": ((), (0, 1), 1),
    "Pts": ((0,), (1, 2), 1),
    "Cube": ((0,), (1, 2, 3), 1),
    "Pair": ((0, 1), (2,), 1),
    "Nodes": ((0,), (), 1),
    "Feat": ((0,), (1,), 2),
    "real": ((), (), 1),
}
SHAPES = {
    "Cloud": lambda n: (n, 3),
    "Vec": lambda n: (3,),
    "Mat": lambda n: (3, 3),
    "Pts": lambda n: (n, 3, 3),
    "Cube": lambda n: (n, 3, 3, 3),
    "Pair": lambda n: (n, n, 3),
    "Nodes": lambda n: (n,),
    "Feat": lambda n: (n, 3, 2),
    "real": lambda n: (),
}
# the number of symmetric(N)-equivariant maps between p_in and p_out point dims (Maron et al. 2019: Bell numbers)
MARON = {(0, 0): 1, (1, 0): 1, (0, 1): 1, (1, 1): 2, (2, 0): 2, (0, 2): 2, (2, 1): 5, (1, 2): 5, (2, 2): 15}
# layer -> (source, target, "O" | "SO", whether symmetric(N) is a factor)
LAYERS = {
    "cloud_vec": ("Cloud", "Vec", "O", True),
    "pts_real": ("Pts", "real", "O", True),
    "pts_mat": ("Pts", "Mat", "O", True),
    "pts_pts": ("Pts", "Pts", "O", True),
    "nodes_pts": ("Nodes", "Pts", "O", True),
    "pts_nodes": ("Pts", "Nodes", "O", True),
    "cube_cloud": ("Cube", "Cloud", "O", True),
    "cloud_pair": ("Cloud", "Pair", "O", True),
    "pair_pair": ("Pair", "Pair", "O", True),
    "pair_cloud": ("Pair", "Cloud", "O", True),
    "pair_vec": ("Pair", "Vec", "O", True),
    "feat_cloud": ("Feat", "Cloud", "O", True),
    "cloud_pts": ("Cloud", "Pts", "SO", True),
    "pts_cloud": ("Pts", "Cloud", "SO", True),
    "cloud_mat": ("Cloud", "Mat", "SO", True),
    "cube_real": ("Cube", "real", "SO", True),
    "each": ("Cloud", "Cloud", "O", False),
    "each_cross": ("Pts", "Cloud", "SO", False),
}


# tensor[N, 3, 3] -> itself: lower_layers gives it to rt.DeepSetsLinear first (2 of the 6 maps: the identity on
# V (x) V only); the full steerable layer is built here with the arguments the lowering would give it
DIRECT = {"pts_pts": (("o", 3), {"shape": ("N", 3, 3), "points": (0,), "coords": (1, 2)})}


class _Layers(dict):
    def __missing__(self, name):
        group, end = DIRECT[name]
        return lambda c_in, c_out, bias=True: rt.SteerableLinear(c_in, c_out, group, end, end, bias)


class _Compiled:
    def __init__(self, mod):
        self.LAYERS = _Layers({k: v for k, v in mod.LAYERS.items() if k not in DIRECT})


@pytest.fixture(scope="module")
def compiled():
    spec = symspec.load(SPEC)
    return spec, _Compiled(symspec.compile(spec))


def _orthogonal(g: torch.Generator, det: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) * det < 0:
        q[:, 0] = -q[:, 0]
    return q


def _act(t: torch.Tensor, domain: str, perm: torch.Tensor, rot: torch.Tensor, pointwise: bool) -> torch.Tensor:
    """Permute the point dims of ``[b, c, *event]`` by ``perm`` (not for a pointwise layer) and rotate every coordinate dim."""
    points, coords, _ = DOMAINS[domain]
    if not pointwise:
        for d in points:
            t = t.index_select(2 + d, perm)
    for d in coords:
        t = torch.movedim(torch.tensordot(t, rot, dims=([2 + d], [1])), -1, 2 + d)  # R on that dim
    return t


def _random(layer: torch.nn.Module, seed: int) -> torch.nn.Module:
    return randomized_copy(layer, torch.Generator().manual_seed(seed))


def _expected_maps(name: str) -> tuple[int, int]:
    """(point maps, rotation maps) per channel pair, computed independently of the layer."""
    src, dst, kind, permuted = LAYERS[name]
    (p_in, c_in, m_in), (p_out, c_out, m_out) = DOMAINS[src], DOMAINS[dst]
    point = MARON[(len(p_in), len(p_out))] if permuted else 1
    return point, haar_dim(kind, 3, len(c_in) + len(c_out)) * m_in * m_out


@pytest.mark.parametrize("name", list(LAYERS))
def test_parameter_counts_are_the_point_maps_times_the_haar_dimension(compiled, name):
    spec, mod = compiled
    layer = mod.LAYERS[name](2, 3)
    assert isinstance(layer, rt.SteerableLinear)
    point, rotation = _expected_maps(name)
    assert tuple(layer.weight.shape) == (3, 2, point, rotation)
    invariants = haar_dim(LAYERS[name][2], 3, len(DOMAINS[LAYERS[name][1]][1])) * DOMAINS[LAYERS[name][1]][2]
    point_invariants = {0: 1, 1: 1, 2: 2}[len(DOMAINS[LAYERS[name][1]][0])]
    if invariants:  # the bias lives in the invariant subspace: none for vectors, delta for V (x) V, epsilon under SO(3)
        assert tuple(layer.bias.shape) == (3, point_invariants, invariants)
    else:
        assert layer.bias is None


@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_commute_with_permutations_and_rotations_with_every_parameter_random(compiled, name):
    spec, mod = compiled
    src, dst, kind, permuted = LAYERS[name]
    g = torch.Generator().manual_seed(7)
    for n in (1, 4, 50) if "pair" not in name else (1, 4, 20):
        layer = _random(mod.LAYERS[name](2, 3).double(), n)
        x = torch.randn(3, 2, *SHAPES[src](n), generator=g, dtype=torch.float64)
        y = layer(x).detach()
        assert y.shape == (3, 3, *SHAPES[dst](n)) and y.dtype == torch.float64
        scale = max(1.0, float(y.abs().max()))
        for det in (1, -1) if kind == "O" else (1, 1):
            perm, rot = torch.randperm(n, generator=g), _orthogonal(g, det)
            gx = _act(x, src, perm, rot, not permuted)
            err = float((layer(gx).detach() - _act(y, dst, perm, rot, not permuted)).abs().max())
            assert err <= 1e-10 * scale, f"{name} N={n} det={det}: error {err:.3g}"
        symspec.assert_equivariant(layer, spec, name, x, generator=torch.Generator().manual_seed(n))
    # float32 too, and the layer follows the input's dtype
    x32 = torch.randn(2, 2, *SHAPES[src](5), generator=g)
    symspec.assert_equivariant(mod.LAYERS[name](2, 3), spec, name, x32, generator=torch.Generator().manual_seed(1))


def test_a_layer_that_ignores_its_bias_is_caught():
    """The bias of a vector output must be zero: a random bias there would break O(3) (the check is not vacuous)."""
    spec = symspec.load(SPEC)
    layer = _Compiled(symspec.compile(spec)).LAYERS["pts_mat"](1, 1).double()
    broken = _random(layer, 0)
    with torch.no_grad():
        broken.bias_basis.copy_(torch.randn(broken.bias_basis.shape, dtype=torch.float64))  # not invariant any more
    x = torch.randn(2, 1, 4, 3, 3, dtype=torch.float64)
    with pytest.raises(AssertionError, match="not equivariant"):
        symspec.assert_equivariant(broken, spec, "pts_mat", x, generator=torch.Generator().manual_seed(0), randomize=False)


# ---- the factorized basis against the brute-force null space on small fixed N ------------------------------


def _positions_push(shape: tuple, points: tuple, perm: np.ndarray) -> np.ndarray:
    """Push map on the flattened positions of ``shape`` permuting the point dims by ``perm`` (i -> perm[i])."""
    idx = np.arange(int(np.prod(shape))).reshape(shape) if shape else np.zeros((), dtype=int)
    moved = idx
    inverse = np.argsort(perm)
    for d in points:
        moved = np.take(moved, inverse, axis=d)  # entry at new position p came from position inverse[p]
    push = np.empty(idx.size, dtype=int)
    push[moved.reshape(-1)] = np.arange(idx.size)
    return push


def _generators(shape: tuple, points: tuple, coords: tuple, kind: str, n: int) -> list:
    """(kind, matrix) of each generator of symmetric(n) x (S)O(3) on the flattened positions: group elements for the
    two permutation generators and the reflection, Lie algebra elements for the rotations."""
    size = int(np.prod(shape)) if shape else 1
    out = []
    for perm in (np.array([1, 0, *range(2, n)]), np.roll(np.arange(n), 1)):
        push = _positions_push(shape, points, perm) if points else np.arange(size)
        m = np.zeros((size, size))
        m[push, np.arange(size)] = 1.0
        out.append(("group", m))

    def lift(a, d):
        return np.kron(np.kron(np.eye(int(np.prod(shape[:d]))), a), np.eye(int(np.prod(shape[d + 1 :]))))

    for i, j in ((0, 1), (0, 2), (1, 2)):
        a = np.zeros((3, 3))
        a[i, j], a[j, i] = -1.0, 1.0
        out.append(("lie", sum((lift(a, d) for d in coords), np.zeros((size, size)))))
    if kind == "O":
        m = np.eye(size)
        for d in coords:
            m = m @ lift(np.diag([-1.0, 1.0, 1.0]), d)
        out.append(("group", m))
    return out


def _null_space(src: str, dst: str, kind: str, n: int) -> np.ndarray:
    """Orthonormal basis [k, P_out * P_in] of the maps commuting with every generator (eigh of the Gram matrix)."""
    (pi, ci, _), (po, co, _) = DOMAINS[src], DOMAINS[dst]
    si, so = SHAPES[src](n), SHAPES[dst](n)
    gin, gout = _generators(si, pi, ci, kind, n), _generators(so, po, co, kind, n)
    a, b = gin[0][1].shape[0], gout[0][1].shape[0]
    gram = np.zeros((a * b, a * b))
    for (_, mi), (_, mo) in zip(gin, gout):  # C = kron(mo, I) - kron(I, mi^T); C^T C by Kronecker identities
        gram += np.kron(mo.T @ mo, np.eye(a)) - np.kron(mo.T, mi.T) - np.kron(mo, mi) + np.kron(np.eye(b), mi @ mi.T)
    w, v = np.linalg.eigh(gram)
    return v[:, w < 1e-9 * max(1.0, w.max())].T


def _layer_maps(layer: rt.SteerableLinear, src: str, n: int) -> np.ndarray:
    """Each (point map, rotation map) of a 1 -> 1 channel layer as a matrix [P_out * P_in], flattened."""
    si = SHAPES[src](n)
    size = int(np.prod(si)) if si else 1
    eye = torch.eye(size, dtype=torch.float64).reshape(size, 1, *si)
    maps = []
    with torch.no_grad():
        for idx in np.ndindex(*layer.weight.shape[2:]):
            layer.weight.zero_()
            layer.weight[(0, 0, *idx)] = 1.0
            cols = layer(eye).reshape(size, -1)  # [P_in, P_out]
            maps.append(cols.T.reshape(-1).numpy())
    return np.stack(maps)


@pytest.mark.parametrize(
    "name, n",
    [
        ("cloud_vec", 3),
        ("cloud_vec", 4),
        ("pts_real", 3),
        ("pts_pts", 3),
        ("nodes_pts", 4),
        ("pts_nodes", 4),
        ("cloud_pair", 4),
        ("pair_cloud", 4),
        ("pair_vec", 4),
        ("cloud_pts", 3),
        ("pts_cloud", 3),
        ("cube_real", 3),
        ("feat_cloud", 4),
    ],
)
def test_the_factorized_basis_spans_the_brute_force_null_space_on_a_small_fixed_n(compiled, name, n):
    _, mod = compiled
    src, dst, kind, _ = LAYERS[name]
    layer = mod.LAYERS[name](1, 1, bias=False).double()
    ours = _layer_maps(layer, src, n)
    brute = _null_space(src, dst, kind, n)
    assert brute.shape[0] == ours.shape[0] == int(np.prod(_expected_maps(name)))
    assert np.linalg.matrix_rank(ours, tol=1e-8) == ours.shape[0]  # independent
    residual = ours - (ours @ brute.T) @ brute  # every map of ours lies in the null space ...
    assert np.abs(residual).max() < 1e-9
    # ... and, as many independent ones, spans it


def test_pair_to_pair_spans_the_null_space_at_n_3():
    """The 15 Bell maps x the identity on the vector span the equivariant maps of tensor[3, 3, 3]: 14 of them, as
    two of the 15 coincide when N < 4 (the count is 15 from N = 4 on)."""
    spec = symspec.load(SPEC)
    layer = _Compiled(symspec.compile(spec)).LAYERS["pair_pair"](1, 1, bias=False).double()
    ours = _layer_maps(layer, "Pair", 3)
    brute = _null_space("Pair", "Pair", "O", 3)
    assert ours.shape[0] == 15 and brute.shape[0] == 14
    assert np.linalg.matrix_rank(ours, tol=1e-8) == 14
    assert np.abs(ours - (ours @ brute.T) @ brute).max() < 1e-9


# ---- nonlinearities and a deep network -----------------------------------------------------------------------


@pytest.mark.parametrize("domain, rep_dims", [("Cloud", (1,)), ("Pts", (1, 2)), ("Nodes", ())])
def test_norm_gate_commutes_with_permutations_and_rotations(domain, rep_dims):
    g = torch.Generator().manual_seed(3)
    gate = rt.NormGate(4, rep_dims).double()
    with torch.no_grad():
        gate.bias.copy_(torch.randn(4, generator=g, dtype=torch.float64))
    for n in (1, 6, 50):
        x = torch.randn(2, 4, *SHAPES[domain](n), generator=g, dtype=torch.float64)
        for det in (1, -1):
            perm, rot = torch.randperm(n, generator=g), _orthogonal(g, det)
            with torch.no_grad():
                err = (gate(_act(x, domain, perm, rot, False)) - _act(gate(x), domain, perm, rot, False)).abs().max()
            assert float(err) < 1e-12
    assert not torch.allclose(gate(x), x)  # not the identity
    norms = rt.rep_norm(x, rep_dims)
    assert norms.shape == (2, 4, *SHAPES["Nodes"](50))


def test_a_deep_network_is_invariant_with_every_parameter_random(compiled):
    """cloud -> pairs -> gate -> pairs -> norms -> ... -> real: layer, gate, layer, pool, with random parameters."""
    spec, mod = compiled
    extra = symspec.compile(
        symspec.loads(
            "domain Adj = tensor[N, N]\ngroup P = symmetric(N)\naction P on Adj by permute(dims=(0, 1))\n"
            "layer mix: Adj -> Adj under P\nlayer pool: Adj -> real under P\n",
            "deep.sym",
        )
    )
    L = mod.LAYERS

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = L["cloud_pair"](1, 4)
            self.gate_a = rt.NormGate(4, (2,))
            self.b = L["pair_pair"](4, 4)
            self.gate_b = rt.NormGate(4, (2,))
            self.c = L["pts_pts"](1, 2)  # a second branch through V (x) V
            self.mix = extra.LAYERS["mix"](4, 4)
            self.pool = extra.LAYERS["pool"](4, 1)
            self.out = L["pts_real"](2, 1)

        def forward(self, x):
            h = self.gate_b(self.b(self.gate_a(self.a(x))))
            s = torch.nn.functional.silu(self.mix(rt.rep_norm(h, (2,))))  # invariant pair features
            outer = x[:, :, :, :, None] * x[:, :, :, None, :]  # x x^T per point: V (x) V
            return self.pool(s) + self.out(rt.NormGate(2, (1, 2)).double()(self.c(outer)))

    net = _random(Net().double(), 11)
    g = torch.Generator().manual_seed(5)
    for n in (1, 5, 12):
        x = torch.randn(4, 1, n, 3, generator=g, dtype=torch.float64)
        y = net(x)
        top = float(y.detach().abs().max())
        assert y.shape == (4, 1) and top > 1e-3
        for det in (1, -1):
            perm, rot = torch.randperm(n, generator=g), _orthogonal(g, det)
            err = float((net(_act(x, "Cloud", perm, rot, False)) - y).detach().abs().max())
            assert err < 1e-10 * max(1.0, top)
    y.sum().backward()  # trains: every parameter gets a gradient
    assert all(p.grad is not None for p in net.parameters())


def test_gated_scales_whole_representations_by_invariant_gates():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 3, 3, generator=g, dtype=torch.float64)
    gates = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    y = rt.gated(x, gates, (1, 2))
    assert torch.allclose(y, x * torch.sigmoid(gates)[..., None, None])


# ---- forward: kernel reuse, dtype, device ----------------------------------------------------------------


def test_the_kernel_is_reused_without_gradients_and_rebuilt_after_a_step(compiled):
    _, mod = compiled
    layer = mod.LAYERS["pts_pts"](2, 2)
    x = torch.randn(3, 2, 6, 3, 3)
    with torch.no_grad():
        first = layer.kernel(torch.float32)
        assert layer.kernel(torch.float32) is first  # reused
        y0 = layer(x)
        layer.weight.add_(1.0)
        assert layer.kernel(torch.float32) is not first  # rebuilt once the weights change
        assert not torch.allclose(layer(x), y0)
    y = layer(x)  # with gradients: a fresh kernel in the graph
    y.square().sum().backward()
    assert layer.weight.grad is not None and float(layer.weight.grad.abs().max()) > 0


# ---- compile errors --------------------------------------------------------------------------------------


HEAD = (
    "domain Cloud = tensor[N, 3]\ndomain Vec = tensor[3]\ndomain Big = tensor[N, 3, 3, 3, 3]\ndomain Cube = tensor[N, 3, 3, 3]\n"
    "group P = symmetric(N)\ngroup R = O(3)\ngroup E = P x R\naction R on Big by matrix(dims=(-4, -3, -2, -1))\n"
    "action R on Cube by matrix(dims=(-3, -2, -1))\n"
)


@pytest.mark.parametrize(
    "layer, message, hint",
    [
        (
            "layer l: Cloud -> real under E",
            "no nonzero linear map from Cloud to real commutes with E except 0, so layer l would always output zero",
            "rt.rep_norm",
        ),
        (
            "layer l: Cloud -> real under R",
            "layer l: R does not act on the dim of size N of Cloud, so the layer maps it point by point and both ends "
            "must keep it (here: ['N'] -> none)",
            "put symmetric(N) in the group",
        ),
        (
            "layer l: Vec -> Cloud under E",
            "layer l: the output Cloud has N points but its input Vec has none, so the number of points is not known "
            "when the layer runs",
            "fixed number of points",
        ),
        (
            "layer l: Big -> Cube under E",
            "layer l: the fixed dims of Big (81 positions) and Cube (27 positions) give a rotation basis over 2187 "
            "unknowns (a dense SVD), over the limit 1600",
            "smaller fixed dims",
        ),
    ],
)
def test_layers_symspec_cannot_build_are_errors_at_the_layer(layer, message, hint):
    spec = symspec.loads(HEAD + layer + "\n", "bad.sym")
    with pytest.raises(CompileError) as info:
        symspec.compile(spec)
    rendered = info.value.render()
    assert f"bad.sym:10:1: error: {message}" in rendered, rendered
    assert hint in rendered


# ---- the example -----------------------------------------------------------------------------------------


def test_point_cloud_example_runs_and_reports(tmp_path):
    out = tmp_path / "pc.json"
    args = ["--steps", "3", "--seeds", "0", "--train", "32", "--test", "32", "--channels", "2", "--threads", "1"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_point_cloud.py"), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"steerable", "mlp", "mlp_aug"}
    for entry in result["models"].values():
        run = entry["runs"]["0"]
        assert run["rotated"] >= 0 and run["canonical"] >= 0
    assert "steerable seed 0" in proc.stdout


def test_compiled_layers_say_which_output_dims_the_rotation_acts_on(compiled):
    _, mod = compiled
    assert mod.LAYERS["cloud_pair"](1, 1).out_rep_dims == (2,)
    assert mod.LAYERS["cloud_pts"](1, 1).out_rep_dims == (1, 2)
    assert mod.LAYERS["pts_real"](1, 1).out_rep_dims == ()


# ---- other n: SO(2), O(2), SO(4), O(4) -------------------------------------------------------------------


def _orthogonal_n(g: torch.Generator, n: int, det: int) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) * det < 0:
        q[:, 0] = -q[:, 0]
    return q


def _rotate_dims(t: torch.Tensor, dims: tuple, perm: torch.Tensor | None, rot: torch.Tensor) -> torch.Tensor:
    """Permute event dim 0 of ``[b, c, *event]`` by ``perm`` (None: not at all), then ``rot`` on each of ``dims``."""
    if perm is not None:
        t = t.index_select(2, perm)
    for d in dims:
        t = torch.movedim(torch.tensordot(t, rot, dims=([2 + d], [1])), -1, 2 + d)
    return t


@pytest.mark.parametrize("kind, n", [("SO", 2), ("O", 2), ("SO", 4), ("O", 4)])
def test_layers_for_other_n_commute_and_have_the_haar_counts(kind, n):
    """symmetric(N) x (S)O(n): tensor[N, n] -> tensor[N, n] (DeepSets takes vectors for n >= 3; n = 2 comes here),
    tensor[N, n, n] -> real, and the rotation group alone point by point; counts against the character integrals
    for n = 2; tensor[N, n] -> tensor[N, n, n] has no nonzero map for these (-I is in each group, or SO(2))."""
    head = (
        f"domain C = tensor[N, {n}]\ndomain M = tensor[N, {n}, {n}]\ngroup P = symmetric(N)\ngroup R = {kind}({n})\n"
        "group E = P x R\naction R on M by matrix(dims=(-2, -1))\n"
    )
    text = head + "layer cc: C -> C under E\nlayer mr: M -> real under E\nlayer each: C -> C under R\n"
    spec = symspec.loads(text, "n.sym")
    mod = symspec.compile(spec)
    with pytest.raises(CompileError, match="no nonzero linear map from C to M commutes with E"):
        symspec.compile(symspec.loads(head + "layer cm: C -> M under E\n", "n.sym"))
    g = torch.Generator().manual_seed(n)
    cases = {"cc": ((1,), (1,)), "mr": ((1, 2), ()), "each": ((1,), (1,))}
    for name, (cin, cout) in cases.items():
        if isinstance(mod.LAYERS[name](1, 1), rt.DeepSetsLinear):  # vectors for n >= 3: the existing closed form
            continue
        layer = _random(mod.LAYERS[name](2, 3).double(), n)
        assert isinstance(layer, rt.SteerableLinear)
        if n == 2:
            assert layer.weight.shape[3] == haar_dim(kind, 2, len(cin) + len(cout))
        for points in (1, 5, 30):
            x = torch.randn(2, 2, points, *([n] * len(cin)), generator=g, dtype=torch.float64)
            y = layer(x)
            scale = max(1.0, float(y.abs().max()))
            for det in (1, -1) if kind == "O" else (1,):
                perm = torch.randperm(points, generator=g) if name != "each" else None
                rot = _orthogonal_n(g, n, det)
                gx = _rotate_dims(x, cin, perm, rot)
                gy = _rotate_dims(y, cout, perm if cout else None, rot)
                err = float((layer(gx) - gy).abs().max())
                assert err <= 1e-10 * scale, f"{kind}({n}) {name} N={points}: {err:.3g}"
