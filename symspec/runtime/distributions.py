"""Class distributions under maps: pushforwards by index tables, sums by convolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pushforward", "pushforward_map", "sum_distribution", "shift_table", "scale_table"]


def pushforward(logp: torch.Tensor, push: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of ``sigma(X)`` for ``X ~ exp(logp)``, ``sigma`` a permutation of the classes.

    ``push`` maps class i to ``push[..., i]``: one permutation ``[n]`` for the
    whole batch, or one per example ``[batch, n]``.  One gather with the
    inverse table: ``q[push[i]] = p[i]``.
    """
    push = push.to(device=logp.device, dtype=torch.long)
    inverse = torch.empty_like(push)
    inverse.scatter_(-1, push, torch.arange(push.shape[-1], device=push.device).expand_as(push))
    return logp.gather(-1, inverse.expand(logp.shape) if inverse.dim() < logp.dim() else inverse)


def pushforward_map(logp: torch.Tensor, push: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of ``sigma(X)`` for ``X ~ exp(logp)``, ``sigma`` any map of the classes (``x -> u x mod n``).

    Classes mapped to the same class add their probabilities (a log-sum-exp per
    class, exact where one class lands: a permutation gives ``pushforward``'s
    values); a class nothing maps to gets ``log(tiny)``, finite, as in
    ``sum_distribution``.  ``push`` as for :func:`pushforward`.
    """
    dtype = torch.float32 if logp.dtype in (torch.float16, torch.bfloat16) else logp.dtype
    lp = logp.to(dtype)
    push = push.to(device=logp.device, dtype=torch.long).expand(lp.shape)
    lowest = torch.full_like(lp, float("-inf"))
    top = lowest.scatter_reduce(-1, push, lp, "amax")  # per class: the largest log-probability landing on it
    hit = torch.zeros_like(lp, dtype=torch.bool).scatter(-1, push, True)
    top = torch.where(hit, top, torch.zeros_like(top))
    mass = torch.zeros_like(lp).scatter_add(-1, push, (lp - top.gather(-1, push)).exp())
    tiny = torch.finfo(dtype).tiny
    return (top + mass.clamp_min(tiny).log()).to(logp.dtype)


def shift_table(n: int, k: torch.Tensor | int, device=None) -> torch.Tensor:
    """Push tables of ``x -> x + k (mod n)``; k a scalar or one per example."""
    k = torch.as_tensor(k, device=device, dtype=torch.long)
    base = torch.arange(n, device=k.device)
    return (base + k.unsqueeze(-1)) % n if k.dim() else (base + k) % n


def scale_table(n: int, u: torch.Tensor | int, device=None) -> torch.Tensor:
    """Push tables of ``x -> u x (mod n)``: a permutation (for ``pushforward``) when u is a unit mod n."""
    u = torch.as_tensor(u, device=device, dtype=torch.long)
    base = torch.arange(n, device=u.device)
    return (base * u.unsqueeze(-1)) % n if u.dim() else (base * u) % n


def sum_distribution(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of ``X + Y`` for independent X ~ p on 0..n-1 and Y ~ q on 0..m-1.

    The result has n + m - 1 classes (supports 0..n+m-2; shift the value
    labels by the two lowest values).  One grouped conv1d for the whole batch.
    """
    dtype = torch.float32 if logp.dtype in (torch.float16, torch.bfloat16) else logp.dtype
    p = logp.to(dtype).exp()
    q = logq.to(dtype).exp()
    batch, n = p.shape
    m = q.shape[-1]
    # conv1d computes cross-correlation: flip q to convolve
    out = F.conv1d(p.unsqueeze(0), q.flip(-1).unsqueeze(1), padding=m - 1, groups=batch).squeeze(0)
    tiny = torch.finfo(dtype).tiny
    return out.clamp_min(tiny).log().to(logp.dtype)
