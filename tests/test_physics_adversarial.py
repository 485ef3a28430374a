"""Non-compact groups under adversarial use: regressions for silent wrong answers and crashes found in review."""

from __future__ import annotations

import pytest
import torch

import symspec

CLOUD = """
spec adversarial
domain Cloud = tensor[N, 3]
domain Point = tensor[3]
"""


def _first_squared(x: torch.Tensor) -> torch.Tensor:
    """Not invariant under anything: the squared norm of the first point."""
    return (x[..., 0, :] ** 2).sum(-1)


@pytest.mark.parametrize("group", ["SO(3) x translations(3)", "O(3) x translations(3)", "SO(3) x E(3)"])
def test_symmetrize_centers_after_the_factors_before_the_translation(group):
    """A rotation factor before the translating one: the centering translation is computed on the rotated input, so
    the symmetrized model is exactly invariant under translations (it centered the unrotated input: not invariant)."""
    src = CLOUD + f"group P = {group}\nmodel e(x: Cloud) -> real\nlaw l: forall g: P. e(g . x) == e(x)\n"
    mod = symspec.compile(symspec.loads(src))
    x = torch.randn(6, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = 3 * torch.randn(6, 1, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    sym = mod.symmetrize("e", _first_squared, samples=8)
    sym.generator = torch.Generator().manual_seed(2)
    a = sym(x)
    sym.generator = torch.Generator().manual_seed(2)
    b = sym(x + t)
    assert torch.allclose(a, b, atol=1e-10), (a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_symmetrize_when_only_the_output_translates(dtype):
    """An input the group only rotates (by matrix) and an output it translates: symmetrize averages over the
    translations' distribution, whose mean is 0, instead of failing for want of an input to center."""
    src = CLOUD + (
        "domain Vels = tensor[N, 3]\ngroup SR = SE(3)\naction SR on Vels by matrix(dim=-1)\n"
        "model v(y: Vels) -> Point\nlaw l: forall g: SR. v(g . y) == g . v(y)\n"
    )
    mod = symspec.compile(symspec.loads(src))
    y = torch.randn(4, 5, 3, dtype=dtype)
    sym = mod.symmetrize("v", lambda y: y.mean(-2), samples=3, generator=torch.Generator().manual_seed(0))
    out = sym(y)
    assert out.dtype == dtype and out.shape == (4, 3)
    assert torch.allclose(out, y.mean(-2), atol=1e-5)  # the mean is rotation-equivariant: unchanged


@pytest.mark.parametrize(
    ("group", "domain"),
    [("translations(3)", "tensor[N, 3]"), ("E(3)", "tensor[N, 3]"), ("SE(3)", "tensor[3]"), ("SO(1, 3)", "tensor[N, 4]")],
)
def test_integer_tensors_are_refused_not_truncated(group, domain):
    """An integer batch field: adding N(0, 1) translations (or multiplying by rotations) in its dtype truncates the
    element to integers, a silent wrong answer; the sampler says what it needs instead."""
    src = f"spec ints\ndomain D = {domain}\nmodel e(x: D) -> real\nlaw l: forall g: {group}. e(g . x) == e(x)\n"
    mod = symspec.compile(symspec.loads(src))
    shape = (8, *[5 if d.strip() == "N" else int(d) for d in domain[7:-1].split(",")])
    x = torch.randint(-5, 5, shape)
    sampler = mod.SAMPLER_l_g
    g = sampler.draw(8, torch.Generator().manual_seed(0))
    key = next(iter(sampler.factors[0].on))
    with pytest.raises(TypeError, match=r"floating-point"):
        sampler.act(g, key, x)
    with pytest.raises(TypeError, match=r"floating-point"):
        sampler.act_inverse(g, key, x)
    loss = mod.SymmetryLoss(e=lambda x: x.double().sum(tuple(range(1, x.dim()))))
    with pytest.raises(TypeError, match=r"int64"):
        loss({"x": x})


POINT_AND_VELOCITY = (
    CLOUD
    + """domain Vel = tensor[3]
group G = SE(3)
action G on Vel by matrix(dim=-1)
model c(x: Cloud) -> Point
model v(x: Cloud) -> Vel
model f(p: Point) -> real
law velocity: forall g: G. v(g . x) == g . v(x)
"""
)


def test_a_second_action_on_another_name_of_the_same_type_is_an_error():
    """Point and Vel are one type: declaring 'by rigid' on Point after 'by matrix' on Vel was accepted, explain showed
    Point translating, and the loss and validation rotated Point without translating (the exact centroid failed)."""
    src = POINT_AND_VELOCITY + "action G on Point by rigid(dim=-1)\n"
    with pytest.raises(symspec.SpecError) as info:
        symspec.loads(src)
    (err,) = info.value.errors
    assert err.message == (
        "G already has an action on Point: Point and Vel are one type, tensor[3], and a group acts on a type one way"
    )
    assert (err.span.line, err.span.column) == (12, 1)


@pytest.mark.parametrize(
    ("law", "column"),
    [("law center: forall g: G. c(g . x) == g . c(x)", 38), ("law moved: forall g: G. f(g . p) == f(p)", 27)],
)
def test_a_declared_action_reaching_another_name_warns(law, column):
    """The matrix action declared on Vel also moves values written as Point (one type): a silent rotation without
    translation of a centroid; the checker now says so at the action, naming both domains."""
    spec = symspec.loads(POINT_AND_VELOCITY + law + "\n")
    (warning,) = [w for w in spec.warnings if "by the action declared on Vel" in w.message]
    assert warning.message.startswith("G moves Point here by the action declared on Vel (matrix(dim=-1): R x, without")
    assert (warning.span.line, warning.span.column) == (12, column)
    assert not [w for w in symspec.loads(POINT_AND_VELOCITY).warnings if "declared on" in w.message]


def test_generated_comment_says_which_domains_only_rotate():
    """The sampler's comment listed a direction acted on by matrix among the 'translations of' domains."""
    from symspec.pipeline import compile_source

    src = POINT_AND_VELOCITY.replace("group G = SE(3)", "group G = SE(3)\ngroup M = SE(3)") + (
        "law center: forall g: M. c(g . x) == g . c(x)\n"
    )
    text = compile_source(symspec.loads(src))
    assert "translations of dim 1 of Cloud; dim 0 of Point (rotated only)\n" in text  # law velocity, group G
    assert "translations of dim 1 of Cloud; dim 0 of Point\n" in text  # law center, group M: Point translates
    assert compile_source(symspec.loads(src)) == text


@pytest.mark.parametrize(("group", "shape"), [("E(3)", (16, 3)), ("translations(3)", (16, 3)), ("SE(3)", (16, 5, 4))])
def test_a_batch_without_the_domains_shape_is_refused(group, shape):
    """A batch of tensor[N, 3] given as [batch, 3] was acted on as if each example were one point (the batch dim taken
    for N): a silent wrong law; a moved dim of the wrong size failed inside einsum. Both now name the domain."""
    src = CLOUD + f"model e(x: Cloud) -> real\nlaw l: forall g: {group}. e(g . x) == e(x)\n"
    mod = symspec.compile(symspec.loads(src))
    loss = mod.SymmetryLoss(e=lambda x: x.sum(-1))
    with pytest.raises(ValueError, match=r"a batch of Cloud is \[batch, N, 3\]; got a tensor of shape \["):
        loss({"x": torch.randn(*shape)})


@pytest.mark.parametrize("kind", ["SO1", "O1", "E", "SE"])
def test_large_draws_run_the_qr_a_chunk_at_a_time(kind, monkeypatch):
    """SO(1, 63) validated with the default batch of 8192 peaked at 1.8 GB (QR temporaries and the boost and rotation
    matrices of the whole batch); the rotations are now drawn HAAR_CHUNK at a time, B R written in place."""
    import symspec.runtime.physics as physics

    sizes = []
    real = physics.haar_orthogonal

    def spy(batch, n, *args):
        sizes.append(batch)
        return real(batch, n, *args)

    n = 4 if kind in ("SO1", "O1") else 5
    desc = {
        "kind": kind,
        "name": kind,
        "n": n,
        "scale": 1.0,
        "on": {"X": {"shape": ("N", n + (kind in ("SO1", "O1"))), "dim": 1}},
    }
    factor = physics.PHYSICS_KINDS[kind](desc)
    whole = factor.draw(1500, torch.Generator().manual_seed(3), None, None, 0, {})
    monkeypatch.setattr(physics, "haar_orthogonal", spy)
    monkeypatch.setattr(physics, "HAAR_CHUNK", 512)
    chunked = factor.draw(1500, torch.Generator().manual_seed(3), None, None, 0, {})
    assert sizes == [512, 512, 476]
    assert torch.allclose(whole, chunked, atol=1e-14, rtol=0)
    if kind in ("SO1", "O1"):  # Lambda^T eta Lambda = eta, with B R built in place
        eta = physics.minkowski_metric(n)
        assert (chunked.transpose(-1, -2) @ eta @ chunked - eta).abs().max() < 1e-10


def test_explain_lists_the_continuous_factors_of_a_product():
    """symmetric(N) x E(3): explain listed the permutation generators on Cloud and on Point but not E(3) at all (it
    has no named generators), so a reader could not see that the points translate."""
    from symspec.analysis.ir import explain_text

    src = CLOUD + ("group PE = symmetric(N) x E(3)\nmodel c(x: Cloud) -> Point\nlaw l: forall g: PE. c(g . x) == g . c(x)\n")
    text = explain_text(symspec.loads(src))
    assert "symmetric(N).c -> permute_dims(generator=c, dims=(0,)); E(3): x -> R x + t along dim 1\n" in text
    assert "symmetric(N).c -> identity; E(3): x -> R x + t along dim 0\n" in text


@pytest.mark.parametrize("group", ["translations(3)", "E(3)", "symmetric(N) x SE(3)"])
def test_symmetrize_an_empty_batch(group):
    """Centering an empty batch reshaped 0 elements with -1 (a RuntimeError); it now returns an empty output."""
    src = CLOUD + f"group G = {group}\nmodel e(x: Cloud) -> real\nlaw l: forall g: G. e(g . x) == e(x)\n"
    mod = symspec.compile(symspec.loads(src))
    sym = mod.symmetrize("e", lambda x: x.sum((-1, -2)), samples=2)
    assert sym(torch.randn(0, 5, 3)).shape == (0,)


@pytest.mark.parametrize("group", ["symmetric(N) x G", "G"])
def test_the_warning_follows_products_and_aliases(group):
    """Through a product factor or an alias ('group K = G' acts as G), Point is still rotated only."""
    spec = symspec.loads(POINT_AND_VELOCITY + f"group K = {group}\nlaw a: forall g: K. c(g . x) == g . c(x)\n")
    assert [w for w in spec.warnings if "moves Point here by the action declared on Vel" in w.message]


def test_the_same_action_written_on_two_names_of_a_type_is_allowed():
    """Writing the same transform again on another name of the type is the same action: no error."""
    law = "law center: forall g: G. c(g . x) == g . c(x)\n"
    spec = symspec.loads(POINT_AND_VELOCITY + "action G on Point by matrix(dim=-1)\n" + law)
    assert [a.domain for a in spec.actions] == ["Vel", "Point"]
    assert not [w for w in spec.warnings if "declared on" in w.message]  # said on purpose for Point: no warning
