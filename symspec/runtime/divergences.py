"""Divergences and penalties between model outputs, stable in fp16/bf16.

Everything works on logits or log-probabilities (never on probabilities
that could underflow), reduces over the class dim only, and returns one
value per example; the caller averages.  Half-precision inputs (fp16, bf16)
are computed and returned in float32, as autocast does for losses: a
divergence of 7e4 would overflow fp16, and small terms would vanish.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "fp32",
    "sym_kl_logprobs",
    "sym_kl_logits",
    "bernoulli_sym_kl",
    "cross_entropy_to",
    "squared_error",
    "squared_difference",
    "squared_hinge",
    "expectation",
    "truth_penalty",
    "bernoulli_cross_entropy",
]


def _promote(*xs: torch.Tensor) -> tuple:
    """Half-precision inputs are computed in fp32."""
    dtype = torch.promote_types(xs[0].dtype, torch.float32) if xs[0].dtype in (torch.float16, torch.bfloat16) else xs[0].dtype
    return tuple(x.to(dtype) for x in xs)


def _floor_zero(logp: torch.Tensor) -> torch.Tensor:
    """``log 0`` (a masked class: a -inf logit) as ``log tiny``, finite; every other log-probability unchanged."""
    floor = math.log(torch.finfo(logp.dtype).tiny)
    return torch.where(logp == float("-inf"), torch.full_like(logp, floor), logp)


def sym_kl_logprobs(logp: torch.Tensor, logq: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``(KL(p||q) + KL(q||p)) / 2 = sum (p - q)(log p - log q) / 2`` from log-probabilities.

    Classes of probability zero (``log p = -inf``: a masked class, or one no
    class maps to) count as probability ``tiny``: a class zero on both sides
    contributes nothing, one zero on one side a finite term. Finite, with
    finite gradients, whenever no input is NaN or ``+inf``.
    """
    logp, logq = _promote(logp, logq)
    logp, logq = _floor_zero(logp), _floor_zero(logq)
    return 0.5 * ((logp.exp() - logq.exp()) * (logp - logq)).sum(dim)


def sym_kl_logits(a: torch.Tensor, b: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Symmetric KL between the softmax distributions of two logit tensors."""
    a, b = _promote(a, b)
    return sym_kl_logprobs(F.log_softmax(a, dim), F.log_softmax(b, dim), dim)


def bernoulli_sym_kl(logit_p: torch.Tensor, logit_q: torch.Tensor) -> torch.Tensor:
    """Symmetric KL between Bernoulli(sigmoid(p)) and Bernoulli(sigmoid(q)): ``(p - q)(logit_p - logit_q) / 2``.

    Two equal infinite logits (the same certain answer) agree: 0, not NaN.
    """
    logit_p, logit_q = _promote(logit_p, logit_q)
    diff = torch.where(logit_p == logit_q, torch.zeros_like(logit_p), logit_p - logit_q)
    return 0.5 * (torch.sigmoid(logit_p) - torch.sigmoid(logit_q)) * diff


def cross_entropy_to(logits: torch.Tensor, target: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Cross-entropy of each row to a class index (a constant or a per-example tensor)."""
    (logits,) = _promote(logits)
    logp = F.log_softmax(logits, dim)
    target = torch.as_tensor(target, device=logits.device, dtype=torch.long).expand(logp.shape[:-1])
    return -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)


def squared_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared difference per example (over every dim but the first)."""
    diff = fp32(a - b)
    diff = diff.reshape(diff.shape[0], -1) if diff.dim() > 1 else diff.unsqueeze(-1)
    return diff.pow(2).mean(-1)


def fp32(x):
    """A half-precision tensor as float32; anything else (other tensors, Python numbers) unchanged (one rule for the
    runtime: divergences, soft logic and priors compute half precision in float32)."""
    return x.float() if isinstance(x, torch.Tensor) and x.dtype in (torch.float16, torch.bfloat16) else x


def squared_difference(a, b):
    """``(a - b)^2`` elementwise (half precision computed in float32: a difference of 256 squared overflows fp16)."""
    return (fp32(a) - fp32(b)) ** 2


def squared_hinge(lhs: torch.Tensor, rhs: torch.Tensor, strict_margin: float = 0.0) -> torch.Tensor:
    """Penalty for violating ``lhs <= rhs`` (``lhs < rhs`` with a margin): ``relu(lhs - rhs + margin)^2``."""
    return torch.relu(fp32(lhs) - fp32(rhs) + strict_margin).pow(2)


def expectation(logits: torch.Tensor, values: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The expected value of a class output whose classes stand for ``values``."""
    (logits,) = _promote(logits)
    return (F.softmax(logits, dim) * values.to(logits.dtype)).sum(dim)


def truth_penalty(logit: torch.Tensor) -> torch.Tensor:
    """The loss of asserting a bool output true: ``-log sigmoid(logit)``."""
    (logit,) = _promote(logit)
    return F.softplus(-logit)


def bernoulli_cross_entropy(logit: torch.Tensor, target) -> torch.Tensor:
    """Cross-entropy of a bool output (a logit) to an exact truth value (a bool tensor or 0/1)."""
    (logit,) = _promote(logit)
    target = torch.as_tensor(target, device=logit.device).to(logit.dtype).expand_as(logit)
    return F.binary_cross_entropy_with_logits(logit, target, reduction="none")
