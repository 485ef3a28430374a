"""Class distributions under maps: pushforwards by index tables, sums by convolution."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "pushforward",
    "pushforward_permutation",
    "pushforward_map",
    "sum_distribution",
    "shift_support",
    "shift_table",
    "scale_table",
]


def pushforward(logp: torch.Tensor, push: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of ``sigma(X)`` for ``X ~ exp(logp)``, ``sigma`` any map of the classes.

    ``push`` maps class i to ``push[..., i]``: one map ``[n]`` for the whole
    batch, or one per example ``[batch, n]``. The probability of class j is
    the sum of the probabilities of its preimage (a log-sum-exp per class:
    exact, and a permutation's values where one class lands); a class that
    nothing maps to (``x -> 2x`` on ``cyclic(4)`` misses 1 and 3) has
    probability 0, log-probability ``-inf``. Half precision is summed in
    float32 and returned in the input's dtype.
    """
    dtype = torch.float32 if logp.dtype in (torch.float16, torch.bfloat16) else logp.dtype
    lp = logp.to(dtype)
    push = push.to(device=logp.device, dtype=torch.long)
    if push.dim() > lp.dim() or push.shape[-1] != lp.shape[-1]:
        raise ValueError(f"pushforward: a map of shape {tuple(push.shape)} for log-probabilities of shape {tuple(lp.shape)}")
    push = push.expand(lp.shape)
    with torch.no_grad():  # the shift only keeps exp() in range: the log-sum-exp does not depend on it
        top = torch.full_like(lp, float("-inf")).scatter_reduce(-1, push, lp, "amax")
        top = torch.where(top.isfinite(), top, torch.zeros_like(top))
    mass = torch.zeros_like(lp).scatter_add(-1, push, (lp - top.gather(-1, push)).exp())
    tiny = torch.finfo(dtype).tiny
    out = torch.where(mass > 0, top + mass.clamp_min(tiny).log(), torch.full_like(lp, float("-inf")))
    return out.to(logp.dtype)


def pushforward_permutation(logp: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Log-probabilities of ``sigma(X)`` for a permutation ``sigma`` given by its inverse table: one gather.

    Class j of the result is class ``inverse[..., j]`` of ``logp`` (``[n]`` for
    the whole batch or ``[batch, n]``). The compiled loss passes tables that
    are inverses by construction (``x -> x + k`` by ``shift_table(n, -k)``,
    ``x -> -x`` by itself); any other map goes through :func:`pushforward`.
    """
    inverse = inverse.to(device=logp.device, dtype=torch.long)
    return logp.gather(-1, inverse.expand(logp.shape) if inverse.dim() < logp.dim() else inverse)


def pushforward_map(logp: torch.Tensor, push: torch.Tensor) -> torch.Tensor:
    """:func:`pushforward` (kept as the name compiled modules of ``x -> u x mod n`` use)."""
    return pushforward(logp, push)


def shift_support(logp: torch.Tensor, shift, size: int) -> torch.Tensor:
    """Log-probabilities of ``X + s`` on ``size`` classes: class ``j`` of the result is class ``j - s`` of ``logp``
    (log tiny where that is no class: finite, as ``pad_support`` pads, so that a cross-entropy to a value this
    example's shift cannot reach is large but finite); ``s`` an int or one per example, each in ``0 .. size - n``."""
    n = logp.shape[-1]
    shift = torch.as_tensor(shift, device=logp.device, dtype=torch.long)
    j = torch.arange(size, device=logp.device)
    src = j - shift.unsqueeze(-1) if shift.dim() else j - shift
    ok = (src >= 0) & (src < n)
    src = src.clamp(0, n - 1).expand(*logp.shape[:-1], size)
    floor = math.log(torch.finfo(logp.dtype).tiny)
    return torch.where(ok, logp.gather(-1, src), torch.full_like(src, floor, dtype=logp.dtype))


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
