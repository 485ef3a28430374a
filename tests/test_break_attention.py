"""symspec.nn.break_attention: fixed query/value biases, checked against attention written out by hand."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from torch import nn

from symspec.errors import UsageError
from symspec.nn import break_attention, rank_generator
from symspec.nn.biases import resample

D64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _attend(q, k, v, n_head):
    """(N, L, E) projected q, k, v -> concatenated heads (N, L, E), plain softmax attention."""
    N, L, E = q.shape
    S, d = k.shape[1], E // n_head
    q, k, v = (t.reshape(N, -1, n_head, d).transpose(1, 2) for t in (q, k, v))
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
    assert a.shape == (N, n_head, L, S)
    return (a @ v).transpose(1, 2).reshape(N, L, E)


def _mha_by_hand(m: nn.MultiheadAttention, query, key, value, bq, bv):
    """Batch-first multi-head attention with ``b_Q``/``b_V`` (flat, head-major) added to q and v."""
    E = m.embed_dim
    if m._qkv_same_embed_dim:
        wq, wk, wv = m.in_proj_weight.split(E)
    else:
        wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
    b = m.in_proj_bias if m.in_proj_bias is not None else torch.zeros(3 * E, dtype=query.dtype)
    q = query @ wq.T + b[:E] + bq
    k = key @ wk.T + b[E : 2 * E]
    v = value @ wv.T + b[2 * E :] + bv
    out = _attend(q, k, v, m.num_heads) @ m.out_proj.weight.T
    return out + m.out_proj.bias if m.out_proj.bias is not None else out


def _flat_bias(m, slot):
    return getattr(m, f"break_{slot}").reshape(-1)


def _flat_mean(m, slot):
    return getattr(m, f"break_{slot}_mean").repeat(m.num_heads)


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_multihead_attention_adds_the_biases(separate, bias):
    torch.manual_seed(0)
    kw = dict(kdim=5, vdim=6) if separate else {}
    m = nn.MultiheadAttention(8, 2, bias=bias, batch_first=True, **kw).to(D64)
    with torch.no_grad():  # a nonzero learned bias, so that adding to it is tested
        if bias:
            m.in_proj_bias.normal_()
    query = torch.randn(3, 4, 8, dtype=D64)
    key = torch.randn(3, 7, 5 if separate else 8, dtype=D64)
    value = torch.randn(3, 7, 6 if separate else 8, dtype=D64)
    assert break_attention(nn.Sequential(m), generator=_gen()) == ["0"]
    assert m._symspec_broken == {"query": True, "value": True}

    out1 = m(query, key, value, need_weights=False)[0]
    ref1 = _mha_by_hand(m, query, key, value, _flat_bias(m, "query"), _flat_bias(m, "value"))
    torch.testing.assert_close(out1, ref1)
    out2 = m(query, key, value, need_weights=False)[0]
    assert not torch.allclose(out1, out2), "training forwards draw fresh biases"

    m.eval()
    with torch.no_grad():
        e1, e2 = m(query, key, value)[0], m(query, key, value)[0]
    assert torch.equal(e1, e2)
    ref = _mha_by_hand(m, query, key, value, _flat_mean(m, "query"), _flat_mean(m, "value"))
    torch.testing.assert_close(e1, ref)


def test_the_value_bias_enters_alone():
    torch.manual_seed(1)
    m = nn.MultiheadAttention(4, 2, batch_first=True).to(D64)
    x = torch.randn(2, 3, 4, dtype=D64)
    break_attention(m, query=None, value=(0.5, 0.05), generator=_gen())
    assert m._symspec_broken == {"query": False, "value": True}
    assert not hasattr(m, "break_query")
    out = m(x, x, x)[0]
    torch.testing.assert_close(out, _mha_by_hand(m, x, x, x, torch.zeros(4, dtype=D64), _flat_bias(m, "value")))
    # and it matters: without it the output differs
    assert not torch.allclose(out, _mha_by_hand(m, x, x, x, torch.zeros(4, dtype=D64), torch.zeros(4, dtype=D64)))


def test_draws_follow_mean_and_std_and_are_copied_to_every_head():
    m = nn.MultiheadAttention(32, 4)
    break_attention(m, generator=_gen(3))
    assert m.break_query.shape == (4, 8)
    torch.testing.assert_close(m.break_query_std, torch.linspace(0.05, 0.15, 8))
    torch.testing.assert_close(m.break_value_std, torch.full((8,), 0.05))
    draws = []
    for _ in range(4000):
        resample(m, m._symspec_generator)
        assert torch.equal(m.break_query, m.break_query[:1].expand(4, 8))
        draws.append(m.break_query[0].clone())
    draws = torch.stack(draws)
    torch.testing.assert_close(draws.mean(0), torch.full((8,), 0.5), atol=0.01, rtol=0)
    torch.testing.assert_close(draws.std(0), torch.linspace(0.05, 0.15, 8), atol=0.01, rtol=0.05)


@pytest.mark.parametrize("batch_first", [True, False])
def test_transformer_encoder_layer_in_train_and_eval_including_the_fast_path(batch_first):
    torch.manual_seed(2)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=batch_first)
    shape = (3, 5, 16) if batch_first else (5, 3, 16)
    x = torch.randn(*shape)
    plain = copy.deepcopy(layer)
    break_attention(layer, generator=_gen())
    attn = layer.self_attn

    def folded(bq, bv):
        """The same layer with the biases folded into its learned in-projection bias (eval: legitimate)."""
        ref = copy.deepcopy(plain)
        with torch.no_grad():
            ref.self_attn.in_proj_bias += torch.cat([bq, torch.zeros(16), bv])
        return ref

    layer.eval()
    with torch.no_grad():  # the conditions of TransformerEncoderLayer's native fast path (batch_first=True)
        out = layer(x)
        ref = folded(_flat_mean(attn, "query"), _flat_mean(attn, "value")).eval()(x)
        unbroken = plain.eval()(x)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out, unbroken, atol=1e-3), "the fast path skipped the biases"
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-5)  # grad enabled: the slow path

    layer.train()
    out1 = layer(x)
    ref1 = folded(_flat_bias(attn, "query"), _flat_bias(attn, "value")).train()(x)
    torch.testing.assert_close(out1, ref1, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out1, layer(x))


def test_transformer_encoder_with_padding_mask_in_eval():
    torch.manual_seed(3)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True)
    x = torch.randn(2, 5, 8)
    pad = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    plain = copy.deepcopy(enc).eval()
    names = break_attention(enc, generator=_gen())
    assert names == ["layers.0.self_attn", "layers.1.self_attn"]
    enc.eval()
    with torch.no_grad():
        out = enc(x, src_key_padding_mask=pad)
        for ref_layer, layer in zip(plain.layers, enc.layers):
            a = layer.self_attn
            ref_layer.self_attn.in_proj_bias += torch.cat([_flat_mean(a, "query"), torch.zeros(8), _flat_mean(a, "value")])
        plain.use_nested_tensor = False
        ref = plain(x, src_key_padding_mask=pad)
    keep = ~pad
    torch.testing.assert_close(out[keep], ref[keep], atol=1e-5, rtol=1e-5)


def test_zero_biases_leave_the_function_unchanged():
    """The patched forward reproduces nn.MultiheadAttention exactly (masks, weights, batch_first)."""
    torch.manual_seed(4)
    mask = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
    pad = torch.tensor([[False] * 4, [False] * 3 + [True], [False] * 4])
    for batch_first in (True, False):
        m = nn.MultiheadAttention(8, 2, batch_first=batch_first).to(D64)
        plain = copy.deepcopy(m)
        break_attention(m, query=(0.0, 0.0), value=(0.0, 0.0))
        x = torch.randn(*((3, 4, 8) if batch_first else (4, 3, 8)), dtype=D64)
        for mode in ("train", "eval"):
            getattr(m, mode)()
            getattr(plain, mode)()
            got = m(x, x, x, attn_mask=mask, key_padding_mask=pad, average_attn_weights=False)
            want = plain(x, x, x, attn_mask=mask, key_padding_mask=pad, average_attn_weights=False)
            torch.testing.assert_close(got[0], want[0], rtol=0, atol=1e-14)
            torch.testing.assert_close(got[1], want[1], rtol=0, atol=1e-14)


def test_no_patch_leaks_to_other_modules():
    torch.manual_seed(5)
    a, b = nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2)
    x = torch.randn(4, 2, 8)
    before = b(x, x, x)[0]
    break_attention(a, generator=_gen())
    assert type(b) is nn.MultiheadAttention and not hasattr(b, "_symspec_broken")
    assert torch.equal(b(x, x, x)[0], before)
    assert len(b._forward_pre_hooks) == 0


def test_state_dict_round_trip():
    torch.manual_seed(6)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 1, enable_nested_tensor=False)
    break_attention(model, query=(0.3, (0.1, 0.2)), value=(-0.2, 0.05), generator=_gen())
    x = torch.randn(5, 2, 8)
    model(x)  # a training forward: a fresh draw in the buffers
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    sd = torch.load(buf)
    assert {"layers.0.self_attn.break_query", "layers.0.self_attn.break_value_std"} <= set(sd)

    fresh = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 1, enable_nested_tensor=False)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        fresh.load_state_dict(sd)  # break first, then load
    break_attention(fresh)  # defaults; the loaded buffers replace them
    fresh.load_state_dict(sd)
    a = fresh.layers[0].self_attn
    assert torch.equal(a.break_query, model.layers[0].self_attn.break_query)
    torch.testing.assert_close(a.break_value_mean, torch.full((4,), -0.2))
    model.eval()
    fresh.eval()
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


def test_buffers_follow_device_and_dtype():
    m = nn.MultiheadAttention(8, 2)
    break_attention(m)
    m.to(D64)
    assert m.break_query.dtype == D64 and m.break_value_mean.dtype == D64
    x = torch.randn(3, 1, 8, dtype=D64)
    assert m(x, x, x)[0].dtype == D64


def test_the_generator_makes_training_draws_reproducible():
    def run(gen):
        torch.manual_seed(7)
        m = nn.MultiheadAttention(8, 2)
        break_attention(m, generator=gen)
        x = torch.randn(3, 2, 8)
        return [m(x, x, x)[0] for _ in range(3)]

    a, b, c = run(_gen(1)), run(_gen(1)), run(_gen(2))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert rank_generator(5, rank=0).initial_seed() != rank_generator(5, rank=1).initial_seed()
    assert rank_generator(5, rank=1).initial_seed() == rank_generator(5, rank=1).initial_seed()


class SplitAttention(nn.Module):
    """The protocol's separate form: n_head, q_proj, k_proj, v_proj (head-major output)."""

    def __init__(self, dim: int = 8, n_head: int = 2) -> None:
        super().__init__()
        self.n_head = n_head
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(dim, dim) for _ in range(3))
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        return self.out(_attend(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.n_head))


class FusedAttention(nn.Module):
    """The protocol's fused form (nanoGPT style): n_head and c_attn producing [q | k | v]."""

    def __init__(self, dim: int = 8, n_head: int = 2) -> None:
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.c_attn(x).split(x.shape[-1], dim=-1)
        return self.c_proj(_attend(q, k, v, self.n_head))


@pytest.mark.parametrize("cls", [SplitAttention, FusedAttention])
def test_custom_attention_through_the_protocol(cls):
    torch.manual_seed(8)
    model = nn.Sequential(cls(), nn.ReLU(), cls()).to(D64)
    plain = copy.deepcopy(model)
    x = torch.randn(2, 5, 8, dtype=D64)
    assert break_attention(model, generator=_gen()) == ["0", "2"]

    def by_hand(att, ref_att, xx, bq, bv):
        if isinstance(ref_att, SplitAttention):
            q, k, v = ref_att.q_proj(xx) + bq, ref_att.k_proj(xx), ref_att.v_proj(xx) + bv
            return ref_att.out(_attend(q, k, v, 2))
        q, k, v = ref_att.c_attn(xx).split(8, dim=-1)
        return ref_att.c_proj(_attend(q + bq, k, v + bv, 2))

    out = model(x)
    h = by_hand(model[0], plain[0], x, model[0].break_query.reshape(-1), model[0].break_value.reshape(-1))
    ref = by_hand(model[2], plain[2], torch.relu(h), model[2].break_query.reshape(-1), model[2].break_value.reshape(-1))
    torch.testing.assert_close(out, ref)
    assert not torch.allclose(out, model(x))
    model.eval()
    out = model(x)
    assert torch.equal(out, model(x))
    mean = torch.full((8,), 0.5, dtype=D64)
    torch.testing.assert_close(out, by_hand(None, plain[2], torch.relu(by_hand(None, plain[0], x, mean, mean)), mean, mean))
    # a second call replaces the options, it does not stack a second bias
    break_attention(model, query=(0.0, 0.0), value=(0.0, 0.0))
    torch.testing.assert_close(model(x), plain(x))


def test_usage_errors():
    with pytest.raises(UsageError, match="no attention found in Sequential.*q_proj"):
        break_attention(nn.Sequential(nn.Linear(2, 2)))
    m = nn.MultiheadAttention(4, 2)
    with pytest.raises(UsageError, match="query="):
        break_attention(m, query=(0.5,))
    with pytest.raises(UsageError, match="std"):
        break_attention(m, value=(0.5, -1.0))
    with pytest.raises(UsageError, match="both None"):
        break_attention(m, query=None, value=None)
    bad = SplitAttention(8, 3)
    with pytest.raises(UsageError, match="multiples of n_head = 3"):
        break_attention(bad)


def test_patched_attention_trains():
    """Gradients flow through the patched forward into every learned parameter; the buffers get none."""
    torch.manual_seed(9)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    break_attention(layer, generator=_gen())
    layer(torch.randn(2, 3, 8)).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
    assert not layer.self_attn.break_query.requires_grad


def test_modules_patterns_select_the_attention_to_break():
    torch.manual_seed(10)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 3, enable_nested_tensor=False)
    assert break_attention(enc, modules=["layers.0.*", "layers.2.*"]) == ["layers.0.self_attn", "layers.2.self_attn"]
    assert type(enc.layers[1].self_attn) is nn.MultiheadAttention
    assert not hasattr(enc.layers[1].self_attn, "_symspec_broken")
    with pytest.raises(
        UsageError, match=r"no attention found in TransformerEncoder among the modules matching \['decoder\.\*'\]"
    ):
        break_attention(enc, modules="decoder.*")
    with pytest.raises(UsageError, match="modules= takes"):
        break_attention(enc, modules=[])


def test_apply_breaks_is_what_a_compiled_break_statement_calls():
    from symspec.nn import apply_breaks

    torch.manual_seed(11)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2, enable_nested_tensor=False)
    breaks = ({"query": (0.5, (0.05, 0.15)), "value": None}, {"query": None, "value": (0.2, 0.0), "modules": "layers.1.*"})
    assert apply_breaks(enc, breaks, generator=_gen()) == ["layers.0.self_attn", "layers.1.self_attn"]
    assert enc.layers[0].self_attn._symspec_broken == {"query": True, "value": False}
    assert enc.layers[1].self_attn._symspec_broken == {"query": False, "value": True}
    assert len(enc.layers[1].self_attn._forward_pre_hooks) == 1
    with pytest.raises(UsageError, match="unknown option"):
        apply_breaks(enc, [{"key": (0.3, 0.1)}])


def test_audit_reports_the_broken_dimensions():
    import symspec

    torch.manual_seed(12)
    enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 1, enable_nested_tensor=False
    )
    x = torch.randn(2, 5, 8)

    def attention(report):
        d = report.to_dict()
        return d["redundant"], {s["kind"]: (s["dim"], s.get("broken")) for s in d["symmetries"] if "attention" in s["kind"]}

    before = attention(symspec.audit(enc, x))
    assert before[1] == {"attention_qk": (32, False), "attention_vo": (32, False)}
    break_attention(enc, value=None)
    after = attention(symspec.audit(enc, x))
    assert after[1] == {"attention_qk": (32, True), "attention_vo": (32, False)}
    assert after[0] == before[0] - 32


def test_transformer_decoder_layer_breaks_self_and_cross_attention():
    torch.manual_seed(13)
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    plain = copy.deepcopy(layer).eval()
    assert break_attention(layer, generator=_gen()) == ["self_attn", "multihead_attn"]
    tgt, memory = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
    layer.eval()
    with torch.no_grad():
        for name in ("self_attn", "multihead_attn"):
            a = getattr(layer, name)
            getattr(plain, name).in_proj_bias += torch.cat([_flat_mean(a, "query"), torch.zeros(8), _flat_mean(a, "value")])
        torch.testing.assert_close(layer(tgt, memory), plain(tgt, memory), atol=1e-5, rtol=1e-5)


class _TaggedMHA(nn.MultiheadAttention):
    """A subclass keeping MultiheadAttention's forward."""

    tag = "kept"


class _OwnForwardMHA(nn.MultiheadAttention):
    def forward(self, *args, **kwargs):
        return super().forward(*args, **kwargs)


def test_multihead_attention_subclasses():
    torch.manual_seed(14)
    m = _TaggedMHA(8, 2, batch_first=True).to(D64)
    break_attention(m, generator=_gen())
    assert isinstance(m, _TaggedMHA) and m.tag == "kept" and type(m).__name__ == "Broken_TaggedMHA"
    x = torch.randn(2, 3, 8, dtype=D64)
    torch.testing.assert_close(m(x, x, x)[0], _mha_by_hand(m, x, x, x, _flat_bias(m, "query"), _flat_bias(m, "value")))
    with pytest.raises(UsageError, match="_OwnForwardMHA subclasses nn.MultiheadAttention with its own forward"):
        break_attention(_OwnForwardMHA(8, 2))
