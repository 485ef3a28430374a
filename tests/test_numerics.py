"""Half precision: every relation kind's loss has finite gradients in fp16 and bf16 (issue 12, item 6).

Each spec below is compiled, its models are tables of logits (leaf tensors
in the dtype under test) scaled up to |logit| = 1e4, and the loss's
gradient is checked finite. The kernels are also checked one by one where
the failure was: the logit of a product of probabilities that rounded to 1,
symmetric KL of -inf logits, the Lipschitz prior's overflow.
"""

from __future__ import annotations

import pytest
import torch

import symspec
from symspec import runtime as rt

DTYPES = (torch.float16, torch.bfloat16)
SCALES = (1.0, 10.0, 100.0, 1e4)

RELATIONS = {
    "class ==": "model f(a: D, b: D) -> class(D)\nlaw l: f(a, b) == f(b, a)\n",
    "class == shifted": "model f(a: D, b: D) -> class(D)\nlaw l: forall k: D. f(a + k, b) == f(a, b) + k\n",
    "class == scaled": "model f(a: D, b: D) -> class(D)\nlaw l: f(a, b) * 2 == f(a, b)\n",
    "class == constant": "model f(a: D, b: D) -> class(D)\nlaw l: f(a, 0) == a\n",
    "bool ==": "model g(a: D, b: D) -> bool\nlaw l: g(a, b) == not g(b, a) when a != b\n",
    "!= (a guard: between outputs it is no loss)": "model f(a: D, b: D) -> class(D)\nlaw l: f(a, b) == f(b, a) when a != b\n",
    "bool assert": "model g(a: D, b: D) -> bool\nlaw l: not g(a, a)\n",
    "=>": "model g(a: D, b: D) -> bool\nlaw l: g(a, b) => not g(b, a)\n",
    "transitivity": "model g(a: D, b: D) -> bool\nlaw l: g(a, b) and g(b, c) => g(a, c)\n",
    "or": "model g(a: D, b: D) -> bool\nlaw l: g(a, b) or g(b, a) when a != b\n",
    "and asserted": "model g(a: D, b: D) -> bool\nlaw l: g(a, b) and not g(b, a) when a > b\n",
    "real <": "model r(a: D, b: D) -> real\nlaw l: r(a, b) < r(a, b) + 1.0\n",
    "real <=": "model r(a: D, b: D) -> real\nlaw l: r(a, b) <= r(b, a) when a <= b\n",
    "real ==": "model r(a: D, b: D) -> real\nlaw l: r(a, b) == r(b, a)\n",
    "real >": "model r(a: D, b: D) -> real\nlaw l: r(a, b) > r(b, a) when a > b\n",
    "bradley-terry": "model g(a: D, b: D) -> bool\nlaw l: g(a, c) == sigmoid(logit(g(a, b)) + logit(g(b, c))) when a > b > c\n",
}

N = 5


def _module(body: str):
    spec = symspec.loads(f"domain D = cyclic({N})\n" + body, "numerics.sym")
    return spec, symspec.compile(spec)


def _table_models(spec, dtype, scale, generator):
    """Each model a table of outputs over D x D: a leaf tensor of random signs times ``scale`` (plus -inf for none)."""
    leaves, models = [], {}
    for name, sig in spec.models.items():
        width = getattr(getattr(sig.output, "domain", None), "n", None) or 1
        signs = torch.randint(0, 2, (N, N, width), generator=generator).double() * 2 - 1
        noise = torch.rand((N, N, width), generator=generator, dtype=torch.float64)
        leaf = ((signs * (0.5 + noise)) * scale).to(dtype).requires_grad_()
        leaves.append(leaf)

        def model(a, b, leaf=leaf, width=width):
            out = leaf[a, b]
            return out if width > 1 else out.squeeze(-1)

        models[name] = model
    return leaves, models


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("kind", sorted(RELATIONS))
def test_half_precision_gradients_are_finite(kind, scale, dtype):
    spec, mod = _module(RELATIONS[kind])
    generator = torch.Generator().manual_seed(1)
    leaves, models = _table_models(spec, dtype, scale, generator)
    loss = mod.SymmetryLoss(models=models, generator=torch.Generator().manual_seed(0))
    a, b = torch.meshgrid(torch.arange(N), torch.arange(N), indexing="ij")
    value = loss({"a": a.reshape(-1), "b": b.reshape(-1)})
    assert torch.isfinite(value), (kind, scale, dtype, value)
    value.backward()
    for leaf in leaves:
        assert leaf.grad is not None and torch.isfinite(leaf.grad.float()).all(), (kind, scale, dtype, leaf.grad)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_implication_of_a_conjunction_was_nan_past_logit_10(dtype):
    # the regression: sigmoid(logit(soft_and(...))) in half precision clamped 1 - 1e-6 to 1: logit inf, gradient NaN
    for big in (10.0, 1e2, 1e4):
        x = torch.tensor([big, -big, big], dtype=dtype, requires_grad=True)
        y = torch.tensor([big, big, -big], dtype=dtype, requires_grad=True)
        z = torch.tensor([-big, big, big], dtype=dtype, requires_grad=True)
        rt.implication_logits(rt.and_logits(x, y), z).sum().backward()
        for t in (x, y, z):
            assert torch.isfinite(t.grad.float()).all(), (big, t.grad)
        x.grad = None
        rt.implication_penalty(torch.sigmoid(rt.logit(torch.sigmoid(x))), torch.sigmoid(z)).sum().backward()
        assert torch.isfinite(x.grad.float()).all()


def test_and_or_logits_are_the_product_t_norm():
    a = torch.linspace(-8, 8, 17, dtype=torch.float64)
    x, y = torch.meshgrid(a, a, indexing="ij")
    pa, pb = torch.sigmoid(x), torch.sigmoid(y)
    assert torch.allclose(torch.sigmoid(rt.and_logits(x, y)), pa * pb, atol=1e-12)
    assert torch.allclose(torch.sigmoid(rt.or_logits(x, y)), pa + pb - pa * pb, atol=1e-12)
    assert torch.allclose(rt.implication_logits(x, y), pa * (1 - pb), atol=1e-12)
    # finite far out, where the probabilities are 0 or 1 in float64 too
    far = torch.tensor([-1e4, 1e4, 1e4, -1e4], dtype=torch.float64)
    assert torch.isfinite(rt.and_logits(far, far.flip(0))).all() and torch.isfinite(rt.or_logits(far, far)).all()


@pytest.mark.parametrize("dtype", (torch.float32, *DTYPES), ids=str)
def test_sym_kl_of_masked_classes_is_finite_and_ignores_them(dtype):
    # -inf logits (masked classes) gave NaN in every symmetric-KL law
    a = torch.tensor([[0.0, 1.0, float("-inf")], [2.0, float("-inf"), float("-inf")]], dtype=dtype, requires_grad=True)
    b = torch.tensor([[0.5, 1.0, float("-inf")], [2.0, float("-inf"), float("-inf")]], dtype=dtype, requires_grad=True)
    kl = rt.sym_kl_logits(a, b)
    assert torch.isfinite(kl).all()
    expected = rt.sym_kl_logits(a.detach()[0, :2].float(), b.detach()[0, :2].float())  # the masked class dropped
    assert torch.allclose(kl[0].float(), expected, atol=1e-2 if dtype != torch.float32 else 1e-6)
    assert float(kl[1]) == 0.0
    kl.sum().backward()
    assert torch.isfinite(a.grad.float()).all() and torch.isfinite(b.grad.float()).all()
    # bool outputs: the same certain answer on both sides agrees
    p = torch.tensor([float("inf"), float("-inf"), 3.0], dtype=dtype, requires_grad=True)
    q = torch.tensor([float("inf"), float("-inf"), 3.0], dtype=dtype)
    out = rt.bernoulli_sym_kl(p, q)
    assert out.tolist() == [0.0, 0.0, 0.0]
    out.sum().backward()
    assert torch.isfinite(p.grad.float()).all()


def test_masked_class_logits_in_a_compiled_law_give_a_finite_loss():
    spec, mod = _module("model f(a: D, b: D) -> class(D)\nlaw l: f(a, b) == f(b, a)\n")
    weights = torch.randn(N, N, N, requires_grad=True)
    mask = torch.zeros(N)
    mask[3:] = float("-inf")  # classes 3 and 4 never answered

    def f(a, b):
        return weights[a, b] + mask

    loss = mod.SymmetryLoss(f=f)
    value = loss({"a": torch.arange(N), "b": torch.arange(N).flip(0)})
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(weights.grad).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_lipschitz_prior_does_not_overflow_half_precision(dtype):
    # a change of 300 squared is 9e4 > fp16's 65504; over eps^2 on real inputs, any change of 3 overflows
    spec, mod = _module("model r(a: D, b: D) -> real\nlaw l: r(a, b) == r(b, a)\nprior p: lipschitz(r)\n")
    table = (torch.arange(N * N, dtype=torch.float64).reshape(N, N) * 300).to(dtype).requires_grad_()
    loss = mod.SymmetryLoss(r=lambda a, b: table[a, b])
    value = loss({"a": torch.arange(N), "b": torch.arange(N)})
    assert torch.isfinite(loss.terms["p"]) and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(table.grad.float()).all()
    real = symspec.compile(
        symspec.loads("domain T = tensor[3]\nmodel h(x: T) -> real\nlaw l: h(x) == h(x)\nprior p: lipschitz(h)\n", "r.sym")
    )
    w = torch.full((3,), 100.0, dtype=dtype, requires_grad=True)
    prior = real.SymmetryLoss(h=lambda x: (x * w).sum(-1))
    prior({"x": torch.randn(8, 3).to(dtype)}).backward()
    assert torch.isfinite(prior.terms["p"]) and torch.isfinite(w.grad.float()).all()


# ---- model outputs in the training loss: the errors validate gives


def test_wrong_shape_in_the_training_loss_is_a_model_error_naming_the_model():
    from symspec.errors import ModelError

    spec, mod = _module(
        "model f(a: D, b: D) -> class(D)\nmodel g(a: D, b: D) -> bool\nlaw l: f(a, b) == f(b, a)\nlaw m: g(a, b)\n"
    )
    good_g = lambda a, b: torch.zeros(a.shape[0])  # noqa: E731
    batch = {"a": torch.arange(N), "b": torch.arange(N)}
    for fused in (False, True):
        with pytest.raises(ModelError, match=rf"model 'f' returned shape \(\d+, 4\) for \d+ inputs; expected \(\d+, {N}\)"):
            mod.SymmetryLoss(f=lambda a, b: torch.zeros(a.shape[0], 4), g=good_g, fused=fused)(batch)
    with pytest.raises(ModelError, match=r"model 'g' returned shape \(5, 2\) for 5 inputs; expected \(5,\) or \(5, 1\)"):
        mod.SymmetryLoss(f=lambda a, b: torch.zeros(a.shape[0], N), g=lambda a, b: torch.zeros(a.shape[0], 2))(batch)
    with pytest.raises(ModelError, match="model 'g' returned list; expected a tensor"):
        mod.SymmetryLoss(f=lambda a, b: torch.zeros(a.shape[0], N), g=lambda a, b: [0.0] * a.shape[0])(batch)


def test_nan_outputs_in_the_training_loss_are_a_model_error_naming_the_model():
    from symspec.errors import ModelError

    spec, mod = _module("model f(a: D, b: D) -> class(D)\nlaw l: f(a, b) == f(b, a)\n")

    def f(a, b):
        out = torch.zeros(a.shape[0], N)
        out[a == 2] = float("nan")
        return out

    with pytest.raises(
        ModelError, match=r"model 'f' returned NaN for 2 of its 10 inputs in this step \(the loss is NaN: terms l\)"
    ):
        mod.SymmetryLoss(f=f)({"a": torch.arange(N), "b": torch.arange(N).flip(0)})
    unchecked = mod.SymmetryLoss(f=f)
    unchecked.check_nan = False  # opted out: the NaN loss is returned
    assert torch.isnan(unchecked({"a": torch.arange(N), "b": torch.arange(N).flip(0)}))
    masked = torch.zeros(N)
    masked[1] = float("-inf")  # -inf (a masked class) is no error: the loss stays finite
    value = mod.SymmetryLoss(f=lambda a, b: torch.randn(a.shape[0], N) + masked)({"a": torch.arange(N), "b": torch.arange(N)})
    assert torch.isfinite(value)


def test_validate_counts_masked_classes_and_certain_bools_as_finite_but_not_nan():
    text = (
        "model f(a: D, b: D) -> class(D)\nmodel g(a: D, b: D) -> bool\n"
        "law l: f(a, b) == f(b, a)\nlaw m: g(a, b) == not g(b, a) when a != b\n"
    )
    spec, mod = _module(text)
    masked = torch.zeros(N)
    masked[N - 1] = float("-inf")  # the last class is never answered

    def f(a, b):
        return torch.nn.functional.one_hot((a + b) % (N - 1), N).float() * 5 + masked

    def g(a, b):  # certain answers: +-inf logits
        return torch.where(a > b, float("inf"), float("-inf"))

    report = symspec.validate(spec, f=f, g=g)
    assert report.passed and report["l"].nonfinite == 0 and report["m"].nonfinite == 0
    assert report["l"].divergence == 0.0 and report["m"].divergence == 0.0

    def f_nan(a, b):
        out = f(a, b)
        out[a == 0] = float("nan")
        return out

    def f_all_masked(a, b):
        return torch.full((a.shape[0], N), float("-inf"))

    assert symspec.validate(spec, f=f_nan, laws="l")["l"].nonfinite == 2 * N - 1
    assert symspec.validate(spec, f=f_all_masked, laws="l")["l"].nonfinite == N * N
