"""Graph layers under symmetric(N) (Maron et al. 2019): tensor[N, N] -> real / tensor[N], tensor[N] -> tensor[N, N].

Each kind, with N fixed and symbolic (N = 3, 5, 7 at run time), commutes with
random permutations with EVERY parameter random (weights and biases from
N(0, 1)), in float32 and float64, checked by hand with torch permutations and
with ``symspec.assert_equivariant``; and its maps span every equivariant linear
map for N = 4 (the null space of the constraints over all 24 permutations).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt

HEAD = "domain Adj = tensor[{n}, {n}]\ndomain Nodes = tensor[{n}]\ngroup P = symmetric({n})\naction P on Adj by permute(dims=(0, 1))\n"

# (layer source -> target, runtime class, number of maps, input rank, output rank)
KINDS = [
    ("Adj -> real", rt.PairPool, 2, 2, 0),
    ("Adj -> Nodes", rt.PairToNodes, 5, 2, 1),
    ("Nodes -> Adj", rt.NodesToPair, 5, 1, 2),
    ("Nodes -> real", rt.DeepSetsPool, 1, 1, 0),
]
IDS = ["pair-to-real", "pair-to-nodes", "nodes-to-pair", "nodes-to-real"]
TOL = {torch.float64: 1e-10, torch.float32: 1e-4}


def _compile(kind: str, n):
    spec = symspec.loads(HEAD.format(n=n) + f"layer f: {kind} under P\n", "graph.sym")
    return spec, symspec.compile(spec).LAYERS["f"]


def _permute(t: torch.Tensor, perm: torch.Tensor, rank: int) -> torch.Tensor:
    """Permute every event dim of ``[batch, c, *event]`` (rank of them) by ``perm``."""
    for d in range(rank):
        t = t.index_select(2 + d, perm)
    return t


def _randomized(layer: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    return layer


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("symbolic", [True, False], ids=["symbolic-N", "fixed-N"])
@pytest.mark.parametrize("kind, cls, maps, r_in, r_out", KINDS, ids=IDS)
def test_graph_layers_commute_with_permutations_with_every_parameter_random(kind, cls, maps, r_in, r_out, symbolic, dtype):
    for n in (3, 5, 7):
        spec, build = _compile(kind, "N" if symbolic else n)
        layer = _randomized(build(2, 3), seed=n).to(dtype)
        assert isinstance(layer, cls)
        if cls is not rt.DeepSetsPool:
            assert layer.weight.shape == (3, 2, maps)
            assert layer.bias.shape == (3, 2 if r_out == 2 else 1)
        assert all(bool(p.detach().abs().max() > 0.1) for p in layer.parameters())  # biases too: none left at zero
        g = torch.Generator().manual_seed(100 + n)
        x = torch.randn(4, 2, *([n] * r_in), generator=g, dtype=torch.float64).to(dtype)
        with torch.no_grad():
            y = layer(x)
            assert y.shape == (4, 3, *([n] * r_out)) and y.dtype == dtype
            scale = max(1.0, float(y.abs().max()))
            for _ in range(5):
                perm = torch.randperm(n, generator=g)
                err = float((layer(_permute(x, perm, r_in)) - _permute(y, perm, r_out)).abs().max())
                assert err <= TOL[dtype] * scale, f"{kind} N={n} {dtype}: error {err:.3g}"
        helper = torch.Generator().manual_seed(n)
        symspec.assert_equivariant(layer, spec, "f", x, generator=helper, randomize=False)
        symspec.assert_equivariant(layer, spec, "f", x, generator=helper)


def _matrices(layer: torch.nn.Module, n: int, r_in: int, r_out: int) -> np.ndarray:
    """The layer's maps (one input and output channel, no bias), each as a matrix [P_out * P_in], stacked."""
    p_in = n**r_in
    eye = torch.eye(p_in, dtype=torch.float64).reshape(p_in, 1, *([n] * r_in))  # every basis vector, one batch each
    rows = []
    weight = layer.weight if layer.weight.dim() == 3 else layer.weight[..., None]  # DeepSetsPool: one map, [c_out, c_in]
    for k in range(weight.shape[-1]):
        with torch.no_grad():
            weight.zero_()
            weight[0, 0, k] = 1.0
            rows.append(layer(eye).reshape(p_in, -1).T.reshape(-1).numpy())
    return np.stack(rows)


def _equivariant_dimension(n: int, r_in: int, r_out: int) -> int:
    """Dimension of {W : P_out(g) W = W P_in(g) for all g in S_n}, by brute force over every permutation."""

    def rep(perm, rank):
        m = np.zeros((n,) * rank * 2)
        for idx in itertools.product(range(n), repeat=rank):
            m[tuple(perm[i] for i in idx) + idx] = 1.0
        return m.reshape(n**rank, n**rank)

    blocks = []
    for perm in itertools.permutations(range(n)):
        a, b = rep(perm, r_in), rep(perm, r_out)
        blocks.append(np.kron(b, np.eye(n**r_in)) - np.kron(np.eye(n**r_out), a.T))
    s = np.linalg.svd(np.concatenate(blocks), compute_uv=False)
    return n ** (r_in + r_out) - int((s > 1e-9 * s.max()).sum())


@pytest.mark.parametrize("kind, cls, maps, r_in, r_out", KINDS, ids=IDS)
def test_graph_layer_maps_span_every_equivariant_linear_map(kind, cls, maps, r_in, r_out):
    n = 4
    _, build = _compile(kind, "N")
    layer = build(1, 1, bias=False).double()
    stacked = _matrices(layer, n, r_in, r_out)
    assert stacked.shape[0] == maps
    dim = _equivariant_dimension(n, r_in, r_out)
    assert dim == maps
    assert np.linalg.matrix_rank(stacked) == dim
    # and each map commutes with every permutation (so the span is inside the equivariant space)
    for perm in itertools.permutations(range(n)):
        p = torch.tensor(perm)
        x = torch.randn(2, 1, *([n] * r_in), dtype=torch.float64)
        with torch.no_grad():
            assert torch.allclose(layer(_permute(x, p, r_in)), _permute(layer(x), p, r_out), atol=1e-12)


def test_graph_layers_follow_the_input_dtype_and_device():
    _, build = _compile("Nodes -> Adj", "N")
    layer = build(2, 3)
    for dtype in (torch.float32, torch.float64):
        assert layer(torch.randn(1, 2, 4, dtype=dtype)).dtype == dtype


def test_the_valid_graph_layers_spec_builds_each_kind():
    spec = symspec.load(ROOT / "tests" / "specs" / "valid" / "graph_layers.sym")
    layers = symspec.compile(spec).LAYERS
    expected = {
        "edges_pool": rt.PairPool,
        "edges_to_nodes": rt.PairToNodes,
        "nodes_to_edges": rt.NodesToPair,
        "nodes_pool": rt.DeepSetsPool,
        "edges": rt.PairLinear,
    }
    for name, cls in expected.items():
        assert isinstance(layers[name](2, 3), cls), name


def test_a_symbolic_dim_after_the_node_dims_is_a_compile_error_at_the_layer():
    """tensor[N, 3, N]: the default action permutes dim 0 only, so dim 2 (size N) would be a symbolic feature dim.
    (Node and pair tensors with fixed feature dims compile: tests/test_graph_features.py.)"""
    from symspec.codegen import CompileError

    spec = symspec.loads(HEAD.format(n="N") + "domain R = tensor[N, 3, N]\nlayer f: R -> real under P\n", "g.sym")
    with pytest.raises(CompileError, match="cannot compile layer f yet: dim 2 of R \\(tensor\\[N, 3, N\\]\\) has size N") as info:
        symspec.compile(spec)
    assert str(info.value).startswith("g.sym:6:1: error:")
