"""Adversarial checks of the graph layers under symmetric(N) (review of issue 14, item 2).

Inputs whose channels and features are swapped, whose feature dims are missing or extra, or whose pair dims are not
square are a ValueError naming the expected shape (they used to pass silently whenever the sizes multiplied alike);
an empty graph (N = 0) or an empty batch gives finite, correctly shaped outputs (means over no entries are 0);
the maps are complete and inside the equivariant space against a brute-force null space on N = 3 with several
trailing feature dims; and every kind commutes with permutations in float32 on non-contiguous inputs, every
parameter random.
"""

from __future__ import annotations

import math

import pytest
import torch

import symspec
from symspec import runtime as rt
from symspec.codegen import CompileError
from symspec.testing import randomized_copy

SPEC = """
domain E = tensor[N, N, 3]
domain H = tensor[N, 2]
group P = symmetric(N)
layer pp: E -> E under P
layer pn: E -> H under P
layer np: H -> E under P
layer nn: H -> H under P
layer pr: E -> real under P
layer nr: H -> real under P
"""

# (layer, a well-shaped input without batch and channels, bad inputs with batch and channels (c_in = 2))
BAD = [
    ("pp", (4, 4, 3), [(1, 3, 4, 4, 2), (1, 2, 4, 5, 3), (1, 2, 4, 4, 3, 1), (1, 6, 4, 4)]),
    ("pn", (4, 4, 3), [(1, 3, 4, 4, 2), (1, 2, 4, 5, 3), (1, 6, 4, 4)]),
    ("np", (4, 2), [(1, 1, 4, 4), (1, 4, 4, 1), (1, 2, 4, 2, 1)]),
    ("nn", (4, 2), [(1, 1, 4, 4), (1, 4, 4, 1), (1, 4, 4)]),
    ("pr", (4, 4, 3), [(1, 3, 4, 4, 2), (1, 2, 4, 5, 3), (1, 6, 4, 4)]),
    ("nr", (4, 2), [(1, 1, 4, 4), (1, 4, 4, 1), (1, 4, 4)]),
]


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one torch thread (two threads on the shared cores were 10-100x slower here); restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def layers():
    return symspec.compile(symspec.loads(SPEC, "adv.sym")).LAYERS


@pytest.mark.parametrize("name, good, bad", BAD, ids=[b[0] for b in BAD])
def test_a_misshaped_input_is_a_value_error_naming_the_expected_shape(layers, name, good, bad):
    layer = layers[name](2, 2)
    layer(torch.randn(1, 2, *good))
    for shape in bad:
        with pytest.raises(
            ValueError, match=rf"{name} expects an input \[batch, 2, N, .*\], got \[{', '.join(map(str, shape))}\]"
        ):
            layer(torch.randn(*shape))


@pytest.mark.parametrize("name, good", [(b[0], b[1]) for b in BAD], ids=[b[0] for b in BAD])
def test_an_empty_graph_and_an_empty_batch_give_finite_outputs_of_the_right_shape(layers, name, good):
    layer = randomized_copy(layers[name](2, 3).double(), torch.Generator().manual_seed(0))
    rank = 2 if len(good) == 3 else 1
    out_rank = {"pp": 2, "pn": 1, "np": 2, "nn": 1, "pr": 0, "nr": 0}[name]
    out_features = {"pp": (3,), "pn": (2,), "np": (3,), "nn": (2,), "pr": (), "nr": ()}[name]
    with torch.no_grad():
        empty = layer(torch.randn(2, 2, *([0] * rank), *good[rank:], dtype=torch.float64))
        assert empty.shape == (2, 3, *([0] * out_rank), *out_features)
        assert bool(torch.isfinite(empty).all())
        if out_rank == 0:  # only the biases remain
            assert torch.equal(empty, layer.bias[:, 0].expand(2, 3) if layer.bias.dim() == 2 else layer.bias.expand(2, 3))
        none = layer(torch.randn(0, 2, *good, dtype=torch.float64))
        assert none.shape == (0, 3, *([4] * out_rank), *out_features)


def _node_permutation(shape: tuple, rank: int, perm: torch.Tensor) -> torch.Tensor:
    """The matrix on the flattened positions of ``shape`` of permuting its first ``rank`` dims (y = x[perm])."""
    points = math.prod(shape) if shape else 1
    index = torch.arange(points).reshape(shape) if shape else torch.arange(1)
    for d in range(rank):
        index = index.index_select(d, perm)
    m = torch.zeros(points, points, dtype=torch.float64)
    m[torch.arange(points), index.reshape(-1)] = 1.0
    return m


def _layer_maps(layer: torch.nn.Module, in_shape: tuple) -> torch.Tensor:
    """Every linear map the layer's weights span (biases zero): ``[weights, P_out * P_in]``, one per weight entry."""
    weights = [p for name, p in layer.named_parameters() if "bias" not in name and "bias" != name]
    points = math.prod(in_shape)
    inputs = torch.eye(points, dtype=torch.float64).reshape(points, 1, *in_shape)
    maps = []
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
        for p in weights:
            for k in range(p.numel()):
                p.view(-1)[k] = 1.0
                maps.append(layer(inputs).reshape(points, -1).T.reshape(-1).clone())
                p.view(-1)[k] = 0.0
    return torch.stack(maps)


# (source, target, node dims in, node dims out): N = 3, several trailing dims, features at one end only
COMPLETE = [
    ("tensor[3, 3, 2, 2]", "tensor[3, 3, 3]", 2, 2),
    ("tensor[3, 3]", "tensor[3, 3, 2, 2]", 2, 2),
    ("tensor[3, 3, 2, 2]", "real", 2, 0),
    ("tensor[3, 3, 2, 2]", "tensor[3]", 2, 1),
    ("tensor[3]", "tensor[3, 3, 2, 2]", 1, 2),
    ("tensor[3, 2, 2]", "tensor[3, 3]", 1, 1),
    ("tensor[3, 2, 2]", "real", 1, 0),
]


@pytest.mark.parametrize("source, target, r_in, r_out", COMPLETE, ids=[f"{c[0]}->{c[1]}" for c in COMPLETE])
def test_the_maps_are_exactly_the_brute_force_null_space_on_three_nodes_with_several_feature_dims(source, target, r_in, r_out):
    text = f"domain A = {source}\ngroup P = symmetric(3)\naction P on A by permute(dims={tuple(range(r_in))})\n"
    if target != "real":
        text += f"domain B = {target}\naction P on B by permute(dims={tuple(range(r_out))})\n"
    text += f"layer f: A -> {'B' if target != 'real' else 'real'} under P\n"
    layer = symspec.compile(symspec.loads(text, "complete.sym")).LAYERS["f"](1, 1).double()
    in_shape = tuple(int(d) for d in source[7:-1].split(", "))
    out_shape = () if target == "real" else tuple(int(d) for d in target[7:-1].split(", "))
    blocks = []
    for perm in (torch.tensor([1, 0, 2]), torch.tensor([1, 2, 0])):  # the generators of S_3
        m_in, m_out = _node_permutation(in_shape, r_in, perm), _node_permutation(out_shape, r_out, perm)
        blocks.append(
            torch.kron(m_out, torch.eye(len(m_in), dtype=torch.float64))
            - torch.kron(torch.eye(len(m_out), dtype=torch.float64), m_in.T.contiguous())
        )
    constraints = torch.cat(blocks)
    singular = torch.linalg.svdvals(constraints)
    null = constraints.shape[1] - int((singular > 1e-9 * float(singular.max())).sum())
    maps = _layer_maps(layer, in_shape)
    assert float((constraints @ maps.T).abs().max()) < 1e-12  # every map commutes with S_3
    assert int(torch.linalg.matrix_rank(maps)) == null  # and together they span every map that does


@pytest.mark.parametrize("name, good", [(b[0], b[1]) for b in BAD], ids=[b[0] for b in BAD])
def test_float32_non_contiguous_inputs_commute_with_permutations_with_every_parameter_random(layers, name, good):
    layer = randomized_copy(layers[name](2, 3), torch.Generator().manual_seed(1))
    rank = 2 if len(good) == 3 else 1
    out_rank = {"pp": 2, "pn": 1, "np": 2, "nn": 1, "pr": 0, "nr": 0}[name]
    g = torch.Generator().manual_seed(2)
    for n in (1, 2, 6):
        shape = (*([n] * rank), *good[rank:])
        x = torch.randn(3, 2, *reversed(shape), generator=g).permute(0, 1, *range(1 + len(shape), 1, -1))
        assert not x.is_contiguous() or n == 1
        with torch.no_grad():
            y = layer(x)
            assert torch.allclose(y, layer(x.contiguous()), atol=1e-6)
            perm = torch.randperm(n, generator=g)
            moved = x
            for d in range(rank):
                moved = moved.index_select(2 + d, perm)
            expected = y
            for d in range(out_rank):
                expected = expected.index_select(2 + d, perm)
            scale = max(1.0, float(y.abs().max()))
            assert float((layer(moved) - expected).abs().max()) <= 1e-4 * scale


def test_the_runtime_classes_check_their_feature_arguments():
    with pytest.raises(ValueError, match="in_features"):
        rt.DeepSetsLinear(2, 2, rest_as_features=True, rest_size=6, in_features=(2, 2))
    with pytest.raises(ValueError, match="multiple"):
        rt.DeepSetsPool(5, 2, in_features=(2,))


# symmetric(N) x finite groups that permute the feature dims (cyclic(3) rolling them; D4 rotating a 3 x 3 feature
# grid and symmetric(2) swapping a feature dim): with a symbolic N these were rejected with a convolution's message
# ("the grid of tensor[N, N, 3] is symbolic ... add [kernel 3]"); they compile to the graph layers with the
# feature-to-feature weights tied by the finite factors' orbits.
PRODUCT = """
domain E = tensor[{n}, {n}, 3]
domain H = tensor[{n}, 3]
group C = cyclic(3)
group G = symmetric({n}) x C
action C on E by roll(dim=2)
action C on H by roll(dim=-1)
layer pp: E -> E under G
layer pn: E -> H under G
layer np: H -> E under G
layer nn: H -> H under G
layer pr: E -> real under G
layer nr: H -> real under G
"""
GRID = """
domain E = tensor[{n}, {n}, 2, 3, 3]
domain H = tensor[{n}, 3, 3]
domain V = tensor[{n}, 2]
group D4 = <r, s | r^4, s^2, (s r)^2>
group S2 = symmetric(2)
group G = symmetric({n}) x D4 x S2
action D4 on E {{ r -> rot90(dims=(3, 4)), s -> flip(dim=4) }}
action D4 on H {{ r -> rot90(dims=(1, 2)), s -> flip(dim=2) }}
action D4 on V by identity
action S2 on E by permute(dims=(2,))
action S2 on H by identity
action S2 on V by permute(dims=(1,))
layer pp: E -> E under G
layer pn: E -> H under G
layer np: H -> E under G
layer nn: H -> H under G
layer pr: E -> real under G
layer nr: H -> real under G
layer vv: V -> V under G
layer ev: E -> V under G
"""
CLASSES = {
    "pp": rt.PairLinear,
    "pn": rt.PairToNodes,
    "np": rt.NodesToPair,
    "nn": rt.NodesLinear,
    "pr": rt.PairPool,
    "nr": rt.NodesPool,
    "vv": rt.NodesLinear,
    "ev": rt.PairToNodes,
}


def _count(layer: torch.nn.Module) -> int:
    return sum(p.numel() for p in layer.parameters())


def _orbit_layer(spec, name: str) -> rt.OrbitLinear:
    """The orbit layer (complete by construction: one weight per orbit of position pairs) of a fixed-size layer,
    built from the analysis's actions of every generator of the product, as codegen builds it for finite groups."""
    gir, src, dst = spec.ir.layers[name]
    layer = spec.layers[name]

    def table(act, shape):
        return rt.action_table({g: [(op, dict(args)) for op, args in act.ops[g]] for g in gir.generators}, shape=shape)

    in_table = table(src, tuple(layer.source.dims))
    if dst is None or dst.kind == "trivial":
        out_table, out_shape = torch.zeros(len(gir.generators), 1, dtype=torch.long), ()
    else:
        out_shape = tuple(layer.target.dims)
        out_table = table(dst, out_shape)
    return rt.OrbitLinear(2, 3, in_table, out_table, tuple(layer.source.dims), out_shape)


@pytest.mark.parametrize("text", [PRODUCT, GRID], ids=["cyclic-features", "d4-and-s2-features"])
def test_symmetric_n_times_groups_permuting_the_features_compiles_equivariant_and_complete(text):
    spec = symspec.loads(text.format(n="N"), "product.sym")
    layers = symspec.compile(spec).LAYERS
    fixed_spec = symspec.loads(text.format(n=4), "fixed.sym")
    fixed = symspec.compile(fixed_spec).LAYERS  # a fixed N takes the graph layers too (was the orbit layer)
    for name, build in layers.items():
        layer = build(2, 3).double()
        assert isinstance(layer, CLASSES[name]) and isinstance(fixed[name](2, 3), CLASSES[name]), name
        # as many maps and biases as the orbits of N = 4 (15 node maps are independent from N = 4 on)
        assert _count(layer) == _count(fixed[name](2, 3)) == _count(_orbit_layer(fixed_spec, name)), name
        source = spec.layers[name].source
        for n in (1, 2, 3, 5):
            shape = tuple(d if isinstance(d, int) else n for d in source.dims)
            x = torch.randn(2, 2, *shape, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
            symspec.assert_equivariant(layer, spec, name, x, generator=torch.Generator().manual_seed(n))
        shape = tuple(d if isinstance(d, int) else 4 for d in source.dims)
        x = torch.randn(2, 2, *shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
        symspec.assert_equivariant(fixed[name](2, 3).double(), fixed_spec, name, x, generator=torch.Generator().manual_seed(9))


def test_a_fixed_size_product_keeps_the_orbit_layer_where_the_graph_layers_refuse():
    """symmetric(3) x cyclic(3) on tensor[3, 3, 3] by its default action (all three dims permuted): no graph layer,
    the orbit layer as before."""
    text = "domain E = tensor[3, 3, 3]\ngroup C = <t | t^2>\ngroup G = symmetric(3) x C\naction C on E { t -> flip(dim=2) }\n"
    spec = symspec.loads(text + "layer f: E -> E under G\n", "fallback.sym")
    layer = symspec.compile(spec).LAYERS["f"](1, 1).double()
    assert isinstance(layer, rt.OrbitLinear)
    symspec.assert_equivariant(layer, spec, "f", torch.randn(2, 1, 3, 3, 3, dtype=torch.float64))


def test_the_product_check_sees_the_feature_factor():
    """The same layer without tied features commutes with permuting the nodes but not with rolling the features."""
    spec = symspec.loads(PRODUCT.format(n="N"), "product.sym")
    untied = rt.PairLinear(2, 3, in_features=(3,), out_features=(3,)).double()
    x = torch.randn(2, 2, 4, 4, 3, dtype=torch.float64)
    with pytest.raises(AssertionError):
        symspec.assert_equivariant(untied, spec, "pp", x, generator=torch.Generator().manual_seed(0))


def test_the_tied_pair_layer_spans_the_brute_force_null_space_of_s3_times_c3():
    layer = symspec.compile(symspec.loads(PRODUCT.format(n="N"), "product.sym")).LAYERS["pp"](1, 1).double()
    shape = (3, 3, 3)
    roll = torch.arange(27).reshape(shape).roll(1, 2).reshape(-1)  # x -> roll(x, 1, dim 2): y[p] = x[roll[p]]
    m_roll = torch.zeros(27, 27, dtype=torch.float64)
    m_roll[torch.arange(27), roll] = 1.0
    mats = [_node_permutation(shape, 2, torch.tensor(p)) for p in ([1, 0, 2], [1, 2, 0])] + [m_roll]
    eye = torch.eye(27, dtype=torch.float64)
    constraints = torch.cat([torch.kron(m, eye) - torch.kron(eye, m.T.contiguous()) for m in mats])
    singular = torch.linalg.svdvals(constraints)
    null = constraints.shape[1] - int((singular > 1e-9 * float(singular.max())).sum())
    maps = _layer_maps(layer, shape)
    assert float((constraints @ maps.T).abs().max()) < 1e-12
    assert int(torch.linalg.matrix_rank(maps)) == null == 42  # 14 independent node maps at N = 3, x 3 circulant blocks


@pytest.mark.parametrize(
    "body, where, message",
    [
        (
            "domain E = tensor[N, N, 3]\ngroup T = <t | t^2>\ngroup G = symmetric(N) x T\n"
            "action T on E { t -> transpose(0, 1) }\nlayer f: E -> E under G\n",
            "5:1",
            "cannot compile layer f yet: T's generator t acts on E (tensor[N, N, 3]) by more than a permutation of its "
            "feature dims (those after the node dims)",
        ),
        (
            "domain E = tensor[3, N, N]\ngroup C = cyclic(3)\ngroup S = symmetric(N)\ngroup G = S x C\n"
            "action C on E by roll(dim=0)\naction S on E by permute(dims=(1, 2))\nlayer f: E -> E under G\n",
            "7:1",
            "cannot compile layer f yet: symmetric(N) does not act on E (tensor[3, N, N]) by permuting dim 0, or dims 0 "
            "and 1 together, with fixed sizes after them",
        ),
        (
            "domain E = tensor[N, N, 3]\ngroup C = cyclic(3)\ngroup G = symmetric(N) x C\n"
            "action C on E by roll(dim=2)\nlayer f: real -> E under G\n",
            "5:1",
            "cannot compile layer f yet: an invariant input (real) has no node dims to permute",
        ),
    ],
    ids=["factor-moves-node-dims", "nodes-not-leading", "real-input"],
)
def test_product_layers_the_graph_layers_cannot_build_are_errors_at_the_layer(body, where, message):
    with pytest.raises(CompileError) as err:
        symspec.compile(symspec.loads(body, "bad.sym"))
    text = str(err.value)
    assert f"bad.sym:{where}: error: {message}" in text
    assert "hint: graph layers under G take pair tensors" in text and "kernel" not in text


def test_permute_dims_listed_in_any_order_is_a_pair_tensor():
    """permute(dims=(1, 0)) applies one permutation to dims 1 and 0: the same action as (0, 1) (was refused)."""
    text = "domain A = tensor[N, N, 3]\ngroup P = symmetric(N)\naction P on A by permute(dims=(1, 0))\nlayer f: A -> A under P\n"
    spec = symspec.loads(text, "order.sym")
    layer = symspec.compile(spec).LAYERS["f"](2, 2).double()
    assert isinstance(layer, rt.PairLinear) and layer.in_features == (3,)
    x = torch.randn(2, 2, 5, 5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    symspec.assert_equivariant(layer, spec, "f", x, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(
    "body, message, hint",
    [
        (
            "domain A = tensor[N, N, 3]\ngroup P = alternating(N)\nlayer f: A -> A under P\n",
            "cannot compile layer f yet: no layer is built under P with a symbolic size (its equivariant maps depend "
            "on N: for small N there are more than symmetric(N)'s)",
            "layers under symmetric(N) commute with P too",
        ),
        (
            "domain A = tensor[N, N, 3]\ngroup P = symmetric(N)\ngroup Q = P x P\nlayer f: A -> A under Q\n",
            "cannot compile layer f yet: Q has 2 symmetric factors of symbolic size (P, P); graph layers take one",
            "use one symmetric(N) factor for the nodes",
        ),
        (
            "domain A = tensor[N, N, 4000, 4000]\ngroup P = symmetric(N)\nlayer f: A -> A under P\n",
            "layer f would hold 3,840,000,000,000,000 weights per channel pair (15 maps x 16,000,000 input x "
            "16,000,000 output features; limit 100,000,000)",
            "use fewer feature positions",
        ),
        (
            "domain A = tensor[N, 3, N]\ngroup P = symmetric(N)\naction P on A by permute(dims=(0, 2))\nlayer f: A -> A under P\n",
            "cannot compile layer f yet: P acting on tensor[N, 3, N] -> tensor[N, 3, N] needs layers symspec does not",
            "graph layers under P take pair tensors (tensor[N, N, *F], both node dims permuted), node tensors",
        ),
    ],
    ids=["alternating-symbolic", "two-symmetric-factors", "huge-features", "nodes-not-leading"],
)
def test_graph_layers_refused_with_a_message_at_the_layer_not_a_convolution_hint(body, message, hint):
    """These used to say "the grid of tensor[N, N, 3] is symbolic ... add [kernel 3]", allocate until torch's
    storage size overflowed, or suggest the outdated "acts on dim 0 by default"."""
    with pytest.raises(CompileError) as err:
        symspec.compile(symspec.loads(body, "bad.sym"))
    text = str(err.value)
    line = body.count("\n")
    assert f"bad.sym:{line}:1: error: {message}" in text
    assert f"hint: {hint}" in text and "kernel" not in text


def test_a_fixed_third_order_tensor_gets_the_exact_orbit_layer():
    """tensor[4, 4, 4] under symmetric(4) (all three dims permuted by default) was refused ("graph layers take at most
    two node dims"); with fixed sizes the orbit layer is exact: the number of set partitions into at most 4 blocks
    (6 points: 203 - 15 - 1 = 187; 3: 5; 4: 15; 5: 52 - 1 = 51), equivariant with every parameter random."""
    text = "domain T = tensor[4, 4, 4]\ngroup P = symmetric(4)\nlayer f: T -> T under P\nlayer g: T -> real under P\n"
    text += "layer h: T -> tensor[4] under P\nlayer k: tensor[4] -> T under P\nlayer m: tensor[4, 4] -> T under P\n"
    spec = symspec.loads(text, "cube.sym")
    layers = symspec.compile(spec).LAYERS
    expected = {"f": ((4, 4, 4), 187), "g": ((4, 4, 4), 5), "h": ((4, 4, 4), 15), "k": ((4,), 15), "m": ((4, 4), 51)}
    for name, (shape, orbits) in expected.items():
        layer = layers[name](1, 2).double()
        assert isinstance(layer, rt.OrbitLinear) and layer.num_orbits == orbits, name
        x = torch.randn(2, 1, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        symspec.assert_equivariant(layer, spec, name, x, generator=torch.Generator().manual_seed(1))
