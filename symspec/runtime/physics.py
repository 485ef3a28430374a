"""Non-compact groups: Lorentz transformations, translations, rigid motions (factors of ``rt.GroupSampler``).

Descriptions (see ``symspec/runtime/groups.py``), every one with ``"scale"`` (default 1):

``{"kind": "SO1" | "O1", "name": ..., "n": 3, "scale": s, "on": {key: {"shape": dims, "dim": d}}}``
    Lorentz transformations of ``1 + n`` coordinates, time first, metric
    ``eta = diag(+1, -1, ..., -1)``, acting as matrices on event dim ``d``
    (of size ``n + 1``). ``SO1`` draws the restricted group SO+(1, n): a boost
    of rapidity ``|N(0, s^2)|`` along a uniform direction times a Haar
    rotation of SO(n) (``Lambda = B R``). ``O1`` also draws the rotation from
    O(n) and applies time reversal ``T = diag(-1, 1, ..., 1)`` with
    probability 1/2 (``Lambda = B R T^e``): each of the four components
    (1, P, T, PT for n = 3) with probability 1/4. Elements: ``[m, n+1, n+1]``
    float64 matrices.
``{"kind": "translations", "name": ..., "n": 3, "scale": s, "on": {key: {"shape": dims, "dim": d}}}``
    ``x -> x + t`` along event dim ``d`` (of size n; every other entry of the
    dim moves by the same vector), ``t ~ N(0, s^2 I)``. Elements: ``[m, n]``
    float64 vectors.
``{"kind": "E" | "SE", "name": ..., "n": 3, "scale": s, "on": {key: {"shape": dims, "dim": d, "translate": bool}}}``
    Rigid motions ``x -> R x + t`` along event dim ``d`` (rows of points:
    ``x R^T + t``), R Haar on O(n) (``E``) or SO(n) (``SE``), ``t ~ N(0, s^2 I)``;
    ``"translate": False`` acts by ``R x`` alone (directions, velocities).
    Elements: ``[m, n, n + 1]`` float64 ``[R | t]``.

Draws are float64 on the requested device, cast to the input's dtype when
acting; randomness comes only from the given ``torch.Generator``.
``canonical`` returns, per example, an element that moves a given tensor to a
canonical position (its centroid to the origin; the rotation still drawn at
random): ``symmetrize`` averages over it exactly in the translations. With no
tensor the factor translates (only an output moves), the translation is 0, the
mean of the draws. Acting on a tensor of an integer dtype is a ``TypeError``
(the element would be rounded to integers); on one without the domain's rank
after the batch dim, or with the moved dim of another size, a ``ValueError``.
"""

from __future__ import annotations

import math

import torch

from .actions import batch_elements as _batch
from .actions import event_axis as _axis
from .actions import matrix_event_dim
from .sampling import haar_orthogonal

__all__ = [
    "minkowski_metric",
    "random_lorentz",
    "lorentz_inverse",
    "translate_event_dim",
    "Lorentz",
    "Translations",
    "RigidMotions",
    "PHYSICS_KINDS",
]


def minkowski_metric(n: int, device=None, dtype=torch.float64) -> torch.Tensor:
    """``eta = diag(+1, -1, ..., -1)`` of ``1 + n`` coordinates (time first)."""
    return torch.diag(torch.tensor([1.0] + [-1.0] * n, device=device, dtype=dtype))


def _directions(batch: int, n: int, generator, device) -> torch.Tensor:
    """Unit vectors uniform on the sphere of R^n, float64 ``[batch, n]``."""
    v = torch.randn(batch, n, generator=generator, device=device, dtype=torch.float64)
    norm = v.norm(dim=-1, keepdim=True)
    fallback = torch.zeros_like(v)
    fallback[:, 0] = 1.0
    return torch.where(norm > 0, v / norm.clamp_min(1e-300), fallback)


HAAR_CHUNK = 512  # rotations drawn per QR: bounds its temporaries (O(n) of 64 x 64 float64 at most 16 MB each)


def _haar_into(out: torch.Tensor, special: bool, generator, device) -> torch.Tensor:
    """Fill ``out`` (``[batch, n, n]``, float64, may be a view) with Haar matrices of SO(n)/O(n), a chunk at a time."""
    batch, n = out.shape[0], out.shape[-1]
    for i in range(0, batch, HAAR_CHUNK):
        out[i : i + HAAR_CHUNK] = haar_orthogonal(min(HAAR_CHUNK, batch - i), n, special, generator, device, torch.float64)
    return out


def random_lorentz(batch: int, n: int, full: bool = False, scale: float = 1.0, generator=None, device=None) -> torch.Tensor:
    """``batch`` Lorentz matrices of ``1 + n`` coordinates, float64 (see the module docstring for the law).

    ``B R`` is written in place: with ``R = diag(1, Q)`` and ``B`` the boost along ``u``, ``B R`` has time column
    ``(cosh r, sinh r u)``, time row ``(cosh r, sinh r u^T Q)`` and space block ``Q + (cosh r - 1) u (u^T Q)``.
    """
    rapidity = torch.randn(batch, generator=generator, device=device, dtype=torch.float64).abs() * float(scale)
    u = _directions(batch, n, generator, device)
    out = torch.empty(batch, n + 1, n + 1, dtype=torch.float64, device=device)
    space = _haar_into(out[:, 1:, 1:], not full, generator, device)
    ch, sh = torch.cosh(rapidity), torch.sinh(rapidity)
    u_q = torch.bmm(u.unsqueeze(1), space)  # u^T Q, [batch, 1, n]
    out[:, 0, 0] = ch
    out[:, 1:, 0] = sh.unsqueeze(-1) * u
    out[:, 0, 1:] = sh.unsqueeze(-1) * u_q[:, 0]
    space.baddbmm_((ch - 1).view(-1, 1, 1) * u.unsqueeze(-1), u_q)
    if full:  # time reversal with probability 1/2: negate the time column
        flip = torch.randint(0, 2, (batch,), generator=generator, device=device).to(torch.float64)
        out[:, :, 0] *= (1 - 2 * flip).unsqueeze(-1)
    return out


def lorentz_inverse(m: torch.Tensor) -> torch.Tensor:
    """``Lambda^-1 = eta Lambda^T eta`` (exact for Lorentz matrices): negate the time row and column of the transpose."""
    inv = m.transpose(-1, -2).clone()
    inv[..., 0, 1:] = -inv[..., 0, 1:]
    inv[..., 1:, 0] = -inv[..., 1:, 0]
    return inv


def translate_event_dim(x: torch.Tensor, t: torch.Tensor, dim: int) -> torch.Tensor:
    """``x + t`` along event dim ``dim`` (batch excluded), per example: ``t`` is ``[batch, size]``."""
    moved = x.movedim(dim + 1, -1)
    shift = t.to(x.dtype).view(t.shape[0], *([1] * (moved.dim() - 2)), t.shape[-1])
    return (moved + shift).movedim(-1, dim + 1)


def _centroids(x: torch.Tensor, rank: int, dim: int) -> torch.Tensor:
    """Per example, the mean of ``x`` over every entry but the vector dim: ``[batch, size]`` in float64."""
    moved = x.movedim(_axis(x, rank, dim) + 1, -1)
    return moved.reshape(moved.shape[0], math.prod(moved.shape[1:-1]), moved.shape[-1]).to(torch.float64).mean(1)


class _Physics:
    """Shared parts: name, scale, the moved domains (``key -> (rank, dim, extra)``)."""

    def __init__(self, desc: dict):
        self.name = desc.get("name", desc["kind"])
        self.n = int(desc["n"])
        self.scale = float(desc.get("scale", 1.0))
        if not self.scale >= 0:
            raise ValueError(f"{self.name}: scale must be a non-negative number, got {desc.get('scale')!r}")
        self.on = {k: (len(a["shape"]), a["dim"], a.get("translate", True)) for k, a in desc["on"].items() if a is not None}
        self.shapes = {k: tuple(a["shape"]) for k, a in desc["on"].items() if a is not None}
        self.size = self.n + 1 if desc["kind"] in ("SO1", "O1") else self.n  # the coordinates of the moved dim
        self.order = None

    def _check(self, key: str, x: torch.Tensor) -> None:
        """Refuse an integer tensor, or one without the domain's rank (after the batch dim) or the moved dim's size."""
        refuse_integer(self, key, x)
        rank, dim, _ = self.on[key]
        if x.dim() < rank + 1 or x.shape[_axis(x, rank, dim) + 1] != self.size:
            shape = ", ".join(map(str, self.shapes[key]))
            raise ValueError(
                f"{self.name} acts on dim {dim} of {key} = tensor[{shape}] ({self.size} coordinates), so a batch of "
                f"{key} is [batch, {shape}]; got a tensor of shape {list(x.shape)}"
            )

    def canonical(self, n, generator, device, like) -> torch.Tensor:
        return self.draw(n, generator, device, like, 0, {})


class Lorentz(_Physics):
    """SO(1, n) (its identity component) or O(1, n): Lorentz matrices on one event dim."""

    def __init__(self, desc: dict):
        super().__init__(desc)
        self.full = desc["kind"] == "O1"

    def draw(self, n, generator, device, like, word_length, on) -> torch.Tensor:
        return random_lorentz(n, self.n, self.full, self.scale, generator, device)

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key not in self.on:
            return x
        self._check(key, x)
        rank, dim, _ = self.on[key]
        m = _batch(part.to(x.device), x.shape[0])
        return matrix_event_dim(x, lorentz_inverse(m) if inverse else m, _axis(x, rank, dim))


class Translations(_Physics):
    """translations(n): one vector added along an event dim."""

    def draw(self, n, generator, device, like, word_length, on) -> torch.Tensor:
        return torch.randn(n, self.n, generator=generator, device=device, dtype=torch.float64) * self.scale

    def canonical(self, n, generator, device, like) -> torch.Tensor:
        """Per example, minus the centroid of the first moved tensor in ``like``: it moves that tensor's mean to 0.

        With no such tensor (only an output is translated) the zero translation, the mean of the draws.
        """
        found = _first_like(self, like)
        if found is None:
            return torch.zeros(n, self.n, device=device, dtype=torch.float64)
        key, x = found
        rank, dim, _ = self.on[key]
        return -_centroids(x, rank, dim).to(device)

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key not in self.on:
            return x
        self._check(key, x)
        rank, dim, _ = self.on[key]
        t = _batch(part.to(x.device), x.shape[0])
        return translate_event_dim(x, -t if inverse else t, _axis(x, rank, dim))


class RigidMotions(_Physics):
    """E(n) / SE(n): ``x -> R x + t`` along an event dim, elements ``[R | t]``."""

    def __init__(self, desc: dict):
        super().__init__(desc)
        self.special = desc["kind"] == "SE"

    def _rotations(self, n, generator, device) -> torch.Tensor:
        return _haar_into(torch.empty(n, self.n, self.n, dtype=torch.float64, device=device), self.special, generator, device)

    def draw(self, n, generator, device, like, word_length, on) -> torch.Tensor:
        out = torch.empty(n, self.n, self.n + 1, dtype=torch.float64, device=device)
        _haar_into(out[..., :-1], self.special, generator, device)
        out[..., -1] = torch.randn(n, self.n, generator=generator, device=device, dtype=torch.float64) * self.scale
        return out

    def canonical(self, n, generator, device, like) -> torch.Tensor:
        """A random rotation about the centroid of the first moved tensor in ``like``, which it moves to 0.

        With no such tensor (only an output is translated) a random rotation and the zero translation.
        """
        found = _first_like(self, like)
        r = self._rotations(n, generator, device)
        if found is None:
            return torch.cat([r, torch.zeros(n, self.n, 1, device=device, dtype=torch.float64)], dim=-1)
        key, x = found
        rank, dim, _ = self.on[key]
        t = -(r @ _centroids(x, rank, dim).to(device).unsqueeze(-1))
        return torch.cat([r, t], dim=-1)

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key not in self.on:
            return x
        self._check(key, x)
        rank, dim, translate = self.on[key]
        g = _batch(part.to(x.device), x.shape[0])
        r, t = g[..., :-1], g[..., -1]
        axis = _axis(x, rank, dim)
        if inverse:
            if translate:
                x = translate_event_dim(x, -t, axis)
            return matrix_event_dim(x, r.transpose(-1, -2), axis)
        x = matrix_event_dim(x, r, axis)
        return translate_event_dim(x, t, axis) if translate else x


def _first_like(factor: _Physics, like: dict | None) -> tuple | None:
    """The first tensor in ``like`` that the factor translates, as ``(key, tensor)``; None when there is none."""
    for key, (_rank, _dim, translate) in factor.on.items():
        if like and key in like and translate:
            return key, like[key]
    return None


def refuse_integer(factor, key: str, x: torch.Tensor) -> None:
    """Refuse a tensor that cannot hold the moved coordinates: in an integer dtype the element would be truncated."""
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(
            f"{factor.name} moves real coordinates, but the {key} tensor it acts on is {x.dtype}: the element would "
            f"be rounded to integers; pass floating-point tensors (x.float() or x.double())"
        )


PHYSICS_KINDS = {"SO1": Lorentz, "O1": Lorentz, "translations": Translations, "E": RigidMotions, "SE": RigidMotions}
