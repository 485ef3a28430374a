"""The transform vocabulary of group actions, defined once, as push maps (numpy only).

A transform permutes finite *points*: the values ``0..n-1`` of a finite
domain, or the row-major flattened positions of a tensor of fixed ``shape``.
A permutation is stored as a **push map** ``p``: point ``i`` moves to
``p[i]``.  On a tensor, ``y = g . x`` means ``y.flat[p[i]] = x.flat[i]``.

**Composition order** (the one convention of symspec, analysis and runtime):

- ``compose(a, b)`` is ``a`` after ``b``: ``b`` acts first,
  ``compose(a, b)[i] == a[b[i]]``.  Words act on the left the same way:
  ``r s`` is ``r`` after ``s``.
- An op sequence ``[op_0, op_1, ..., op_k]`` is applied **right to left**,
  like a word: ``op_k`` acts first and ``op_0`` last, so its push map is
  ``compose(push(op_0), compose(push(op_1), ... push(op_k)))`` and on a tensor
  it is ``op_0(op_1(...op_k(x)))``.

Ops on values (``n``): ``shift(k=1)`` v -> v + k, ``negate`` v -> -v,
``scale(u)`` v -> u v (all mod n), ``relabel(perm)`` v -> perm[v].  Ops on
positions (``shape``), each the numpy/torch function of the same name on the
tensor: ``rot90(dims)`` (``torch.rot90(x, 1, dims)``), ``flip(dim)``,
``roll(dim, shift=1)``, ``permute(perm, dim)`` (a gather:
``y[..., i, ...] = x[..., perm[i], ...]``), ``transpose(i, j)``; and
``permute_dims(perm, dims)``, which pushes the index ``i`` to ``perm[i]``
along every dim in ``dims`` at once.  Matrix actions (``matrix``, ``reflect``)
are not permutations and are not here.

Numpy only: the analysis (which must not import torch) calls this module, and
the runtime builds its tables from it once (``torch.from_numpy``); the
runtime's batched torch ``compose``/``invert`` follow the same convention.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

__all__ = [
    "VALUE_OPS",
    "POSITION_OPS",
    "identity",
    "compose",
    "inverse",
    "power",
    "gather_to_push",
    "op_push",
    "ops_push",
    "MAX_TABLE_ORDER",
    "MAX_LITERAL_ENTRIES",
]

MAX_TABLE_ORDER = 5000  # a finite group with more elements is drawn as random words, not from a table of all of them
MAX_LITERAL_ENTRIES = 50_000  # integers of permutation tables the code generator writes into one module (one group, one model)

Args = Mapping | Iterable  # a dict, or the analysis's tuple of (name, value) pairs
Op = tuple  # (name, args)

# v: the values 0..n-1 -> where each goes
_VALUE: dict[str, Callable[[np.ndarray, int, dict], np.ndarray]] = {
    # k and u reduced mod n first: v + k and v * u stay within int64 for any k, u (a huge k would wrap around)
    "shift": lambda v, n, a: (v + a.get("k", 1) % n) % n,
    "negate": lambda v, n, a: (-v) % n,
    "scale": lambda v, n, a: (v * (a["u"] % n)) % n,
    "relabel": lambda v, n, a: np.array(a["perm"], dtype=np.int64),
}

# idx: arange(points).reshape(shape) -> the op applied to it (entry j holds the point that lands on j)
_GATHER: dict[str, Callable[[np.ndarray, dict], np.ndarray]] = {
    "rot90": lambda idx, a: np.rot90(idx, 1, axes=tuple(a["dims"])),
    "flip": lambda idx, a: np.flip(idx, axis=a["dim"]),
    "roll": lambda idx, a: np.roll(idx, a.get("shift", 1) % idx.shape[a["dim"]], axis=a["dim"]),
    "permute": lambda idx, a: np.take(idx, np.asarray(a["perm"], dtype=np.int64), axis=a["dim"]),
    "transpose": lambda idx, a: np.swapaxes(idx, a["i"], a["j"]),
}

VALUE_OPS = frozenset(_VALUE)
POSITION_OPS = frozenset((*_GATHER, "permute_dims"))


def identity(n: int) -> np.ndarray:
    """The identity push map on ``n`` points."""
    return np.arange(n, dtype=np.int64)


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` after ``b`` (``b`` acts first): ``out[..., i] = a[..., b[..., i]]``, over any leading batch dims."""
    if a.ndim == 1 and b.ndim == 1:
        return a[b]
    return np.take_along_axis(a, b, axis=-1)


def inverse(p: np.ndarray) -> np.ndarray:
    """The inverse push map (over the last dim): ``compose(inverse(p), p)`` is the identity."""
    out = np.empty_like(p)
    points = np.arange(p.shape[-1], dtype=p.dtype)
    if p.ndim == 1:
        out[p] = points
    else:
        np.put_along_axis(out, p, np.broadcast_to(points, p.shape), axis=-1)
    return out


def power(p: np.ndarray, k: int) -> np.ndarray:
    """``p`` composed with itself ``k`` times (``k < 0``: the inverse's), by repeated squaring."""
    if k < 0:
        p, k = inverse(p), -k
    out = None
    base = p
    while k:
        if k & 1:
            out = base.copy() if out is None else compose(out, base)
        k >>= 1
        if k:  # no squaring past the last bit
            base = compose(base, base)
    return identity(p.shape[-1]) if out is None else out


def gather_to_push(gathered: np.ndarray) -> np.ndarray:
    """The push map of ``y = x.flat[gathered]`` (each entry of ``gathered`` names the point that lands there)."""
    return inverse(np.asarray(gathered).reshape(-1).astype(np.int64))


def op_push(name: str, args: Args = (), shape: tuple | None = None, n: int | None = None) -> np.ndarray:
    """The push map of one op: on the values ``0..n-1`` (``shape`` None) or the positions of a tensor of ``shape``."""
    a = dict(args)
    if shape is None:
        if name not in _VALUE:
            raise ValueError(f"unknown transform {name!r} on values")
        return _VALUE[name](identity(n), n, a)
    shape = tuple(shape)
    points = int(np.prod(shape, dtype=np.int64))
    if name == "permute_dims":
        sigma = np.asarray(a["perm"], dtype=np.int64)
        coords = list(np.unravel_index(identity(points), shape))
        for d in a["dims"]:
            coords[d] = sigma[coords[d]]
        return np.ravel_multi_index(tuple(coords), shape).astype(np.int64)
    if name not in _GATHER:
        raise ValueError(f"unknown transform {name!r} on positions")
    return gather_to_push(_GATHER[name](identity(points).reshape(shape), a))


def ops_push(ops: Iterable[Op], shape: tuple | None = None, n: int | None = None) -> np.ndarray:
    """The push map of an op sequence ``[(name, args), ...]`` applied right to left (the last op acts first)."""
    points = n if shape is None else int(np.prod(tuple(shape), dtype=np.int64))
    out = identity(points)
    for name, args in ops:
        out = compose(out, op_push(name, args, shape, n))
    return out
