"""Small models for the audit tests (a helper module: no tests here): a nanoGPT-style decoder (c_attn/c_proj attention, n_head) and wrappers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, bias: bool = True):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.n_head = n_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class MLP(nn.Module):
    def __init__(self, n_embd: int, act: nn.Module):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.act = act
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, act: nn.Module):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab=11, n_embd=8, n_head=2, n_layer=2, block=6, act=None, tie=False):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head, act if act is not None else nn.ReLU()) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab)
        if tie:
            self.lm_head.weight = self.wte.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        _, t = idx.size()
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for blk in self.h:
            x = blk(x)
        return self.lm_head(self.ln_f(x))


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention`` called as self-attention (or with separate key/value inputs)."""

    def __init__(self, e: int = 8, h: int = 2, **kw):
        super().__init__()
        self.mha = nn.MultiheadAttention(e, h, batch_first=True, **kw)

    def forward(self, x: torch.Tensor, k: torch.Tensor | None = None, v: torch.Tensor | None = None) -> torch.Tensor:
        return self.mha(x, x if k is None else k, x if v is None else v, need_weights=False)[0]


def encoder(d_model: int, nhead: int, layers: int, activation: str = "relu", norm_first: bool = False, ff: int = 16):
    layer = nn.TransformerEncoderLayer(
        d_model, nhead, ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    )
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def gpt() -> GPT:
    """Factory for the CLI tests."""
    torch.manual_seed(0)
    return GPT()


def small_encoder() -> nn.Module:
    torch.manual_seed(0)
    return encoder(8, 2, 1)


def broken_factory() -> nn.Module:
    raise RuntimeError("factory failure")


def example() -> tuple:
    return (torch.randn(3, 5, 8),)
