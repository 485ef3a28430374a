"""Compiled modules: exact models satisfy every law, broken models break it, per law."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import ROOT

import symspec
from symspec.codegen import compile, compile_source

SCALE = 40.0


def load(name: str, **params):
    return symspec.load(ROOT / "examples" / f"{name}.sym", params=params or None)


def one_hot_logits(classes: torch.Tensor, n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(classes, n).double() * SCALE


def test_compiled_text_is_deterministic():
    spec = load("graph_distance")
    assert compile_source(spec) == compile_source(load("graph_distance"))


# ---- modular addition ---------------------------------------------------------------


def test_modular_addition_exact_model_has_zero_loss_and_broken_ones_do_not():
    p = 13
    mod = compile(load("modular_addition", p=p))
    exact = lambda a, b: one_hot_logits((a + b) % p, p)  # noqa: E731
    batch = {"a": torch.arange(p).repeat(p), "b": torch.arange(p).repeat_interleave(p)}
    loss = mod.SymmetryLoss(add=exact, generator=torch.Generator().manual_seed(0))
    assert float(loss(batch)) < 1e-5
    assert set(loss.terms) == {"commutes", "shift", "assoc"} and all(float(v) < 1e-5 for v in loss.terms.values())
    # a - b: not commutative, still shift-equivariant in a
    minus = mod.SymmetryLoss(add=lambda a, b: one_hot_logits((a - b) % p, p), generator=torch.Generator().manual_seed(0))
    minus(batch)
    assert float(minus.terms["commutes"]) > 1.0 and float(minus.terms["shift"]) < 1e-5
    # 2a + b: commutes fails, shift fails (2(a + k) + b = 2a + b + 2k)
    twice = mod.SymmetryLoss(add=lambda a, b: one_hot_logits((2 * a + b) % p, p), generator=torch.Generator().manual_seed(0))
    twice(batch)
    assert float(twice.terms["commutes"]) > 1.0 and float(twice.terms["shift"]) > 1.0


def test_fused_and_unfused_losses_agree():
    p = 11
    mod = compile(load("modular_addition", p=p))
    net = torch.nn.Sequential(torch.nn.Embedding(p, 8), torch.nn.Flatten(), torch.nn.Linear(16, p)).double()
    model = lambda a, b: net(torch.stack([a, b], -1))  # noqa: E731
    batch = {"a": torch.randint(0, p, (64,)), "b": torch.randint(0, p, (64,))}
    fused = mod.SymmetryLoss(add=model, generator=torch.Generator().manual_seed(3))(batch)
    single = mod.SymmetryLoss(add=model, generator=torch.Generator().manual_seed(3), fused=False)(batch)
    assert torch.allclose(fused, single, atol=1e-6)


def test_gradients_flow_to_the_model():
    p = 7
    mod = compile(load("modular_addition", p=p))
    net = torch.nn.Embedding(p * p, p)
    loss = mod.SymmetryLoss(add=lambda a, b: net(a * p + b))
    loss({"a": torch.randint(0, p, (32,)), "b": torch.randint(0, p, (32,))}).backward()
    assert net.weight.grad.abs().sum() > 0


# ---- comparison ---------------------------------------------------------------------


def test_comparison_exact_order_satisfies_every_law():
    mod = compile(load("comparison"))
    exact = lambda a, b: SCALE * (a - b).double() - SCALE / 2  # noqa: E731
    pairs = torch.tensor(list(itertools.product(range(20), repeat=2)))
    batch = {"a": pairs[:, 0], "b": pairs[:, 1]}
    loss = mod.SymmetryLoss(gt=exact, generator=torch.Generator().manual_seed(0))
    loss(batch)
    assert all(float(v) < 1e-5 for v in loss.terms.values()), loss.terms
    backwards = mod.SymmetryLoss(gt=lambda a, b: -exact(a, b), generator=torch.Generator().manual_seed(0))
    backwards(batch)
    assert float(backwards.terms["irreflexive"]) > 1.0


# ---- graph distance -----------------------------------------------------------------


def test_graph_distance_exact_model_satisfies_every_law():
    spec = load("graph_distance")
    dist = torch.as_tensor(spec.ir.graphs["G"].distances).long()
    mod = compile(spec)
    exact = lambda u, v: one_hot_logits(dist[u, v], 13)  # noqa: E731
    pairs = torch.tensor(list(itertools.product(range(49), repeat=2)))
    batch = {"u": pairs[:, 0], "v": pairs[:, 1]}
    loss = mod.SymmetryLoss(dist=exact, generator=torch.Generator().manual_seed(0))
    loss(batch)
    assert all(float(v) < 1e-4 for v in loss.terms.values()), loss.terms
    wrong = mod.SymmetryLoss(dist=lambda u, v: one_hot_logits(torch.minimum(dist[u, v] + (u == 0).long(), torch.tensor(12)), 13))
    wrong(batch)
    assert float(wrong.terms["zero"]) > 0.01 and float(wrong.terms["symmetric"]) > 0.01


# ---- images and point clouds ------------------------------------------------------------


def test_image_d4_invariant_model_and_a_biased_one():
    mod = compile(load("image_d4", size=6))
    images = torch.randn(64, 6, 6, dtype=torch.float64)
    invariant = lambda x: torch.stack([x.pow(k).mean((-1, -2)) for k in range(1, 11)], -1) * 10  # noqa: E731
    loss = mod.SymmetryLoss(classify=invariant, generator=torch.Generator().manual_seed(0))
    assert float(loss({"x": images})) < 1e-10
    biased = lambda x: torch.stack([x[..., 0, :].sum(-1)] * 10, -1) * torch.arange(10.0, dtype=torch.float64)  # noqa: E731
    assert float(mod.SymmetryLoss(classify=biased, generator=torch.Generator().manual_seed(0))({"x": images})) > 0.1


def test_point_cloud_equivariant_models():
    mod = compile(load("point_cloud"))
    x = torch.randn(16, 5, 3, dtype=torch.float64)
    energy = lambda c: (c.unsqueeze(1) - c.unsqueeze(2)).norm(dim=-1).sum((-1, -2))  # noqa: E731
    forces = lambda c: c * c.norm(dim=-1, keepdim=True)  # noqa: E731
    loss = mod.SymmetryLoss(energy=energy, forces=forces, generator=torch.Generator().manual_seed(0))
    loss({"x": x})
    assert float(loss.terms["invariant"]) < 1e-20 and float(loss.terms["equivariant"]) < 1e-20
    broken = mod.SymmetryLoss(energy=lambda c: c[:, 0, 0], forces=lambda c: c + torch.tensor([1.0, 0, 0], dtype=torch.float64))
    broken({"x": x})
    assert float(broken.terms["invariant"]) > 1e-3 and float(broken.terms["equivariant"]) > 1e-3


def test_keywords_as_names_compile_and_run():
    spec = symspec.loads(
        "domain Z = cyclic(5)\nmodel lambda(def: Z, sum: Z) -> class(Z)\nlaw yield: lambda(def, sum) == lambda(sum, def)\n",
        "kw.sym",
    )
    mod = compile(spec)
    loss = mod.SymmetryLoss(**{"lambda": lambda a, b: one_hot_logits((a + b) % 5, 5)})
    assert float(loss({"def": torch.arange(5), "sum": torch.arange(5).flip(0)})) < 1e-5
    assert "yield" in mod.LAWS


def test_missing_batch_field_names_the_law():
    mod = compile(load("modular_addition", p=5))
    with pytest.raises(KeyError, match="law commutes needs the batch field 'b'"):
        mod.SymmetryLoss(add=lambda a, b: a)({"a": torch.arange(5)})


def test_wrong_model_names_are_rejected():
    mod = compile(load("modular_addition", p=5))
    with pytest.raises(TypeError, match="missing \\['add'\\]"):
        mod.SymmetryLoss(plus=lambda a, b: a)


# ---- augmentation ----------------------------------------------------------------------


def test_augment_keeps_labels_correct_changes_inputs_and_is_reproducible():
    p = 13
    mod = compile(load("modular_addition", p=p))
    a, b = torch.randint(0, p, (500,)), torch.randint(0, p, (500,))
    batch = {"a": a, "b": b, "target": (a + b) % p}
    out = mod.augment(batch, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out["target"], (out["a"] + out["b"]) % p)
    assert (out["a"] != a).float().mean() > 0.5 and torch.equal(batch["a"], a)  # changed, input untouched
    again = mod.augment(batch, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(out[k], again[k]) for k in out)


def test_augment_graph_distance_by_automorphisms_and_swaps():
    spec = load("graph_distance")
    dist = torch.as_tensor(spec.ir.graphs["G"].distances).long()
    mod = compile(spec)
    u, v = torch.randint(0, 49, (400,)), torch.randint(0, 49, (400,))
    out = mod.augment({"u": u, "v": v, "target": dist[u, v]}, generator=torch.Generator().manual_seed(1))
    assert torch.equal(dist[out["u"], out["v"]], out["target"])
    assert (out["u"] != u).any()


def test_augment_images_by_d4():
    mod = compile(load("image_d4", size=5))
    x = torch.randn(64, 5, 5)
    out = mod.augment({"x": x, "target": torch.arange(64) % 10}, generator=torch.Generator().manual_seed(2))
    for i in range(64):
        images = [torch.rot90(x[i], k, (0, 1)) for k in range(4)]
        images += [torch.flip(m, (1,)) for m in images]
        assert any(torch.equal(out["x"][i], m) for m in images)
    assert torch.equal(out["target"], torch.arange(64) % 10)
    assert not torch.equal(out["x"], x)


def test_augment_point_clouds_moves_forces_with_the_points():
    mod = compile(load("point_cloud"))
    forces = lambda c: c * c.norm(dim=-1, keepdim=True)  # noqa: E731
    x = torch.randn(32, 6, 3, dtype=torch.float64)
    out = mod.augment({"x": x, "target": forces(x)}, generator=torch.Generator().manual_seed(3), model="forces")
    assert torch.allclose(forces(out["x"]), out["target"], atol=1e-10)
    assert not torch.allclose(out["x"], x)


# ---- every law breakable on its own, priors, metadata -------------------------------------


def test_each_comparison_law_is_flagged_by_a_model_that_breaks_it():
    mod = compile(load("comparison"))
    pairs = torch.tensor(list(itertools.product(range(20), repeat=2)))
    batch = {"a": pairs[:, 0], "b": pairs[:, 1]}

    def terms(model):
        loss = mod.SymmetryLoss(gt=model, generator=torch.Generator().manual_seed(0))
        loss(batch)
        return {k: float(v) for k, v in loss.terms.items()}

    # everything true: irreflexive and antisymmetric break, transitivity holds (the conclusion is true)
    always = terms(lambda a, b: torch.full(a.shape, SCALE, dtype=torch.float64))
    assert always["irreflexive"] > 1 and always["antisymmetric"] > 1 and always["transitive"] < 1e-5
    # a > b on raw logits that do not add up (a squashed scale): only Bradley-Terry breaks
    squashed = terms(lambda a, b: torch.tanh((a - b).double()) * 3 - (a == b).double() * SCALE)
    assert squashed["bradley_terry"] > 1e-3 and squashed["irreflexive"] < 1e-5
    # a cycle: a > b whenever b = a + 1 (mod 20), else by value -- transitivity breaks
    cyclic = terms(lambda a, b: torch.where((b == (a + 1) % 20) | ((a > b) & ~((a == 19) & (b == 0))), SCALE, -SCALE).double())
    assert cyclic["transitive"] > 1e-3


def test_each_graph_law_is_flagged_by_a_model_that_breaks_it():
    spec = load("graph_distance")
    dist = torch.as_tensor(spec.ir.graphs["G"].distances).long()
    mod = compile(spec)
    pairs = torch.tensor(list(itertools.product(range(49), repeat=2)))
    batch = {"u": pairs[:, 0], "v": pairs[:, 1]}

    def terms(table):
        loss = mod.SymmetryLoss(dist=lambda u, v: one_hot_logits(table[u, v], 13), generator=torch.Generator().manual_seed(0))
        loss(batch)
        return {k: float(v) for k, v in loss.terms.items()}

    doubled = terms(torch.clamp(dist * 2, max=12))  # symmetric and invariant, zero on the diagonal: not a metric any more
    assert doubled["geodesic"] > 1 and doubled["symmetric"] < 1e-5 and doubled["automorphism"] < 1e-5
    rows = terms(torch.clamp((torch.arange(49) // 7).view(-1, 1).expand(49, 49) + dist, max=12))  # depends on u's row
    assert rows["automorphism"] > 1e-3 and rows["symmetric"] > 1e-3
    squared = terms(torch.clamp(dist * dist, max=12))  # d(u, v) = 2 but d(u, w) + d(w, v) = 1 + 1: not a metric
    assert squared["triangle"] > 1e-3 and squared["symmetric"] < 1e-5


def test_assoc_breaks_for_a_non_associative_operation():
    p = 11
    mod = compile(load("modular_addition", p=p))
    batch = {"a": torch.arange(p).repeat(p), "b": torch.arange(p).repeat_interleave(p)}
    loss = mod.SymmetryLoss(add=lambda a, b: one_hot_logits((a - b) % p, p), generator=torch.Generator().manual_seed(0))
    loss(batch)
    assert float(loss.terms["assoc"]) > 1


def test_gradients_reach_the_outer_calls_but_not_through_the_nested_argmax():
    spec = symspec.loads(
        "domain Z = cyclic(7)\nmodel add(a: Z, b: Z) -> class(Z)\nlaw assoc: add(add(a, b), c) == add(a, add(b, c))\n"
    )
    mod = compile(spec)
    outputs = []

    def model(a, b):
        out = torch.randn(a.shape[0], 7, requires_grad=True)
        outputs.append(out)
        return out

    loss = mod.SymmetryLoss(add=model, fused=False, generator=torch.Generator().manual_seed(0))
    loss({"a": torch.randint(0, 7, (8,)), "b": torch.randint(0, 7, (8,))}).backward()
    inner, outer = outputs[:2], outputs[2:]  # round 0: add(a, b), add(b, c); round 1: the outer calls
    assert len(outputs) == 4
    assert all(o.grad is None for o in inner)  # used only through argmax
    assert all(o.grad is not None and o.grad.abs().sum() > 0 for o in outer)


def test_priors_values_and_errors():
    text = (
        "domain Zp = cyclic(7)\nmodel add(a: Zp, b: Zp) -> class(Zp)\nlaw c: add(a, b) == add(b, a)\n"
        "prior low: nuclear(embed) [weight 0.5]\nprior spread: entropy(embed)\nprior smooth: lipschitz(add)\n"
    )
    mod = compile(symspec.loads(text, "p.sym"))
    w = torch.diag(torch.tensor([3.0, 1.0, 0.0, 0.0], dtype=torch.float64))
    loss = mod.SymmetryLoss(add=lambda a, b: one_hot_logits((a + b) % 7, 7))
    batch = {"a": torch.arange(7), "b": torch.arange(7)}
    total = loss(batch, embed=w)
    assert float(loss.terms["low"]) == pytest.approx(4.0 / 4.0)
    p = torch.tensor([0.75, 0.25], dtype=torch.float64)
    assert float(loss.terms["spread"]) == pytest.approx(float(-(p * p.log()).sum()))
    assert float(loss.terms["smooth"]) > 1.0  # a one-hot addition table jumps at every step
    constant = mod.SymmetryLoss(add=lambda a, b: torch.zeros(a.shape[0], 7))
    constant(batch, embed=w)
    assert float(constant.terms["smooth"]) == 0.0
    assert float(total) == pytest.approx(sum(mod.WEIGHTS[k] * float(v) for k, v in loss.terms.items()))
    with pytest.raises(TypeError, match="prior low needs the tensor embed"):
        loss(batch)


def test_laws_metadata_and_samples_option():
    mod = compile(load("point_cloud"))
    meta = mod.LAWS["equivariant"]
    assert meta["class"] == "equivariance" and meta["relation"] == "==" and meta["weight"] == 0.1 and meta["samples"] == 2
    assert meta["tol"] == 1e-4 and meta["span"] == f"{ROOT / 'examples' / 'point_cloud.sym'}:23:1"
    seen = []
    forces = lambda c: (seen.append(c.shape[0]), c)[1]  # noqa: E731
    mod.SymmetryLoss(energy=lambda c: c.sum((-1, -2)), forces=forces, fused=False)({"x": torch.randn(4, 5, 3)})
    assert 8 in seen  # two draws per example


def test_large_finite_groups_are_sampled_as_random_words():
    text = "domain Seq = tensor[9, 2]\ngroup S = symmetric(9)\nmodel f(x: Seq) -> real\nlaw inv: forall g: S. f(g . x) == f(x)\n"
    mod = compile(symspec.loads(text, "s9.sym"))
    # 9! = 362880 elements: no table of them; symmetric(n) is drawn as uniform permutations (random words were not uniform)
    assert "rt.GroupSampler" in mod.SOURCE and "uniform permutations" in mod.SOURCE and "random words" not in mod.SOURCE
    x = torch.randn(64, 9, 2, dtype=torch.float64)
    sorted_rows = lambda c: torch.sort(c[..., 0], -1).values.sum(-1)  # noqa: E731 - permutation invariant
    loss = mod.SymmetryLoss(f=sorted_rows, generator=torch.Generator().manual_seed(0))
    assert float(loss({"x": x})) < 1e-20
    out = mod.augment({"x": x}, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(torch.sort(out["x"][..., 0], -1).values, torch.sort(x[..., 0], -1).values)
    assert not torch.equal(out["x"], x)


def test_spec_select_keeps_only_the_named_laws_and_reanalyzes():
    spec = symspec.load(ROOT / "examples" / "modular_addition.sym", params={"p": 7})
    sub = spec.select(["shift", "commutes"])
    assert list(sub.laws) == ["commutes", "shift"] and list(sub.ir.laws) == ["commutes", "shift"]
    assert list(spec.laws) == ["commutes", "shift", "assoc"]  # the original is untouched
    mod = symspec.compile(sub)
    assert list(mod.LAWS) == ["commutes", "shift"] and "assoc" not in mod.SOURCE
    with pytest.raises(symspec.UsageError, match="unknown law.*comutes.*commutes, shift, assoc"):
        spec.select(["comutes"])


# ---- the code generator's own pieces ------------------------------------------------------


def test_lowering_needs_neither_torch_nor_jinja2():
    import subprocess
    import sys

    code = (
        "import sys, symspec\n"
        "from symspec.codegen import lower_module\n"
        f"for name in ('modular_addition', 'graph_distance', 'image_d4', 'point_cloud', 'comparison'):\n"
        f"    lower_module(symspec.load({str(ROOT / 'examples')!r} + '/' + name + '.sym'))\n"
        "assert 'torch' not in sys.modules and 'jinja2' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_namespace_names_are_unique_and_never_shadow():
    import builtins
    import keyword

    from symspec.codegen.names import RESERVED, Namespace

    ns = Namespace()
    names = [ns.create_name(c) for c in ["x", "x", "x_1", "list", "lambda", "self", "n", "9lives", "a-b", "x"]]
    assert len(set(names)) == len(names)
    for name in names:
        assert name.isidentifier() and not keyword.iskeyword(name)
        assert not hasattr(builtins, name) and name not in RESERVED
    assert names[:2] == ["x", "x_1"] and names[3] == "list_"
    child = Namespace(parent=ns)
    assert child.create_name("x") not in names  # a function's locals never hide the module's names


def test_printed_expressions_keep_their_meaning():
    """Random trees of integer and bool operators: the printed text (minimal parentheses) evaluates as the tree does."""
    import random

    from symspec.codegen.expr import BinOp, Const, Printer, Unary

    ops = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__, "%": lambda a, b: a % b if b else 0}
    bool_ops = {"&": bool.__and__, "|": bool.__or__}
    printer = Printer()
    rng = random.Random(0)

    def tree(depth):
        if depth == 0 or rng.random() < 0.2:
            v = rng.randint(-5, 5)
            return Const(v), v
        if rng.random() < 0.15:
            e, v = tree(depth - 1)
            return Unary("-", e), -v
        op = rng.choice(list(ops))
        (a, x), (b, y) = tree(depth - 1), tree(depth - 1)
        if op == "%" and y == 0:
            op = "+"
        return BinOp(op, a, b), ops[op](x, y)

    def cond(depth):
        if depth == 0 or rng.random() < 0.3:
            (a, x), (b, y) = tree(2), tree(2)
            op = rng.choice(["<", "<=", "==", "!="])
            return BinOp(op, a, b), {"<": x < y, "<=": x <= y, "==": x == y, "!=": x != y}[op]
        op = rng.choice(list(bool_ops))
        (a, x), (b, y) = cond(depth - 1), cond(depth - 1)
        return BinOp(op, a, b), bool_ops[op](x, y)

    for _ in range(500):
        e, value = tree(4)
        assert eval(printer.expr(e)) == value, printer.expr(e)  # noqa: S307 - our own printed constants
        c, truth = cond(3)
        assert eval(printer.expr(c)) == truth, printer.expr(c)  # noqa: S307


def test_user_text_reaches_the_module_only_escaped():
    import ast as pyast

    text = "domain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nlaw s: f(a) == f(a)\n"
    spec = symspec.loads(text, file='x"""\nimport os\n"""\\')
    source = compile_source(spec, out_hint='o"""\nimport sys')
    tree = pyast.parse(source)
    imported = {a.name for node in pyast.walk(tree) if isinstance(node, pyast.Import) for a in node.names}
    assert imported == {"torch"}, imported
    assert all(len(line) <= 120 for line in source.splitlines())


def test_parameter_constants_never_shadow_a_local():
    spec = symspec.loads(
        "param p = 5\ndomain Z = cyclic(p)\nmodel f(P: Z, b: Z) -> class(Z)\nlaw s: forall k: Z. f(P + k, b) == f(P, b) + k\n"
    )
    source = compile_source(spec)
    assert "\nP_1 = 5\n" in source and "% P_1" in source  # the batch field P keeps its name
    mod = compile(spec)
    P, b = torch.arange(5).repeat(5), torch.arange(5).repeat_interleave(5)

    class Add(torch.nn.Module):
        def forward(self, P, b):
            return one_hot_logits((P + b) % 5, 5)

    assert float(mod.SymmetryLoss(f=Add())({"P": P, "b": b})) < 1e-5
