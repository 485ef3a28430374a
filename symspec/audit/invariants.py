"""Relational invariants: per-head spectra of ``W_Q^T W_K`` and ``W_O W_V``, and the effective dimension of embeddings.

Spectra use the thin QR of each factor: ``W_Q^T = Q_a R_a``, ``W_K^T = Q_b R_b`` give
``svd(W_Q^T W_K) = svd(R_a R_b^T)`` (d_head x d_head per head), batched over heads.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["head_spectra", "effective_dimension", "embeddings", "EXPLAINED_VARIANCE"]

EXPLAINED_VARIANCE = 0.01


def _weights(side, params: dict) -> torch.Tensor:
    t = side.get(params, params)
    return t[..., :-1] if getattr(side, "bias", None) is not None else t


@torch.no_grad()
def head_spectra(pair, params: dict) -> list:
    """Singular values per head of the pair's invariant (QK: ``W_Q^T W_K``; VO: ``W_O W_V``), descending."""
    x, y = _weights(pair.x, params), _weights(pair.y, params)
    ra = torch.linalg.qr(x.transpose(-1, -2))[1]
    rb = torch.linalg.qr(y.transpose(-1, -2))[1]
    return torch.linalg.svdvals(ra @ rb.transpose(-1, -2)).tolist()


@torch.no_grad()
def effective_dimension(weight: torch.Tensor, threshold: float = EXPLAINED_VARIANCE) -> int:
    """Number of principal components of the rows with more than ``threshold`` of the explained variance."""
    w = weight.detach().to(torch.float64)
    s = torch.linalg.svdvals(w - w.mean(0, keepdim=True))
    var = s.square()
    total = var.sum()
    return int((var / total > threshold).sum()) if total > 0 else 0


def embeddings(model: nn.Module) -> dict:
    """Effective dimension of every ``nn.Embedding``'s weight, by module name."""
    return {n: effective_dimension(m.weight) for n, m in model.named_modules() if isinstance(m, nn.Embedding)}
