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
