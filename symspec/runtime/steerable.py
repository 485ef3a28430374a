"""Steerable layers for matrix groups (O(n), SO(n)) with symbolic point counts, and equivariant nonlinearities.

A layer's group is ``symmetric(N) x O(n)`` (or ``SO(n)``, or the rotation
group alone): the permutations move the point dims, the rotations the
coordinate dims, so every equivariant linear map factors as

    W = sum_{p, r} theta[o, i, p, r] P_p (x) R_r

with ``P_p`` the closed-form maps of symmetric(N) between the point parts
(identity and mean for nodes to nodes, mean for nodes to real, broadcast for
real to nodes, the Bell / Maron maps for pair tensors), which work for any N,
and ``R_r`` a basis of the maps between the representations of the rotation
group on the fixed dims (the null space of the stacked constraints, by SVD in
float64, solved once per representation and cached). Fixed dims nothing acts
on are features (part of the fixed representation, mixed freely); symbolic
dims nothing acts on are mapped point by point with shared weights.
"""

from __future__ import annotations

import math
import string

import torch

from .layers import Float64Bases, check_channels

__all__ = [
    "MAX_STEERABLE_UNKNOWNS",
    "POINT_MAPS",
    "point_map_count",
    "rotation_basis",
    "rotation_invariants",
    "SteerableLinear",
    "NormGate",
    "rep_norm",
    "gated",
]

MAX_STEERABLE_UNKNOWNS = 1600  # fixed input positions x fixed output positions (one dense SVD in float64)
# einsum subscripts for the fixed dims (b, i, k, o index the batch, channels and point maps)
_SUBSCRIPTS = "".join(c for c in string.ascii_letters if c not in "biko")

# (input point dims, output point dims) -> number of symmetric(N)-equivariant maps between them (Maron et al. 2019)
POINT_MAPS = {(0, 0): 1, (1, 0): 1, (0, 1): 1, (1, 1): 2, (2, 0): 2, (0, 2): 2, (2, 1): 5, (1, 2): 5, (2, 2): 15}
_POINT_INVARIANTS = {0: 1, 1: 1, 2: 2}  # invariant vectors of the point part: the constant; pairs: the diagonal too

_ROTATION_CACHE: dict = {}


def point_map_count(p_in: int, p_out: int) -> int:
    """How many linear maps between ``p_in`` and ``p_out`` point dims commute with symmetric(N) (N >= p_in + p_out)."""
    return POINT_MAPS[(p_in, p_out)]


def _generators(kind: str, n: int, shape: tuple, dims: tuple) -> list:
    """Generators of SO(n) / O(n) on the flattened positions of ``shape`` (float64), the same matrix on each of ``dims``.

    The ``n - 1`` adjacent Lie algebra elements ``L_(i, i+1)`` (they generate
    so(n) as a Lie algebra: a map commuting with two commutes with their
    bracket, so these constrain as much as all ``n (n - 1) / 2``) and, for
    O(n), one reflection; with ``dims`` empty, zeros and the identity.
    """
    points = math.prod(shape)

    def lift(a: torch.Tensor, d: int) -> torch.Tensor:
        before, after = math.prod(shape[:d]), math.prod(shape[d + 1 :])
        return torch.kron(torch.kron(torch.eye(before, dtype=torch.float64), a), torch.eye(after, dtype=torch.float64))

    out = []
    for i in range(n - 1):
        a = torch.zeros(n, n, dtype=torch.float64)
        a[i, i + 1], a[i + 1, i] = -1.0, 1.0
        out.append(sum((lift(a, d) for d in dims), torch.zeros(points, points, dtype=torch.float64)))
    if kind == "o":
        reflect = torch.eye(n, dtype=torch.float64)
        reflect[0, 0] = -1.0
        group = torch.eye(points, dtype=torch.float64)
        for d in dims:  # lifts on different dims commute
            group = group @ lift(reflect, d)
        out.append(group)
    return out


def _null_space(kind: str, n: int, in_shape: tuple, in_dims: tuple, out_shape: tuple, out_dims: tuple) -> torch.Tensor:
    """Orthonormal basis ``[k, P_out, P_in]`` of the W with ``rho_out(h) W = W rho_in(h)`` for every generator h.

    One generator at a time: the null space of its constraint restricted to
    the null space so far (an SVD of ``[P_out P_in, k]``), so memory stays
    ``O((P_out P_in)^2)`` whatever n (stacking all ``n (n - 1) / 2``
    generators and a full SVD took 20 GB for SO(18) on ``tensor[N, 18] ->
    tensor[18]``). A singular value below ``1e-9 max(largest, 1)`` is zero.
    """
    p_in, p_out = math.prod(in_shape), math.prod(out_shape)
    eye_in, eye_out = torch.eye(p_in, dtype=torch.float64), torch.eye(p_out, dtype=torch.float64)
    basis = torch.eye(p_out * p_in, dtype=torch.float64)
    for gi, go in zip(_generators(kind, n, in_shape, in_dims), _generators(kind, n, out_shape, out_dims)):
        a = (torch.kron(go, eye_in) - torch.kron(eye_out, gi.T.contiguous())) @ basis
        _, s, vh = torch.linalg.svd(a, full_matrices=False)
        scale = max(float(s.max()) if s.numel() else 1.0, 1.0)
        basis = basis @ vh[int((s > 1e-9 * scale).sum()) :].T
        if basis.shape[1] == 0:
            break
    return canonical_basis(basis.T).reshape(-1, p_out, p_in).contiguous()


def canonical_basis(rows: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    """The orthonormal basis ``[k, P]`` of the span of the orthonormal ``rows`` that depends on the span only.

    Gram-Schmidt on the columns of the projector ``rows^T rows`` (unique for
    the span) in index order, keeping a column when its residual norm exceeds
    ``tol``: so the weights' meaning does not depend on which orthonormal basis
    an SVD (LAPACK build, machine) returned. ``rows`` unchanged if fewer than
    ``k`` columns pass (never seen; a safeguard).
    """
    k = rows.shape[0]
    if k == 0:
        return rows
    projector = rows.T @ rows
    chosen = torch.empty(0, rows.shape[1], dtype=rows.dtype)
    for j in range(projector.shape[1]):
        v = projector[:, j] - chosen.T @ (chosen @ projector[:, j])
        v = v - chosen.T @ (chosen @ v)  # twice: orthogonal to rounding
        norm = float(v.norm())
        if norm > tol:
            chosen = torch.cat([chosen, (v / norm)[None]])
            if chosen.shape[0] == k:
                return chosen
    return rows


def rotation_basis(kind: str, n: int, in_shape: tuple, in_dims: tuple, out_shape: tuple, out_dims: tuple) -> torch.Tensor:
    """Basis ``[k, P_out, P_in]`` (float64, orthonormal, cached) of the maps between two representations of SO(n) / O(n).

    ``kind`` ``"so"`` or ``"o"``; ``in_shape`` the fixed dims of the input,
    ``in_dims`` those of them (positions in ``in_shape``) the same matrix acts
    on (``R M R^T`` for two); the other fixed dims are left unchanged. The
    null space of the constraints of the adjacent Lie algebra generators and,
    for O(n), one reflection, solved one generator at a time.
    """
    key = ("hom", kind, n, tuple(in_shape), tuple(in_dims), tuple(out_shape), tuple(out_dims))
    if key not in _ROTATION_CACHE:
        _ROTATION_CACHE[key] = _null_space(kind, n, tuple(in_shape), tuple(in_dims), tuple(out_shape), tuple(out_dims))
    return _ROTATION_CACHE[key]


def rotation_invariants(kind: str, n: int, shape: tuple, dims: tuple) -> torch.Tensor:
    """Basis ``[k, P]`` (float64, orthonormal, cached) of the vectors of a fixed representation SO(n) / O(n) leaves alone."""
    key = ("inv", kind, n, tuple(shape), tuple(dims))
    if key not in _ROTATION_CACHE:
        _ROTATION_CACHE[key] = _null_space(kind, n, (), (), tuple(shape), tuple(dims))[:, :, 0]
    return _ROTATION_CACHE[key]


def _diag(x: torch.Tensor) -> torch.Tensor:
    return torch.diagonal(x, dim1=-2, dim2=-1)


def _point_maps(x: torch.Tensor, p_in: int, p_out: int) -> list:
    """The symmetric(N)-equivariant maps of the last ``p_in`` dims of ``x`` to ``p_out`` dims: ``(term, on_diagonal)``.

    A size-1 trailing dim stands for a broadcast along the points. A term
    ``on_diagonal`` (pair outputs only) has one trailing dim fewer: it is
    placed on the diagonal of the pair after the weights are applied (so no
    N x N tensor of zeros goes through them). Means, not sums, so the scale
    does not grow with N. The order is fixed: it indexes the weights.
    """
    if p_in == 0:
        if p_out < 2:
            return [(x[(...,) + (None,) * p_out], False)]
        return [(x[..., None], True), (x[..., None, None], False)]  # on the diagonal, everywhere
    if p_in == 1:
        mean = x.mean(-1, keepdim=True)
        if p_out == 0:
            return [(mean[..., 0], False)]
        if p_out == 1:
            return [(x, False), (mean, False)]
        # x_i on the diagonal, along rows (y_ij = x_i), along columns (y_ij = x_j), the mean on the diagonal, everywhere
        return [(x, True), (x[..., :, None], False), (x[..., None, :], False), (mean, True), (mean[..., None], False)]
    diag = _diag(x)
    rows, cols = x.mean(-1), x.mean(-2)  # mean over j of x_ij (indexed by i), mean over i (indexed by j)
    total, trace = x.mean((-2, -1)), diag.mean(-1)
    if p_out == 0:
        return [(total, False), (trace, False)]
    if p_out == 1:
        return [(diag, False), (rows, False), (cols, False), (total[..., None], False), (trace[..., None], False)]
    return [
        (x, False),
        (x.transpose(-1, -2), False),
        (diag, True),
        (rows, True),
        (cols, True),
        (total[..., None], True),
        (trace[..., None], True),
        (rows[..., :, None], False),
        (rows[..., None, :], False),
        (cols[..., :, None], False),
        (cols[..., None, :], False),
        (diag[..., :, None], False),
        (diag[..., None, :], False),
        (total[..., None, None], False),
        (trace[..., None, None], False),
    ]


class _Layout:
    """Where an end's dims go: ``fixed`` (fixed dims: rotated ones and features), ``batch`` (symbolic dims nothing
    acts on), ``points`` (dims symmetric(N) permutes), as event positions; ``perm`` orders ``[b, c, *event]`` as
    ``[b, c, *fixed, *batch, *points]``."""

    def __init__(self, end: dict):
        shape = tuple(end["shape"])
        self.shape = shape
        self.rank = len(shape)
        self.points = tuple(d % self.rank for d in end.get("points", ())) if self.rank else ()
        coords = tuple(d % self.rank for d in end.get("coords", ())) if self.rank else ()
        self.fixed = tuple(d for d in range(self.rank) if d not in self.points and isinstance(shape[d], int))
        self.batch = tuple(d for d in range(self.rank) if d not in self.points and not isinstance(shape[d], int))
        self.fixed_shape = tuple(shape[d] for d in self.fixed)
        self.coords = tuple(self.fixed.index(d) for d in coords)  # positions among the fixed dims
        self.point_size = next((shape[d] for d in self.points if isinstance(shape[d], int)), None)
        order = (*self.fixed, *self.batch, *self.points)
        self.perm = (0, 1, *(2 + d for d in order))
        self.inverse = tuple(sorted(range(len(self.perm)), key=lambda i: self.perm[i]))
        self.identity = self.perm == tuple(range(len(self.perm)))


class SteerableLinear(Float64Bases):
    """``[batch, c_in, *shape(D1)] -> [batch, c_out, *shape(D2)]`` commuting with symmetric(N) x SO(n) / O(n).

    ``group``: ``("so" | "o", n)``. ``source`` / ``target``: dicts with
    ``shape`` (the event shape; a str for a symbolic size), ``points`` (the
    dims symmetric(N) permutes, 0 to 2 of them; none without a permutation
    factor) and ``coords`` (the dims the rotation acts on, the same matrix on
    each). Weights ``[c_out, c_in, point maps, rotation maps]``; the kernel
    ``weight (x) rotation basis`` is built once per forward (reused while the
    weights do not change and no gradient to them is needed), then one einsum
    per group of point maps of the same broadcast shape (maps onto a pair's
    diagonal go through the weights as vectors, then are placed). The bias lives in the invariant subspace: the point
    invariants (constant; diagonal and constant for pairs) times the
    rotation-invariant vectors of the output (none for a vector under SO(n)).
    """

    FLOAT64_BUFFERS = ("basis", "bias_basis")

    def __init__(self, c_in: int, c_out: int, group: tuple, source: dict, target: dict, bias: bool = True):
        super().__init__()
        kind, n = group
        self.src, self.dst = _Layout(source), _Layout(target)
        if len(self.src.batch) != len(self.dst.batch):
            raise ValueError("symbolic dims nothing acts on are mapped point by point: both ends need the same ones")
        p_in, p_out = len(self.src.points), len(self.dst.points)
        if (p_in, p_out) not in POINT_MAPS:
            raise ValueError(f"no point maps from {p_in} to {p_out} permuted dims (at most 2 each)")
        if p_in == 0 and p_out and self.dst.point_size is None:
            raise ValueError("the output's number of points is not known from the input: give it a fixed size")
        self.p_in, self.p_out = p_in, p_out
        unknowns = math.prod(self.src.fixed_shape) * math.prod(self.dst.fixed_shape)
        if unknowns > MAX_STEERABLE_UNKNOWNS:
            raise ValueError(f"{unknowns} unknowns in the rotation basis: over the limit {MAX_STEERABLE_UNKNOWNS}")
        basis = rotation_basis(kind, n, self.src.fixed_shape, self.src.coords, self.dst.fixed_shape, self.dst.coords)
        if basis.shape[0] == 0:
            raise ValueError("no nonzero linear map commutes with the group here")
        invariants = rotation_invariants(kind, n, self.dst.fixed_shape, self.dst.coords)
        self.register_buffer("basis", basis.clone(), persistent=False)  # [k, P_out, P_in]
        self.register_buffer("bias_basis", invariants.clone(), persistent=False)  # [k, P_out]
        maps = POINT_MAPS[(p_in, p_out)]
        # the forward builds the kernel [c_out, c_in, maps, *fixed_out, *fixed_in] from the weight
        c_in, c_out = check_channels(self, "SteerableLinear", c_in, c_out, maps * max(basis.shape[0], unknowns))
        self.c_in, self.c_out = c_in, c_out
        p_fixed_out = math.prod(self.dst.fixed_shape)
        std = math.sqrt(p_fixed_out / (c_in * maps * basis.shape[0]))  # basis elements have Frobenius norm 1
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, maps, basis.shape[0]) * std)
        n_bias = _POINT_INVARIANTS[p_out] * invariants.shape[0]
        self.bias = (
            torch.nn.Parameter(torch.zeros(c_out, _POINT_INVARIANTS[p_out], invariants.shape[0])) if bias and n_bias else None
        )
        self.out_rep_dims = tuple(self.dst.fixed[d] for d in self.dst.coords)  # event dims the rotation acts on
        if len(self.src.fixed) + len(self.dst.fixed) > len(_SUBSCRIPTS):
            raise ValueError(
                f"{len(self.src.fixed)} + {len(self.dst.fixed)} fixed dims: at most {len(_SUBSCRIPTS)} in all (einsum subscripts)"
            )
        fin = _SUBSCRIPTS[: len(self.src.fixed)]
        fout = _SUBSCRIPTS[len(self.src.fixed) : len(self.src.fixed) + len(self.dst.fixed)]
        self._equation = f"bik{fin}...,oik{fout}{fin}->bo{fout}..."  # k: the point maps of one broadcast shape
        self._cache: dict = {}  # slot -> (key, tensor): the kernel and bias vector while they can be reused

    def extra_repr(self) -> str:
        return f"c_in={self.c_in}, c_out={self.c_out}, point_maps={self.weight.shape[2]}, rotation_maps={self.weight.shape[3]}"

    def _basis_as(self, name: str, dtype: torch.dtype) -> torch.Tensor:
        table = getattr(self, name)
        return table if table.dtype == dtype else table.to(dtype)

    def _reuse(self, slot: str, p: torch.Tensor, dtype: torch.dtype, build) -> torch.Tensor:
        """``build()``, reused while no gradient to ``p`` is needed and ``p`` is the same tensor object, with the same
        storage and version counter (a tensor passed by ``torch.func.functional_call`` is another object; tensors of
        ``torch.func`` transforms, which have no storage, are never cached). The cache holds ``p`` until the next
        build or ``clear_cache``."""
        frozen = not (torch.is_grad_enabled() and p.requires_grad)
        if not frozen or torch.compiler.is_compiling():  # compiled: built in the graph (the cache is a graph break)
            return build()
        try:
            key = (p._version, p.data_ptr(), p.device, dtype)
        except RuntimeError:  # a functorch wrapper (torch.func.grad, vmap): no storage to key on
            return build()
        found = self._cache.get(slot)
        if found is not None and found[0] == key and found[1] is p:
            return found[2]
        out = build()
        # a strong reference, not a weak one: while it is held, no other tensor can take p's address or id; and
        # torch.utils.swap_tensors (load_state_dict and .to() under torch.__future__'s swap flag) refuses a tensor
        # with a weak reference, while it swaps one held strongly (the key's storage then differs)
        self._cache[slot] = (key, p, out)
        return out

    def clear_cache(self) -> None:
        """Forget the reused kernel and bias vector (``.train()``, ``.eval()`` and ``.to()`` call it)."""
        self._cache.clear()

    def train(self, mode: bool = True):
        self.clear_cache()  # also the remedy after editing the weights through .data, which no version counter sees
        return super().train(mode)

    def _apply(self, fn, recurse=True):
        self.clear_cache()  # the bases stay float64 (Float64Bases); the cached kernel follows the weights' new dtype
        return super()._apply(fn, recurse)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_cache"] = {}  # a derived kernel: not saved (torch.save of the module, copy.deepcopy)
        return state

    def kernel(self, dtype: torch.dtype) -> torch.Tensor:
        """``[c_out, c_in, point maps, *fixed_out, *fixed_in]``: the weights contracted with the rotation basis."""

        def build():
            k = torch.einsum("oimr,rqp->oimqp", self.weight.to(dtype), self._basis_as("basis", dtype))
            return k.reshape(*k.shape[:3], *self.dst.fixed_shape, *self.src.fixed_shape)

        return self._reuse("kernel", self.weight, dtype, build)

    def bias_vector(self, dtype: torch.dtype) -> torch.Tensor:
        """``[c_out, *fixed_out, (1,) * symbolic dims, point invariants]``: the bias in the invariant subspace."""

        def build():
            b = torch.einsum("opr,rq->oqp", self.bias.to(dtype), self._basis_as("bias_basis", dtype))
            return b.reshape(self.c_out, *self.dst.fixed_shape, *([1] * len(self.dst.batch)), b.shape[-1])

        return self._reuse("bias", self.bias, dtype, build)

    def _contract(self, terms: list, dtype: torch.dtype, n: int) -> torch.Tensor:
        """``[b, c_out, *fixed_out, *batch, *points]`` (broadcastable): the terms through the kernel, one einsum per
        (placement, shape) group of terms; the diagonal ones summed, then placed on the pair's diagonal."""
        kernel = self.kernel(dtype)
        groups: dict = {}
        for m, (term, on_diag) in enumerate(terms):
            groups.setdefault((on_diag, tuple(term.shape)), []).append(m)
        y, diag = None, None
        for (on_diag, _), idx in groups.items():
            if len(idx) == 1:
                stacked, k = terms[idx[0]][0][:, :, None], kernel[:, :, idx[0] : idx[0] + 1]
            else:
                stacked, k = torch.stack([terms[m][0] for m in idx], 2), kernel[:, :, idx]
            part = torch.einsum(self._equation, stacked, k)
            if on_diag:
                diag = part if diag is None else diag + part
            else:
                y = part if y is None else y + part
        if diag is not None:
            diag = torch.diag_embed(diag.expand(*diag.shape[:-1], n))
            y = diag if y is None else y + diag
        return y

    def _check_shape(self, x: torch.Tensor) -> None:
        """ValueError unless ``x`` is ``[batch, c_in, *shape]``, its point dims of one size (the declared one if fixed)."""
        src = self.src
        points = {x.shape[2 + d] for d in src.points} if x.dim() == 2 + src.rank else set()
        fixed_ok = x.dim() == 2 + src.rank and all(x.shape[2 + d] == n for d, n in zip(src.fixed, src.fixed_shape))
        if not fixed_ok or x.shape[1] != self.c_in or len(points) > 1 or src.point_size not in (None, *points):
            shape = ", ".join(map(str, src.shape))
            raise ValueError(f"expected [batch, {self.c_in}, {shape}] (point dims of one size), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (x.is_floating_point() or x.is_complex()):  # the weights cast to an integer dtype would truncate to 0
            raise TypeError(f"SteerableLinear takes a floating point input, not {x.dtype}")
        self._check_shape(x)
        src, dst = self.src, self.dst
        xc = x if src.identity else x.permute(src.perm)
        n = xc.shape[-1] if self.p_in else dst.point_size
        y = self._contract(_point_maps(xc, self.p_in, self.p_out), x.dtype, n)
        if self.bias is not None:
            b = self.bias_vector(y.dtype)  # last dim: the point invariants
            if self.p_out == 0:
                y = y + b[..., 0]
            elif self.p_out == 1:
                y = y + b
            else:
                eye = torch.eye(n, dtype=y.dtype, device=y.device)
                y = y + b[..., 0, None, None] * eye + b[..., 1, None, None]
        if self.p_out:
            y = y.expand(*y.shape[: y.dim() - self.p_out], *([n] * self.p_out))
        return y if dst.identity else y.permute(dst.inverse)


def rep_norm(x: torch.Tensor, rep_dims: tuple, eps: float = 0.0) -> torch.Tensor:
    """``sqrt(sum of x^2 over the event dims rep_dims + eps)``: invariant under any orthogonal action on them.

    ``eps`` 0: ``torch.linalg.vector_norm``, whose gradient at ``x = 0`` is 0;
    a positive ``eps`` is raised to the smallest normal number of ``x``'s
    dtype (so it never rounds to 0). Event dims out of range are an
    IndexError (they do not wrap onto other dims).

    ``x`` is ``[batch, c, *event]``; ``rep_dims`` are event positions (0 is
    the first dim after the channel); they are removed from the result.
    """
    dims = _event_dims(x, rep_dims)
    if not eps:  # the norm's gradient at x = 0 is 0 here (sqrt alone would give NaN)
        return torch.linalg.vector_norm(x, dim=dims) if dims else x.abs()
    sq = (x * x).sum(dims) if dims else x * x
    if x.is_floating_point():  # an eps that rounds to 0 in x's dtype (1e-12 in float16) would give NaN gradients at 0
        eps = max(eps, torch.finfo(x.dtype).tiny)
    return torch.sqrt(sq + eps)


def _event_dims(x: torch.Tensor, rep_dims: tuple) -> tuple:
    """The tensor dims of the event dims ``rep_dims`` of ``[batch, c, *event]`` (IndexError outside the event)."""
    rank = x.dim() - 2
    for d in rep_dims:
        if not -rank <= d < rank:
            raise IndexError(f"rep_dims {tuple(rep_dims)}: event dim {d} is out of range for an event of {rank} dims")
    dims = tuple(2 + d % rank for d in rep_dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"rep_dims {tuple(rep_dims)} names a dim twice")
    return dims


def gated(x: torch.Tensor, gates: torch.Tensor, rep_dims: tuple) -> torch.Tensor:
    """``x * sigmoid(gates)``, each gate ``[batch, c, *event without rep_dims]`` scaling a whole representation.

    ``gates`` must be invariant (scalar channels: a layer to a domain the
    rotation does not act on, or ``rep_norm``); the product is then
    equivariant.
    """
    dims = sorted(_event_dims(x, rep_dims))
    expected = tuple(n for d, n in enumerate(x.shape) if d not in dims)
    if gates.dim() != len(expected) or any(a not in (1, b) for a, b in zip(gates.shape, expected)):
        raise ValueError(f"gates {tuple(gates.shape)} do not match x {tuple(x.shape)} without the rep_dims {tuple(rep_dims)}")
    g = torch.sigmoid(gates)
    for d in dims:
        g = g.unsqueeze(d)
    return x * g


class NormGate(torch.nn.Module):
    """Norm-gated nonlinearity ``x * sigmoid(|x| + b)``, equivariant under orthogonal actions on ``rep_dims``.

    ``|x|`` is the Euclidean norm over the event dims ``rep_dims`` (the dims
    the rotation acts on: a whole vector, a whole ``3 x 3`` tensor), per
    channel and per point, so it is invariant; ``b`` is a learnable bias per
    channel (init 0). With ``rep_dims`` empty (scalar features) it is
    ``x * sigmoid(|x| + b)`` per entry. ``eps`` inside the square root keeps
    the gradient finite at ``x = 0``.
    """

    def __init__(self, channels: int, rep_dims: tuple = (-1,), eps: float = 1e-12):
        super().__init__()
        self.rep_dims = tuple(rep_dims)
        self.eps = eps
        channels, _ = check_channels(self, "NormGate", channels, 1, names=("channels", "channels"))
        self.bias = torch.nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != self.bias.numel():  # a bias of C channels would broadcast 1 channel to C
            raise ValueError(f"NormGate({self.bias.numel()}) takes [batch, {self.bias.numel()}, *event], got {tuple(x.shape)}")
        norm = rep_norm(x, self.rep_dims, self.eps)
        b = self.bias.to(x.dtype).view(1, -1, *([1] * (norm.dim() - 2)))
        return gated(x, norm + b, self.rep_dims)
