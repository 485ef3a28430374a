"""What break_attention's fixed biases break, measured on the function the audit analyses.

The audit checks and ranks an eval-mode copy, where the broken biases are at their mean. A learned in-projection
bias absorbs that mean (b_Q -> M (b_Q + b) - b), so the eval-mode function keeps every QK/VO dimension: the
functional rank of the broken model equals the unbroken one's. Without learned biases the maps fixing the mean b
remain: h d (d - 1) per slot. The audit reported both as plainly 'broken by a fixed query bias'; its notes now say
which dimensions the eval-mode function keeps, and these tests check those statements against the Jacobian rank.
"""

from __future__ import annotations

import torch
from torch import nn

import symspec
from symspec.nn import break_attention, rank_generator


class Attn(nn.Module):
    def __init__(self, bias: bool):
        super().__init__()
        self.att = nn.MultiheadAttention(8, 2, batch_first=True, bias=bias)

    def forward(self, x):
        return self.att(x, x, x, need_weights=False)[0]


def _audit(m, x):
    return symspec.audit(m, x).to_dict()


def _notes(report) -> dict:
    return {s["kind"]: s["note"] for s in report["symmetries"] if s["kind"] in ("attention_qk", "attention_vo")}


def test_learned_biases_absorb_the_mean_in_eval():
    torch.manual_seed(0)
    x = torch.randn(30, 5, 8, dtype=torch.float64)
    m = Attn(bias=True).double()
    before = _audit(m, x)
    break_attention(m, generator=rank_generator(0))
    m.eval()
    after = _audit(m, x)
    # the eval-mode function has exactly the unbroken model's null space: nothing was broken there
    assert after["functional_rank"] == before["functional_rank"]
    assert after["parameters"] - after["functional_rank"] == before["redundant"] == 80
    assert after["broken"] == 64
    for kind, note in _notes(after).items():
        assert "keeps all h" in note and "training-mode" in note, (kind, note)


def test_without_learned_biases_the_stabilizer_of_the_mean_remains():
    torch.manual_seed(1)
    x = torch.randn(30, 5, 8, dtype=torch.float64)
    m = Attn(bias=False).double()
    break_attention(m, generator=rank_generator(0))
    m.eval()
    after = _audit(m, x)
    h, d = 2, 4
    # QK and VO each keep h d (d - 1) dimensions: the maps fixing the mean vector
    assert after["parameters"] - after["functional_rank"] == 2 * h * d * (d - 1)
    assert after["redundant"] == 0
    for kind, note in _notes(after).items():
        assert "(d_k - 1)" in note or "(d_v - 1)" in note, (kind, note)


def test_zero_mean_keeps_everything_in_eval():
    torch.manual_seed(2)
    x = torch.randn(30, 5, 8, dtype=torch.float64)
    m = Attn(bias=False).double()
    break_attention(m, query=(0.0, 0.1), value=(0.0, 0.1), generator=rank_generator(0))
    m.eval()
    after = _audit(m, x)
    assert after["parameters"] - after["functional_rank"] == 64
    for kind, note in _notes(after).items():
        assert "its mean, 0" in note, (kind, note)
