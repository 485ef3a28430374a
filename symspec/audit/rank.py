"""Functional dimension: the rank of the Jacobian of a model's outputs with respect to its parameters on a batch.

Computed in float64 (``torch.func.jacrev``) when the Jacobian
has at most ``max_entries`` entries (default 2e7: 160 MB); rank = number of singular values above ``rtol`` (1e-9)
times the largest.  ``parameters - rank`` bounds the redundancy found by the audit from above on that batch.
"""

from __future__ import annotations

import torch
from torch.func import jacrev

from .verify import Probe, differentiable_attention

__all__ = ["jacobian", "functional_rank", "MAX_ENTRIES", "RANK_RTOL"]

MAX_ENTRIES = 20_000_000
RANK_RTOL = 1e-9


def jacobian(probe: Probe, *, max_entries: int = MAX_ENTRIES) -> dict:
    """Set ``probe.jacobian`` (outputs x parameters) when it has at most ``max_entries`` entries; returns sizes."""
    names = list(probe.params)
    if not names:
        return {"parameters": 0, "outputs": None, "reason": "the model has no parameters"}
    shapes = [probe.params[n].shape for n in names]
    sizes = [probe.params[n].numel() for n in names]
    flat = torch.cat([probe.params[n].reshape(-1) for n in names])
    with torch.no_grad():
        n_out = probe.outputs(probe.params).numel()
    info = {"parameters": int(flat.numel()), "outputs": int(n_out)}
    if n_out == 0 or flat.numel() == 0:
        info["reason"] = "no floating-point outputs" if n_out == 0 else "no parameter entries"
        return info
    if flat.numel() * n_out > max_entries:
        info["reason"] = f"Jacobian of {n_out:,} x {flat.numel():,} entries is over the limit of {max_entries:,}"
        return info

    def f(v: torch.Tensor) -> torch.Tensor:
        return probe.outputs({n: p.reshape(s) for n, p, s in zip(names, torch.split(v, sizes), shapes)})

    with differentiable_attention():
        probe.jacobian = jacrev(f)(flat).reshape(n_out, -1)
    return info


def functional_rank(probe: Probe, *, max_entries: int = MAX_ENTRIES, rtol: float = RANK_RTOL) -> tuple[int | None, dict]:
    """(rank or None, info: parameters, outputs, and the reason when not computed)."""
    info = (
        jacobian(probe, max_entries=max_entries)
        if probe.jacobian is None
        else {"parameters": probe.jacobian.shape[1], "outputs": probe.jacobian.shape[0]}
    )
    info["rtol"] = rtol
    if probe.jacobian is None:
        return None, info
    s = torch.linalg.svdvals(probe.jacobian)
    rank = int((s > rtol * s.max()).sum()) if s.numel() and s.max() > 0 else 0
    if info["outputs"] < info["parameters"]:
        info["note"] = "fewer outputs than parameters: the rank is at most the number of outputs"
    return rank, info
