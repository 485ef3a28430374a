"""Adversarial review of products, tensor representations, constant elements, units, compose and relabel (issue 13,
items 1, 2 and 6): each test reproduces a silent wrong answer or a wrong error found in review, fixed since."""

from __future__ import annotations

import pytest
import torch

import symspec


def _terms(mod, batch, **models) -> dict:
    loss = mod.SymmetryLoss(generator=torch.Generator().manual_seed(0), **models)
    loss(batch)
    return {k: float(v) for k, v in loss.terms.items()}


def _swap01(x):  # equivariant under swapping rows 0 and 1, not under the 5-cycle
    y = x.clone()
    s = x[:, 0] + x[:, 1]
    y[:, 0] += s
    y[:, 1] += s
    return y


def test_a_constant_element_of_symmetric_n_of_fixed_size():
    """S.t / S.c of symmetric(5) on tensor[5, 3] were refused: 'moves dims of P of symbolic size' (they are fixed)."""
    spec = symspec.loads(
        "group S = symmetric(5)\ndomain P = tensor[5, 3]\nmodel f(x: P) -> P\n"
        "law lt: f(S.t . x) == S.t . f(x)\nlaw lc: f(S.c . x) == S.c . f(x)\n",
        "sym_const.sym",
    )
    mod = symspec.compile(symspec.check(spec))
    x = torch.randn(8, 5, 3, dtype=torch.float64)
    terms = _terms(mod, {"x": x}, f=_swap01)
    assert terms["lt"] < 1e-20 and terms["lc"] > 1e-2, terms
    report = symspec.validate(spec, f=_swap01, seed=0)
    assert report["lt"].passed and not report["lc"].passed
