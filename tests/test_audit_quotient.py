"""Training on the quotient: projected updates orthogonal to every tangent, canonicalization keeps the function."""

from __future__ import annotations

import pytest
import torch
from test_audit_models import GPT, encoder
from torch import nn

import symspec
from symspec.audit import QuotientOptimizer, canonicalize, project_out
from symspec.audit.quotient import project


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread avoids the contention of a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _gpt(seed: int = 0):
    torch.manual_seed(seed)
    model = GPT(n_embd=8, n_head=2, n_layer=2).double()
    idx = torch.randint(0, 11, (6, 6))
    target = torch.randint(0, 11, (6, 6))
    return model, idx, target


def _loss(model, idx, target):
    return nn.functional.cross_entropy(model(idx).reshape(-1, 11), target.reshape(-1))


def _value(model, idx, target) -> float:
    with torch.no_grad():
        return float(_loss(model, idx, target))


def _orthogonality(params: dict, vec: dict, projected: dict, syms: list) -> float:
    """Largest |L_s^T v'| / |L_s^T v| over the symmetries (v random: its components are of order 1)."""
    return max(float(s.adjoint(params, projected).norm() / s.adjoint(params, vec).norm()) for s in syms)


def test_projection_is_orthogonal_to_every_tangent_in_float64():
    model, idx, _ = _gpt()
    report = symspec.audit(model, idx, softmax_output=True, rank=False)
    syms = report.counted
    kinds = {s.kind for s in syms}
    assert {"attention_qk", "attention_vo", "relu_rescaling", "norm_scale", "key_bias", "softmax_shift"} <= kinds
    params = {n: p.detach() for n, p in model.named_parameters()}
    gen = torch.Generator().manual_seed(1)
    vec = {n: torch.randn(p.shape, generator=gen, dtype=p.dtype) for n, p in params.items()}
    projected, info = project(params, vec, syms)
    assert _orthogonality(params, vec, projected, syms) < 1e-10, info
    # a projection: idempotent, and it removes only a tangent (what is left of a tangent is zero)
    again, _ = project(params, projected, syms)
    assert max(float((again[n] - projected[n]).abs().max()) for n in params) < 1e-10
    tangent = syms[0].apply(params, syms[0].random(params, gen))
    left, _ = project(params, tangent, syms)
    assert max(float(v.abs().max()) for v in left.values()) < 1e-10 * max(float(v.abs().max()) for v in tangent.values())


def test_each_kind_alone_needs_one_iteration():
    model, idx, _ = _gpt()
    report = symspec.audit(model, idx, softmax_output=True, rank=False)
    params = {n: p.detach() for n, p in model.named_parameters()}
    vec = {n: torch.randn_like(p) for n, p in params.items()}
    for s in report.counted:
        projected, info = project(params, vec, [s])
        assert info["iterations"] == 1, (s.kind, info)
        assert _orthogonality(params, vec, projected, [s]) < 1e-12


def test_an_invariant_loss_gradient_is_already_orthogonal():
    """Why mode='update' is the default: the gradient of an invariant loss has no component along the orbits."""
    model, idx, target = _gpt()
    report = symspec.audit(model, idx, softmax_output=True, rank=False)
    _loss(model, idx, target).backward()
    params = {n: p.detach() for n, p in model.named_parameters()}
    grads = {n: p.grad for n, p in model.named_parameters()}
    g = torch.sqrt(sum(v.square().sum() for v in grads.values()))
    for s in report.counted:
        scale = torch.sqrt(
            sum(v.square().sum() for v in s.apply(params, torch.ones(s.coef_shape(params), dtype=torch.float64)).values())
        )
        assert float(s.adjoint(params, grads).norm()) < 1e-10 * float(g * scale)
    project_out(model, report)  # in place, changes nothing of substance
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_canonicalize_keeps_the_function_and_balances_units():
    model, idx, target = _gpt()
    report = symspec.audit(model, idx, softmax_output=True, rank=False)
    with torch.no_grad():
        mlp = model.h[0].mlp
        mlp.c_fc.weight[:5] *= 7.0  # unbalance a few units
        mlp.c_fc.bias[:5] *= 7.0
        mlp.c_proj.weight[:, :5] /= 7.0
        before = model(idx).log_softmax(-1)
        applied = canonicalize(model, report)
        after = model(idx).log_softmax(-1)
    assert applied >= 4
    torch.testing.assert_close(after, before, atol=1e-10, rtol=1e-10)
    inc = (mlp.c_fc.weight.square().sum(1) + mlp.c_fc.bias.square()).sqrt()
    out = mlp.c_proj.weight.square().sum(0).sqrt()
    torch.testing.assert_close(inc, out)
    attn = model.h[0].attn.c_attn.weight.view(3, 2, 4, 8)  # balanced QK: W_Q W_Q^T = W_K W_K^T per head
    q = torch.cat([attn[0], model.h[0].attn.c_attn.bias.view(3, 2, 4, 1)[0]], -1)
    torch.testing.assert_close(q @ q.transpose(-1, -2), attn[1] @ attn[1].transpose(-1, -2))


def test_quotient_update_mode_is_orthogonal_for_adam_and_training_decreases_the_loss():
    model, idx, target = _gpt()
    report = symspec.audit(model, idx, softmax_output=True, rank=False)
    opt = QuotientOptimizer(torch.optim.Adam(model.parameters(), lr=1e-2), model, report)
    first = _value(model, idx, target)
    for step in range(20):
        opt.zero_grad()
        _loss(model, idx, target).backward()
        params = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt.step()
        if step in (0, 19):
            delta = {n: p.detach() - params[n] for n, p in model.named_parameters()}
            worst = max(float(s.adjoint(params, delta).norm()) for s in report.counted)
            total = float(torch.sqrt(sum(v.square().sum() for v in delta.values())))
            assert worst < 1e-10 * total
    assert _value(model, idx, target) < 0.7 * first


def test_quotient_with_closure_gradient_mode_and_canonicalization():
    model, idx, target = _gpt(1)
    opt = QuotientOptimizer(torch.optim.SGD(model.parameters(), lr=0.5), model, mode="gradient", canonicalize=True)
    first = _value(model, idx, target)

    def closure():
        opt.zero_grad()
        loss = _loss(model, idx, target)
        loss.backward()
        return loss

    for _ in range(12):
        loss = opt.step(closure)
    assert torch.is_tensor(loss) and _value(model, idx, target) < first
    assert opt.last_info["iterations"] >= 1


def test_symspec_optim_quotient_is_this_class():
    import symspec.optim

    assert symspec.optim.Quotient is QuotientOptimizer


def test_float32_encoder_training_on_the_quotient():
    torch.manual_seed(0)
    model = encoder(8, 2, 1, "relu", True)
    x, y = torch.randn(8, 5, 8), torch.randn(8, 5, 8)
    opt = QuotientOptimizer(torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1), model)
    with torch.no_grad():
        first = float(nn.functional.mse_loss(model(x), y))
    for _ in range(20):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    with torch.no_grad():
        assert float(nn.functional.mse_loss(model(x), y)) < first
