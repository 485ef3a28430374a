"""What a lowered layer is (:class:`Layer`), and how many equivariant linear maps a matrix group allows (numpy).

Shared by the layer lowerings (``layers.py``, ``conv_layers.py``,
``steerable_layers.py``); imports none of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Layer", "basis_size", "BASIS_CUTOFF", "MAX_BASIS_UNKNOWNS"]

BASIS_CUTOFF = 1e-9  # as symspec.runtime.layers.equivariant_basis
MAX_BASIS_UNKNOWNS = 1600  # input positions x output positions of a BasisLinear layer (dense SVD in float64)


@dataclass
class Layer:
    cls: str
    base: str  # the runtime class it derives from
    args: tuple  # super().__init__ arguments
    comment: str
    name: str
    kwargs: tuple = ()  # (name, Expr)


def _rep_matrices(reps: list, shape: tuple) -> list:
    """(kind, matrix) per generator on the flattened positions, as the runtime's ``_representation``."""
    points = math.prod(shape) if shape else 1
    mats = []
    for rep in reps:
        if rep[0] == "perm":
            for push in rep[1]:
                m = np.zeros((points, points))
                m[np.asarray(push), np.arange(points)] = 1.0
                mats.append(("group", m))
            continue
        kind, n, dim = rep
        dims = tuple(dim) if isinstance(dim, tuple | list) else (dim,)

        def lift(a, d):
            return np.kron(np.kron(np.eye(math.prod(shape[:d])), a), np.eye(math.prod(shape[d + 1 :])))

        for i in range(n - 1):  # the adjacent generators L_(i, i+1) generate so(n) as a Lie algebra: enough
            a = np.zeros((n, n))
            a[i, i + 1], a[i + 1, i] = -1.0, 1.0
            # the same rotation on every dim: a sum of generators (zero on no dim) ...
            mats.append(("lie", sum((lift(a, d) for d in dims), np.zeros((points, points)))))
        if kind == "o":
            reflect = np.eye(n)
            reflect[0, 0] = -1.0
            mats.append(("group", _product((lift(reflect, d) for d in dims), points)))  # ... and of group elements, a product
    return mats


def _product(mats, points: int):
    """The product of commuting matrices (each acting on its own dim); the identity for none."""
    out = np.eye(points)
    for m in mats:
        out = out @ m
    return out


def basis_size(in_reps: list | None, out_reps: list | None, in_shape: tuple, out_shape: tuple) -> int:
    """How many independent linear maps commute with the group (the runtime's ``equivariant_basis``, in numpy).

    Rotation groups contribute their ``n - 1`` adjacent Lie algebra generators
    (and a reflection for O(n)): a map commuting with two commutes with their
    bracket, so the count is the same as with all ``n (n - 1) / 2``.
    """
    rin = _rep_matrices(in_reps, in_shape) if in_reps is not None else None
    rout = _rep_matrices(out_reps, out_shape) if out_reps is not None else None

    def trivial(like):
        return [(kind, np.ones((1, 1)) if kind == "group" else np.zeros((1, 1))) for kind, _ in like]

    if rin is None:
        rin = trivial(rout)
    if rout is None:
        rout = trivial(rin)
    p_in = rin[0][1].shape[0] if rin else (math.prod(in_shape) if in_shape else 1)
    p_out = rout[0][1].shape[0] if rout else (math.prod(out_shape) if out_shape else 1)
    if not rin:
        return p_out * p_in
    # one generator at a time, restricted to the null space so far: memory O((p_out p_in)^2) whatever the number
    # of generators (stacking them all took gigabytes for SO(18))
    basis = np.eye(p_out * p_in)
    for (_, mi), (_, mo) in zip(rin, rout):
        a = (np.kron(mo, np.eye(p_in)) - np.kron(np.eye(p_out), mi.T)) @ basis
        _, s, vh = np.linalg.svd(a, full_matrices=False)
        scale = max(float(s.max()) if s.size else 1.0, 1.0)
        basis = basis @ vh[int((s > BASIS_CUTOFF * scale).sum()) :].T
        if basis.shape[1] == 0:
            return 0
    return basis.shape[1]
