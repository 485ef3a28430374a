"""Random variables of laws: group elements, Haar rotations, guarded values.

Every sampler takes a ``torch.Generator`` (or None for the global one) and
the device and dtype to follow; none loops over examples.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = [
    "traceable",
    "seeded_from",
    "uniform_int",
    "uniform_real",
    "normal_values",
    "interval_int",
    "random_permutations",
    "haar_orthogonal",
    "sample_table_rows",
    "between_nodes",
    "rejection",
    "unit_values",
]


COMPILE_HINT = (
    "torch.compile cannot trace draws from a torch.Generator: build the loss, augment or symmetrize with "
    "generator=None and call the compiled function inside `with symspec.runtime.seeded_from(generator):` "
    "(docs/compile.md, 'torch.compile')"
)


def traceable(generator):
    """``generator``, or a TypeError naming the remedy when ``torch.compile`` traces a draw from one."""
    if generator is not None and torch.compiler.is_compiling():
        raise TypeError(COMPILE_HINT)
    return generator


@contextlib.contextmanager
def seeded_from(generator: torch.Generator, device=None) -> Iterator[None]:
    """Run the block on the global random stream seeded by one draw of ``generator``, then restore the stream.

    The way to give compiled code (which draws from the global stream) a reproducible stream of its own:
    ``with seeded_from(g): loss = compiled(batch)`` draws the same values for the same state of ``g``, and leaves
    the global stream as it found it. ``device``: the accelerator whose stream is seeded too (default: the
    generator's).
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=traceable(generator), device=generator.device))
    device = torch.device(device) if device is not None else generator.device
    devices = [device] if device.type not in ("cpu", "meta") else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if devices else "cuda"):
        torch.manual_seed(seed)
        yield


def uniform_int(low: int, high: int, size, generator=None, device=None) -> torch.Tensor:
    """Integers uniform on low..high-1."""
    return torch.randint(
        low, high, tuple(size) if not isinstance(size, int) else (size,), generator=traceable(generator), device=device
    )


def _real_dtype(dtype):
    """The dtype of drawn reals: the batch's when it is a floating dtype, else torch's default (an integer batch
    field cannot hold a real draw)."""
    return dtype if dtype is None or dtype.is_floating_point else None


def uniform_real(low: float, high: float, size: int, generator=None, device=None, dtype=None) -> torch.Tensor:
    """``size`` reals uniform on [low, high) (a law variable over ``real(lo, hi)``)."""
    u = torch.rand(size, generator=traceable(generator), device=device, dtype=_real_dtype(dtype))
    return low + (high - low) * u


def normal_values(size: int, shape=(), generator=None, device=None, dtype=None) -> torch.Tensor:
    """``size`` standard normal reals (``shape == ()``) or tensors of ``shape`` (a law variable over real or a tensor)."""
    shape = [int(d) for d in shape]
    return torch.randn(size, *shape, generator=traceable(generator), device=device, dtype=_real_dtype(dtype))


def interval_int(low: torch.Tensor, high: torch.Tensor, generator=None, fallback=None) -> tuple:
    """Per example, an integer uniform on ``low..high`` (inclusive); and a mask of non-empty intervals.

    ``fallback``: the value drawn where the interval is empty (a value of the variable's domain, so that a
    masked-out example still reaches the models with a valid input); None: ``low``.
    """
    low = torch.as_tensor(low)
    high = torch.as_tensor(high, device=low.device)
    valid = high >= low
    span = (high - low + 1).clamp_min(1)
    u = torch.rand(span.shape, generator=traceable(generator), device=low.device)
    value = low + (u * span).long().clamp_max(span - 1)
    if fallback is not None:
        value = torch.where(valid, value, torch.as_tensor(fallback, dtype=value.dtype, device=value.device))
    return value, valid


def random_permutations(batch: int, n: int, generator=None, device=None) -> torch.Tensor:
    """``batch`` uniform permutations of 0..n-1 (argsort of uniform noise), as push maps."""
    return torch.argsort(torch.rand(batch, n, generator=traceable(generator), device=device), dim=-1)


def haar_orthogonal(batch: int, n: int, special: bool = True, generator=None, device=None, dtype=torch.float32) -> torch.Tensor:
    """``batch`` Haar-distributed matrices of O(n), or SO(n) with ``special``.

    QR of a Gaussian matrix with the sign of R's diagonal moved into Q (Mezzadri
    2007), then one column negated where the determinant is -1 for SO(n).
    """
    g = torch.randn(batch, n, n, generator=traceable(generator), device=device, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    if special:
        det = torch.linalg.det(q)
        q[..., :, 0] = q[..., :, 0] * det.sign().unsqueeze(-1)
    return q.to(dtype)


def sample_table_rows(table: torch.Tensor, batch: int, generator=None) -> torch.Tensor:
    """Rows of a precomputed element table (one row per group element), drawn uniformly."""
    idx = torch.randint(0, table.shape[0], (batch,), generator=traceable(generator), device=table.device)
    return table[idx]


def between_nodes(distances: torch.Tensor, u: torch.Tensor, v: torch.Tensor, generator=None) -> torch.Tensor:
    """Per example, a vertex w uniform among those on shortest u-v paths: ``d(u,w) + d(w,v) == d(u,v)``."""
    du = distances[u]  # [batch, n]
    dv = distances[:, v].T  # [batch, n]
    on_path = (du + dv == distances[u, v].unsqueeze(-1)) & (du >= 0) & (dv >= 0)
    weights = on_path.to(torch.float32)
    weights[weights.sum(-1) == 0] = 1.0  # disconnected pairs: any vertex (the law's mask drops them)
    return torch.multinomial(weights, 1, generator=traceable(generator)).squeeze(-1)


def rejection(propose, accept, batch: int, max_rounds: int = 64) -> tuple:
    """Draw with ``propose(k)`` until ``accept(values, index)`` holds for every example (or rounds run out).

    Returns the values, the mask of accepted examples and the acceptance rate
    seen, so the loss can report it.
    """
    values = propose(batch)
    ok = accept(values, torch.arange(batch, device=values.device))
    tried, accepted = batch, int(ok.sum())
    for _ in range(max_rounds):
        if bool(ok.all()):
            break
        missing = (~ok).nonzero().squeeze(-1)
        fresh = propose(len(missing))
        good = accept(fresh, missing)
        tried += len(missing)
        accepted += int(good.sum())
        values[missing[good]] = fresh[good]
        ok[missing[good]] = True
    return values, ok, accepted / max(tried, 1)


def unit_values(n: int) -> torch.Tensor:
    """The units of Z/nZ (1..n-1 coprime to n, increasing; ``[0]`` for n = 1): the table a law variable over
    ``units(n)`` is drawn from, or enumerated over, by index."""
    if n == 1:
        return torch.zeros(1, dtype=torch.long)
    values = torch.arange(1, n, dtype=torch.long)
    return values[torch.gcd(values, torch.tensor(n, dtype=torch.long)) == 1]
