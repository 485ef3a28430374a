"""`==` between class distributions on far-apart supports: the classes between them are dropped (they add 0 to
the divergence), so a class range far from 0 or a sum of two calls never pads billions of classes."""

from __future__ import annotations

import torch

import symspec
from symspec.codegen import compile_source
from symspec.runtime import divergences, tables


def test_dropping_the_gap_leaves_the_divergence_unchanged():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(7, 3, generator=g, dtype=torch.float64).log_softmax(-1)  # classes 10..12
    b = torch.randn(7, 5, generator=g, dtype=torch.float64).log_softmax(-1)  # classes 20..24
    full = divergences.sym_kl_logprobs(tables.pad_support(a, 10, 10, 15), tables.pad_support(b, 20, 10, 15))
    compact = divergences.sym_kl_logprobs(tables.pad_support(a, 10, 10, 8), tables.pad_support(b, 20, 17, 8))
    torch.testing.assert_close(compact, full, rtol=1e-12, atol=0)


class _Table(torch.nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.t = torch.nn.Parameter(torch.randn(4, 4, classes, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))

    def forward(self, u, v):
        return self.t[u, v]


def _geodesic(lo: int) -> str:
    return (
        f"spec far\ndomain D = range(0, 4)\nmodel d(u: D, v: D) -> class(range({lo}, {lo + 3}))\n"
        "law g: d(u, v) == d(u, w) + d(w, v) when u < w and w < v\n"
    )


def _last_argument(text: str, start: int) -> str:
    """The last argument of the call starting at ``start`` (parentheses matched)."""
    depth, i = 0, text.index("(", start)
    for j in range(i, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j].rsplit(",", 1)[1].strip()
    raise AssertionError("unbalanced call")


def test_a_far_class_range_compiles_to_a_small_padding_and_the_same_loss():
    model = _Table(3)
    batch = {"u": torch.tensor([0, 0, 1]), "v": torch.tensor([2, 3, 3])}
    losses = []
    for lo in (10, 3_000_000_000):  # the same model: only the class values move; the sum's support moves twice as far
        spec = symspec.loads(_geodesic(lo), "far.sym")
        text = compile_source(spec)
        sizes = [_last_argument(text, i) for i in range(len(text)) if text.startswith("rt.pad_support(", i)]
        assert sizes and set(sizes) == {"8"}, sizes  # 3 + 5 classes, never the span between the supports
        mod = symspec.compile(spec)
        loss = mod.SymmetryLoss(d=model, generator=torch.Generator().manual_seed(0))
        losses.append(loss(batch))
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-9, atol=1e-12)
