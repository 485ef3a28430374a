"""Product t-norm soft logic on probabilities, and logit/sigmoid."""

from __future__ import annotations

import torch

__all__ = ["soft_not", "soft_and", "soft_or", "implication_penalty", "logit", "sigmoid"]


def soft_not(p: torch.Tensor) -> torch.Tensor:
    return 1 - p


def soft_and(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return p * q


def soft_or(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return p + q - p * q


def implication_penalty(premise: torch.Tensor, conclusion: torch.Tensor) -> torch.Tensor:
    """``a => b`` penalizes ``a * (1 - b)``: zero when the premise is false or the conclusion true."""
    return premise * (1 - conclusion)


def logit(p: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)
