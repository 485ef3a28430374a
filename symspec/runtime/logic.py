"""Product t-norm soft logic on probabilities and on logits, and logit/sigmoid.

Half-precision inputs (fp16, bf16) are computed and returned in float32, as
the divergences are: ``1 - 1e-6`` rounds to 1 in half precision, and a logit
of a probability that rounded to 1 is infinite (its gradient NaN). On two
logits, ``and_logits`` / ``or_logits`` never leave log space, so they are
finite, with finite gradients, for every finite input.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .divergences import fp32

__all__ = [
    "soft_not",
    "soft_and",
    "soft_or",
    "and_logits",
    "or_logits",
    "implication_penalty",
    "implication_logits",
    "class_event_logit",
    "logit",
    "sigmoid",
]


def soft_not(p: torch.Tensor) -> torch.Tensor:
    return 1 - p


def soft_and(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return p * q


def soft_or(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return p + q - p * q


def and_logits(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The logit of ``sigmoid(a) * sigmoid(b)``, in log space.

    ``log(pa pb) - log(1 - pa pb)`` with ``1 - pa pb = (1 - pa) + pa (1 - pb)``:
    every log-sigmoid is finite for finite logits, so is the result.
    """
    a, b = fp32(a), fp32(b)
    la, lb, na, nb = F.logsigmoid(a), F.logsigmoid(b), F.logsigmoid(-a), F.logsigmoid(-b)
    return la + lb - torch.logaddexp(na, la + nb)


def or_logits(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The logit of ``pa + pb - pa pb`` (``not (not a and not b)``), in log space."""
    return -and_logits(-a, -b)


def implication_penalty(premise: torch.Tensor, conclusion: torch.Tensor) -> torch.Tensor:
    """``a => b`` penalizes ``a * (1 - b)`` (probabilities): zero when the premise is false or the conclusion true."""
    premise, conclusion = fp32(premise), fp32(conclusion)
    return premise * (1 - conclusion)


def implication_logits(premise: torch.Tensor, conclusion: torch.Tensor) -> torch.Tensor:
    """:func:`implication_penalty` of two logits: ``sigmoid(premise) * sigmoid(-conclusion)``, from log-sigmoids."""
    premise, conclusion = fp32(premise), fp32(conclusion)
    return torch.exp(F.logsigmoid(premise) + F.logsigmoid(-conclusion))


def class_event_logit(logprobs: torch.Tensor, target, inside=None) -> torch.Tensor:
    """The logit of ``P(X == target)`` for ``X ~ exp(logprobs)`` over the last dim: ``log p_t - log(sum_{k != t} p_k)``.

    ``target``: a class index (an int) or one per example.  Computed from log-probabilities in log space (no
    ``log(1 - p)`` of a rounded probability); a class of probability 1 gives ``+inf``, one of probability 0 ``-inf``.
    ``inside``: per example, whether the value is a class of the support at all; where it is not, the event has
    probability ~0: logit log(tiny), finite as ``pad_support``'s padded classes are, so that asserting such an event
    costs a large finite loss, not inf (``target`` there is any valid placeholder index).
    """
    lp = fp32(logprobs)
    index = torch.as_tensor(target, device=lp.device, dtype=torch.long).expand(lp.shape[:-1]).unsqueeze(-1)
    hit = lp.gather(-1, index).squeeze(-1)
    rest = lp.scatter(-1, index, float("-inf")).logsumexp(-1)
    out = hit - rest
    if inside is None:
        return out
    floor = math.log(torch.finfo(out.dtype).tiny)
    return out.masked_fill(~torch.as_tensor(inside, device=out.device), floor)


def logit(p: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``log(p / (1 - p))`` of ``p`` clamped to ``[eps, 1 - eps]`` (half precision computed in float32)."""
    p = fp32(p)
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)
