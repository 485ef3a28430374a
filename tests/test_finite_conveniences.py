"""Finite-group conveniences (issue 13, item 6): constant group elements (``D4.r . x``), composed action
entries (``compose(...)``), label permutations on ``set`` domains (``relabel(a=b, ...)``) and ``units(n)``.

For each: the spec compiles, an exact model passes ``validate`` with ~0 loss, a broken one fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ROOT

import symspec
from symspec.transforms import ops_push

VALID = ROOT / "tests" / "specs" / "valid"


def _one_hot(t: torch.Tensor, n: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(t, n).double() * 40.0


def _terms(mod, batch, **models) -> dict:
    """Each law's loss on ``batch`` repeated 10 times, with group elements drawn from a fixed seed."""
    batch = {k: v.repeat(10, *([1] * (v.dim() - 1))) for k, v in batch.items()}
    loss = mod.SymmetryLoss(generator=torch.Generator().manual_seed(0), **models)
    loss(batch)
    return {k: v.item() for k, v in loss.terms.items()}


# ---- constant group elements ---------------------------------------------------------------------------


class RotOnly(torch.nn.Module):
    """Equivariant under rot90 (a stencil averaged over the four rotations), not under flips."""

    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, x):
        def h(z):  # an L-shaped triple of pixels: chiral, so its average over rotations is not flip-equivariant
            return z * torch.roll(z, 1, -1) * torch.roll(z, (1, 1), (-2, -1)) + z

        y = sum(torch.rot90(h(torch.rot90(x, k, (-2, -1))), -k, (-2, -1)) for k in range(4))
        return y + x[..., :1, :] if self.broken else y


class ShiftBy3(torch.nn.Module):
    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, a):
        return _one_hot((2 * a) % 8 if self.broken else (a + 5) % 8, 8)


def _constant_spec():
    return symspec.load(VALID / "finite_constant_element.sym").select(["rot", "step"])


def test_a_named_generator_is_a_constant_element_never_drawn():
    spec = symspec.load(VALID / "finite_constant_element.sym")
    law = spec.laws["rot"]
    assert law.variables["D4.r"].element == "r" and law.variables["D4.r"].group.name == "D4"
    ir = spec.ir.laws["rot"]
    assert ir.law_class == "equivariance"
    assert [g.label for g in ir.generators] == ["D4.r"]  # the one fixed transform, not D4's generators
    assert "constant element D4.r" in ir.variables["D4.r"].detail
    word = spec.ir.laws["word"]  # D4.r . D4.s . x: one transform, r after s
    assert len(word.generators) == 1
    r = ops_push([("rot90", {"dims": (0, 1)})], shape=(4, 4))
    s = ops_push([("flip", {"dim": 1})], shape=(4, 4))
    assert np.array_equal(word.generators[0].arg_perms[0], r[s])


def test_constant_element_loss_and_validation():
    spec = _constant_spec()
    mod = symspec.compile(spec)
    x = torch.randn(16, 4, 4, dtype=torch.float64)
    batch = {"x": x, "a": torch.arange(8).repeat(2)}
    good = _terms(mod, batch, f=RotOnly(), g=ShiftBy3())
    assert good["rot"] < 1e-12 and good["step"] < 1e-6
    bad = _terms(mod, batch, f=RotOnly(broken=True), g=ShiftBy3(broken=True))
    assert bad["rot"] > 1e-3 and bad["step"] > 1.0
    report = symspec.validate(spec, f=RotOnly(), g=ShiftBy3(), seed=0)
    assert report.passed, report.render()
    assert report["step"].cases == 8  # exhaustive: every value of Z8 with the one element
    failed = symspec.validate(spec, f=RotOnly(broken=True), g=ShiftBy3(broken=True), seed=0)
    assert not failed["rot"].passed and not failed["step"].passed


def test_a_rotation_only_model_passes_r_and_fails_s():
    spec = symspec.loads(
        "domain Image = tensor[4, 4]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\n"
        "action D4 on Image {\n  r -> rot90(dims=(-2, -1))\n  s -> flip(dim=-1)\n}\n"
        "model f(x: Image) -> Image\nlaw rot: f(D4.r . x) == D4.r . f(x)\nlaw mirror: f(D4.s . x) == D4.s . f(x)\n",
        "rs.sym",
    )
    report = symspec.validate(spec, f=RotOnly(), seed=0)
    assert report["rot"].passed and not report["mirror"].passed


def test_constant_element_augment_applies_it_or_not():
    mod = symspec.compile(_constant_spec())
    batch = {"a": torch.arange(8).repeat(8), "target": torch.arange(8).repeat(8)}
    out = mod.augment(batch, generator=torch.Generator().manual_seed(0), model="g")
    moved = out["a"] != batch["a"]
    assert torch.equal(out["a"][moved], (batch["a"][moved] + 3) % 8)  # C.c: the shift by 3, on about half
    assert 0 < int(moved.sum()) < 64
    assert torch.equal(out["target"], (batch["target"] + 3 * moved.long()) % 8)


def test_constant_element_symmetrize():
    """symmetrize averages over the powers of the constant (the group it generates): <D4.r> = the four
    rotations on Image, <C.c> = the eight shifts of Z8 (there through the finite-input symmetrizer)."""
    spec = _constant_spec()
    mod = symspec.compile(spec)
    assert {"f", "g"} <= set(mod.SYMMETRIZERS)
    torch.manual_seed(0)
    weight = torch.randn(16, 16, dtype=torch.float64)

    def dense(x):  # a linear map of the 16 pixels with no symmetry
        return (x.reshape(-1, 16) @ weight.to(x.dtype)).reshape(x.shape)

    rotated = mod.symmetrize("f", dense)
    x = torch.randn(8, 4, 4, dtype=torch.float64)
    assert torch.allclose(rotated(torch.rot90(x, 1, (-2, -1))), torch.rot90(rotated(x), 1, (-2, -1)))
    assert not torch.allclose(dense(torch.rot90(x, 1, (-2, -1))), torch.rot90(dense(x), 1, (-2, -1)))
    expected = sum(torch.rot90(dense(torch.rot90(x, k, (-2, -1))), -k, (-2, -1)) for k in range(4)) / 4
    assert torch.allclose(rotated(x), expected)  # the exact average over the four rotations
    report = symspec.validate(spec.select(["rot"]), f=rotated, seed=0)
    assert report.passed, report.render()
    noisy = torch.nn.Embedding(8, 8).double()  # random logits: the average over the shifts has no ties
    fixed = mod.symmetrize("g", noisy)
    report = symspec.validate(spec.select(["step"]), g=fixed, seed=0)
    assert report.passed, report.render()
    assert not symspec.validate(spec.select(["step"]), g=noisy, seed=0).passed


def test_constant_elements_of_finite_families():
    """C.c (cyclic(8): the shift by 1) and U.u3 (units(8): the scaling by 3), as explain names them."""
    spec = symspec.load(VALID / "finite_constant_family.sym")
    assert [g.label for g in spec.ir.laws["scaled"].generators] == ["U.u3"]

    class Identity(torch.nn.Module):
        def __init__(self, broken: bool = False):
            super().__init__()
            self.broken = broken

        def forward(self, a):
            return _one_hot((a + 1) % 8 if self.broken else a, 8)

    report = symspec.validate(spec, g=Identity(), seed=0)
    assert report.passed, report.render()
    failed = symspec.validate(spec, g=Identity(broken=True), seed=0)
    assert failed["step"].passed and not failed["scaled"].passed  # a + 1 commutes with shifts, not with scaling


# ---- composed action entries ---------------------------------------------------------------------------


class Affine(torch.nn.Module):
    """x + xy + y = (x + 1)(y + 1) - 1 mod 7 (exact), or x + y + 2xy (broken)."""

    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, a, b):
        return _one_hot((a + b + 2 * a * b) % 7 if self.broken else (a + a * b + b) % 7, 7)


def test_compose_is_right_to_left_like_ops():
    spec = symspec.load(VALID / "finite_composed_action.sym")
    act = spec.ir.groups["U"].actions["Zp"]
    assert [op for op, _ in act.ops["u"]] == ["shift", "scale", "shift"]
    assert act.perms["u"].tolist() == [(3 * (x + 1) - 1) % 7 for x in range(7)]
    assert act.describe("u") == "compose(shift(k=-1), scale(u=3), shift(k=1))"


def test_conjugated_scaling_makes_x_plus_xy_plus_y_equivariant():
    spec = symspec.load(VALID / "finite_composed_action.sym")
    mod = symspec.compile(spec)
    batch = {"a": torch.arange(7).repeat(7), "b": torch.arange(7).repeat_interleave(7)}
    good = _terms(mod, batch, f=Affine())
    assert max(good.values()) < 1e-6
    assert min(_terms(mod, batch, f=Affine(broken=True)).values()) > 1.0
    report = symspec.validate(spec, f=Affine(), seed=0)
    assert report.passed, report.render()
    assert report["conj"].cases == 49 * 5  # exhaustive: every (a, b) and every element of U but the identity
    failed = symspec.validate(spec, f=Affine(broken=True), seed=0)
    assert not failed["conj"].passed and not failed["conj_const"].passed


# ---- label permutations ----------------------------------------------------------------------------------


class Third(torch.nn.Module):
    """The third colour of two different ones (their own colour when equal); broken: the smaller index."""

    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, a, b):
        other = torch.minimum(a, b) if self.broken else 3 - a - b
        return _one_hot(torch.where(a == b, a, other), 3)


def test_relabel_by_name_and_symmetric_default_on_a_set():
    spec = symspec.load(VALID / "finite_label_permutation.sym")
    color = spec.ir.groups["S"].actions["Color"]
    assert color.perms["s"].tolist() == [1, 2, 0] and color.perms["t"].tolist() == [1, 0, 2]
    assert str(spec.ir.groups["S3"].actions["Color"].source) == "default"
    mod = symspec.compile(spec)
    batch = {"a": torch.arange(3).repeat(3), "b": torch.arange(3).repeat_interleave(3)}
    assert max(_terms(mod, batch, third=Third()).values()) < 1e-6
    assert min(_terms(mod, batch, third=Third(broken=True)).values()) > 1.0
    report = symspec.validate(spec, third=Third(), seed=0)
    assert report.passed, report.render()
    failed = symspec.validate(spec, third=Third(broken=True), seed=0)
    assert not any(failed[law].passed for law in ("named", "default", "swap"))


# ---- units(n) -------------------------------------------------------------------------------------------------


class Mul(torch.nn.Module):
    """a * b mod 7 (exact), or a + b (broken)."""

    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, a, b):
        return _one_hot((a + b) % 7 if self.broken else (a * b) % 7, 7)


class Cube(torch.nn.Module):
    """x^3 mod 8 (u^3 = u for the units of Z/8Z), or x^2 (broken: u^2 = 1)."""

    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken

    def forward(self, a):
        return _one_hot((a**2) % 8 if self.broken else (a**3) % 8, 8)


def test_units_as_a_group_and_a_domain():
    from symspec.analysis.units import totient, unit_generators, unit_values

    assert unit_values(8).tolist() == [1, 3, 5, 7] and totient(8) == 4 and unit_generators(8) == (3, 5)
    assert unit_generators(7) == (3,) and unit_generators(15) == (2, 7) and unit_generators(2) == ()
    for n in (9, 12, 20, 21, 97, 100):  # the generators generate every unit
        seen, frontier = {1}, [1]
        while frontier:
            x = frontier.pop()
            for g in unit_generators(n):
                if x * g % n not in seen:
                    seen.add(x * g % n)
                    frontier.append(x * g % n)
        assert sorted(seen) == unit_values(n).tolist()
    spec = symspec.load(VALID / "finite_units.sym")
    u = spec.ir.groups["U"]
    assert u.order == 6 and u.generators == ("u3",)
    assert u.actions["Zp"].perms["u3"].tolist() == [3 * x % 7 for x in range(7)]  # by scale, by default
    assert spec.ir.groups["V"].actions["Zp"].perms["u3"].tolist() == [(3 * (x + 1) - 1) % 7 for x in range(7)]
    scale = spec.ir.laws["scale"]
    assert scale.law_class == "equivariance" and [g.label for g in scale.generators] == ["u = 3"]
    assert "units of Z/7Z" in scale.variables["u"].detail


def test_units_laws_on_multiplication_mod_p():
    spec = symspec.load(VALID / "finite_units.sym")
    mod = symspec.compile(spec)
    batch = {"a": torch.arange(7).repeat(7), "b": torch.arange(7).repeat_interleave(7)}
    assert max(_terms(mod, batch, mul=Mul(), f=Affine()).values()) < 1e-6
    assert min(_terms(mod, batch, mul=Mul(broken=True), f=Affine(broken=True)).values()) > 1.0
    report = symspec.validate(spec, mul=Mul(), f=Affine(), seed=0)
    assert report.passed, report.render()
    assert report["scale"].cases == 49 * 6  # exhaustive over the 6 units, never 0
    failed = symspec.validate(spec, mul=Mul(broken=True), f=Affine(broken=True), seed=0)
    assert not any(failed[law].passed for law in ("scale", "scale_group", "conj"))
    out = mod.augment({**batch, "target": batch["a"] * batch["b"] % 7}, generator=torch.Generator().manual_seed(0), model="mul")
    assert torch.equal(out["target"], out["a"] * out["b"] % 7)  # inputs and target moved by one unit per example


def test_units_of_a_composite_modulus_draw_only_units():
    """u^3 = u only for the units of Z/8Z: a law over units(8) holds for x^3, the same law over cyclic(8) would not."""
    spec = symspec.load(VALID / "finite_units_composite.sym")
    mod = symspec.compile(spec)
    batch = {"a": torch.arange(8).repeat(20)}
    assert max(_terms(mod, batch, cube=Cube()).values()) < 1e-6
    report = symspec.validate(spec, cube=Cube(), seed=0)
    assert report.passed, report.render()
    assert report["scale"].cases == 8 * 4
    assert not symspec.validate(spec, cube=Cube(broken=True), seed=0)["scale"].passed
    over_all = symspec.loads(
        "domain Z8 = cyclic(8)\nmodel cube(a: Z8) -> class(Z8)\nlaw scale: forall u: Z8. cube(a * u) == cube(a) * u\n", "all.sym"
    )
    assert not symspec.validate(over_all, cube=Cube(), seed=0).passed


def test_scaling_by_a_unit_variable_is_augmentable_at_any_size():
    """A units(p) variable is invertible by definition: no enumeration of its 999,982 values to decide it."""
    spec = symspec.loads(
        "param p = 999983\ndomain Zp = cyclic(p)\nmodel mul(a: Zp, b: Zp) -> class(Zp)\n"
        "law scale: forall u: units(p). mul(a, b * u) == mul(a, b) * u\n",
        "big_units.sym",
    )
    ir = spec.ir.laws["scale"]
    assert ir.augment, ir.augment_why
    assert [g.label for g in ir.generators] == ["u = 5"]  # 5 is the least primitive root mod 999983


def test_a_guarded_units_variable_is_drawn_by_rejection_among_the_units():
    text = (
        "param p = 7\ndomain Zp = cyclic(p)\nmodel mul(a: Zp, b: Zp) -> class(Zp)\n"
        "law scale: forall u: units(p). mul(a, b * u) == mul(a, b) * u when u > 2\n"
    )
    spec = symspec.loads(text, "guarded.sym")
    plan = spec.ir.laws["scale"].variables["u"]
    assert str(plan.source) == "rejection" and plan.acceptance == pytest.approx(4 / 6)  # 3, 4, 5, 6 of the six units
    report = symspec.validate(spec, mul=Mul(), seed=0)
    assert report.passed and (report["scale"].cases, report["scale"].skipped) == (49 * 4, 49 * 2)
    assert not symspec.validate(spec, mul=Mul(broken=True), seed=0).passed
    batch = {"a": torch.arange(7).repeat(7), "b": torch.arange(7).repeat_interleave(7)}
    assert _terms(symspec.compile(spec), batch, mul=Mul())["scale"] < 1e-6


def test_a_units_variable_named_like_a_model_parameter_is_drawn_not_read_from_the_batch():
    """The batch's u may be any value of cyclic(7); a law over units(7) must see units only."""
    spec = symspec.loads(
        "param p = 7\ndomain Zp = cyclic(p)\nmodel f(u: Zp) -> class(Zp)\nlaw l: forall u: units(p). f(u * 2) == f(u) * 2\n",
        "named_u.sym",
    )
    assert str(spec.ir.laws["l"].variables["u"].source) == "uniform"
    report = symspec.validate(spec, f=lambda u: _one_hot(u, 7), seed=0)
    assert report.passed and report["l"].cases == 6


@pytest.mark.parametrize("arithmetic", [True, False])
def test_composed_ops_act_right_to_left_in_every_sampler(monkeypatch, arithmetic):
    """The conjugated scaling drawn by arithmetic (v -> a v + b) and from element tables acts as the analysis says."""
    from symspec.codegen import draws

    monkeypatch.setattr(draws, "ARITHMETIC", arithmetic)
    spec = symspec.load(VALID / "finite_composed_action.sym").select(["conj"])
    mod = symspec.compile(spec)
    sampler = next(v for k, v in vars(mod).items() if k.startswith("SAMPLER_"))
    assert sampler.factors[0].__class__.__name__ == ("_Arithmetic" if arithmetic else "_Finite")
    g = sampler.every()
    x = torch.arange(7).repeat(len(g[0]))
    pushed = sampler.act(g.__class__((g[0].repeat_interleave(7),)), "Zp", x)
    perms = spec.ir.groups["U"].actions["Zp"].perms["u"]
    one = [(3 * (v + 1) - 1) % 7 for v in range(7)]
    assert perms.tolist() == one
    images = {tuple(pushed[i * 7 : (i + 1) * 7].tolist()) for i in range(len(g[0]))}
    assert tuple(one) in images and len(images) == 6  # the six powers of u, u itself among them
    batch = {"a": torch.arange(7).repeat(7), "b": torch.arange(7).repeat_interleave(7)}
    assert max(_terms(mod, batch, f=Affine()).values()) < 1e-6


def test_units_groups_are_drawn_by_arithmetic_at_any_size():
    """units(n) is abelian: every element is u_1^e_1 ... u_r^e_r (relative orders), drawn as one number."""
    from symspec.analysis.units import totient, unit_chain

    assert unit_chain(8) == ((3, 2), (5, 2)) and unit_chain(7) == ((3, 6),)
    for n in (8, 100, 720720, 1000000):
        assert np.prod([m for _k, m in unit_chain(n)]) == totient(n)
    spec = symspec.load(VALID / "finite_units_composite.sym").select(["by_group"])
    mod = symspec.compile(spec)
    sampler = next(v for k, v in vars(mod).items() if k.startswith("SAMPLER_"))
    assert sampler.factors[0].__class__.__name__ == "_Arithmetic" and sampler.factors[0].steps == [2, 2]
    report = symspec.validate(spec, cube=Cube(), seed=0)
    assert report.passed and report["by_group"].cases == 8 * 3  # every element of units(8) but the identity
    assert not symspec.validate(spec, cube=Cube(broken=True), seed=0).passed
