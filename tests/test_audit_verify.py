"""The audit's numerical checks: wrong claims rejected, functional rank bounds, invariants, broken attention."""

from __future__ import annotations

import pytest
import torch
from test_audit_models import GPT, SelfAttention, encoder
from torch import nn

import symspec
from symspec.audit.find import find_symmetries
from symspec.audit.invariants import effective_dimension, head_spectra
from symspec.audit.symmetries import BiasCoordinates, DiagonalScaling, PairSymmetry, Rows, ScaleEntry
from symspec.audit.verify import Probe


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread avoids the contention of a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _probe(model, *inputs):
    return Probe(model, inputs), torch.Generator().manual_seed(0)


def test_wrong_symmetries_are_rejected_by_the_same_check():
    torch.manual_seed(0)
    model = SelfAttention(8, 2)
    probe, gen = _probe(model, torch.randn(3, 5, 8))
    w, b = "mha.in_proj_weight", "mha.in_proj_bias"
    right = PairSymmetry("attention_qk", "mha", 32, x=Rows(w, 0, 2, 4, b, 0), y=Rows(w, 8, 2, 4))
    wrong_pair = PairSymmetry("attention_qk", "mha", 32, x=Rows(w, 0, 2, 4, b, 0), y=Rows(w, 16, 2, 4))  # Q with V
    wrong_bias = BiasCoordinates("key_bias", "mha", 8, name=b, start=0, size=8)  # the query bias does not cancel
    for s in (right, wrong_pair, wrong_bias):
        probe.check(s, gen)
    assert right.verified is True and right.error < 1e-12
    assert wrong_pair.verified is False and wrong_pair.error > 1e-2
    assert wrong_bias.verified is False and wrong_bias.error > 1e-2


def test_rescaling_claimed_through_gelu_is_rejected():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 3))
    assert find_symmetries(mlp).symmetries == []  # not claimed from the structure
    claim = DiagonalScaling(
        "relu_rescaling",
        "0",
        6,
        entries=(ScaleEntry("0.weight", 0, 1.0), ScaleEntry("0.bias", 0, 1.0), ScaleEntry("2.weight", 1, -1.0)),
        units=6,
    )
    probe, gen = _probe(mlp, torch.randn(20, 4))
    probe.check(claim, gen)
    assert claim.verified is False and claim.error > 1e-2
    relu = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    probe, gen = _probe(relu, torch.randn(20, 4))
    probe.check(claim, gen)
    assert claim.verified is True


@pytest.mark.parametrize("kw", [{}, {"bias": False}])
def test_attention_counts_are_the_whole_null_space(kw):
    """For one attention layer the counted redundancy is exactly parameters - functional rank."""
    torch.manual_seed(0)
    report = symspec.audit(SelfAttention(8, 2, **kw), torch.randn(30, 6, 8))
    assert report.functional_rank is not None
    assert report.parameters - report.functional_rank == report.redundant


@pytest.mark.parametrize(
    "build,inputs,kw",
    [
        (
            lambda: nn.Sequential(
                nn.Linear(5, 12), nn.LeakyReLU(0.1), nn.Dropout(0.1), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 3)
            ),
            lambda: (torch.randn(200, 5),),
            {},
        ),
        (lambda: encoder(8, 2, 1, "relu", True), lambda: (torch.randn(20, 6, 8),), {}),
        (lambda: GPT(n_embd=8, n_head=2, n_layer=1), lambda: (torch.randint(0, 11, (24, 6)),), {"softmax_output": True}),
    ],
)
def test_parameters_minus_rank_bounds_the_redundancy(build, inputs, kw):
    torch.manual_seed(0)
    model = build()
    report = symspec.audit(model, inputs(), **kw)
    assert report.functional_rank is not None
    assert report.rank_info["outputs"] >= report.parameters - report.redundant  # enough outputs to see the bound
    assert report.parameters - report.functional_rank >= report.redundant > 0
    assert all(s.verified for s in report.symmetries)


def test_rank_skipped_when_too_big():
    report = symspec.audit(SelfAttention(8, 2), torch.randn(2, 3, 8), max_rank_entries=10)
    assert report.functional_rank is None and "over the limit" in report.rank_info["reason"]
    assert report.to_dict()["functional_rank"] is None
    assert all(s.verified for s in report.symmetries)  # the checks fall back to forward-mode products


def test_head_spectra_are_invariant_under_the_symmetry_and_output_unchanged():
    torch.manual_seed(0)
    model = SelfAttention(8, 2).double().eval()
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    found = find_symmetries(model)
    _, qk, vo = found.attention[0]
    params = {n: p.detach() for n, p in model.named_parameters()}
    before = [head_spectra(qk, params), head_spectra(vo, params)]
    out = model(x)
    m = torch.randn(2, 4, 4, dtype=torch.float64) + 3 * torch.eye(4, dtype=torch.float64)
    n = torch.randn(2, 4, 4, dtype=torch.float64) + 3 * torch.eye(4, dtype=torch.float64)
    with torch.no_grad():
        w, b = model.mha.in_proj_weight, model.mha.in_proj_bias
        q, k, v = w[:8].view(2, 4, 8), w[8:16].view(2, 4, 8), w[16:].view(2, 4, 8)
        w[:8] = (m @ q).reshape(8, 8)
        b[:8] = (m @ b[:8].view(2, 4, 1)).reshape(8)
        w[8:16] = (torch.linalg.inv(m).transpose(-1, -2) @ k).reshape(8, 8)
        w[16:] = (n @ v).reshape(8, 8)
        b[16:] = (n @ b[16:].view(2, 4, 1)).reshape(8)
        o = model.mha.out_proj.weight
        o.copy_(torch.cat([o[:, 4 * i : 4 * i + 4] @ torch.linalg.inv(n[i]) for i in range(2)], dim=1))
    params = {n_: p.detach() for n_, p in model.named_parameters()}
    after = [head_spectra(qk, params), head_spectra(vo, params)]
    torch.testing.assert_close(model(x), out)
    torch.testing.assert_close(torch.tensor(after), torch.tensor(before))
    assert params["mha.in_proj_weight"][:8].norm() != 0


def test_effective_dimension_counts_components_over_one_percent():
    torch.manual_seed(0)
    basis = torch.randn(3, 16)
    weights = torch.tensor([10.0, 5.0, 0.05])  # the third direction has ~0.002% of the variance
    emb = (torch.randn(100, 3) * weights) @ basis
    assert effective_dimension(emb) == 2
    report = symspec.audit(GPT(n_layer=1), torch.randint(0, 11, (2, 6)), rank=False)
    assert set(report.effective_dimension) == {"wte", "wpe"}


def test_report_json_keys_and_text():
    torch.manual_seed(0)
    report = symspec.audit(encoder(8, 2, 1), torch.randn(4, 5, 8))
    d = report.to_dict()
    assert {"parameters", "redundant", "symmetries", "functional_rank"} <= set(d)
    assert set(d["symmetries"][0]) >= {"kind", "module", "dim", "verified", "error"}
    assert d["redundant"] == sum(s["dim"] for s in d["symmetries"] if s["verified"] and not s["broken"])
    text = report.render()
    assert "attention_qk" in text and "functional rank" in text


def test_audit_after_break_reports_qk_and_vo_broken():
    pytest.importorskip("symspec.nn")
    from symspec.nn import break_attention

    torch.manual_seed(0)
    model = encoder(8, 2, 2)
    clean = symspec.audit(model, torch.randn(3, 5, 8), rank=False)
    patched = break_attention(model, generator=torch.Generator().manual_seed(0))
    assert len(patched) == 2
    report = symspec.audit(model, torch.randn(3, 5, 8), rank=False)
    broken = {(s.kind, s.module) for s in report.symmetries if s.broken}
    assert broken == {(k, f"layers.{i}.self_attn") for k in ("attention_qk", "attention_vo") for i in range(2)}
    assert report.broken == 2 * 2 * (16 + 16)
    assert report.redundant == clean.redundant - report.broken
    assert all(s.verified is False for s in report.symmetries if s.broken)  # the numbers agree: no longer symmetries
    assert all(s.verified for s in report.symmetries if not s.broken)  # key and value biases still cancel
    assert "broken" in report.render()


def test_audit_after_breaking_the_query_only():
    from symspec.nn import break_attention

    torch.manual_seed(0)
    model = GPT(n_layer=1)
    break_attention(model, value=None)
    report = symspec.audit(model, torch.randint(0, 11, (3, 6)), rank=False)
    assert {s.kind for s in report.symmetries if s.broken} == {"attention_qk"}
