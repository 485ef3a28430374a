"""examples/train_symmetry_breaking.py at tiny sizes: every configuration runs, losses are finite, break is real."""

from __future__ import annotations

import json
import math
import os
import sys

import pytest
import torch

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
sys.path.insert(0, EXAMPLES)

import train_symmetry_breaking as tsb  # noqa: E402

TINY = [
    "--steps", "4", "--seeds", "1", "--eval-every", "2", "--d-model", "16", "--n-head", "2", "--n-layer", "1",
    "--context", "16", "--batch", "4", "--max-chars", "20000", "--val-windows", "4",
    "--mod-steps", "3", "--mod-eval-every", "1", "--p", "7",
]  # fmt: skip


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("tsb") / "run.json"
    tsb.main(TINY + ["--json", str(out)])
    with open(out, encoding="utf-8") as f:
        return json.load(f)


def test_every_config_ran_with_finite_losses(result):
    assert [r["config"]["config"] for r in result["lm"]] == list(tsb.CONFIGS)
    assert [r["config"]["config"] for r in result["modular_addition"]] == list(tsb.MOD_CONFIGS)
    for r in result["lm"]:
        steps = [h["step"] for h in r["history"]]
        assert steps == [0, 2, 4]
        assert all(math.isfinite(h["val_loss"]) for h in r["history"])
        assert r["final_val_loss"] == r["history"][-1]["val_loss"]
    for r in result["modular_addition"]:
        assert [h["step"] for h in r["history"]] == [1, 2, 3]
        assert all(math.isfinite(h["train_loss"]) and 0 <= h["test_acc"] <= 1 for h in r["history"])


def test_runs_share_initialization_and_batches(result):
    """Configs without break start from the same model (same step-0 loss); break changes the eval function."""
    start = {r["config"]["config"]: r["history"][0]["val_loss"] for r in result["lm"]}
    assert start["adamw"] == start["ecd"] == start["ecd+quotient"] == start["ecd(paper)"]
    assert start["ecd+break"] == start["adamw+break"] != start["adamw"]


def test_quotient_removes_the_audited_symmetries(result):
    (q,) = [r for r in result["lm"] if r["config"]["quotient"]]
    audit = q["config"]["quotient_audit"]
    assert audit["rejected"] == 0
    assert audit["by_kind"]["attention_qk"] == audit["by_kind"]["attention_vo"] == 2 * (16 // 2) ** 2
    assert audit["redundant"] == sum(audit["by_kind"].values())


def test_break_is_reported_broken_by_audit(result):
    d_head = 16 // 2
    for part in ("lm", "modular_addition"):
        for r in result[part]:
            if not r["config"]["break"]:
                assert "audit" not in r["config"]
                continue
            audit = r["config"]["audit"]
            assert audit["broken_kinds"] == ["attention_qk", "attention_vo"]
            heads = 2 if part == "lm" else 4
            d = d_head if part == "lm" else 128 // 4
            assert audit["broken_dim"] == heads * 2 * d * d


def test_corpus_is_deterministic():
    text, digest = tsb.load_corpus()
    again, digest2 = tsb.load_corpus()
    assert text == again and digest == digest2 and text.isascii()
    assert len(text) > 300_000


def test_breakable_transformer_is_the_modular_transformer():
    """The adapter only renames: the same parameters give the same outputs, and break_attention finds it."""
    from symspec.nn import break_attention

    torch.manual_seed(0)
    base = tsb.Transformer(7)
    torch.manual_seed(0)
    adapted = tsb.BreakableTransformer(7)
    rename = {"qkv_proj": "qkv", "out_proj": "out"}
    state = {
        (rename.get(k.split(".")[0], k.split(".")[0]) + k[len(k.split(".")[0]) :]): v for k, v in adapted.state_dict().items()
    }
    assert state.keys() == base.state_dict().keys()
    for k, v in base.state_dict().items():
        assert torch.equal(state[k], v)
    a, b = torch.randint(0, 7, (2, 10))
    assert torch.equal(base(a, b), adapted(a, b))
    assert break_attention(adapted) == [""]
    adapted.eval()
    assert not torch.allclose(base(a, b), adapted(a, b))
