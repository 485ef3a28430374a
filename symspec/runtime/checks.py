"""Validation kernels: a law checked case by case on a model's decisions (docs/validation.md).

A compiled ``Validator`` has one ``check_<law>`` method per law; each returns
:func:`checked`'s dict: per case the law's loss (its soft divergence), whether
it holds on the model's decisions, whether its guard holds, whether every
model output was finite, the variables' values and both sides' decisions.
"""

from __future__ import annotations

import torch

from ..errors import ModelError
from .calls import CallBatch, SymmetryLossBase, law_models
from .descriptors import BoolOutput, ClassOutput

__all__ = [
    "CheckedCalls",
    "ValidatorBase",
    "checked",
    "finite_rows",
    "forward_error",
    "within_tolerance",
    "at_most",
    "residuals",
    "TINY",
]

TINY = torch.finfo(torch.float64).tiny
"""The floor of the relative residual's denominator (2.2e-308): two zero sides have relative residual 0."""


def _per_case(x, n: int, device, dtype=None) -> torch.Tensor:
    t = torch.as_tensor(x, device=device)
    if dtype is not None:
        t = t.to(dtype)
    if t.dim() == 0:
        t = t.expand(n)
    return t


def _side(x) -> torch.Tensor:
    """A side of a relation as a tensor; a Python float is float64 (a law's constant ``0.3`` is not rounded to float32
    before it meets float64 data; against float32 data it is rounded as that data is)."""
    return torch.as_tensor(x, dtype=torch.float64) if isinstance(x, float) else torch.as_tensor(x)


def within_tolerance(a, b, tol: float, rtol: float) -> torch.Tensor:
    """Per case: ``|a - b| <= tol + rtol * |b|`` everywhere in the event dims."""
    a, b = _side(a), _side(b)
    ok = (a - b).abs() <= tol + rtol * b.abs()
    return ok.reshape(ok.shape[0], -1).all(1) if ok.dim() > 1 else ok


def at_most(a, b, tol: float) -> torch.Tensor:
    """Per case: ``a <= b + tol`` everywhere in the event dims."""
    ok = _side(a) <= _side(b) + tol
    return ok.reshape(ok.shape[0], -1).all(1) if ok.dim() > 1 else ok


def residuals(n: int, ops: tuple, *sides) -> tuple[torch.Tensor, torch.Tensor]:
    """Per case, how far a chain of real/tensor relations is from holding: (absolute, relative), float64.

    Per link ``l OP r`` and per entry: ``|l - r|`` for ``==``, ``max(l - r, 0)`` for ``<=``/``<``,
    ``max(r - l, 0)`` for ``>=``/``>``.  A case's absolute residual is the largest over the entries
    of its tensors (and over the links of a chain); its relative residual divides each link's by
    ``max(max|l|, max|r|, TINY)`` over the same entries.  A NaN residual (a NaN or two equal
    infinities) is ``inf``: the case is as far off as can be.
    """
    absolute = relative = None
    for op, a, b in zip(ops, sides, sides[1:]):
        device = a.device if isinstance(a, torch.Tensor) else b.device if isinstance(b, torch.Tensor) else None
        a = torch.as_tensor(a, device=device).to(torch.float64)
        b = torch.as_tensor(b, device=device).to(torch.float64)
        if a.dim() == 0 and b.dim() == 0:
            a = a.expand(n)
        a, b = torch.broadcast_tensors(a, b)  # a number against a tensor: the number at every entry
        if op == "==":
            diff = (a - b).abs()
        elif op in ("<=", "<"):
            diff = (a - b).clamp_min(0)
        else:
            diff = (b - a).clamp_min(0)
        diff = diff.nan_to_num(nan=float("inf")).reshape(n, -1)
        scale = torch.maximum(a.abs(), b.abs()).nan_to_num(nan=float("inf")).reshape(n, -1)
        link = diff.amax(1) if diff.shape[1] else diff.new_zeros(n)
        size = scale.amax(1).clamp_min(TINY) if scale.shape[1] else diff.new_full((n,), TINY)
        rel = (link / size).nan_to_num(nan=1.0)  # inf / inf: off by as much as the sides are large
        absolute = link if absolute is None else torch.maximum(absolute, link)
        relative = rel if relative is None else torch.maximum(relative, rel)
    return absolute, relative


def checked(n: int, *, loss, holds, mask, finite, values: dict, sides: dict, residual=None) -> dict:
    """One check's result, every entry with ``n`` cases; non-finite outputs count as violations.

    ``residual``: :func:`residuals`' (absolute, relative) per case for a law relating reals or tensors.
    """
    device = finite.device
    loss = _per_case(loss, n, device).detach()
    if loss.dim() > 1:
        loss = loss.reshape(n, -1).sum(1)
    loss = torch.where(finite, loss, torch.full_like(loss, float("inf")))
    holds = _per_case(holds, n, device, torch.bool) & finite
    mask = torch.ones(n, dtype=torch.bool, device=device) if mask is None else _per_case(mask, n, device, torch.bool)
    out = {"loss": loss, "holds": holds, "mask": mask, "finite": finite, "values": values, "sides": sides}
    if residual is not None:
        out["residual"] = residual
    return out


def forward_error(models, err: Exception) -> ModelError:
    """The user's forward failed: say which model(s), keep its message."""
    return ModelError(f"model {' / '.join(sorted(models))} raised {type(err).__name__}: {err}")


def finite_rows(out: torch.Tensor, kind) -> torch.Tensor:
    """Per row of a model's output ``out``: finite as validation counts it.

    A class output may hold ``-inf`` logits (masked classes: probability
    0) as long as one class is finite; a bool output's logit may be
    ``+-inf`` (a certain answer). NaN never counts as finite.
    """
    low, high = torch.aminmax(out.reshape(out.shape[0], -1), dim=1)  # one reduction pass; NaN propagates
    if isinstance(kind, ClassOutput):
        return ~low.isnan() & high.isfinite()
    if isinstance(kind, BoolOutput):
        return ~low.isnan() & ~high.isnan()
    return low.isfinite() & high.isfinite()


class CheckedCalls(CallBatch):
    """A :class:`CallBatch` (one forward per model and round) that checks every output's shape.

    A model that says every output it gives is finite (``all_outputs_finite``: a
    validation table, docs/validation.md) is not scanned again by :meth:`finite`.
    """

    def __init__(self, models: dict, outputs: dict, inputs: dict | None = None):
        super().__init__(models, fused=True, inputs=inputs)
        self.expected = outputs

    def run(self) -> None:
        requests = list(self.pending)
        try:
            super().run()
        except ModelError:
            raise  # already names the model (a table's shape check)
        except Exception as err:
            raise forward_error({model for _, model, _ in requests}, err) from err
        for handle, model, args in requests:
            self._check(model, self.outputs[handle], self.expected[model], args)

    def finite(self, n: int) -> torch.Tensor:
        """Per case: every model output of the case is finite (:func:`finite_rows`)."""
        ok = None
        for handle, o in enumerate(self.outputs):
            if o is None:
                continue
            model = self.called.get(handle)
            if getattr(self.models.get(model), "all_outputs_finite", False) is True:
                continue
            row = finite_rows(o.reshape(n, -1), self.expected.get(model))
            ok = row if ok is None else ok & row
        return torch.ones(n, dtype=torch.bool, device=self._device()) if ok is None else ok

    def _device(self):
        for o in self.outputs:
            if isinstance(o, torch.Tensor):
                return o.device
        return None


class ValidatorBase(SymmetryLossBase):
    """What every compiled ``Validator`` shares: models, tables, and ``run(law, ...)``.

    A generated subclass sets ``OUTPUTS`` (model -> expected output) and
    ``CHECKS`` (law -> method name, variables, or why it has no check). It
    takes any of the spec's models; checking a law needs the models it calls.
    """

    OUTPUTS: dict = {}
    CHECKS: dict = {}

    def _check_models(self, models: dict) -> None:
        """Raise ``TypeError`` for a model the spec lacks; which laws can run is decided per law."""
        unknown = sorted(set(models) - set(self.MODELS))
        if unknown:
            raise TypeError(f"{type(self).__name__} takes the models {sorted(self.MODELS)}; unknown {unknown}")

    def law_models(self, law: str) -> tuple:
        """The models that law ``law`` calls (docs/validation.md, "Models")."""
        return law_models(self.LAWS[law], self.MODELS)

    def run(self, law: str, values: dict, n: int, device, generator=None) -> dict:
        """Check ``law`` on ``n`` cases: the variables in ``values`` as given, the others drawn."""
        info = self.CHECKS[law]
        if info["error"] is not None:
            raise ValueError(f"law {law} has no check: {info['error']}")
        missing = [m for m in self.law_models(law) if m not in self.models]
        if missing:
            raise ModelError(f"law {law} calls the model(s) {', '.join(missing)}, which were not given")
        return getattr(self, info["method"])(values, n, device, generator)
