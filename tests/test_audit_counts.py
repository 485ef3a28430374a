"""symspec.audit counts: the formula h (d_k^2 + d_v^2) per attention and the other kinds, every claim verified."""

from __future__ import annotations

import pytest
import torch
from test_audit_models import GPT, Block, CausalSelfAttention, SelfAttention, encoder
from torch import nn

import symspec
from symspec.audit import find_symmetries


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one thread avoids the contention of a shared machine (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _counts(report) -> dict:
    return report.by_kind()


@pytest.mark.parametrize(
    "d_model,nhead,layers,activation,norm_first",
    [(8, 2, 1, "relu", False), (12, 3, 2, "gelu", False), (16, 4, 2, "relu", True), (8, 1, 3, "gelu", True)],
)
def test_encoder_stack_counts_equal_the_formula(d_model, nhead, layers, activation, norm_first):
    torch.manual_seed(0)
    model = encoder(d_model, nhead, layers, activation, norm_first, ff=2 * d_model)
    report = symspec.audit(model, torch.randn(2, 4, d_model), rank=False)
    d = d_model // nhead
    want = {
        "attention_qk": layers * nhead * d * d,
        "attention_vo": layers * nhead * d * d,
        "key_bias": layers * d_model,
        "value_bias": layers * d_model,
    }
    if activation == "relu":
        want["relu_rescaling"] = layers * 2 * d_model
    if norm_first:
        want["norm_scale"] = layers * 2 * d_model  # norm1 -> in-projection, norm2 -> linear1
    assert _counts(report) == want
    assert report.redundant == sum(want.values())
    assert (want["attention_qk"] + want["attention_vo"]) == layers * nhead * (d * d + d * d)
    assert all(s.verified is True and s.error < 1e-10 for s in report.symmetries), report.render()
    assert report.rejected == []


def test_decoder_layer_self_and_cross_attention():
    torch.manual_seed(0)

    class Dec(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=True)

        def forward(self, x, memory):
            return self.layer(x, memory)

    report = symspec.audit(Dec(), (torch.randn(2, 4, 8), torch.randn(2, 5, 8)), rank=False)
    assert _counts(report) == {
        "attention_qk": 2 * 2 * 16,
        "attention_vo": 2 * 2 * 16,
        "key_bias": 16,
        "value_bias": 16,
        "relu_rescaling": 16,
        "norm_scale": 24,  # norm1 (self-attention q/k/v), norm2 (cross-attention query), norm3 (linear1)
    }
    assert all(s.verified for s in report.symmetries), report.render()


@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"kdim": 5, "vdim": 3}])
def test_multihead_attention_variants(kw):
    torch.manual_seed(0)
    model = SelfAttention(8, 2, **kw)
    x = torch.randn(2, 4, 8)
    inputs = (x, torch.randn(2, 5, 5), torch.randn(2, 5, 3)) if "kdim" in kw else (x,)
    report = symspec.audit(model, inputs, rank=False)
    want = {"attention_qk": 32, "attention_vo": 32} | ({} if kw.get("bias") is False else {"key_bias": 8, "value_bias": 8})
    assert _counts(report) == want
    assert all(s.verified for s in report.symmetries)


@pytest.mark.parametrize("act,relu", [(nn.ReLU(), True), (nn.LeakyReLU(0.1), True), (nn.PReLU(), True), (nn.GELU(), False)])
def test_gpt_style_custom_block(act, relu):
    torch.manual_seed(0)
    model = GPT(n_embd=8, n_head=2, n_layer=2, act=act)
    report = symspec.audit(model, torch.randint(0, 11, (3, 6)), softmax_output=True, rank=False)
    want = {
        "attention_qk": 2 * 2 * 16,
        "attention_vo": 2 * 2 * 16,
        "key_bias": 2 * 8,
        "value_bias": 2 * 8,
        "norm_scale": 5 * 8,  # ln_1, ln_2 per block (read by c_attn, c_fc) and ln_f (read by lm_head)
        "softmax_shift": 8 + 1,  # lm_head: W -> W + 1 u^T and b -> b + c 1
        # writers into the residual stream, read only through LayerNorms: wte rows (11), wpe rows (6), each c_proj
        "residual_shift": 11 + 6 + 2 * ((8 + 1) + (32 + 1)),
    }
    if relu:
        want["relu_rescaling"] = 2 * 32
    assert _counts(report) == want
    assert all(s.verified is True for s in report.symmetries), report.render()


def test_tied_output_head_keeps_only_the_bias_shift():
    torch.manual_seed(0)
    report = symspec.audit(GPT(tie=True), torch.randint(0, 11, (3, 6)), softmax_output=True, rank=False)
    shift = [s for s in report.symmetries if s.kind == "softmax_shift"]
    assert [s.dim for s in shift] == [1] and shift[0].verified
    writers = {s.module for s in report.symmetries if s.kind == "residual_shift"}
    assert "wte" not in writers and "wpe" in writers  # the tied embedding is not shifted


def test_gpt2_124m_paper_count_from_structure_alone():
    """12 layers x 12 heads x (64^2 + 64^2) = 1,179,648 (structure only: meta tensors, no forward)."""
    with torch.device("meta"):
        model = nn.Sequential(*[Block(768, 12, nn.GELU()) for _ in range(12)])
    found = find_symmetries(model)
    attention = sum(s.dim for s in found.symmetries if s.kind in ("attention_qk", "attention_vo"))
    assert attention == 1_179_648
    assert sum(s.dim for s in found.symmetries if s.kind == "key_bias") == 12 * 768


def test_unidentified_attention_is_reported_not_counted():
    class MyAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.wq, self.wk, self.wv = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x):
            a = (self.wq(x) @ self.wk(x).transpose(-1, -2)).softmax(-1)
            return a @ self.wv(x)

    report = symspec.audit(MyAttention(), torch.randn(2, 3, 8), rank=False)
    assert report.redundant == 0
    assert any("MyAttention" in n and "not identified" in n for n in report.notes)


def test_grouped_query_projections_are_reported():
    class GQA(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_head = 4
            self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
                nn.Linear(8, 8),
                nn.Linear(8, 4),
                nn.Linear(8, 4),
                nn.Linear(8, 8),
            )

        def forward(self, x):
            return self.o_proj(self.q_proj(x)) + self.k_proj(x).sum() + self.v_proj(x).sum()

    found = find_symmetries(GQA())
    assert not [s for s in found.symmetries if s.kind.startswith("attention")]
    assert any("grouped-query" in n for n in found.notes)


def test_protocol_q_k_v_out_projections():
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.num_heads = 2
            self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(8, 8) for _ in range(4))

        def forward(self, x):
            b, t, c = x.shape
            q, k, v = (p(x).view(b, t, 2, 4).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
            return self.out_proj(torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, c))

    torch.manual_seed(0)
    report = symspec.audit(Attn(), torch.randn(2, 5, 8), rank=False)
    assert _counts(report) == {"attention_qk": 32, "attention_vo": 32, "key_bias": 8, "value_bias": 8}
    assert all(s.verified for s in report.symmetries)


def test_module_walk_sees_a_causal_attention_alone():
    torch.manual_seed(0)
    report = symspec.audit(CausalSelfAttention(8, 4), torch.randn(2, 5, 8), rank=False)
    assert _counts(report)["attention_qk"] == 4 * 4


def test_norms_count_only_when_read_by_linear_maps_alone():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rms = nn.RMSNorm(6)
            self.a = nn.Linear(6, 5)
            self.b = nn.Linear(6, 5)
            self.ln = nn.LayerNorm(5)
            self.c = nn.Linear(5, 5)

        def forward(self, x):
            h = self.rms(x)
            y = self.a(h) + self.b(h)  # rms read by two Linear maps: one scale per feature
            z = self.ln(y)
            return self.c(z) + z  # ln also feeds the residual: no symmetry

    torch.manual_seed(0)
    report = symspec.audit(Net(), torch.randn(7, 6))
    assert [(s.kind, s.module, s.dim) for s in report.symmetries] == [
        ("norm_scale", "rms", 6),
        ("residual_shift", "a", 7),  # a(h) + b(h) is read only by the LayerNorm: each writer may shift along 1
        ("residual_shift", "b", 7),
    ]
    assert all(s.verified is True for s in report.symmetries)
    assert report.parameters - report.functional_rank >= report.redundant


def test_shared_module_and_tied_linear():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 4))

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = mlp

        def forward(self, x):
            return self.mlp(self.mlp(x))  # one module used twice: the rescaling still holds

    report = symspec.audit(Twice(), torch.randn(5, 4), rank=False)
    assert [(s.kind, s.dim, s.verified) for s in report.symmetries] == [("relu_rescaling", 6, True)]
    tied = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    tied[2].weight = tied[0].weight  # the same weight in both maps: no rescaling claimed
    assert symspec.audit(tied, torch.randn(5, 4), rank=False).symmetries == []


def test_rotary_attention_keeps_only_vo_and_says_why():
    class RotaryAttention(CausalSelfAttention):
        def __init__(self):
            super().__init__(8, 2)
            self.rotary_emb = nn.Identity()  # stands for a RoPE module: the audit must not claim QK

    found = find_symmetries(RotaryAttention())
    assert {s.kind for s in found.symmetries} == {"attention_vo", "value_bias"}
    assert any("rotary" in n and "rotary_emb" in n for n in found.notes)


def test_gpt2_sized_transformer_encoder_count_from_structure_alone():
    with torch.device("meta"):
        model = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(768, 12, 3072, batch_first=True, norm_first=True), 12, enable_nested_tensor=False
        )
    found = find_symmetries(model)
    kinds: dict = {}
    for s in found.symmetries:
        kinds[s.kind] = kinds.get(s.kind, 0) + s.dim
    assert kinds["attention_qk"] + kinds["attention_vo"] == 12 * 12 * (64**2 + 64**2) == 1_179_648
    assert kinds["relu_rescaling"] == 12 * 3072 and kinds["norm_scale"] == 12 * 2 * 768


def test_maps_called_on_other_inputs_too_are_not_claimed():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln, self.ln2 = nn.LayerNorm(8), nn.LayerNorm(8)
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
            self.l1, self.l2 = nn.Linear(8, 6), nn.Linear(6, 8)

        def forward(self, x, mem):
            a = self.mha(self.ln(x), mem, mem, need_weights=False)[0]  # ln read as the query only ...
            g = self.ln2(x)
            b = self.mha(query=g, key=g, value=g, need_weights=False)[0]  # ... but the same projection reads ln2
            c = self.l2(torch.relu(self.l1(x))) + self.l2(x[..., :6])  # l2 also reads something else
            return x + a + b + c

    torch.manual_seed(0)
    report = symspec.audit(Shared(), (torch.randn(3, 4, 8), torch.randn(3, 5, 8)), rank=False)
    assert {s.kind for s in report.symmetries} == {"attention_qk", "attention_vo", "key_bias", "value_bias"}
    assert all(s.verified for s in report.symmetries)
