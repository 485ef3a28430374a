"""Numerical verification of symmetry claims: the model's output along a symmetry tangent against a random direction.

For each claim, a random Lie-algebra coefficient ``c`` gives the tangent ``t = L c``; a Gaussian direction ``r`` over
all parameters is scaled to the same norm (not over the claim's parameters alone: a key bias moves nothing at all);
one ``r`` serves every claim of a probe (``|J r|`` is linear in the norm).  With ``J`` the Jacobian of the outputs (two reverse passes, exact
derivatives; the Jacobian itself when it is small, in float64 by default) on the given batch, the claim's error is ``|J t| / |J r|`` and it is
verified when the error is below ``tol`` (default 1e-6 in float64: rounding gives about 1e-14, a direction that is not
a symmetry about 1).
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["Probe", "DEFAULT_TOL"]

DEFAULT_TOL = 1e-6


@contextlib.contextmanager
def differentiable_attention():
    """Attention kernels with forward-mode derivatives: the math SDPA backend, no fused MHA fast path."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    mha = getattr(torch.backends, "mha", None)
    before = mha.get_fastpath_enabled() if mha is not None else None
    if mha is not None:
        mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel([SDPBackend.MATH]):
            yield
    finally:
        if mha is not None:
            mha.set_fastpath_enabled(before)


def _cast(x, dtype: torch.dtype):
    if isinstance(x, torch.Tensor):
        return x.to(dtype) if x.is_floating_point() else x
    if isinstance(x, (tuple, list)):
        return type(x)(_cast(v, dtype) for v in x)
    if isinstance(x, dict):
        return {k: _cast(v, dtype) for k, v in x.items()}
    return x


def _flat_outputs(out) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out.reshape(-1) if out.is_floating_point() else out.new_zeros(0, dtype=torch.float64)
    if isinstance(out, (tuple, list)):
        parts = [_flat_outputs(o) for o in out]
        parts = [p for p in parts if p.numel()]
        return torch.cat(parts) if parts else torch.zeros(0)
    if isinstance(out, dict):
        return _flat_outputs(list(out.values()))
    return torch.zeros(0)


class Probe:
    """A float64 (or ``dtype``) eval-mode copy of the model and a batch: outputs and their directional derivatives."""

    def __init__(
        self, model: nn.Module, example_inputs: tuple, *, dtype: torch.dtype = torch.float64, softmax_output: bool = False
    ):
        self.model = copy.deepcopy(model).to(dtype).eval()
        self.inputs = _cast(tuple(example_inputs), dtype)
        self.softmax_output = softmax_output
        self.params = {n: p.detach() for n, p in self.model.named_parameters()}
        self.jacobian: torch.Tensor | None = None  # (outputs, parameters), set by rank.jacobian when small enough
        self._reference: torch.Tensor | None = None
        self._lin = None  # (u, J^T u with its graph, parameter names), built on the first J t without a Jacobian

    def flat(self, tangent: dict) -> torch.Tensor:
        """A tangent on some parameters as one vector in ``named_parameters`` order (zeros elsewhere)."""
        return torch.cat([(tangent[n] if n in tangent else torch.zeros_like(p)).reshape(-1) for n, p in self.params.items()])

    def outputs(self, params: dict) -> torch.Tensor:
        out = functional_call(self.model, params, self.inputs)
        if self.softmax_output:
            out = (out[0] if isinstance(out, (tuple, list)) else out).log_softmax(-1)
        return _flat_outputs(out)

    def directional(self, tangent: dict) -> torch.Tensor:
        """``J t`` for a tangent given on some parameters (zeros elsewhere)."""
        if self.jacobian is not None:
            return self.jacobian @ self.flat(tangent)
        lin = self._linearize()
        if lin is None:
            return torch.zeros(self.outputs(self.params).shape, dtype=next(iter(self.params.values())).dtype)
        u, grads, names = lin
        vecs = [tangent[n] if n in tangent else torch.zeros_like(self.params[n]) for n in names]
        with differentiable_attention(), torch.enable_grad():
            (d,) = torch.autograd.grad(grads, u, vecs, retain_graph=True, allow_unused=True)
        return torch.zeros_like(u) if d is None else d.detach()

    def _linearize(self):
        """Once per probe: the outputs and ``g(u) = J^T u`` with its graph (``u`` a dummy), so that each ``J t`` is one
        reverse pass, ``d <g(u), t> / du`` (exact like forward mode, without forward-mode AD's one-off load of torch's
        JVP decompositions, which takes seconds)."""
        if self._lin is None:
            with differentiable_attention(), torch.enable_grad():
                params = {n: p.detach().requires_grad_(True) for n, p in self.params.items()}
                out = self.outputs(params)
                if not out.requires_grad:
                    self._lin = False
                    return None
                u = torch.zeros_like(out, requires_grad=True)
                names = list(params)
                grads = torch.autograd.grad(out, [params[n] for n in names], u, create_graph=True, allow_unused=True)
                kept = [(n, g) for n, g in zip(names, grads) if g is not None and g.requires_grad]
                self._lin = (u, [g for _, g in kept], [n for n, _ in kept]) if kept else False
        return self._lin or None

    def reference(self, generator: torch.Generator) -> torch.Tensor:
        """``|J r|`` for one Gaussian direction ``r`` over every parameter, of unit norm (drawn once per probe)."""
        if self._reference is None:
            r = {n: torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p) for n, p in self.params.items()}
            rnorm = torch.sqrt(sum(v.square().sum() for v in r.values()))
            self._reference = self.directional({n: v / rnorm for n, v in r.items()}).norm()
        return self._reference

    def check(self, sym, generator: torch.Generator, tol: float = DEFAULT_TOL) -> None:
        """Set ``sym.verified`` and ``sym.error`` (``verified`` None, with a note, when the test cannot decide)."""
        t = sym.apply(self.params, sym.random(self.params, generator))
        norm = torch.sqrt(sum(v.square().sum() for v in t.values()))
        if not torch.isfinite(norm) or norm == 0:
            sym.verified, sym.error = None, None
            sym.note = (sym.note + "; " if sym.note else "") + "zero tangent at these parameters (not tested)"
            return
        along, random = self.directional(t).norm(), norm * self.reference(generator)
        if random == 0:
            sym.verified, sym.error = None, None
            sym.note = (sym.note + "; " if sym.note else "") + "no parameter moves the outputs on this batch (not tested)"
            return
        sym.error = float(along / random)
        sym.verified = sym.error < tol
        if sym.verified and sym.kind != "key_bias" and self._inert(sym, norm, random, generator, tol):
            sym.verified = None
            sym.note = (sym.note + "; " if sym.note else "") + (
                "its parameters do not move the outputs on this batch: the check cannot tell (not tested)"
            )

    def _inert(self, sym, norm: torch.Tensor, random: torch.Tensor, generator: torch.Generator, tol: float) -> bool:
        """A random direction on the claim's own parameters moves the outputs less than ``tol`` (relative, like the
        error): any claim on them would pass (a batch of one token, where a softmax over one key is 1).  The key
        bias is exempt: it never moves the outputs, which is the claim itself."""
        r = {n: torch.randn(self.params[n].shape, generator=generator, dtype=torch.float64).to(self.params[n]) for n in sym.names}
        rnorm = torch.sqrt(sum(v.square().sum() for v in r.values()))
        if rnorm == 0:
            return True
        moved = self.directional({n: v * (norm / rnorm) for n, v in r.items()}).norm()
        return bool(moved / random < tol)
