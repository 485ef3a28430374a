"""Adversarial review of symspec.audit, the quotient, ECD and break_attention (issue 15): each test a bug found."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import symspec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import train_symmetry_breaking as t
    finally:
        sys.path.remove(str(EXAMPLES))
    return t


def _ab():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 59, (8,), generator=g), torch.randint(0, 59, (8,), generator=g)


def test_protocol_attention_model_keeps_its_mlp_rescalings(example):
    # the model itself was the protocol attention: a leaf of the fx search, so its ReLU MLP went uncounted
    torch.manual_seed(0)
    r = symspec.audit(example.BreakableTransformer(59), _ab(), rank=False)
    kinds = r.by_kind()
    assert kinds["relu_rescaling"] == 512
    assert kinds["attention_qk"] == kinds["attention_vo"] == 4 * 32 * 32
    assert all(s.verified for s in r.counted)


def test_unnamed_attention_in_the_forward_gets_a_note(example):
    # sdpa on a fused Linear in a class named "Transformer": no protocol names, and it was reported nowhere
    torch.manual_seed(0)
    r = symspec.audit(example.Transformer(59), _ab(), rank=False)
    assert r.by_kind() == {"relu_rescaling": 512}
    notes = [n for n in r.notes if "projections were not identified" in n]
    assert len(notes) == 1 and notes[0].startswith("(model) (Transformer): runs attention (scaled_dot_product_attention)")


class _Mixer(nn.Module):
    """Hand-written softmax attention with einsum scores, in a class whose name says nothing."""

    def __init__(self, d: int = 8):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        scores = torch.einsum("bid,bjd->bij", self.a(x), self.b(x)) / 3
        return scores.masked_fill(scores > 1e9, 0).softmax(-1) @ self.c(x)


class _Clf(nn.Module):
    """A softmax over a product with a (transposed) weight: a classifier, not attention."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 5))
        self.w = nn.Parameter(torch.randn(5, 5))

    def forward(self, x):
        return (self.net(x) @ self.w.T).softmax(-1)


def test_hand_written_softmax_attention_is_named_and_a_classifier_is_not():
    model = nn.Sequential(nn.Linear(8, 8), _Mixer())
    r = symspec.audit(model, torch.randn(2, 4, 8), rank=False)
    notes = [n for n in r.notes if "projections were not identified" in n]
    assert len(notes) == 1 and notes[0].startswith("1 (_Mixer): runs attention (softmax over a product")
    r = symspec.audit(_Clf(), torch.randn(2, 8), rank=False)
    assert not [n for n in r.notes if "attention" in n]
    assert r.by_kind() == {"relu_rescaling": 16}


class _KV(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.att = nn.MultiheadAttention(8, 2, kdim=6, vdim=5, **kw)

    def forward(self, q, k, v):
        return self.att(q, k, v)[0]


def test_add_zero_attn_claims_no_key_or_value_bias():
    # the zero key scores 0 whatever b_K and the zero value skips b_V: both claims used to be refuted (CLI exit 1)
    torch.manual_seed(0)
    x = (torch.randn(3, 2, 8), torch.randn(4, 2, 6), torch.randn(4, 2, 5))
    r = symspec.audit(_KV(add_zero_attn=True), x, rank=False)
    assert r.by_kind() == {"attention_qk": 32, "attention_vo": 32} and not r.rejected
    assert any("add_zero_attn" in n for n in r.notes)
    r = symspec.audit(_KV(batch_first=True, dropout=0.5), tuple(t.transpose(0, 1) for t in x), rank=False)
    assert r.by_kind() == {"attention_qk": 32, "attention_vo": 32, "key_bias": 8, "value_bias": 8} and not r.rejected


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "2,8,8", "--tol", "nan"], "--tol must be a positive finite number, got nan"),  # was exit 1
        (["--input", "2,8,8", "--tol", "inf"], "--tol must be a positive finite number, got inf"),  # verified anything
        (["--input", "2,8,8", "--max-rank-entries", "-1"], "--max-rank-entries must be >= 0, got -1"),
        (["--input", "99999999999,99999999999"], "an audit batch takes at most 100,000,000"),  # was a traceback
    ],
)
def test_cli_refuses_bad_numbers(extra, message, capsys, monkeypatch):
    from symspec.cli import main

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    assert main(["audit", "--model", "test_audit_models:small_encoder", *extra]) == 2
    assert message in capsys.readouterr().err


def _ecd_reference(thetas, lrs, wds, eta, F0, lossf, steps):
    """The issue's ECD formula written out per step with global p.g, two parameter tensors."""
    import math

    th, p = [t.clone().double() for t in thetas], None
    D = sum(t.numel() for t in th)
    for _ in range(steps):
        ts = [t.clone().requires_grad_(True) for t in th]
        F = lossf(ts)
        g = [gi + wd * t.detach() for gi, t, wd in zip(torch.autograd.grad(F, ts), ts, wds)]
        V = F.item() + sum(wd * t.square().sum().item() for t, wd in zip(th, wds)) / 2 - F0
        if V <= 0:
            continue
        gf = torch.cat([x.reshape(-1) for x in g])
        if p is None:
            p = [-x / gf.norm() for x in g]
        else:
            pg = torch.cat([x.reshape(-1) for x in p]) @ gf
            new = [pi - (eta * lr / math.sqrt(eta) / 2) * (D / (D - 1)) * (gi - pi * pg) / V for pi, gi, lr in zip(p, g, lrs)]
            norm = torch.cat([x.reshape(-1) for x in new]).norm()
            p = [x / norm for x in new]
        th = [t + lr / math.sqrt(eta) * pi for t, pi, lr in zip(th, p, lrs)]
    return th


def test_ecd_three_steps_by_hand_with_groups_and_weight_decay():
    from symspec.optim import ECD

    g = torch.Generator().manual_seed(0)
    a0, b0 = torch.randn(3, 2, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)

    def lossf(ts):
        return 1.5 * ts[0].square().sum() + ts[1].pow(4).sum() + (ts[0].sum() * ts[1].sum()) ** 2 + 3

    want = _ecd_reference([a0, b0], [0.3, 0.1], [0.01, 0.0], 100.0, 2.0, lossf, 3)
    a, b = nn.Parameter(a0.clone()), nn.Parameter(b0.clone())
    opt = ECD([dict(params=[a], lr=0.3, weight_decay=0.01), dict(params=[b], lr=0.1)], eta=100.0, F0=2.0)

    def closure():
        opt.zero_grad()
        loss = lossf([a, b])
        loss.backward()
        return loss  # requires grad: ECD detaches it

    for _ in range(3):
        opt.step(closure)
    torch.testing.assert_close(a.detach(), want[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(b.detach(), want[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [lambda: torch.ones(3), lambda: "loss", lambda: torch.tensor(True)])
def test_ecd_closure_must_return_one_number(bad):
    from symspec.errors import UsageError
    from symspec.optim import ECD

    w = nn.Parameter(torch.ones(3))
    w.grad = torch.ones(3)
    with pytest.raises(UsageError, match="the closure must return the loss as one number"):
        ECD([w]).step(bad)  # were a RuntimeError (reshape) and a TypeError from torch


@pytest.mark.parametrize("mode", ["update", "gradient"])
def test_quotient_leaves_frozen_and_untrained_parameters_alone(mode):
    # a ReLU rescaling across a trained and a frozen Linear: the update-mode projection used to move the frozen weight
    from symspec.optim import Quotient

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    net[4].weight.requires_grad_(False)
    frozen, untrained = net[4].weight.clone(), net[4].bias.clone()
    groups = [dict(params=[net[0].weight, net[0].bias], lr=0.1), dict(params=[net[2].weight, net[2].bias], lr=0.05)]
    opt = Quotient(torch.optim.SGD(groups, lr=0.1, momentum=0.9), net, mode=mode)
    assert [s.module for s in opt.symmetries] == ["0", "2"]
    x, y = torch.randn(20, 3), torch.randn(20, 2)
    for _ in range(2):
        opt.zero_grad()
        before = {n: p.detach().clone() for n, p in net.named_parameters()}
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
        assert torch.equal(net[4].weight, frozen) and torch.equal(net[4].bias, untrained)
        assert [s.module for s in opt.skipped] == ["2"]  # its outgoing weight is frozen
        if mode == "gradient":
            continue  # momentum carries earlier steps' tangents: only mode="update" is orthogonal (documented)
        # the step is orthogonal to the one symmetry kept (units of the first Linear)
        delta = {n: p.detach() - before[n] for n, p in net.named_parameters()}
        (kept,) = [s for s in opt.symmetries if s.module == "0"]
        assert kept.adjoint(before, delta).abs().max() < 1e-6


def test_parametrized_weights_are_noted_not_a_traceback():
    # weight_norm makes `.weight` a computed tensor, not in named_parameters: the claims crashed with KeyError: None
    from torch.nn.utils.parametrizations import weight_norm

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), weight_norm(nn.Linear(5, 2)))
    r = symspec.audit(net, torch.randn(10, 3), rank=False, softmax_output=True)
    assert r.by_kind() == {}
    assert "0: relu_rescaling acts on a parametrized weight (torch.nn.utils.parametrize); not counted" in r.notes
    assert any("the output Linear's weight is parametrized" in n for n in r.notes)

    class Att(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.MultiheadAttention(8, 2)
            weight_norm(self.a.out_proj)

        def forward(self, x):
            return self.a(x, x, x)[0]

    r = symspec.audit(Att(), torch.randn(3, 2, 8), rank=False)
    assert r.by_kind() == {"attention_qk": 32, "key_bias": 8} and not r.rejected
    assert [s["module"] for s in r.to_dict()["spectra"]] == []


def test_quotient_refuses_a_report_of_another_module():
    # a report audited on model, used with a wrapper: every name missed and the quotient silently did nothing
    from symspec.errors import UsageError
    from symspec.optim import Quotient

    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    report = symspec.audit(net, torch.randn(4, 3), rank=False)
    wrapper = nn.Sequential(net)
    with pytest.raises(UsageError, match=r"the report names parameters this model does not have \(0.bias, 0.weight, 2.weight\)"):
        Quotient(torch.optim.SGD(wrapper.parameters(), lr=0.1), wrapper, report)


class _Heads(nn.Module):
    """Protocol attention whose heads are laid out interleaved (``view(..., d_head, n_head)``): QK/VO claims are false."""

    def __init__(self, d: int = 8, h: int = 2, interleaved: bool = True):
        super().__init__()
        self.n_head, self.interleaved = h, interleaved
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x):
        b, t, d = x.shape
        h = self.n_head

        def split(y):
            return y.view(b, t, d // h, h).permute(0, 3, 1, 2) if self.interleaved else y.view(b, t, h, d // h).transpose(1, 2)

        y = nn.functional.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


def test_a_batch_that_cannot_tell_gives_not_tested_not_verified():
    # one token: the softmax over one key is 1 whatever W_Q, W_K; a false QK claim used to pass as verified
    torch.manual_seed(0)
    from symspec.testing import randomized_copy

    model = randomized_copy(_Heads(), torch.Generator().manual_seed(1))
    one = {s.kind: s for s in symspec.audit(model, torch.randn(2, 1, 8), rank=False).symmetries}
    assert one["attention_qk"].verified is None and "the check cannot tell" in one["attention_qk"].note
    assert one["attention_vo"].verified is False  # refuted even on one token
    five = {s.kind: s for s in symspec.audit(model, torch.randn(2, 5, 8), rank=False).symmetries}
    assert five["attention_qk"].verified is False
    good = randomized_copy(_Heads(interleaved=False), torch.Generator().manual_seed(1))
    report = symspec.audit(good, torch.randn(2, 5, 8), rank=False)
    assert all(s.verified is True for s in report.symmetries)  # the key bias too (exempt from the inert test)


class _Argmax(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))

    def forward(self, x):
        return self.net(x).argmax(-1)


def test_no_float_outputs_or_no_parameters_are_reported_not_a_traceback():
    # the rank's Jacobian reshaped 0 outputs (RuntimeError) and concatenated 0 parameters (ValueError)
    r = symspec.audit(_Argmax(), torch.randn(5, 4))
    assert r.functional_rank is None and r.rank_info["reason"] == "no floating-point outputs"
    assert [(s.kind, s.verified) for s in r.symmetries] == [("relu_rescaling", None)]
    r = symspec.audit(nn.ReLU(), torch.randn(5, 4))
    assert r.functional_rank is None and r.rank_info["reason"] == "the model has no parameters" and r.parameters == 0
    assert "not computed (the model has no parameters)" in r.render()


class _Core(nn.Module):
    def forward(self, q, k, v):
        return nn.functional.scaled_dot_product_attention(q, k, v)


class _MyAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv, self.core = nn.Linear(8, 24), _Core()

    def forward(self, x):
        return self.core(*self.qkv(x).chunk(3, -1))


class _Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn, self.other = _MyAttention(), _Core()

    def forward(self, x):
        return self.attn(x) + self.other(x, x, x)


def test_one_note_per_unidentified_attention():
    r = symspec.audit(_Pair(), torch.randn(2, 3, 8), rank=False)
    heads = [n.split(":")[0] for n in r.notes if "attention" in n]
    assert heads == ["attn (_MyAttention)", "other (_Core)"]  # not attn.core a second time


def test_float32_audit_uses_a_float32_tolerance():
    # the default tol was 1e-6 whatever dtype: float32 rounding of true claims reached 1.4e-6 (random GPT, d 128, 2 layers)
    from symspec.testing import randomized_copy

    torch.manual_seed(0)
    wrong = randomized_copy(_Heads(), torch.Generator().manual_seed(1))
    r = symspec.audit(wrong, torch.randn(2, 5, 8), rank=False, dtype=torch.float32)
    assert r.tol == 1000 * torch.finfo(torch.float32).eps
    assert {s.kind for s in r.rejected} >= {"attention_qk", "attention_vo"}  # false claims still refuted
    good = randomized_copy(_Heads(interleaved=False), torch.Generator().manual_seed(1))
    r = symspec.audit(good, torch.randn(2, 5, 8), rank=False, dtype=torch.float32)
    assert all(s.verified for s in r.symmetries) and max(s.error for s in r.symmetries) > 1e-9  # float32 rounding
    assert symspec.audit(good, torch.randn(2, 5, 8), rank=False).tol == 1e-6


class _MHA(nn.Module):
    def __init__(self):
        super().__init__()
        self.m = nn.MultiheadAttention(4, 2)

    def forward(self, x):
        return self.m(x, x, x)[0]


def test_float32_rank_matches_float64():
    # rtol 1e-9 counted float32 rounding as rank: 79 of 80 (parameters - rank = 1 < 24 redundant, "FAILS")
    torch.manual_seed(0)
    model, x = _MHA(), torch.randn(6, 5, 4)
    r64, r32 = symspec.audit(model, x), symspec.audit(model, x, dtype=torch.float32)
    assert r64.functional_rank == r32.functional_rank == 56
    assert r32.parameters - r32.functional_rank >= r32.redundant == 24
