"""``torch.compile(..., fullgraph=True)``: the compiled example losses (with a model), ``augment``, every layer kind
and ``symmetrize`` trace as one graph (``torch._dynamo.explain``: no graph break), give the eager values, and do
not recompile across steps of one shape (a recompile limit of 1 with ``error_on_recompile``).

The ``eager`` backend (Dynamo tracing only, no C++ compile) keeps the file fast; draws use the global RNG, seeded
the same way for the compiled and the eager run (docs/compile.md, "torch.compile").
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt
from symspec.testing import randomized_copy

NODES = 5
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.sym"))


@functools.cache
def _module(stem: str):
    """The example compiled by the current code generator (generated/ holds the same text once regenerated)."""
    return symspec.compile(symspec.load(ROOT / "examples" / f"{stem}.sym"))


def _dims(dims: tuple) -> tuple:
    return tuple(NODES if isinstance(d, str) else int(d) for d in dims)


class _Model(torch.nn.Module):
    """A small MLP for any model signature of a compiled module (``INPUTS``/``OUTPUTS`` descriptors)."""

    def __init__(self, inputs: tuple, output):
        super().__init__()
        self.inputs = inputs
        width = sum(
            d.size if isinstance(d, rt.Values) else math.prod(_dims(d.dims)) if isinstance(d, rt.TensorOf) else 1 for d in inputs
        )
        if isinstance(output, rt.ClassOutput):
            self.shape = (output.size,)
        elif isinstance(output, rt.TensorOutput):
            self.shape = _dims(output.dims)
        else:
            self.shape = ()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(width, 16), torch.nn.Tanh(), torch.nn.Linear(16, max(1, math.prod(self.shape)))
        )

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        n = args[0].shape[0]
        features = [
            torch.nn.functional.one_hot(a - d.lo, d.size).to(torch.get_default_dtype())
            if isinstance(d, rt.Values)
            else a.reshape(n, -1).to(torch.get_default_dtype())
            for d, a in zip(self.inputs, args)
        ]
        return self.net(torch.cat(features, 1)).reshape(n, *self.shape)


def _batch(module, n: int, seed: int) -> dict:
    """The batch fields the laws read, drawn from their domains."""
    g = torch.Generator().manual_seed(seed)
    batch = {}
    for law in module.CHECKS.values():
        for name, variable in law["variables"].items():
            d = variable.domain
            if variable.source != "batch" or name in batch:
                continue
            if isinstance(d, rt.Values):
                batch[name] = torch.randint(d.lo, d.hi, (n,), generator=g)
            elif isinstance(d, rt.TensorOf):
                batch[name] = torch.randn(n, *_dims(d.dims), generator=g)
            else:
                batch[name] = torch.rand(n, generator=g)
    return batch


def _setup(stem: str):
    module = _module(stem)
    torch.manual_seed(0)
    models = {m: _Model(module.INPUTS[m], module.OUTPUTS[m]) for m in module.INPUTS}
    return module, models, _batch(module, 8, 1)


def _no_breaks(fn, *args) -> None:
    torch._dynamo.reset()
    explained = torch._dynamo.explain(fn)(*args)
    reasons = [
        (r.reason.splitlines()[0], *(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in r.user_stack[-2:]))
        for r in explained.break_reasons
    ]
    assert explained.graph_break_count == 0 and explained.graph_count == 1, reasons


def _same_as_eager(fn, *steps, seed: int = 0):
    """The compiled ``fn`` on each argument tuple of ``steps`` (one shape) equals eager; one graph in all (fullgraph:
    a graph break is an error; a recompilation is an error too, and would add a graph). Returns the compiled fn."""
    torch._dynamo.reset()
    graphs = []

    def counting(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    compiled = torch.compile(fn, backend=counting, fullgraph=True)
    with torch._dynamo.config.patch(recompile_limit=1, error_on_recompile=True):
        for args in steps:
            torch.manual_seed(seed)
            want = fn(*args)
            torch.manual_seed(seed)
            got = compiled(*args)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert len(graphs) == 1
    return compiled


def _leaves(out):
    return out if isinstance(out, torch.Tensor) else torch.cat([v.reshape(-1).float() for v in out.values()])


@pytest.mark.parametrize("stem", EXAMPLES)
def test_the_loss_of_each_example_compiles_as_one_graph_and_equals_eager(stem):
    module, models, batch = _setup(stem)
    loss = module.SymmetryLoss(models)
    _no_breaks(loss, batch)
    _same_as_eager(loss, *[(_batch(module, 8, seed),) for seed in (1, 2, 3)])


@pytest.mark.parametrize("stem", [s for s in EXAMPLES if _module(s).AUGMENTERS])
def test_augment_compiles_as_one_graph_and_equals_eager(stem):
    module, _, batch = _setup(stem)
    for model in module.AUGMENTERS:

        def step(b, model=model):
            return _leaves(module.augment(b, model=model))

        _no_breaks(step, batch)
        _same_as_eager(step, *[(_batch(module, 8, seed),) for seed in (1, 2, 3)])


@pytest.mark.parametrize("stem", [s for s in EXAMPLES if _module(s).SYMMETRIZERS])
def test_symmetrize_compiles_as_one_graph_and_equals_eager(stem):
    module, models, batch = _setup(stem)
    for model in module.SYMMETRIZERS:
        wrapped = module.symmetrize(model, models[model], samples=4)
        fields = [f for f in batch][: len(module.INPUTS[model])]
        _no_breaks(wrapped, *[batch[f] for f in fields])
        steps = [tuple(_batch(module, 8, seed)[f] for f in fields) for seed in (1, 2, 3)]
        _same_as_eager(wrapped, *steps)


GRAPH = """
domain E = tensor[N, N, 2, 3, 3]
domain H = tensor[N, 3, 3]
domain V = tensor[N, 2]
domain Nodes = tensor[N]
group D4 = <r, s | r^4, s^2, (s r)^2>
group S2 = symmetric(2)
group P = symmetric(N)
group G = P x D4 x S2
action D4 on E { r -> rot90(dims=(3, 4)), s -> flip(dim=4) }
action D4 on H { r -> rot90(dims=(1, 2)), s -> flip(dim=2) }
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
layer sets: V -> V under P
layer sets_pool: Nodes -> real under P
"""
CONV = """
domain Feat = tensor[4, S, S]
domain Image = tensor[S, S]
group C4 = <r | r^4>
action C4 on Feat { r -> compose(roll(dim=0), rot90(dims=(1, 2))) }
action C4 on Image { r -> rot90(dims=(0, 1)) }
layer conv: Feat -> Feat under C4 [kernel 3]
layer lift: Image -> Feat under C4 [kernel 3]
layer pool: Feat -> real under C4
"""
N = NODES
# (spec text or None, layer, input shape after [batch, channels], runtime class)
LAYER_CASES = [
    (GRAPH, "pp", (N, N, 2, 3, 3), rt.PairLinear),
    (GRAPH, "pn", (N, N, 2, 3, 3), rt.PairToNodes),
    (GRAPH, "np", (N, 3, 3), rt.NodesToPair),
    (GRAPH, "nn", (N, 3, 3), rt.NodesLinear),
    (GRAPH, "pr", (N, N, 2, 3, 3), rt.PairPool),
    (GRAPH, "nr", (N, 3, 3), rt.NodesPool),
    (GRAPH, "sets", (N, 2), rt.DeepSetsLinear),
    (GRAPH, "sets_pool", (N,), rt.DeepSetsPool),
    (CONV, "conv", (4, 7, 7), rt.GroupConv),
    (CONV, "lift", (7, 7), rt.GroupConv),
    (CONV, "pool", (4, 7, 7), rt.GridPool),
    ("steerable_layers.sym", "pts_pts", (N, 3, 3), rt.SteerableLinear),
    ("steerable_layers.sym", "cloud_vec", (N, 3), rt.SteerableLinear),
    ("steerable_layers.sym", "pair_cloud", (N, N, 3), rt.SteerableLinear),
    (None, "orbit", (3, 3), rt.OrbitLinear),
    (None, "basis", (3, 3), rt.BasisLinear),
    (None, "gate", (N, 3), rt.NormGate),
]


def _layer(text, name: str, c_in: int, c_out: int) -> torch.nn.Module:
    if text is None:
        d4 = rt.action_table({"r": [("rot90", {"dims": (0, 1)})], "s": [("flip", {"dim": 1})]}, shape=(3, 3))
        if name == "orbit":
            return rt.OrbitLinear(c_in, c_out, d4, d4, (3, 3), (3, 3))
        if name == "basis":
            return rt.BasisLinear(c_in, c_out, [("perm", d4)], [("perm", d4)], (3, 3), (3, 3))
        return rt.NormGate(c_in, (1,))
    spec = symspec.load(ROOT / "tests" / "specs" / "valid" / text) if text.endswith(".sym") else symspec.loads(text, "c.sym")
    return symspec.compile(spec).LAYERS[name](c_in, c_out)


# eval mode without autograd too for the layers that cache their kernel there (the caches are bypassed when compiling)
MODES = [(*case, "train") for case in LAYER_CASES] + [
    (*case, "eval") for case in LAYER_CASES if case[3] in (rt.GroupConv, rt.SteerableLinear, rt.BasisLinear)
]


@pytest.mark.parametrize("text, name, shape, cls, mode", MODES, ids=[f"{c[1]}-{c[4]}" for c in MODES])
def test_every_layer_kind_compiles_as_one_graph_and_equals_eager(text, name, shape, cls, mode):
    c_in = 2
    layer = _layer(text, name, c_in, 2 if cls is rt.NormGate else 3)
    assert isinstance(layer, cls)
    layer = randomized_copy(layer, torch.Generator().manual_seed(0))
    layer.train(mode == "train")
    g = torch.Generator().manual_seed(1)
    steps = [(torch.randn(4, c_in, *shape, generator=g),) for _ in range(3)]
    with torch.set_grad_enabled(mode == "train"):  # eval without autograd: the layers' kernel caches are bypassed
        compiled = _same_as_eager(layer, *steps)  # fullgraph=True: no graph break, one graph for the three steps
    if mode == "eval":
        return
    # the backward pass through the compiled graph gives the eager gradients
    x = steps[0][0].requires_grad_()
    (want,) = torch.autograd.grad(layer(x).square().sum(), x)
    (got,) = torch.autograd.grad(compiled(x).square().sum(), x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_a_generator_under_fullgraph_names_the_remedy_and_seeded_from_replays_the_eager_draws():
    module, models, batch = _setup("comparison")
    loss = module.SymmetryLoss(models, generator=torch.Generator().manual_seed(0))
    torch._dynamo.reset()
    with pytest.raises(Exception, match="seeded_from"):
        torch.compile(loss, backend="eager", fullgraph=True)(batch)
    shifts = _module("modular_addition")
    generator = torch.Generator()
    with pytest.raises(Exception, match="seeded_from"):  # augment's draws too
        torch.compile(lambda b: shifts.augment(b, generator), backend="eager", fullgraph=True)(_batch(shifts, 4, 0))
    loss.generator = None
    compiled = torch.compile(loss, backend="eager", fullgraph=True)
    values = []
    for run in (compiled, compiled, loss):
        with rt.seeded_from(torch.Generator().manual_seed(5)):
            values.append(run(batch))
    torch.testing.assert_close(values[0], values[2])
    torch.testing.assert_close(values[1], values[2])
    state = torch.get_rng_state()
    with rt.seeded_from(torch.Generator().manual_seed(5)):
        compiled(batch)
    assert torch.equal(torch.get_rng_state(), state)  # the global stream is left as it was


@pytest.mark.parametrize("stem", ["image_d4", "modular_addition", "point_cloud"])
def test_the_gradients_of_a_loss_compiled_through_aot_autograd_equal_eager(stem):
    module, models, batch = _setup(stem)
    loss = module.SymmetryLoss(models)
    torch._dynamo.reset()
    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    params = [p for m in models.values() for p in m.parameters()]
    torch.manual_seed(0)
    want = torch.autograd.grad(loss(batch), params)
    torch.manual_seed(0)
    got = torch.autograd.grad(compiled(batch), params)
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-6)
    assert any(float(w.abs().max()) > 0 for w in want)  # the loss moves the parameters


def test_a_second_module_of_the_same_text_keeps_the_first_ones_name():
    """Recompiling identical text replaced the first module in sys.modules, so Dynamo's guards for the first
    module's functions read the second module's globals (KeyError: cpu in a full test run)."""
    import sys

    spec = symspec.load(ROOT / "examples" / "modular_addition.sym")
    first, second = symspec.compile(spec), symspec.compile(spec)
    assert first.__name__ != second.__name__
    assert sys.modules[first.__name__] is first and sys.modules[second.__name__] is second
