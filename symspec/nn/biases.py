"""Fixed, unlearned attention biases: their options, their buffers, their draws.

A bias option is ``(mean, std)``: ``mean`` a number, ``std`` a number or a pair ``(lo, hi)`` meaning
``linspace(lo, hi, d_head)``.  One vector ``b = mean + std * z`` (``z`` standard normal, coordinate
by coordinate) is drawn per layer and copied to every head: buffers of shape ``(n_head, d_head)``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import UsageError

__all__ = ["SLOTS", "BiasOption", "check_option", "install_buffers", "current_bias", "resample", "rank_generator"]

SLOTS = ("query", "value")
"""The projections a bias can be added to (a key bias cancels in the softmax: none)."""

BiasOption = tuple[float, float | tuple[float, float]]


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_option(slot: str, option: Any) -> BiasOption | None:
    """The option normalized to ``(mean, std)`` (``std`` a float or a ``(lo, hi)`` pair), or None; UsageError if malformed."""
    if option is None or option is False:
        return None
    hint = f"break_attention: {slot}= takes None or (mean, std) with std a number or a pair (lo, hi), all finite, std >= 0"
    if not (isinstance(option, (tuple, list)) and len(option) == 2 and _number(option[0])):
        raise UsageError(f"{hint}; got {option!r}")
    mean, std = option
    if isinstance(std, (tuple, list)):
        if not (len(std) == 2 and all(_number(s) and s >= 0 for s in std)):
            raise UsageError(f"{hint}; got std {std!r}")
        return float(mean), (float(std[0]), float(std[1]))
    if not (_number(std) and std >= 0):
        raise UsageError(f"{hint}; got std {std!r}")
    return float(mean), float(std)


def install_buffers(module: nn.Module, slot: str, option: BiasOption, n_head: int, d_head: int, like: Tensor) -> None:
    """Register ``break_<slot>`` (n_head, d_head) and its ``_mean``/``_std`` (d_head,) on ``module``, at the mean."""
    mean, std = option
    kw = dict(device=like.device, dtype=like.dtype if like.is_floating_point() else torch.get_default_dtype())
    std_vec = torch.linspace(std[0], std[1], d_head, **kw) if isinstance(std, tuple) else torch.full((d_head,), std, **kw)
    mean_vec = torch.full((d_head,), mean, **kw)
    module.register_buffer(f"break_{slot}_mean", mean_vec)
    module.register_buffer(f"break_{slot}_std", std_vec)
    module.register_buffer(f"break_{slot}", mean_vec.expand(n_head, d_head).clone())


def resample(module: nn.Module, generator: torch.Generator | None) -> None:
    """Draw a fresh ``b = mean + std * z`` for every enabled slot of ``module`` and copy it to every head."""
    with torch.no_grad():
        for slot in SLOTS:
            if not module._symspec_broken.get(slot):
                continue
            buf = getattr(module, f"break_{slot}")
            device = generator.device if generator is not None else buf.device
            z = torch.randn(buf.shape[-1], generator=generator, device=device, dtype=buf.dtype).to(buf.device)
            b = getattr(module, f"break_{slot}_mean") + getattr(module, f"break_{slot}_std") * z
            buf.copy_(b.expand_as(buf))


def current_bias(module: nn.Module, slot: str) -> Tensor | None:
    """The bias in use, flattened to ``(n_head * d_head,)`` head-major: the last draw in training, the mean in eval."""
    if not module._symspec_broken.get(slot):
        return None
    buf = getattr(module, f"break_{slot}")
    if module.training:
        return buf.reshape(-1)
    return getattr(module, f"break_{slot}_mean").expand_as(buf).reshape(-1)


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def rank_generator(seed: int, device: str | torch.device = "cpu", rank: int | None = None) -> torch.Generator:
    """A generator for this rank's bias stream: seeded with ``splitmix64(splitmix64(seed) ^ rank)``.

    ``rank`` defaults to ``torch.distributed.get_rank()`` when a process group is initialized, else 0,
    so every rank of a DDP job draws its own biases and a rerun draws the same ones.
    """
    if rank is None:
        dist = torch.distributed
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    state = _splitmix64(_splitmix64(int(seed) & 0xFFFFFFFFFFFFFFFF) ^ int(rank)) & 0x7FFFFFFFFFFFFFFF
    return torch.Generator(device=device).manual_seed(state)
