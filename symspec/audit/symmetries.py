"""Continuous parameter symmetries of a model, as linear maps from a Lie-algebra coefficient to a parameter tangent.

Every symmetry ``s`` acts on named parameters (``params``: name -> tensor, the model's current values) and offers:

- ``apply(params, c)``: the tangent direction (name -> full-shape tensor) of the coefficient ``c``;
- ``adjoint(params, grads)``: the coefficient ``L^T g`` of a parameter-space vector ``g``;
- ``gram_solve(params, c)``: ``(L^T L)^+ c``, exactly (eigendecomposition, Cholesky or a diagonal);
- ``random(params, generator)``: a random coefficient (verification);
- ``canonicalize(params)``: the parameters moved along the orbit to a canonical point (optional; ``None``: none).

All are batched over heads and units (tensor ops, no Python loop over elements).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "Rows",
    "Cols",
    "Symmetry",
    "PairSymmetry",
    "DiagonalScaling",
    "ScaleEntry",
    "BiasCoordinates",
    "ValueBias",
    "SoftmaxShift",
    "RowShift",
    "add_into",
    "add_at",
]


def add_into(out: dict, name: str, value: torch.Tensor) -> None:
    """``out[name] += value`` (creating it)."""
    out[name] = value if name not in out else out[name] + value


def add_at(out: dict, name: str, like: torch.Tensor, index, value: torch.Tensor) -> None:
    """``out[name][index] += value``, ``out[name]`` created as zeros like ``like`` (no full-size temporaries)."""
    if name not in out:
        out[name] = like.new_zeros(like.shape)
    out[name][index] += value


def _grad(grads: dict, params: dict, name: str) -> torch.Tensor:
    g = grads.get(name)
    return torch.zeros_like(params[name]) if g is None else g


@dataclass(frozen=True)
class Rows:
    """Rows ``[start, start + heads*d)`` of a 2-D weight (and of a 1-D bias), viewed per head as ``(heads, d, in [+1])``."""

    weight: str
    start: int
    heads: int
    d: int
    bias: str | None = None
    bias_start: int = 0

    @property
    def names(self) -> tuple:
        return (self.weight,) if self.bias is None else (self.weight, self.bias)

    def get(self, src: dict, params: dict) -> torch.Tensor:
        n = self.heads * self.d
        w = _grad(src, params, self.weight)[self.start : self.start + n].reshape(self.heads, self.d, -1)
        if self.bias is None:
            return w
        b = _grad(src, params, self.bias)[self.bias_start : self.bias_start + n].reshape(self.heads, self.d, 1)
        return torch.cat([w, b], dim=-1)

    def put(self, out: dict, params: dict, t: torch.Tensor) -> None:
        n = self.heads * self.d
        w = params[self.weight]
        cols = w.shape[1]
        add_at(out, self.weight, w, slice(self.start, self.start + n), t[..., :cols].reshape(n, cols))
        if self.bias is not None:
            b = params[self.bias]
            add_at(out, self.bias, b, slice(self.bias_start, self.bias_start + n), t[..., cols].reshape(n))


@dataclass(frozen=True)
class Cols:
    """Columns ``[start, start + heads*d)`` of a 2-D weight ``(out, in)``, viewed per head as ``(heads, d, out)``."""

    weight: str
    start: int
    heads: int
    d: int

    @property
    def names(self) -> tuple:
        return (self.weight,)

    def get(self, src: dict, params: dict) -> torch.Tensor:
        w = _grad(src, params, self.weight)[:, self.start : self.start + self.heads * self.d]
        return w.reshape(w.shape[0], self.heads, self.d).permute(1, 2, 0)

    def put(self, out: dict, params: dict, t: torch.Tensor) -> None:
        w = params[self.weight]
        cols = (slice(None), slice(self.start, self.start + self.heads * self.d))
        add_at(out, self.weight, w, cols, t.permute(2, 0, 1).reshape(w.shape[0], -1))


@dataclass
class Symmetry:
    """One symmetry claim: ``kind`` on ``module``, ``dim`` redundant dimensions; subclasses give the linear map."""

    kind: str
    module: str
    dim: int
    note: str = ""
    broken: bool = False
    source: str = "structure"  # structure (module walk, known forwards) | fx (traced graph) | output (forward hooks)
    verified: bool | None = None
    error: float | None = None

    @property
    def names(self) -> tuple:
        raise NotImplementedError

    def apply(self, params: dict, c: torch.Tensor, out: dict | None = None) -> dict:
        """The tangent of ``c``, added into ``out`` (name -> full-shape tensor; a new dict when None) and returned."""
        raise NotImplementedError

    def adjoint(self, params: dict, grads: dict) -> torch.Tensor:
        raise NotImplementedError

    def gram_solve(self, params: dict, c: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """``(L^T L)^+ c``; ``cache`` (a dict) keeps factorizations between calls at the same parameters."""
        raise NotImplementedError

    def _cached(self, cache: dict | None, make):
        if cache is None:
            return make()
        if id(self) not in cache:
            cache[id(self)] = make()
        return cache[id(self)]

    def random(self, params: dict, generator: torch.Generator) -> torch.Tensor:
        p = params[self.names[0]]
        return torch.randn(self.coef_shape(params), generator=generator, dtype=p.dtype).to(p.device)

    def coef_shape(self, params: dict) -> tuple:
        raise NotImplementedError

    def canonicalize(self, params: dict) -> dict | None:
        return None


_PINV_RTOL = 1e-10  # eigenvalues of L^T L below this times the largest are treated as zero (pseudo-inverse)


@dataclass
class PairSymmetry(Symmetry):
    """GL(d) per head acting as ``X -> M X``, ``Y -> M^{-T} Y``: tangent ``(A X, -A^T Y)``, coefficient ``A: (heads, d, d)``.

    QK: ``X = [W_Q | b_Q]`` per head, ``Y = W_K`` per head.  VO: ``X = [W_V | b_V]``, ``Y = W_O[:, head]^T``.
    """

    x: Rows | None = None
    y: Rows | Cols | None = None

    @property
    def names(self) -> tuple:
        return self.x.names + self.y.names

    def coef_shape(self, params: dict) -> tuple:
        return (self.x.heads, self.x.d, self.x.d)

    def apply(self, params: dict, c: torch.Tensor, out: dict | None = None) -> dict:
        out = {} if out is None else out
        self.x.put(out, params, c @ self.x.get(params, params))
        self.y.put(out, params, -c.transpose(-1, -2) @ self.y.get(params, params))
        return out

    def adjoint(self, params: dict, grads: dict) -> torch.Tensor:
        x, y = self.x.get(params, params), self.y.get(params, params)
        gx, gy = self.x.get(grads, params), self.y.get(grads, params)
        return gx @ x.transpose(-1, -2) - y @ gy.transpose(-1, -2)

    def _factor(self, params: dict) -> tuple:
        # L^T L (A) = A P + R A with P = X X^T, R = Y Y^T: a Sylvester equation, diagonal in the eigenbases of P and R
        x, y = self.x.get(params, params), self.y.get(params, params)
        p, u = torch.linalg.eigh(x @ x.transpose(-1, -2))
        r, v = torch.linalg.eigh(y @ y.transpose(-1, -2))
        denom = r[..., :, None] + p[..., None, :]
        scale = denom.amax(dim=(-1, -2), keepdim=True).clamp_min(torch.finfo(denom.dtype).tiny)
        inv = torch.where(denom > _PINV_RTOL * scale, 1.0 / denom, torch.zeros_like(denom))
        return u, v, inv

    def gram_solve(self, params: dict, c: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        u, v, inv = self._cached(cache, lambda: self._factor(params))
        return v @ ((v.transpose(-1, -2) @ c @ u) * inv) @ u.transpose(-1, -2)

    def canonicalize(self, params: dict) -> dict | None:
        """Balanced form of the invariant ``X^T Y = U S V^T``: ``X = S^1/2 U^T``, ``Y = S^1/2 V^T`` (heads of full rank)."""
        x, y = self.x.get(params, params), self.y.get(params, params)
        qa, ra = torch.linalg.qr(x.transpose(-1, -2))  # X^T = Qa Ra
        qb, rb = torch.linalg.qr(y.transpose(-1, -2))
        u, s, vh = torch.linalg.svd(ra @ rb.transpose(-1, -2))
        full = s[..., -1] > 1e-6 * s[..., 0]  # a rank-deficient head is left alone (its balanced form is not on the orbit)
        root = s.sqrt()[..., :, None]
        new_x = root * (qa @ u).transpose(-1, -2)
        new_y = root * (qb @ vh.transpose(-1, -2)).transpose(-1, -2)
        keep = full[:, None, None]
        delta: dict = {}
        self.x.put(delta, params, torch.where(keep, new_x - x, torch.zeros_like(x)))
        self.y.put(delta, params, torch.where(keep, new_y - y, torch.zeros_like(y)))
        return {n: params[n] + d for n, d in delta.items()}


@dataclass(frozen=True)
class ScaleEntry:
    """Entries of parameter ``name`` along ``axis`` (offset ``start``) scaled by ``sign * c_i``; ``other``: rows kept."""

    name: str
    axis: int
    sign: float
    start: int = 0
    other: tuple | None = None  # (start, stop) along the other axis of a 2-D weight; None: all


@dataclass
class DiagonalScaling(Symmetry):
    """Positive rescaling per unit: incoming entries ``* s_i``, outgoing ``/ s_i``; coefficient ``c: (units,)``.

    ReLU-family: incoming row and bias of unit i of the first Linear, outgoing column i of the second.
    Norm scale: ``weight_i`` and ``bias_i`` of the norm, column i of every Linear that reads it.
    """

    entries: tuple = ()
    units: int = 0

    @property
    def names(self) -> tuple:
        return tuple(dict.fromkeys(e.name for e in self.entries))

    def coef_shape(self, params: dict) -> tuple:
        return (self.units,)

    def _shape(self, e: ScaleEntry, t: torch.Tensor, ndim: int) -> torch.Tensor:
        return t.reshape((-1,) + (1,) * (ndim - 1)) if e.axis == 0 else t.reshape((1, -1) + (1,) * (ndim - 2))

    def _slice(self, e: ScaleEntry, p: torch.Tensor):
        idx = [slice(None)] * p.ndim
        idx[e.axis] = slice(e.start, e.start + self.units)
        if e.other is not None:
            idx[1 - e.axis] = slice(*e.other)
        return tuple(idx)

    def apply(self, params: dict, c: torch.Tensor, out: dict | None = None) -> dict:
        out = {} if out is None else out
        for e in self.entries:
            p = params[e.name]
            idx = self._slice(e, p)
            add_at(out, e.name, p, idx, e.sign * p[idx] * self._shape(e, c, p.ndim))
        return out

    def _reduce(self, e: ScaleEntry, t: torch.Tensor) -> torch.Tensor:
        dims = [d for d in range(t.ndim) if d != e.axis]
        return t.sum(dim=dims) if dims else t

    def adjoint(self, params: dict, grads: dict) -> torch.Tensor:
        total = None
        for e in self.entries:
            p = params[e.name]
            idx = self._slice(e, p)
            term = e.sign * self._reduce(e, _grad(grads, params, e.name)[idx] * p[idx])
            total = term if total is None else total + term
        return total

    def diag(self, params: dict) -> torch.Tensor:
        total = None
        for e in self.entries:
            p = params[e.name]
            term = self._reduce(e, p[self._slice(e, p)].square())
            total = term if total is None else total + term
        return total

    def gram_solve(self, params: dict, c: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        d = self._cached(cache, lambda: self.diag(params))
        return torch.where(d > _PINV_RTOL * d.max().clamp_min(torch.finfo(d.dtype).tiny), c / d, torch.zeros_like(c))

    def canonicalize(self, params: dict) -> dict | None:
        """Balance: incoming and outgoing norms of each unit made equal (``s_i = (|out_i| / |in_i|)^1/2``).

        Norm scales are left alone (None): their balance would undo the QK/VO and unit balances on the same weights.
        """
        if self.kind == "norm_scale":
            return None
        inc = sum(self._reduce(e, params[e.name][self._slice(e, params[e.name])].square()) for e in self.entries if e.sign > 0)
        outg = sum(self._reduce(e, params[e.name][self._slice(e, params[e.name])].square()) for e in self.entries if e.sign < 0)
        ok = (inc > 0) & (outg > 0)
        s = torch.where(ok, (outg / torch.where(ok, inc, torch.ones_like(inc))).pow(0.25), torch.ones_like(inc))
        out: dict = {}
        for e in self.entries:
            p = params[e.name]
            new = p.clone() if e.name not in out else out[e.name]
            idx = self._slice(e, p)
            factor = self._shape(e, s if e.sign > 0 else 1.0 / s, p.ndim)
            new[idx] = new[idx] * factor
            out[e.name] = new
        return out


@dataclass
class BiasCoordinates(Symmetry):
    """Every coordinate of a bias slice is redundant (a key bias: ``q . b_K`` is the same for every key)."""

    name: str = ""
    start: int = 0
    size: int = 0

    @property
    def names(self) -> tuple:
        return (self.name,)

    def coef_shape(self, params: dict) -> tuple:
        return (self.size,)

    def apply(self, params: dict, c: torch.Tensor, out: dict | None = None) -> dict:
        out = {} if out is None else out
        add_at(out, self.name, params[self.name], slice(self.start, self.start + self.size), c)
        return out

    def adjoint(self, params: dict, grads: dict) -> torch.Tensor:
        return _grad(grads, params, self.name)[self.start : self.start + self.size]

    def gram_solve(self, params: dict, c: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        return c


@dataclass
class ValueBias(Symmetry):
    """The value bias passes through the softmax (rows sum to 1): ``b_V += d``, ``b_O -= W_O d``; coefficient ``d``."""

    bias: str = ""
    start: int = 0
    size: int = 0
    out_weight: str = ""
    out_bias: str = ""

    @property
    def names(self) -> tuple:
        return (self.bias, self.out_weight, self.out_bias)

    def coef_shape(self, params: dict) -> tuple:
        return (self.size,)

    def apply(self, params: dict, c: torch.Tensor, out: dict | None = None) -> dict:
        out = {} if out is None else out
        add_at(out, self.bias, params[self.bias], slice(self.start, self.start + self.size), c)
        add_at(out, self.out_bias, params[self.out_bias], slice(None), -(params[self.out_weight] @ c))
        return out

    def adjoint(self, params: dict, grads: dict) -> torch.Tensor:
        gb = _grad(grads, params, self.bias)[self.start : self.start + self.size]
        return gb - params[self.out_weight].transpose(0, 1) @ _grad(grads, params, self.out_bias)

    def _factor(self, params: dict) -> torch.Tensor:
        w = params[self.out_weight]
        return torch.linalg.cholesky(w.transpose(0, 1) @ w + torch.eye(w.shape[1], dtype=w.dtype, device=w.device))

    def gram_solve(self, params: dict, c: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        return torch.cholesky_solve(c[:, None], self._cached(cache, lambda: self._factor(params)))[:, 0]


@dataclass
class SoftmaxShift(Symmetry):
    """Logits read through a softmax: ``[W | b] -> [W | b] + 1 u^T`` shifts every logit equally; ``u`` masked to
    the bias alone when the weight is tied (shared) with another module."""

    weight: str = ""
    bias: str | None = None
    with_weight: bool = True

    @property
    def names(self) -> tuple:
        return tuple(n for n in ((self.weight if self.with_weight else None), self.bias) if n)

    def coef_shape(self, params: dict) -> tuple:
        return ((params[self.weight].shape[1] if self.with_weight else 0) + (1 if self.bias else 0),)

    def apply(self, params: dict, c: torch.Tensor, out: dict | None = None) -> dict:
        w = params[self.weight]
        out = {} if out is None else out
        k = 0
        if self.with_weight:
            k = w.shape[1]
            add_at(out, self.weight, w, slice(None), c[:k].expand(w.shape[0], k))
        if self.bias:
            add_at(out, self.bias, params[self.bias], slice(None), c[k].expand(w.shape[0]))
        return out

    def adjoint(self, params: dict, grads: dict) -> torch.Tensor:
        parts = []
        if self.with_weight:
            parts.append(_grad(grads, params, self.weight).sum(0))
        if self.bias:
            parts.append(_grad(grads, params, self.bias).sum().reshape(1))
        return torch.cat(parts)

    def gram_solve(self, params: dict, c: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        return c / params[self.weight].shape[0]


@dataclass
class RowShift(Symmetry):
    """Every row of an embedding moved along the all-ones direction, ``E[i] += a_i 1``; coefficient ``a``.

    A symmetry when the rows reach the model only through LayerNorms (which subtract the mean).
    """

    weight: str = ""

    @property
    def names(self) -> tuple:
        return (self.weight,)

    def coef_shape(self, params: dict) -> tuple:
        return (params[self.weight].shape[0],)

    def apply(self, params: dict, c: torch.Tensor, out: dict | None = None) -> dict:
        w = params[self.weight]
        out = {} if out is None else out
        add_at(out, self.weight, w, slice(None), c[:, None].expand(w.shape))
        return out

    def adjoint(self, params: dict, grads: dict) -> torch.Tensor:
        return _grad(grads, params, self.weight).sum(1)

    def gram_solve(self, params: dict, c: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        return c / params[self.weight].shape[1]
