"""Trivial actions, products whose factors act on different domains, and tensor representations (issue 13, items 1-2).

Each law is run through every backend that applies -- the loss (about 0 for
an exact model, clearly positive for a broken one), ``validate`` (exact
passes, broken fails), ``augment`` and ``symmetrize`` -- in float64 and
float32; layers built for ``matrix(dims=...)`` are checked with every
parameter random, against the sampler and against matrices applied by hand.
"""

from __future__ import annotations

import pytest
import torch

import symspec
from symspec import runtime as rt
from symspec.analysis.ir import explain_text
from symspec.codegen.draws import group_description
from symspec.errors import SpecError

DTYPES = [(torch.float64, 1e-20, 1e-10), (torch.float32, 1e-8, 1e-4)]  # (dtype, loss of an exact model, relative tol)

MOMENT = """
group E = symmetric(5) x O(3)
domain P = tensor[5, 3]
domain V = tensor[3]
model f(x: P) -> real
model moment(x: P) -> V
law inv: forall g: E. f(g . x) == f(x) [tol 1e-4]
law eq: forall g: E. moment(g . x) == g . moment(x) [tol 1e-4]
"""
MOMENT_SYMBOLIC = MOMENT.replace("symmetric(5)", "symmetric(N)").replace("tensor[5, 3]", "tensor[N, 3]")
# a finite factor that is itself a product with a factor acting on nothing here (cyclic(2) has no action on P or V)
MOMENT_NESTED = MOMENT.replace("group E = symmetric(5) x O(3)", "group A = symmetric(5) x cyclic(2)\ngroup E = A x O(3)")

INERTIA = """
group R = O(3)
domain Pts = tensor[N, 3]
domain Mat = tensor[3, 3]
action R on Mat by matrix(dims=(-2, -1))
model inertia(x: Pts) -> Mat
law eq: forall g: R. inertia(g . x) == g . inertia(x) [tol 1e-4]
"""
TRIPLE = """
group S = SO(3)
domain Pts = tensor[N, 3]
domain T3 = tensor[3, 3, 3]
action S on T3 by matrix(dims=(-3, -2, -1))
model triple(x: Pts) -> T3
law eq3: forall g: S. triple(g . x) == g . triple(x) [tol 1e-4]
"""


def f_exact(x):
    return x.norm(dim=-1).sum(-1)  # the sum of the rows' norms


def f_broken(x):
    return x[:, 0].norm(dim=-1)  # the first row's norm


def moment_exact(x):
    return x.sum(-2)


def moment_broken(x):
    return x[:, 0]


def inertia_exact(x):
    sq = (x * x).sum((-2, -1))
    return sq[:, None, None] * torch.eye(3, dtype=x.dtype) - torch.einsum("bni,bnj->bij", x, x)


FIXED = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0], [0.0, 0.0, 5.0]])


def inertia_plus_fixed(x):  # x^T x plus a fixed non-isotropic matrix
    return torch.einsum("bni,bnj->bij", x, x) + FIXED.to(x.dtype)


def inertia_outer_fixed(x):  # the first row's outer product with a fixed vector
    return torch.einsum("bi,j->bij", x[:, 0], torch.tensor([1.0, 0.0, 0.0], dtype=x.dtype))


def triple_exact(x):
    return torch.einsum("bni,bnj,bnk->bijk", x, x, x)


def triple_broken(x):
    return triple_exact(x) + torch.einsum("i,j,k->ijk", *[torch.tensor([1.0, 0.0, 0.0], dtype=x.dtype)] * 3)


def _terms(mod, x, **models):
    loss = mod.SymmetryLoss(**models, generator=torch.Generator().manual_seed(0))
    loss({"x": x})
    return {k: float(v) for k, v in loss.terms.items()}


# ---- item 1: products whose factors act on different domains --------------------------------------


@pytest.mark.parametrize("source", [MOMENT, MOMENT_SYMBOLIC, MOMENT_NESTED], ids=["fixed", "symbolic", "nested"])
@pytest.mark.parametrize("dtype, small, rel", DTYPES, ids=["fp64", "fp32"])
def test_product_acting_on_points_and_on_a_vector_through_different_factors(source, dtype, small, rel):
    spec = symspec.check(symspec.loads(source, "moment.sym"))
    mod = symspec.compile(spec)
    x = torch.randn(16, 5, 3, dtype=dtype, generator=torch.Generator().manual_seed(0)).to(dtype)
    exact = _terms(mod, x, f=f_exact, moment=moment_exact)
    assert exact["inv"] < small and exact["eq"] < small, exact
    broken = _terms(mod, x, f=f_broken, moment=moment_broken)
    assert broken["inv"] > 1e-2 and broken["eq"] > 1e-2, broken

    dims = {"N": 5} if source is MOMENT_SYMBOLIC else None  # a size for a dim the spec lacks is a usage error
    report = symspec.validate(spec, f=f_exact, moment=moment_exact, samples=200, dims=dims)
    assert report.passed, report.render()
    report = symspec.validate(spec, f=f_broken, moment=moment_broken, samples=200, dims=dims)
    assert [law.passed for law in report.laws] == [False, False], report.render()
    assert all(law.rate > 0.5 for law in report.laws)

    out = mod.augment({"x": x, "target": moment_exact(x)}, generator=torch.Generator().manual_seed(3), model="moment")
    assert torch.allclose(moment_exact(out["x"]), out["target"], rtol=rel, atol=rel)
    assert not torch.allclose(out["x"], x)
    sym = mod.symmetrize("moment", moment_exact, samples=8, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(sym(x), moment_exact(x), rtol=rel, atol=rel * 10)


def test_the_permutations_move_the_points_and_leave_the_vector_unchanged():
    """One drawn element: its permutation factor permutes the rows of P and does nothing to V; O(3) rotates both."""
    spec = symspec.loads(MOMENT, "moment.sym")
    gir = spec.ir.group(spec.groups["E"])
    factors = group_description(spec, gir, {"P": spec.domains["P"], "V": spec.domains["V"]})
    assert [f["kind"] for f in factors] == ["finite", "O"]
    assert factors[0]["on"]["V"] is None and factors[0]["on"]["P"] is not None
    sampler = rt.GroupSampler("E", factors)
    g = sampler.draw(1, torch.Generator().manual_seed(0))
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    v = torch.randn(1, 3, dtype=torch.float64)
    r = g[1][0].to(torch.float64)
    moved = sampler.act(g, "P", x)
    assert torch.allclose(sorted_rows(moved @ r), sorted_rows(x))  # (x R^T) R = x, up to the row order
    assert torch.allclose(sampler.act(g, "V", v), v @ r.T)
    assert torch.allclose(sampler.act_inverse(g, "P", moved), x)


def sorted_rows(x):
    return x[0][torch.argsort(x[0, :, 0])]


def test_explain_shows_the_trivial_part_of_a_product():
    spec = symspec.loads(MOMENT, "moment.sym")
    text = explain_text(spec)
    line = next(t for t in text.splitlines() if t.strip().startswith("on V "))
    assert "symmetric(5).t -> identity" in line and "O(3).reflection -> reflect(dim=0)" in line


def test_a_product_none_of_whose_factors_acts_is_an_error_and_a_lone_factor_stays_one():
    with pytest.raises(SpecError, match=r"group 'E' has no action on W: none of its factors \(symmetric\(5\), O\(3\)\)"):
        symspec.loads(
            "group E = symmetric(5) x O(3)\ndomain W = tensor[7]\nmodel f(x: W) -> real\nlaw l: forall g: E. f(g . x) == f(x)\n",
            "w.sym",
        )
    lone = MOMENT.replace("forall g: E. moment", "forall g: symmetric(5). moment")
    with pytest.raises(SpecError, match=r"group 'symmetric\(5\)' has no action on V"):
        symspec.loads(lone, "lone.sym")
    # declared, the identity is accepted for the product itself
    spec = symspec.loads(
        "group E = symmetric(5) x O(3)\ndomain W = tensor[7]\naction E on W by identity\nmodel f(x: W) -> real\n"
        "law l: forall g: E. f(g . x) == f(x)\n",
        "w.sym",
    )
    report = symspec.validate(spec, f=lambda x: x[:, 0], samples=50)
    assert report.passed  # nothing moves W: any model is invariant


# ---- `by identity` ---------------------------------------------------------------------------------

IDENTITY = """
group D4 = <r, s | r^4, s^2, (s r)^2>
domain Img = tensor[4, 4]
domain Labels = tensor[3]
domain Z5 = cyclic(5)
action D4 on Img {
  r -> rot90(dims=(-2, -1))
  s -> flip(dim=-1)
}
action D4 on Labels by identity
action D4 on Z5 by identity
model classify(x: Img) -> Labels
model tag(a: Z5) -> class(Z5)
law eq: forall g: D4. classify(g . x) == g . classify(x) [tol 1e-4]
law fixed: forall g: D4. tag(g . a) == tag(a)
"""


@pytest.mark.parametrize("dtype, small, rel", DTYPES, ids=["fp64", "fp32"])
def test_by_identity_leaves_a_domain_unchanged_for_a_presentation(dtype, small, rel):
    spec = symspec.loads(IDENTITY, "identity.sym")
    act = spec.ir.action(spec.ir.group(spec.groups["D4"]), spec.domains["Labels"])
    assert act.kind == "trivial" and act.source == "declared" and set(act.ops) == {"r", "s"}
    mod = symspec.compile(spec)
    x = torch.randn(8, 4, 4, dtype=dtype)

    def invariant(t):  # D4-invariant features: the sums over the orbit of each position class
        return torch.stack([t.sum((-2, -1)), t.pow(2).sum((-2, -1)), t.abs().amax((-2, -1))], -1)

    def broken(t):
        return t[:, 0, :3]

    loss = mod.SymmetryLoss(classify=invariant, tag=lambda a: torch.zeros(a.shape[0], 5), generator=torch.Generator())
    loss({"x": x, "a": torch.arange(8) % 5})
    assert float(loss.terms["eq"]) < small
    loss = mod.SymmetryLoss(classify=broken, tag=lambda a: torch.zeros(a.shape[0], 5), generator=torch.Generator())
    loss({"x": x, "a": torch.arange(8) % 5})
    assert float(loss.terms["eq"]) > 1e-2
    assert symspec.validate(spec, classify=invariant, tag=lambda a: torch.nn.functional.one_hot(a, 5) * 9.0).passed
    report = symspec.validate(spec, classify=broken, tag=lambda a: torch.nn.functional.one_hot(a, 5) * 9.0, laws=["eq"])
    assert not report.passed
    out = mod.augment({"x": x, "target": invariant(x)}, generator=torch.Generator().manual_seed(0), model="classify")
    assert torch.allclose(out["target"], invariant(x)) and torch.allclose(invariant(out["x"]), out["target"], rtol=rel, atol=rel)
    sym = mod.symmetrize("classify", broken)
    y = torch.randn(8, 4, 4, dtype=dtype)
    assert torch.allclose(sym(torch.rot90(y, 1, (-2, -1))), sym(y), rtol=rel, atol=rel)


# ---- item 2: tensor representations ----------------------------------------------------------------


@pytest.mark.parametrize("dtype, small, rel", DTYPES, ids=["fp64", "fp32"])
def test_inertia_tensor_transforms_as_r_m_r_transpose(dtype, small, rel):
    spec = symspec.check(symspec.loads(INERTIA, "inertia.sym"))
    mod = symspec.compile(spec)
    x = torch.randn(16, 6, 3, dtype=torch.float64).to(dtype)
    assert _terms(mod, x, inertia=inertia_exact)["eq"] < small
    for broken in (inertia_plus_fixed, inertia_outer_fixed):
        assert _terms(mod, x, inertia=broken)["eq"] > 1e-2
    assert symspec.validate(spec, inertia=inertia_exact, samples=200, dims={"N": 4}).passed
    for broken in (inertia_plus_fixed, inertia_outer_fixed):
        report = symspec.validate(spec, inertia=broken, samples=200, dims={"N": 4})
        assert not report.passed and report["eq"].rate > 0.5
    out = mod.augment({"x": x, "target": inertia_exact(x)}, generator=torch.Generator().manual_seed(3), model="inertia")
    assert torch.allclose(inertia_exact(out["x"]), out["target"], rtol=rel, atol=rel * 10)
    assert not torch.allclose(out["x"], x)
    sym = mod.symmetrize("inertia", inertia_exact, samples=8, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(sym(x), inertia_exact(x), rtol=rel, atol=rel * 10)


def test_matrix_dims_applies_the_same_matrix_on_each_dim_and_its_transpose_inverts_it():
    spec = symspec.loads(INERTIA + TRIPLE.replace("domain Pts = tensor[N, 3]\n", ""), "reps.sym")
    for group, domain, letters in (("R", "Mat", "ij"), ("S", "T3", "ijk")):
        gir = spec.ir.group(spec.groups[group])
        sampler = rt.GroupSampler(group, group_description(spec, gir, {"m": spec.domains[domain]}))
        g = sampler.draw(4, torch.Generator().manual_seed(1))
        q = g[0]
        m = torch.randn(4, *spec.domains[domain].dims, dtype=torch.float64)
        # the same R on every dim: R M R^T for a matrix, R_ia R_jb R_kc T_abc for an order-3 tensor
        upper = letters.upper()
        formula = ",".join(f"n{a}{b}" for a, b in zip(letters, upper)) + f",n{upper}->n{letters}"
        expected = torch.einsum(formula, *([q] * len(letters)), m)
        assert torch.allclose(sampler.act(g, "m", m), expected)
        assert torch.allclose(sampler.act_inverse(g, "m", sampler.act(g, "m", m)), m)
        assert spec.ir.action(gir, spec.domains[domain]).matrix_dim == tuple(range(len(letters)))


@pytest.mark.parametrize("dtype, small, rel", DTYPES, ids=["fp64", "fp32"])
def test_an_order_three_tensor_representation(dtype, small, rel):
    spec = symspec.loads(TRIPLE, "triple.sym")
    mod = symspec.compile(spec)
    x = torch.randn(16, 5, 3, dtype=torch.float64).to(dtype)
    assert _terms(mod, x, triple=triple_exact)["eq3"] < small
    assert _terms(mod, x, triple=triple_broken)["eq3"] > 1e-2
    assert symspec.validate(spec, triple=triple_exact, samples=200, dims={"N": 4}).passed
    assert not symspec.validate(spec, triple=triple_broken, samples=200, dims={"N": 4}).passed
    out = mod.augment({"x": x, "target": triple_exact(x)}, generator=torch.Generator().manual_seed(3), model="triple")
    assert torch.allclose(triple_exact(out["x"]), out["target"], rtol=rel, atol=rel * 10)


def test_matrix_dim_still_means_one_dim():
    spec = symspec.loads(
        "group R = SO(3)\ndomain M = tensor[3, 3]\naction R on M by matrix(dim=-2)\nmodel f(x: M) -> M\n"
        "law l: forall g: R. f(g . x) == g . f(x)\n",
        "one.sym",
    )
    gir = spec.ir.group(spec.groups["R"])
    assert spec.ir.action(gir, spec.domains["M"]).matrix_dim == 0
    mod = symspec.compile(spec)
    x = torch.randn(8, 3, 3, dtype=torch.float64)
    assert _terms(mod, x, f=lambda m: m @ torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=m.dtype)))["l"] < 1e-20  # R M D
    assert _terms(mod, x, f=lambda m: m.transpose(-1, -2))["l"] > 1e-2


# ---- layers under matrix(dims=...) -----------------------------------------------------------------

LAYERS = """
domain Mat = tensor[3, 3]
domain T3 = tensor[3, 3, 3]
domain Pts = tensor[4, 3]
domain V = tensor[3]
group R = O(3)
group S = SO(3)
action R on Mat by matrix(dims=(-2, -1))
action S on Mat by matrix(dims=(-2, -1))
action S on T3 by matrix(dims=(-3, -2, -1))
group Q = symmetric(4) x O(3)
group C = symmetric(N) x S
domain Cloud = tensor[N, 3, 3]
action S on Cloud by matrix(dims=(-2, -1))
layer mm: Mat -> Mat under R
layer mr: Mat -> real under R
layer pm: Pts -> Mat under S
layer t3: T3 -> real under S
layer t3v: T3 -> V under S
layer pv: Pts -> V under Q
layer cloud: Cloud -> Cloud under C
"""

# layer, input event shape, class, size of the equivariant basis (None: not a basis layer)
LAYER_CASES = [
    ("mm", (3, 3), rt.BasisLinear, 3),  # End(1 + 3 + 5) under O(3)
    ("mr", (3, 3), rt.BasisLinear, 1),  # the trace
    ("pm", (4, 3), rt.BasisLinear, 4),  # per point, the cross-product-like antisymmetric part
    ("t3", (3, 3, 3), rt.BasisLinear, 1),  # the Levi-Civita symbol
    ("t3v", (3, 3, 3), rt.BasisLinear, 3),  # the three contractions
    ("pv", (4, 3), rt.BasisLinear, 1),  # the sum of the points (symmetric(4) leaves V unchanged)
    ("cloud", (5, 3, 3), rt.SteerableLinear, None),  # symmetric(N) x the 3 maps of End(V⊗V) per point map
]


@pytest.mark.parametrize("name, shape, cls, size", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-10), (torch.float32, 1e-4)], ids=["fp64", "fp32"])
def test_layers_under_tensor_representations_are_equivariant_with_every_parameter_random(name, shape, cls, size, dtype, rel):
    spec = symspec.loads(LAYERS, "layers.sym")
    layer = symspec.compile(spec).LAYERS[name](2, 3)
    assert isinstance(layer, cls)
    if size is not None:
        assert layer.basis.shape[0] == size
    x = torch.randn(4, 2, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(dtype)
    symspec.assert_equivariant(layer.to(dtype), spec, name, x, generator=torch.Generator().manual_seed(1), atol=rel)


def test_a_matrix_layer_commutes_with_r_m_r_transpose_applied_by_hand():
    spec = symspec.loads(LAYERS, "layers.sym")
    layer = symspec.compile(spec).LAYERS["mm"](2, 2).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64))
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8)))
    x = torch.randn(5, 2, 3, 3, dtype=torch.float64)
    conj = lambda m: q @ m @ q.T  # noqa: E731
    assert torch.allclose(layer(conj(x)), conj(layer(x)), atol=1e-10)
    # and a map that is not equivariant (a fixed non-isotropic matrix added) is caught by assert_equivariant
    with pytest.raises(AssertionError, match="layer mm is not equivariant"):
        symspec.assert_equivariant(lambda t: t + FIXED.to(t.dtype), spec, "mm", x)


def test_a_tensor_representation_is_only_declared_on_a_shape_it_fits():
    cases = [
        ("domain M = tensor[4, 3]\naction R on M by matrix(dims=(-2, -1))", "O(3) cannot act on dim -2 of tensor[4, 3]"),
        ("domain M = tensor[3, 3]\naction R on M by matrix(dims=(1, -1))", "lists dim 1 of tensor[3, 3] twice"),
        ("domain M = tensor[3, 3]\naction R on M by matrix(dim=0, dims=(0, 1))", "matrix takes dim or dims, not both"),
        ("domain M = tensor[3, 3]\naction R on M by matrix(dims=(0, 2))", "dim 2 is out of range for tensor[3, 3]"),
        ("domain M = tensor[3, 3]\naction R on M by identity(1)", "identity takes no arguments, got 1"),
        ("domain M = tensor[N, 3]\naction R on M by matrix(dims=(0, 1))", "O(3) cannot act on dim 0 of tensor[N, 3]"),
    ]
    for text, message in cases:
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")) as info:
            symspec.loads("group R = O(3)\n" + text + "\n", "bad.sym")
        assert info.value.diagnostics[0].span.line == 3 and info.value.diagnostics[0].hint


TRIVIAL_ENDS = """
group D4 = <r, s | r^4, s^2, (s r)^2>
domain Img = tensor[4, 4]
domain Labels = tensor[3]
action D4 on Img {
  r -> rot90(dims=(-2, -1))
  s -> flip(dim=-1)
}
action D4 on Labels by identity
domain A = tensor[4]
domain B = tensor[4, 3, 3]
group C = cyclic(4)
group S = SO(3)
action C on A by roll(dim=0)
action C on B by roll(dim=0)
action S on B by matrix(dims=(-2, -1))
group Q = C x S
group Q2 = C x O(3)
layer labels: Img -> Labels under D4
layer ab: A -> B under Q
layer ba: B -> A under Q
layer aa: A -> A under Q2
"""

# an end a group leaves unchanged keeps its shape (an OrbitLinear to tensor[3], not to a point), and a rotation
# factor with no action on an end still lists its generators there (acting as zero / the identity)
TRIVIAL_CASES = [
    ("labels", (4, 4), (3,), rt.OrbitLinear, None),
    ("ab", (4,), (4, 3, 3), rt.BasisLinear, 4),  # circulant (x) delta_ij
    ("ba", (4, 3, 3), (4,), rt.BasisLinear, 4),  # circulant (x) the trace
    ("aa", (4,), (4,), rt.BasisLinear, 4),  # circulants: O(3) leaves A unchanged
]


@pytest.mark.parametrize("name, shape, out, cls, size", TRIVIAL_CASES, ids=[c[0] for c in TRIVIAL_CASES])
@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-10), (torch.float32, 1e-4)], ids=["fp64", "fp32"])
def test_layers_with_an_end_a_factor_leaves_unchanged(name, shape, out, cls, size, dtype, rel):
    spec = symspec.loads(TRIVIAL_ENDS, "ends.sym")
    layer = symspec.compile(spec).LAYERS[name](2, 3).to(dtype)
    assert isinstance(layer, cls)
    if size is not None:
        assert layer.basis.shape[0] == size
    x = torch.randn(4, 2, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).to(dtype)
    assert tuple(layer(x).shape) == (4, 3, *out)
    symspec.assert_equivariant(layer, spec, name, x, generator=torch.Generator().manual_seed(1), atol=rel)


LARGE = """
group C = cyclic(2)
domain P = tensor[30000, 2]
domain V = tensor[2]
action C on P by roll(dim=1)
action C on V by roll(dim=0)
group E = symmetric(30000) x C
group F = symmetric(30000) x O(2)
model h(x: P) -> P
model moment(x: P) -> V
law eq: forall g: E. h(g . x) == g . h(x)
law mom: forall g: F. moment(g . x) == g . moment(x)
"""


def test_a_product_too_large_to_tabulate_together_is_drawn_factor_by_factor():
    """symmetric(30000) x ...: the factors' tables exceed the literal limit together (they were an error); the
    permutations are drawn uniformly on their own, the other factor by its table or as matrices."""
    spec = symspec.loads(LARGE, "large.sym")
    mod = symspec.compile(spec)
    x = torch.randn(3, 30000, 2, dtype=torch.float64)
    exact = _terms(mod, x, h=lambda t: t * t.norm(dim=-1, keepdim=True), moment=moment_exact)
    assert exact["eq"] < 1e-20 and exact["mom"] < 1e-20, exact
    assert _terms(mod, x, h=lambda t: t + t[:, :1], moment=moment_broken)["eq"] > 1e-2  # not permutation-equivariant
    broken = _terms(mod, x, h=lambda t: t * torch.tensor([1.0, 2.0], dtype=t.dtype), moment=moment_broken)
    assert broken["eq"] > 1e-2 and broken["mom"] > 1e-2, broken  # not equivariant under the roll; the first row


STRESS = """
group R = O(3)
group E = symmetric(N) x R
domain Pts = tensor[N, 3]
domain Stress = tensor[N, 3, 3]
action R on Stress by matrix(dims=(-2, -1))
model stress(x: Pts) -> Stress
law eq: forall g: E. stress(g . x) == g . stress(x) [tol 1e-4]
"""


def stress_exact(x):  # x_n x_n^T plus |x|^2 I: permutation- and rotation-equivariant per point
    eye = torch.eye(3, dtype=x.dtype)
    return torch.einsum("bni,bnj->bnij", x, x) + x.pow(2).sum((-2, -1))[:, None, None, None] * eye


def stress_broken(x):  # each point's outer product with a fixed direction
    return torch.einsum("bni,j->bnij", x, torch.tensor([1.0, 0.0, 0.0], dtype=x.dtype))


@pytest.mark.parametrize("dtype, small, rel", DTYPES, ids=["fp64", "fp32"])
def test_a_tensor_representation_per_point_in_a_product_with_symmetric_n(dtype, small, rel):
    spec = symspec.loads(STRESS, "stress.sym")
    mod = symspec.compile(spec)
    x = torch.randn(8, 6, 3, dtype=torch.float64).to(dtype)
    assert _terms(mod, x, stress=stress_exact)["eq"] < small
    assert _terms(mod, x, stress=stress_broken)["eq"] > 1e-2
    assert symspec.validate(spec, stress=stress_exact, samples=100, dims={"N": 4}).passed
    assert not symspec.validate(spec, stress=stress_broken, samples=100, dims={"N": 4}).passed
    out = mod.augment({"x": x, "target": stress_exact(x)}, generator=torch.Generator().manual_seed(2), model="stress")
    assert torch.allclose(stress_exact(out["x"]), out["target"], rtol=rel, atol=rel * 10)
    sym = mod.symmetrize("stress", stress_exact, samples=4, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(sym(x), stress_exact(x), rtol=rel, atol=rel * 10)


def test_by_identity_on_a_large_tensor_costs_one_push_map_and_no_relator_check():
    """2.25 million positions: the identity is one push map shared by both generators (not one each), and its
    relators are not composed (they hold: it was an error past the relator-check budget)."""
    spec = symspec.loads(
        "group D4 = <r, s | r^4, s^2, (s r)^2>\ndomain Big = tensor[1500, 1500]\ndomain Img = tensor[4, 4]\n"
        "action D4 on Img {\n  r -> rot90(dims=(-2, -1))\n  s -> flip(dim=-1)\n}\naction D4 on Big by identity\n"
        "model f(x: Img, y: Big) -> real\nlaw inv: forall g: D4. f(g . x, g . y) == f(x, y)\n",
        "big.sym",
    )
    act = spec.ir.action(spec.ir.group(spec.groups["D4"]), spec.domains["Big"])
    assert act.kind == "trivial" and act.perms["r"] is act.perms["s"] and len(act.perms["r"]) == 1500 * 1500
    mod = symspec.compile(spec)
    x, y = torch.randn(2, 4, 4, dtype=torch.float64), torch.randn(2, 1500, 1500, dtype=torch.float64)
    assert _terms_xy(mod, x, y, f=lambda a, b: a.sum((-2, -1)) + b[:, 0, 0])["inv"] < 1e-20
    assert _terms_xy(mod, x, y, f=lambda a, b: a[:, 0, 0] + b[:, 0, 0])["inv"] > 1e-2


def _terms_xy(mod, x, y, **models):
    loss = mod.SymmetryLoss(**models, generator=torch.Generator().manual_seed(0))
    loss({"x": x, "y": y})
    return {k: float(v) for k, v in loss.terms.items()}


def test_a_factor_acting_trivially_is_left_out_of_the_commuting_check():
    """The identity commutes with everything: symmetric(1900) x K on 3.6 million positions, K acting trivially, is
    not composed pair by pair (2 x 6 pairs x 3.6 million passed the check budget: an error)."""
    spec = symspec.loads(
        "group K = <a, b, c | a^2, b^2, c^2, a b = b a, a c = c a, b c = c b>\ngroup E = symmetric(1900) x K\n"
        "domain Big = tensor[1900, 1900]\nlayer l: Big -> real under E\n",
        "big.sym",
    )
    act = spec.ir.layers["l"][1]
    assert [p.kind for p in act.parts] == ["positions", "trivial"] and spec.warnings == []


def test_a_factors_default_action_is_built_once(monkeypatch):
    """Probing whether a product's factor acts on a domain and then building its action ask for its default once
    (a permutation of 10^6 points written out as ops takes about a second each time)."""
    from symspec.analysis.symmetry import Symmetry

    calls = []
    original = Symmetry._default

    def counting(self, gir, domain):
        calls.append((gir.name, domain))
        return original(self, gir, domain)

    monkeypatch.setattr(Symmetry, "_default", counting)
    symspec.loads(MOMENT, "moment.sym")
    assert calls and len(calls) == len(set(calls)), calls


def test_a_layer_whose_permutation_factor_leaves_its_input_unchanged_is_an_error_not_a_crash():
    """SO(3) x symmetric(5) from tensor[3] (symmetric(5) acts trivially there) to tensor[N, 3, 3]: no layer symspec
    builds fits; check says so at the layer (it raised AttributeError reading the factor's missing action)."""
    source = "group E = SO(3) x symmetric(5)\ndomain V = tensor[3]\ndomain S = tensor[N, 3, 3]\nlayer ly: V -> S under E\n"
    with pytest.raises(SpecError, match="layer ly: E does not act on the dim of size N") as info:
        symspec.check(symspec.loads(source, "ly.sym"))
    assert info.value.diagnostics[0].span.line == 4
