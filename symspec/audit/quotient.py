"""Training on the quotient: remove the symmetry directions from each update, optionally canonicalize after it.

The projection is orthogonal (Euclidean metric on parameters) onto the complement of the span of every counted
symmetry's tangents at the current parameters: ``g <- g - L (L^T L)^+ L^T g`` with ``L = [L_1 ... L_m]``.  ``L^T L``
is solved by conjugate gradients preconditioned with each symmetry's exact ``(L_s^T L_s)^+`` (a per-head Sylvester
solve for QK/VO, a diagonal for rescalings, Cholesky for value biases): one iteration when no two symmetries share a
parameter entry, a few when they do (a pre-norm block: norm scales and QK/VO both act on the in-projection).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UsageError
from .find import find_symmetries

__all__ = ["project", "project_out", "canonicalize", "QuotientOptimizer", "symmetries_of"]


def symmetries_of(model: nn.Module, report=None) -> list:
    """The symmetries to quotient by: the report's counted ones, or (no report) every unbroken structural claim."""
    if report is not None:
        return list(report.counted)
    return [s for s in find_symmetries(model).symmetries if not s.broken]


def _dot(a: list, b: list) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def project(params: dict, vec: dict, syms: list, *, tol: float | None = None, max_iter: int = 100) -> tuple[dict, dict]:
    """``vec`` (name -> tensor, missing = 0) minus its component in the span of the symmetries' tangents at ``params``.

    Returns (projected dict with the same keys as ``vec``, info: iterations, relative residual of the normal equations).
    """
    if not syms:
        return dict(vec), {"iterations": 0, "residual": 0.0}
    dtype = next(iter(params.values())).dtype
    tol = tol if tol is not None else max(1e-12, 100 * torch.finfo(dtype).eps)
    cache: dict = {}

    def lift(c: list) -> dict:
        out: dict = {}
        for s, cs in zip(syms, c):
            s.apply(params, cs, out)
        return out

    b = [s.adjoint(params, vec) for s in syms]
    bnorm = torch.sqrt(_dot(b, b))
    x = [torch.zeros_like(t) for t in b]
    info = {"iterations": 0, "residual": 0.0}
    if bnorm > 0:
        r = list(b)
        z = [s.gram_solve(params, ri, cache) for s, ri in zip(syms, r)]
        p = list(z)
        rz = _dot(r, z)
        for it in range(1, max_iter + 1):
            lp = lift(p)
            ap = [s.adjoint(params, lp) for s in syms]
            pap = _dot(p, ap)
            if pap <= 0:
                break
            alpha = rz / pap
            x = [xi + alpha * pi for xi, pi in zip(x, p)]
            r = [ri - alpha * api for ri, api in zip(r, ap)]
            res = float(torch.sqrt(_dot(r, r)) / bnorm)
            info = {"iterations": it, "residual": res}
            if res <= tol:
                break
            z = [s.gram_solve(params, ri, cache) for s, ri in zip(syms, r)]
            rz_new = _dot(r, z)
            p = [zi + (rz_new / rz) * pi for zi, pi in zip(z, p)]
            rz = rz_new
    lx = lift(x)
    return {n: v - lx[n] if n in lx else v for n, v in vec.items()}, info


@torch.no_grad()
def project_out(model: nn.Module, report=None, *, symmetries: list | None = None, tol: float | None = None) -> dict:
    """Project every parameter's ``.grad`` in place (see ``project``); returns the solver info."""
    syms = symmetries if symmetries is not None else symmetries_of(model, report)
    named = dict(model.named_parameters())
    params = {n: p.detach() for n, p in named.items()}
    grads = {n: p.grad for n, p in named.items() if p.grad is not None}
    projected, info = project(params, grads, syms, tol=tol)
    for n, g in projected.items():
        named[n].grad.copy_(g)
    return info


@torch.no_grad()
def canonicalize(model: nn.Module, report=None, *, symmetries: list | None = None) -> int:
    """Move the parameters along the symmetry orbits to canonical points (balanced ReLU-family units, balanced SVD
    form of ``W_Q^T W_K`` and ``W_O W_V`` per head; norm scales left alone); the function is unchanged.  Returns how many
    symmetries were applied."""
    syms = symmetries if symmetries is not None else symmetries_of(model, report)
    named = dict(model.named_parameters())
    done = 0
    for s in syms:
        params = {n: p.detach() for n, p in named.items()}
        new = s.canonicalize(params)
        if new is None:
            continue
        for n, v in new.items():
            named[n].copy_(v)
        done += 1
    return done


class QuotientOptimizer:
    """Wrap ``optimizer`` so each step ignores the model's symmetry directions.

    ``mode="update"`` (default): the inner step runs as usual, then the parameter change is projected (tangents at
    the parameters before the step): orthogonal to every tangent for any optimizer; one extra copy of the
    parameters.  ``mode="gradient"``: gradients are projected before the inner step (with a closure, right after
    the closure computed them).  The gradient of a loss the symmetries leave invariant is already orthogonal to
    every tangent, so this changes only what breaks the invariance (a penalty in the loss); the components along
    the orbits come from the optimizer (Adam's per-coordinate scaling, momentum, weight decay applied in the
    step), which only ``mode="update"`` removes.  ``canonicalize=True``: ``canonicalize`` after each step.  Learning-rate schedulers take
    ``wrapper.optimizer``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        model: nn.Module,
        report=None,
        *,
        mode: str = "update",
        canonicalize: bool = False,
        tol: float | None = None,
    ):
        if mode not in ("gradient", "update"):
            raise ValueError(f"mode must be 'gradient' or 'update', not {mode!r}")
        self.optimizer = optimizer
        self.model = model
        self.symmetries = symmetries_of(model, report)
        own = dict(model.named_parameters())
        missing = sorted({n for sym in self.symmetries for n in sym.names if n not in own})
        if missing:
            raise UsageError(
                f"Quotient: the report names parameters this model does not have ({', '.join(missing[:3])}"
                f"{', ...' if len(missing) > 3 else ''}); audit this very module (not a wrapper such as DDP, nor its .module)"
            )
        self.mode = mode
        self.canonicalize_after = canonicalize
        self.tol = tol
        self.last_info: dict = {}
        self.skipped: list = []  # symmetries touching a parameter this optimizer does not train (see _active)
        self._active_key: frozenset | None = None
        self._active_list: list = []

    def _active(self) -> list:
        """The symmetries whose every parameter this optimizer trains (``requires_grad``, in a param group).

        A symmetry that also moves a frozen parameter, or one outside the optimizer, is no symmetry of the trained
        parameters alone: projecting along it would move the frozen one (``mode="update"``) or remove a direction
        that does change the function.  Recomputed when the param groups change.
        """
        trained = frozenset(id(p) for group in self.optimizer.param_groups for p in group["params"] if p.requires_grad)
        if trained != self._active_key:
            ids = {n: id(p) for n, p in self.model.named_parameters()}
            keep = [s for s in self.symmetries if all(ids.get(n) in trained for n in s.names)]
            kept = {id(s) for s in keep}
            self.skipped = [s for s in self.symmetries if id(s) not in kept]
            self._active_key, self._active_list = trained, keep
        return self._active_list

    @property
    def param_groups(self) -> list:
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)

    def _project_grads(self) -> None:
        self.last_info = project_out(self.model, symmetries=self._active(), tol=self.tol)

    def step(self, closure=None):
        if self.mode == "gradient":
            if closure is None:
                self._project_grads()
                loss = self.optimizer.step()
            else:

                def projected_closure():
                    with torch.enable_grad():
                        value = closure()
                    self._project_grads()
                    return value

                loss = self.optimizer.step(projected_closure)
        else:
            named = dict(self.model.named_parameters())
            with torch.no_grad():
                before = {n: p.detach().clone() for n, p in named.items()}
            loss = self.optimizer.step(closure)
            with torch.no_grad():
                delta = {n: p.detach() - before[n] for n, p in named.items()}
                projected, self.last_info = project(before, delta, self._active(), tol=self.tol)
                for n, p in named.items():
                    p.copy_(before[n] + projected[n])
        if self.canonicalize_after:
            canonicalize(self.model, symmetries=self._active())
        return loss
