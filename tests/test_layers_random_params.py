"""Every layer kind the compiler builds commutes with its group with EVERY parameter random (weights and biases).

A layer that is equivariant only at its initial values (zero biases) is not
equivariant after one optimizer step; so each check first draws all the
parameters from N(0, 1) with a seeded generator, then checks in float64
(1e-10 relative) and in float32 (1e-4 relative), with an explicit group
element applied by hand and through ``symspec.assert_equivariant``.
"""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt
from symspec.analysis.domains import RealDomain

POINTS = "domain Pts = tensor[5, 3]\ndomain Vec = tensor[3]\n"
GRAPH = "domain Adj = tensor[N, N]\ndomain Nodes = tensor[N]\ngroup P = symmetric(N)\naction P on Adj by permute(dims=(0, 1))\n"
FLIP = "group F = <s | s^2>\naction F on Pts { s -> flip(dim=0) }\naction F on Vec { s -> permute(perm=(0, 1, 2), dim=0) }\n"

# (case id, spec source or example, layer, expected class, input shape [c_in, *shape])
CASES = [
    ("orbit-d4-conv", ("image_d4", {"size": 5}), "conv", rt.OrbitLinear, (2, 5, 5)),
    ("orbit-d4-readout", ("image_d4", {"size": 5}), "readout", rt.OrbitLinear, (2, 5, 5)),
    (
        "orbit-product-of-finite-groups",
        "domain G = tensor[4, 4]\ngroup C = cyclic(4)\naction C on G by roll(dim=0)\n"
        "group H = <s | s^2>\naction H on G { s -> flip(dim=1) }\ngroup E = C x H\nlayer f: G -> G under E\n",
        "f",
        rt.OrbitLinear,
        (2, 4, 4),
    ),
    ("deepsets-rotations", ("point_cloud", None), "mix", rt.DeepSetsLinear, (2, 6, 3)),
    (
        "deepsets-rest-as-features",
        "domain S = tensor[N, 4]\nlayer f: S -> S under symmetric(N)\n",
        "f",
        rt.DeepSetsLinear,
        (2, 6, 4),
    ),
    ("deepsets-pool", ("point_cloud", None), "pool", rt.DeepSetsPool, (2, 6, 3)),
    ("pair", "domain Adj = tensor[N, N]\nlayer f: Adj -> Adj under symmetric(N)\n", "f", rt.PairLinear, (2, 5, 5)),
    ("pair-pool", GRAPH + "layer f: Adj -> real under P\n", "f", rt.PairPool, (2, 5, 5)),
    ("pair-to-nodes", GRAPH + "layer f: Adj -> Nodes under P\n", "f", rt.PairToNodes, (2, 5, 5)),
    ("nodes-to-pair", GRAPH + "layer f: Nodes -> Adj under P\n", "f", rt.NodesToPair, (2, 5)),
    ("basis-so2", "domain V = tensor[2]\nlayer f: V -> V under SO(2)\n", "f", rt.BasisLinear, (2, 2)),
    ("basis-so3", "domain V = tensor[4, 3]\nlayer f: V -> V under SO(3)\n", "f", rt.BasisLinear, (2, 4, 3)),
    ("basis-o3", POINTS + "layer f: Pts -> Pts under O(3)\n", "f", rt.BasisLinear, (2, 5, 3)),
    ("basis-o3-to-vector", POINTS + "layer f: Pts -> Vec under O(3)\n", "f", rt.BasisLinear, (2, 5, 3)),
    (
        "basis-cyclic-x-so3",
        "domain V = tensor[4, 3]\ngroup C = cyclic(4)\naction C on V by roll(dim=0)\ngroup E = C x SO(3)\nlayer f: V -> V under E\n",
        "f",
        rt.BasisLinear,
        (2, 4, 3),
    ),
    ("basis-finite-x-o3", POINTS + FLIP + "group E = F x O(3)\nlayer f: Pts -> Pts under E\n", "f", rt.BasisLinear, (2, 5, 3)),
    (
        "basis-finite-x-o3-to-vector",
        POINTS + FLIP + "group E = F x O(3)\nlayer f: Pts -> Vec under E\n",
        "f",
        rt.BasisLinear,
        (2, 5, 3),
    ),
]


def _spec(source):
    if isinstance(source, tuple):
        name, params = source
        return symspec.load(ROOT / "examples" / f"{name}.sym", params=params)
    return symspec.loads(source, "case.sym")


def _randomize(layer: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))


def _by_hand(spec, name: str, g: torch.Generator):
    """One random element of the layer's group, as (move of the input, move of the output), built from the IR by hand."""
    layer = spec.layers[name]
    gir = spec.ir.layers[name][0]
    moves_in, moves_out = [], []
    for f in gir.factors or (gir,):
        kind = f.definition.kind
        q = rt.haar_orthogonal(1, f.definition.arg, kind == "SO", g, dtype=torch.float64) if kind in ("SO", "O") else None
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))  # one word of generators, replayed on each end
        for domain, moves in ((layer.source, moves_in), (layer.target, moves_out)):
            if isinstance(domain, RealDomain):
                continue
            act = spec.ir.action(f, domain)
            if q is not None:
                moves.append(lambda t, q=q, d=act.matrix_dim: rt.matrix_event_dim(t, q.expand(t.shape[0], *q.shape[1:]), d + 1))
            elif act.perms:
                ops = {k: [(op, dict(a)) for op, a in act.ops[k]] for k in f.generators}
                table = rt.action_table(ops, shape=tuple(domain.dims))
                element = rt.random_words(table, 1, 12, generator=torch.Generator().manual_seed(seed))[0]
                rank = len(domain.dims)
                moves.append(lambda t, e=element, r=rank: rt.act_on_positions(t, e, r))
            else:
                dims = dict(next(iter(act.ops.values()))[0][1])["dims"]

                def permute(t, dims=dims, seed=seed):
                    n = t.shape[2 + dims[0]]
                    perm = rt.random_permutations(1, n, torch.Generator().manual_seed(seed)).expand(t.shape[0], n)
                    for d in dims:
                        t = rt.permute_event_dim(t, perm, d + 1)
                    return t

                moves.append(permute)

    def run(t, moves):
        for m in moves:
            t = m(t)
        return t

    return (lambda t: run(t, moves_in)), (lambda t: run(t, moves_out))


@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_layer_kind_is_equivariant_with_every_parameter_random(case, dtype, rel):
    _, source, name, cls, shape = case
    spec = _spec(source)
    layer = symspec.compile(spec).LAYERS[name](shape[0], 3).to(dtype)
    assert isinstance(layer, cls)
    _randomize(layer, seed=7)
    assert all(bool(p.detach().abs().max() > 0.1) for p in layer.parameters())  # biases too: nothing left at zero
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, *shape, generator=g, dtype=torch.float64).to(dtype)
    y = layer(x).detach()
    scale = max(1.0, float(y.abs().max()))
    for _ in range(4):
        move_in, move_out = _by_hand(spec, name, g)
        err = float((layer(move_in(x)) - move_out(y)).detach().abs().max())
        assert err <= rel * scale, f"{case[0]} ({dtype}): error {err:.3g}"
    # the helper, on the layer's own (random) parameters and on a fresh random copy
    helper = torch.Generator().manual_seed(5)
    symspec.assert_equivariant(layer, spec, name, x, generator=helper, randomize=False)  # raises if not equivariant
    symspec.assert_equivariant(layer, spec, name, x, generator=helper)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_free_bias_on_an_equivariant_output_is_caught(case):
    """The checks above can fail: a random constant added to each layer's equivariant output breaks it."""
    _, source, name, cls, shape = case
    spec = _spec(source)
    layer = symspec.compile(spec).LAYERS[name](shape[0], 3).double()
    if isinstance(spec.layers[name].target, RealDomain):
        pytest.skip("an invariant output: every bias is invariant")
    _randomize(layer, seed=11)
    x = torch.randn(4, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out_shape = layer(x).shape[1:]
    free = torch.randn(out_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(9))

    class Shifted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = layer

        def forward(self, t):
            return self.inner(t) + free

    with pytest.raises(AssertionError, match=f"layer {name} is not equivariant"):
        symspec.assert_equivariant(Shifted(), spec, name, x, generator=torch.Generator().manual_seed(1), randomize=False)
