"""Numerical verification of symmetry claims: the model's output along a symmetry tangent against a random direction.

For each claim, a random Lie-algebra coefficient ``c`` gives the tangent ``t = L c``; a Gaussian direction ``r`` over
all parameters is scaled to the same norm (not over the claim's parameters alone: a key bias moves nothing at all).  With ``J`` the Jacobian of the outputs (forward-mode AD, exact
derivatives; the Jacobian itself when it is small, in float64 by default) on the given batch, the claim's error is ``|J t| / |J r|`` and it is
verified when the error is below ``tol`` (default 1e-6 in float64: rounding gives about 1e-14, a direction that is not
a symmetry about 1).
"""

from __future__ import annotations

import contextlib
import copy

import torch
import torch.autograd.forward_ad as fwAD
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
        with differentiable_attention(), fwAD.dual_level():
            duals = {n: fwAD.make_dual(p, tangent[n]) if n in tangent else p for n, p in self.params.items()}
            d = fwAD.unpack_dual(self.outputs(duals)).tangent
        return torch.zeros(0) if d is None else d

    def check(self, sym, generator: torch.Generator, tol: float = DEFAULT_TOL) -> None:
        """Set ``sym.verified`` and ``sym.error`` (``verified`` None, with a note, when the test cannot decide)."""
        t = sym.apply(self.params, sym.random(self.params, generator))
        norm = torch.sqrt(sum(v.square().sum() for v in t.values()))
        if not torch.isfinite(norm) or norm == 0:
            sym.verified, sym.error = None, None
            sym.note = (sym.note + "; " if sym.note else "") + "zero tangent at these parameters (not tested)"
            return
        r = {  # the reference: a random direction over every parameter, of the same norm
            n: torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p) for n, p in self.params.items()
        }
        rnorm = torch.sqrt(sum(v.square().sum() for v in r.values()))
        r = {n: v * (norm / rnorm) for n, v in r.items()}
        along, random = self.directional(t).norm(), self.directional(r).norm()
        if random == 0:
            sym.verified, sym.error = None, None
            sym.note = (
                sym.note + "; " if sym.note else ""
            ) + "these parameters do not move the outputs on this batch (not tested)"
            return
        sym.error = float(along / random)
        sym.verified = sym.error < tol
