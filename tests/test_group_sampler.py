"""rt.GroupSampler: the one way compiled modules and assert_equivariant draw group elements and act with them."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt
from symspec.codegen.draws import group_description

D4_OPS = {"r": [("rot90", {"dims": (0, 1)})], "s": [("flip", {"dim": 1})]}
DTYPES = [torch.float64, torch.float32]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _d4(size: int = 5) -> rt.GroupSampler:
    return rt.GroupSampler(
        "D4", [{"kind": "finite", "name": "D4", "order": 8, "on": {"img": {"shape": (size, size), "ops": D4_OPS}}}]
    )


# ---- each action kind agrees with the direct kernels, and act_inverse undoes act ----------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_finite_table_on_tensor_positions_matches_gather_of_the_element_table(dtype):
    s = _d4()
    assert s.order == 8
    (g,) = s.draw(16, _gen(), "cpu")
    assert g.dtype == torch.long and g.shape == (16,) and int(g.min()) >= 0 and int(g.max()) < 8
    x = torch.randn(16, 3, 5, 5, generator=_gen(1), dtype=dtype)  # a channel dim between batch and event dims
    (rows,) = rt.joint_elements([rt.action_table(D4_OPS, shape=(5, 5))])
    want = rt.act_on_positions(x, rows[g], 2)
    assert torch.equal(s.act(g, "img", x), want)
    assert torch.equal(s.act_inverse(g, "img", s.act(g, "img", x)), x)
    assert s.act(g, "img", x).dtype == dtype


def test_finite_table_with_untouched_leading_dims_moves_them_together():
    ops = {"r": [("rot90", {"dims": (1, 2)})]}
    s = rt.GroupSampler("C4", [{"kind": "finite", "name": "C4", "order": 4, "on": {"t": {"shape": ("N", 4, 4), "ops": ops}}}])
    x = torch.randn(8, 7, 4, 4, dtype=torch.float64)  # N = 7 at run time
    (g,) = s.draw(8, _gen(), "cpu")
    (rows,) = rt.joint_elements([rt.action_table({"r": [("rot90", {"dims": (0, 1)})]}, shape=(4, 4))])
    assert torch.equal(s.act(g, "t", x), rt.act_on_positions(x, rows[g], 2))
    assert torch.equal(s.act_inverse(g, "t", s.act(g, "t", x)), x)


def test_finite_values_and_class_logprobs_match_act_on_values_and_pushforward():
    n, lo = 7, 3
    ops = {"a": [("shift", {"k": 1})]}
    s = rt.GroupSampler("C7", [{"kind": "finite", "name": "C7", "order": 7, "on": {"v": {"n": n, "lo": lo, "ops": ops}}}])
    (g,) = s.draw(32, _gen(), "cpu")
    (rows,) = rt.joint_elements([rt.action_table(ops, n=n)])
    values = torch.randint(lo, lo + n, (32,), generator=_gen(2))
    assert torch.equal(s.act(g, "v", values), rt.act_on_values(values - lo, rows[g]) + lo)
    assert torch.equal(s.act_inverse(g, "v", s.act(g, "v", values)), values)
    logp = torch.log_softmax(torch.randn(32, n, generator=_gen(3), dtype=torch.float64), -1)
    assert torch.equal(s.act(g, "v", logp, "dist"), rt.pushforward(logp, rows[g]))
    assert torch.allclose(s.act_inverse(g, "v", s.act(g, "v", logp, "dist"), "dist"), logp)


def test_every_enumerates_exactly_the_group_order():
    s = _d4()
    (every,) = s.every()
    assert torch.equal(every, torch.arange(8))
    (rep,) = s.every(repeat=3)
    assert torch.equal(rep, torch.arange(8).repeat_interleave(3))
    x = torch.randn(1, 5, 5, dtype=torch.float64).expand(8, 5, 5)
    images = s.act(every, "img", x)
    assert len({tuple(im.flatten().tolist()) for im in images}) == 8  # eight distinct images of a generic one
    three = rt.GroupSampler(
        "S3",
        [
            {
                "kind": "finite",
                "name": "S3",
                "order": None,
                "on": {
                    "v": {
                        "n": 3,
                        "lo": 0,
                        "ops": {"a": [("relabel", {"perm": (1, 2, 0)})], "b": [("relabel", {"perm": (1, 0, 2)})]},
                    }
                },
            }
        ],
    )
    assert three.order == 6 and three.every()[0].shape == (6,)  # order found by closure when not given


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_words_past_the_table_limit(dtype):
    perm_ops = {
        "c": [("permute", {"perm": tuple(range(1, 9)) + (0,), "dim": 0})],
        "t": [("permute", {"perm": (1, 0, *range(2, 9)), "dim": 0})],
    }
    s = rt.GroupSampler(
        "S9", [{"kind": "finite", "name": "S9", "order": math.factorial(9), "on": {"seq": {"shape": (9, 2), "ops": perm_ops}}}]
    )
    assert s.order is None
    with pytest.raises(ValueError):
        s.every()
    (g,) = s.draw(6, _gen(), "cpu")
    assert g.shape == (6, 18)
    x = torch.randn(6, 9, 2, generator=_gen(1), dtype=dtype)
    assert torch.equal(s.act(g, "seq", x), rt.act_on_positions(x, g, 2))
    assert torch.equal(s.act_inverse(g, "seq", s.act(g, "seq", x)), x)
    moved = s.act(g, "seq", x)
    assert torch.equal(torch.sort(moved[..., 0], -1).values, torch.sort(x[..., 0], -1).values)  # rows permuted


@pytest.mark.parametrize("kind", ["SO", "O"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matrices_match_matrix_event_dim(kind, dtype):
    s = rt.GroupSampler("R", [{"kind": kind, "name": "R", "n": 3, "on": {"c": {"shape": ("N", 3), "matrix": 1}}}])
    (q,) = s.draw(10, _gen(), "cpu")
    assert q.shape == (10, 3, 3) and q.dtype == torch.float64
    assert torch.allclose(q @ q.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(10, 3, 3), atol=1e-12)
    if kind == "SO":
        assert torch.allclose(torch.linalg.det(q), torch.ones(10, dtype=torch.float64))
    x = torch.randn(10, 5, 3, generator=_gen(1), dtype=dtype)
    out = s.act(q, "c", x)
    assert out.dtype == dtype and torch.equal(out, rt.matrix_event_dim(x, q, 1))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(s.act_inverse(q, "c", out), x, atol=tol)
    with_channels = torch.randn(10, 2, 5, 3, generator=_gen(2), dtype=dtype)  # event dims counted from the end
    assert torch.equal(s.act(q, "c", with_channels), rt.matrix_event_dim(with_channels, q, 2))


def test_symmetric_of_symbolic_size_is_sized_from_like_and_matches_permute_event_dim():
    s = rt.GroupSampler("P", [{"kind": "symmetric", "name": "P", "on": {"c": {"shape": ("N", 3), "permute": (0,)}}}])
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="like"):
        s.draw(4, _gen(), "cpu")
    (p,) = s.draw(4, _gen(), "cpu", like={"c": x})
    assert p.shape == (4, 6)
    assert torch.equal(s.act(p, "c", x), rt.permute_event_dim(x, p, 0))
    assert torch.equal(s.act_inverse(p, "c", s.act(p, "c", x)), x)


def test_products_act_factor_by_factor_and_invert_in_reverse():
    s = rt.GroupSampler(
        "E",
        [
            {"kind": "symmetric", "name": "P", "on": {"c": {"shape": ("N", 3), "permute": (0,)}}},
            {"kind": "SO", "name": "Rot", "n": 3, "on": {"c": {"shape": ("N", 3), "matrix": 1}, "r": None}},
        ],
    )
    x = torch.randn(5, 4, 3, dtype=torch.float64)
    g = s.draw(5, _gen(), "cpu", like={"c": x})
    assert isinstance(g, rt.Elements) and len(g) == 2
    want = rt.matrix_event_dim(rt.permute_event_dim(x, g[0], 0), g[1], 1)
    assert torch.equal(s.act(g, "c", x), want)
    assert torch.allclose(s.act_inverse(g, "c", s.act(g, "c", x)), x, atol=1e-12)
    r = torch.randn(5, dtype=torch.float64)
    assert torch.equal(s.act(g, "r", r), r)  # a trivial action: the identity


def test_one_element_acts_on_the_whole_batch():
    s = _d4()
    x = torch.randn(4, 5, 5, dtype=torch.float64)
    one = s.pick(torch.tensor([3]))
    assert torch.equal(s.act(one, "img", x), s.act(torch.full((4,), 3), "img", x))


# ---- randomness and devices ---------------------------------------------------------------------------------------


def test_randomness_comes_only_from_the_given_generator():
    samplers = [
        (_d4(), {}),
        (rt.GroupSampler("R", [{"kind": "SO", "name": "R", "n": 3, "on": {"c": {"shape": ("N", 3), "matrix": 1}}}]), {}),
        (
            rt.GroupSampler("P", [{"kind": "symmetric", "name": "P", "on": {"c": {"shape": ("N", 3), "permute": (0,)}}}]),
            {"like": {"c": torch.zeros(1, 6, 3)}},
        ),
    ]
    for s, kw in samplers:
        state = torch.get_rng_state()
        a = s.draw(8, _gen(5), "cpu", **kw)
        b = s.draw(8, _gen(5), "cpu", **kw)
        assert torch.equal(torch.get_rng_state(), state)  # the global generator is untouched
        assert all(torch.equal(u, v) for u, v in zip(a, b))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_devices_follow_the_inputs():
    s = _d4()
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(0)
    (g,) = s.draw(4, gen, dev)
    x = torch.randn(4, 5, 5, device=dev)
    assert g.device.type == "cuda" and s.act(g, "img", x).device.type == "cuda"
    (cpu_g,) = s.draw(4, _gen(), "cpu")  # elements drawn on the CPU act on a CUDA tensor
    assert s.act(cpu_g, "img", x).device.type == "cuda"


# ---- its users -----------------------------------------------------------------------------------------------------

OLD_KERNELS = (
    "rt.gather_positions",
    "rt.haar_orthogonal",
    "rt.random_permutations",
    "rt.random_words",
    "rt.joint_elements",
    "rt.act_on_values",
    "rt.matrix_event_dim",
    "rt.permute_event_dim",
)


@pytest.mark.parametrize("name", ["image_d4", "point_cloud", "graph_distance"])
def test_generated_modules_draw_and_act_through_the_sampler(name):
    text = (ROOT / "generated" / f"{name}.py").read_text(encoding="utf-8")
    assert "rt.GroupSampler(" in text and ".draw(" in text and ".act(" in text
    assert not [k for k in OLD_KERNELS if k in text]


def test_compiled_loss_augment_symmetrize_and_validation_use_the_sampler(monkeypatch):
    text = (
        "spec t\ndomain Image = tensor[4, 4]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\n"
        "action D4 on Image {\n  r -> rot90(dims=(-2, -1))\n  s -> flip(dim=-1)\n}\n"
        "model f(x: Image) -> class(3)\nlaw invariant: forall g: D4. f(g . x) == f(x)\n"
    )
    mod = symspec.compile(symspec.loads(text, "t.sym"))
    sampler = mod.SAMPLER_invariant_g
    assert isinstance(sampler, rt.GroupSampler) and sampler.order == 8
    assert mod.CHECKS["invariant"]["variables"]["g"].domain == rt.GroupElements("ELEMENTS_invariant_g")
    assert mod.ELEMENTS_invariant_g.shape[0] == 8  # what validation enumerates
    calls = []
    for method in ("draw", "every", "act"):
        original = getattr(rt.GroupSampler, method)

        def spy(self, *args, _original=original, _method=method, **kwargs):
            calls.append(_method)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(rt.GroupSampler, method, spy)
    f = lambda x: torch.stack([x.sum((-2, -1)), (x**2).sum((-2, -1)), x.amax((-2, -1))], -1)  # noqa: E731 - invariant
    x = torch.randn(6, 4, 4, dtype=torch.float64)
    assert float(mod.SymmetryLoss(f=f, generator=_gen())({"x": x})) < 1e-12
    assert calls.count("draw") == 1 and calls.count("act") == 1
    mod.augment({"x": x}, generator=_gen())
    assert calls.count("draw") == 2 and calls.count("act") == 2
    lin = torch.nn.Linear(16, 3).double()
    sym = mod.symmetrize("f", lambda x: lin(x.flatten(1)))
    (every,) = sampler.every()
    gx = sampler.act(every, "Image", x[:1].expand(8, 4, 4))
    assert torch.allclose(sym(gx), sym(x[:1]).expand(8, 3), atol=1e-12)  # exact: every element averaged
    assert "every" in calls
    report = symspec.validate(mod, f=f, samples=64)
    (law,) = report.laws
    assert law.passed and law.violations == 0 and "every" in calls


def test_assert_equivariant_builds_the_same_sampler_and_uses_it(monkeypatch):
    spec = symspec.load(ROOT / "examples" / "image_d4.sym", params={"size": 5})
    built, acted = [], []
    import symspec.codegen.draws as draws

    original_description = draws.group_description

    def description(*args, **kwargs):
        built.append(args[1].name)
        return original_description(*args, **kwargs)

    original_act = rt.GroupSampler.act

    def act(self, g, key, x, kind=None):
        acted.append(key)
        return original_act(self, g, key, x, kind)

    monkeypatch.setattr(draws, "group_description", description)
    monkeypatch.setattr(rt.GroupSampler, "act", act)
    from symspec.testing import layer_sampler

    layer = symspec.compile(spec).LAYERS["conv"](2, 3).double()
    built.clear()
    x = torch.randn(3, 2, 5, 5, dtype=torch.float64)
    assert symspec.assert_equivariant(layer, spec, "conv", x, generator=_gen(), randomize=False) < 1e-10
    assert built == ["D4"] and acted.count("input") == 8 and acted.count("output") == 8  # every element of D4
    assert layer_sampler(spec, "conv").order == 8


def test_the_description_builder_is_shared_and_literal():
    spec = symspec.load(ROOT / "examples" / "point_cloud.sym")
    gir = spec.ir.group(spec.layers["mix"].group)
    factors = group_description(spec, gir, {"input": spec.domains["Cloud"]})
    assert factors == [
        {"kind": "symmetric", "name": "P", "on": {"input": {"shape": ("N", 3), "permute": (0,)}}},
        {"kind": "SO", "name": "Rot", "n": 3, "on": {"input": {"shape": ("N", 3), "matrix": 1}}},
    ]
    assert eval(repr(factors)) == factors  # plain literals
