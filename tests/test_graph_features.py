"""Graph layers under symmetric(N) with fixed feature dims after the node dims, and message passing built from them.

Every kind (pair -> pair, pair -> real, pair -> nodes, nodes -> pair, nodes -> nodes, nodes -> real) with
features on either end, mixed sizes and several trailing dims, N fixed (1, 2, 5) and symbolic (1, 2, 5 at run
time), the default action and a declared one: equivariant in float64 with EVERY parameter random (by hand with
torch permutations of the node dims, and with ``symspec.assert_equivariant``); the feature dims are not permuted;
the maps span the whole equivariant space (its dimension and the bias space's by brute force over the generators
of S_4: the Maron counts 15, 2, 5, 5, 2, 1 times F_in x F_out); a network of compiled layers whose messages are
multiplied by the adjacency commutes with relabelling; the shapes graph layers refuse are compile errors at the
layer with a valid hint.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt
from symspec.codegen import CompileError
from symspec.testing import randomized_copy

# (id, source, target, runtime class, maps per channel and feature pair, node dims in, node dims out)
KINDS = [
    ("pair-pair", "tensor[{n}, {n}, 3]", "tensor[{n}, {n}, 4]", rt.PairLinear, 15, 2, 2),
    ("pair-pair-several", "tensor[{n}, {n}, 3, 4]", "tensor[{n}, {n}]", rt.PairLinear, 15, 2, 2),
    ("pair-real", "tensor[{n}, {n}, 3]", "real", rt.PairPool, 2, 2, 0),
    ("pair-nodes", "tensor[{n}, {n}, 4]", "tensor[{n}, 3]", rt.PairToNodes, 5, 2, 1),
    ("plain-pair-nodes", "tensor[{n}, {n}]", "tensor[{n}, 3]", rt.PairToNodes, 5, 2, 1),
    ("nodes-pair", "tensor[{n}, 3]", "tensor[{n}, {n}, 4]", rt.NodesToPair, 5, 1, 2),
    ("nodes-nodes", "tensor[{n}, 3]", "tensor[{n}, 4]", rt.DeepSetsLinear, 2, 1, 1),
    ("nodes-real", "tensor[{n}, 3, 4]", "real", rt.DeepSetsPool, 1, 1, 0),
]
IDS = [k[0] for k in KINDS]


def _features(domain: str, rank: int) -> tuple:
    """The feature dims of a KINDS domain template (after ``rank`` node dims)."""
    if domain == "real":
        return ()
    return tuple(int(d) for d in domain.removeprefix("tensor[").removesuffix("]").split(", ")[rank:])


def _spec(source: str, target: str, n, declared: bool):
    """A spec with ``layer f: source -> target under P``; ``declared``: the node dims stated in action statements."""
    text = f"domain A = {source.format(n=n)}\n"
    text += f"domain B = {target.format(n=n)}\n" if target != "real" else ""
    text += f"group P = symmetric({n})\n"
    if declared:
        for name, dom in (("A", source), ("B", target)):
            if dom != "real":
                rank = 2 if dom.startswith("tensor[{n}, {n}") else 1
                text += f"action P on {name} by permute(dims={tuple(range(rank))})\n"
    text += f"layer f: A -> {'B' if target != 'real' else 'real'} under P\n"
    return symspec.loads(text, "features.sym")


def _permute_nodes(t: torch.Tensor, perm: torch.Tensor, rank: int) -> torch.Tensor:
    """Permute the ``rank`` node dims of ``[batch, c, *nodes, *features]`` by ``perm``."""
    for d in range(rank):
        t = t.index_select(2 + d, perm)
    return t


@pytest.mark.parametrize("declared", [False, True], ids=["default-action", "declared-action"])
@pytest.mark.parametrize("symbolic", [True, False], ids=["symbolic-N", "fixed-N"])
@pytest.mark.parametrize("name, source, target, cls, maps, r_in, r_out", KINDS, ids=IDS)
def test_graph_layers_with_features_commute_with_permutations_with_every_parameter_random(
    name, source, target, cls, maps, r_in, r_out, symbolic, declared
):
    f_in, f_out = _features(source, r_in), _features(target, r_out)
    for n in (1, 2, 5):
        spec = _spec(source, target, "N" if symbolic else n, declared)
        layer = symspec.compile(spec).LAYERS["f"](2, 3).double()
        assert isinstance(layer, cls)
        if isinstance(layer, rt.PairLinear | rt.PairPool | rt.PairToNodes | rt.NodesToPair):
            assert layer.weight.shape == (3 * math.prod(f_out), 2 * math.prod(f_in), maps)
        g = torch.Generator().manual_seed(n)
        random = randomized_copy(layer, g)
        x = torch.randn(4, 2, *([n] * r_in), *f_in, generator=g, dtype=torch.float64)
        with torch.no_grad():
            y = random(x)
            assert y.shape == (4, 3, *([n] * r_out), *f_out) and y.dtype == torch.float64
            assert float(y.std()) > 0.1  # not a constant: every parameter random, the maps do something
            scale = max(1.0, float(y.abs().max()))
            for _ in range(4):
                perm = torch.randperm(n, generator=g)
                err = float((random(_permute_nodes(x, perm, r_in)) - _permute_nodes(y, perm, r_out)).abs().max())
                assert err <= 1e-10 * scale, f"{name} N={n}: error {err:.3g}"
        symspec.assert_equivariant(layer, spec, "f", x, generator=torch.Generator().manual_seed(10 + n))


def test_a_declared_action_makes_a_dim_of_the_node_size_a_feature_that_no_element_permutes():
    """tensor[3, 3, 3] under symmetric(3) by permute(dims=(0, 1)): dim 2 is a feature; permuting it too breaks the
    commutation (the layer really mixes features), permuting only the node dims does not."""
    spec = symspec.load(ROOT / "tests" / "specs" / "valid" / "graph_features.sym")
    layers = symspec.compile(spec).LAYERS
    g = torch.Generator().manual_seed(0)
    cube = randomized_copy(layers["cube"](2, 2).double(), g)
    assert isinstance(cube, rt.PairToNodes) and cube.in_features == (3,) and cube.out_features == (5,)
    x = torch.randn(3, 2, 3, 3, 3, generator=g, dtype=torch.float64)
    perm = torch.tensor([1, 2, 0])
    with torch.no_grad():
        y = cube(x)
        assert torch.allclose(cube(_permute_nodes(x, perm, 2)), _permute_nodes(y, perm, 1), atol=1e-10)
        assert float((cube(x.index_select(4, perm)) - y).abs().max()) > 1e-3
    symspec.assert_equivariant(cube, spec, "cube", x, generator=g)


def test_a_square_fixed_tensor_is_a_pair_by_default_and_nodes_with_features_when_declared():
    """tensor[4, 4] under symmetric(4): the default permutes both dims (a pair tensor); declaring permute(dims=(0,))
    makes it 4 nodes with 4 features, and the layer then commutes with permuting dim 0 only."""
    head = "domain D = tensor[4, 4]\ngroup P = symmetric(4)\n"
    pair = symspec.compile(symspec.loads(head + "layer f: D -> D under P\n")).LAYERS["f"](1, 1)
    assert isinstance(pair, rt.PairLinear)
    spec = symspec.loads(head + "action P on D by permute(dims=(0,))\nlayer f: D -> D under P\n")
    nodes = symspec.compile(spec).LAYERS["f"](1, 1).double()
    assert isinstance(nodes, rt.DeepSetsLinear) and nodes.identity.shape == (4, 4)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 1, 4, 4, generator=g, dtype=torch.float64)
    symspec.assert_equivariant(nodes, spec, "f", x, generator=g)
    with torch.no_grad():
        random = randomized_copy(nodes, g)
        perm = torch.tensor([2, 0, 3, 1])
        assert torch.allclose(random(x[:, :, perm]), random(x)[:, :, perm], atol=1e-10)
        assert float((random(x[:, :, perm][:, :, :, perm]) - random(x)[:, :, perm][:, :, :, perm]).abs().max()) > 1e-3


def test_the_valid_features_spec_builds_each_kind_with_its_feature_dims():
    layers = symspec.compile(symspec.load(ROOT / "tests" / "specs" / "valid" / "graph_features.sym")).LAYERS
    expected = {
        "edges": (rt.PairLinear, (4,), (3, 2)),
        "edges_pool": (rt.PairPool, (3, 2), ()),
        "edges_to_nodes": (rt.PairToNodes, (4,), (8,)),
        "nodes_to_edges": (rt.NodesToPair, (8,), (4,)),
    }
    for name, (cls, f_in, f_out) in expected.items():
        layer = layers[name](2, 3)
        assert isinstance(layer, cls) and (layer.in_features, layer.out_features) == (f_in, f_out), name
    nodes = layers["nodes"](2, 3)
    assert isinstance(nodes, rt.DeepSetsLinear) and nodes.identity.shape == (3, 16) and nodes.bias.shape == (3,)
    assert nodes(torch.randn(5, 2, 7, 8)).shape == (5, 3, 7)
    pool = layers["nodes_pool"](2, 3)
    assert isinstance(pool, rt.DeepSetsPool) and pool.weight.shape == (3, 16)


# ---- completeness: brute force over the generators of S_4 ----

GENERATORS = ((1, 0, 2, 3), (1, 2, 3, 0))  # a transposition and a 4-cycle generate S_4


def _rep(perm, rank: int, features: int) -> np.ndarray:
    """The push matrix of ``perm`` on the flattened positions of ``[4]*rank + [features]``."""
    n = len(perm)
    p = np.zeros((n, n))
    p[list(perm), range(n)] = 1.0
    m = np.ones((1, 1))
    for _ in range(rank):
        m = np.kron(m, p)
    return np.kron(m, np.eye(features))


def _null_dim(blocks: list, unknowns: int) -> int:
    """Dimension of the null space of the stacked ``blocks`` (singular values below 1e-9 x max(largest, 1) are zero)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: several are slower on a shared machine, and results do not depend on it
    try:
        s = torch.linalg.svdvals(torch.from_numpy(np.concatenate(blocks)))
    finally:
        torch.set_num_threads(threads)
    return unknowns - int((s > 1e-9 * max(float(s.max()), 1.0)).sum())


def _columns(layer, n: int, r_in: int, f_in: tuple) -> np.ndarray:
    """The layer (one channel in and out) on every basis vector of its input: ``[P_out, P_in]``."""
    p_in = n**r_in * math.prod(f_in)
    eye = torch.eye(p_in, dtype=torch.float64).reshape(p_in, 1, *([n] * r_in), *f_in)
    with torch.no_grad():
        return layer(eye).reshape(p_in, -1).T.numpy()


@pytest.mark.parametrize(
    "source, target, maps, r_in, r_out",
    [
        ("tensor[{n}, {n}, 2]", "tensor[{n}, {n}, 3]", 15, 2, 2),
        ("tensor[{n}, {n}]", "tensor[{n}, {n}]", 15, 2, 2),
        ("tensor[{n}, {n}, 3]", "real", 2, 2, 0),
        ("tensor[{n}, {n}, 2]", "tensor[{n}, 3]", 5, 2, 1),
        ("tensor[{n}, 2]", "tensor[{n}, {n}, 3]", 5, 1, 2),
        ("tensor[{n}, 2]", "tensor[{n}, 3]", 2, 1, 1),
        ("tensor[{n}]", "tensor[{n}]", 2, 1, 1),
        ("tensor[{n}, 3]", "real", 1, 1, 0),
    ],
    ids=[
        "pair-pair",
        "pair-pair-plain",
        "pair-real",
        "pair-nodes",
        "nodes-pair",
        "nodes-nodes",
        "nodes-nodes-plain",
        "nodes-real",
    ],
)
def test_graph_layers_with_features_span_every_equivariant_map_and_bias(source, target, maps, r_in, r_out):
    n = 4
    f_in, f_out = _features(source, r_in), _features(target, r_out)
    k_in, k_out = math.prod(f_in), math.prod(f_out)
    rin = [_rep(p, r_in, k_in) for p in GENERATORS]
    rout = [_rep(p, r_out, k_out) for p in GENERATORS]
    p_in, p_out = rin[0].shape[0], rout[0].shape[0]
    constraints = [np.kron(b, np.eye(p_in)) - np.kron(np.eye(p_out), a.T) for a, b in zip(rin, rout)]
    dim = _null_dim(constraints, p_out * p_in)
    assert dim == maps * k_in * k_out  # the Maron count times every feature pair

    layer = symspec.compile(_spec(source, target, "N", False)).LAYERS["f"](1, 1, bias=False).double()
    weights = [p for p in layer.parameters()]
    mats = []
    for w in weights:  # every weight entry alone: one map each
        for i in range(w.numel()):
            with torch.no_grad():
                for other in weights:
                    other.zero_()
                w.view(-1)[i] = 1.0
            mats.append(_columns(layer, n, r_in, f_in).reshape(-1))
    stacked = np.stack(mats)
    assert stacked.shape[0] == dim  # as many parameters as the space's dimension ...
    assert _null_dim([stacked.T], len(stacked)) == 0  # ... independent ...
    for m in stacked:  # ... and each equivariant: the span is the whole space
        w = m.reshape(p_out, p_in)
        assert max(float(np.abs(b @ w - w @ a).max()) for a, b in zip(rin, rout)) < 1e-12

    # biases: the output's invariant vectors
    invariant = _null_dim([b - np.eye(p_out) for b in rout], p_out)
    with_bias = symspec.compile(_spec(source, target, "N", False)).LAYERS["f"](1, 1).double()
    zero = torch.zeros(1, 1, *([n] * r_in), *f_in, dtype=torch.float64)
    biases = []
    for i in range(with_bias.bias.numel()):
        with torch.no_grad():
            for p in with_bias.parameters():
                p.zero_()
            with_bias.bias.view(-1)[i] = 1.0
            biases.append(with_bias(zero).reshape(-1).numpy())
    assert len(biases) == invariant and np.linalg.matrix_rank(np.stack(biases), tol=1e-9) == invariant


# ---- message passing on the adjacency tensor ----


def _example():
    path = ROOT / "examples" / "train_graph_layers.py"
    loader = importlib.util.spec_from_file_location("train_graph_layers", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def test_message_passing_of_compiled_layers_commutes_with_relabelling_with_every_parameter_random():
    """nodes -> pair (messages), times the adjacency, pair -> nodes (aggregate), + nodes -> nodes, ReLU, twice;
    pair -> nodes embedding and nodes -> nodes readout: the whole network commutes with every relabelling, in
    float64 with every parameter random, on random graphs and on arbitrary real (weighted, directed) adjacency."""
    example = _example()
    mod = symspec.compile(symspec.load(ROOT / "examples" / "graph_layers.sym", params={"hidden": 5}))
    g = torch.Generator().manual_seed(0)
    net = randomized_copy(example.MessagePassing(mod.LAYERS, rounds=2), g).double()
    for n in (1, 2, 7):
        graphs = example.random_graphs(6, n, g).double()
        weighted = torch.randn(6, n, n, generator=g, dtype=torch.float64)
        for a in (graphs, weighted):
            with torch.no_grad():
                y = net(a)
                assert y.shape == (6, n)
                scale = max(1.0, float(y.abs().max()))
                for _ in range(4):
                    perm = torch.randperm(n, generator=g)
                    err = float((net(a[:, perm][:, :, perm]) - y[:, perm]).abs().max())
                    assert err <= 1e-10 * scale, f"N={n}: error {err:.3g}"
    with torch.no_grad():  # and it depends on the graph (not a constant)
        a = example.random_graphs(2, 7, g).double()
        assert float((net(a[:1]) - net(a[1:])).abs().max()) > 1e-3


def test_within_two_counts_by_hand():
    example = _example()
    path = torch.zeros(1, 4, 4)
    for i in range(3):
        path[0, i, i + 1] = path[0, i + 1, i] = 1.0  # 0 - 1 - 2 - 3
    assert example.within_two(path).tolist() == [[2.0, 3.0, 3.0, 2.0]]


def test_train_graph_layers_example_runs_and_writes_json(tmp_path):
    out = tmp_path / "graph.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_graph_layers.py"), "--steps", "3", "--seeds", "0"]
        + ["--train", "32", "--test", "32", "--nodes", "6", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if " seed 0 " in line]
    assert [line.split()[0] for line in lines] == ["mpnn", "mlp", "mlp_aug"]
    result = json.loads(out.read_text())
    assert set(result["models"]) == {"mpnn", "mlp", "mlp_aug"}
    assert result["models"]["mpnn"]["runs"]["0"]["equivariance_error"] < 1e-4  # float32, exact up to rounding
    assert result["models"]["mlp"]["runs"]["0"]["equivariance_error"] > 1e-3


# ---- what graph layers refuse ----


@pytest.mark.parametrize(
    "text, where, message",
    [
        (
            "domain E = tensor[N, N, F]\nlayer f: E -> real under symmetric(N)\n",
            "bad.sym:2:1",
            "cannot compile layer f yet: dim 2 of E (tensor[N, N, F]) has the symbolic size F",
        ),
        (
            "domain C = tensor[4, 3, 4]\ngroup P = symmetric(4)\nlayer f: C -> real under P\n",
            "bad.sym:3:1",
            "layer f: dim 2 of C (tensor[4, 3, 4]) has size 4 like the nodes, but symmetric(4)'s default action "
            "permutes only dims (0,)",
        ),
        (
            "domain C = tensor[N, N, N]\ngroup P = symmetric(N)\nlayer f: C -> tensor[N] under P\n",
            "bad.sym:3:1",
            "cannot compile layer f yet: symmetric(N)'s default action permutes dims (0, 1, 2) of C (tensor[N, N, N]) together",
        ),
        (
            "layer f: tensor[40, 40, 40] -> tensor[40, 40, 40] under symmetric(40)\n",  # 64,000² pairs: no orbit layer
            "bad.sym:1:1",
            "cannot compile layer f yet: symmetric(40)'s default action permutes dims (0, 1, 2) of tensor[40, 40, 40] together",
        ),
    ],
    ids=["symbolic-feature", "feature-of-node-size", "third-order", "third-order-inline"],
)
def test_refused_graph_shapes_are_compile_errors_at_the_layer_with_a_valid_hint(text, where, message):
    with pytest.raises(CompileError) as info:
        symspec.compile(symspec.loads(text, "bad.sym"))
    rendered = str(info.value)
    assert rendered.startswith(f"{where}: error: {message}"), rendered
    statements = re.findall(r"'([^']*)'", info.value.diagnostics[0].hint)
    if statements:  # the statements the hint gives make the spec compile
        declared = "\n".join(s for s in statements if not s.startswith("action"))
        actions = "\n".join(s for s in statements if s.startswith("action"))
        fixed = (declared + "\n" + text).replace("layer f", actions + "\nlayer f")
        if "under symmetric(40)" in fixed:  # inline names: the layer uses the declared ones, as the hint says
            fixed = fixed.replace(
                "layer f: tensor[40, 40, 40] -> tensor[40, 40, 40] under symmetric(40)", "layer f: D -> D under P"
            )
        symspec.compile(symspec.loads(fixed, "fixed.sym"))


def test_graph_layer_ends_must_share_their_nodes():
    """tensor[N, N] -> tensor[M]: symmetric(N) has no action on tensor[M] (the analysis says so at the layer)."""
    text = "domain A = tensor[N, N]\ndomain C = tensor[M]\ngroup P = symmetric(N)\nlayer f: A -> C under P\n"
    with pytest.raises(symspec.SpecError) as info:
        symspec.loads(text, "ends.sym")
    assert str(info.value).startswith("ends.sym:4:1: error: group 'P' has no action on C")
