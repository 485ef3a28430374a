"""``audit(model, example_inputs)``: find, verify and count a model's parameter symmetries."""

from __future__ import annotations

import torch
from torch import nn

from .detect import unidentified_attention
from .find import PROTOCOL_HINT, find_symmetries, softmax_shift
from .invariants import embeddings, head_spectra
from .rank import MAX_ENTRIES, RANK_RTOL, functional_rank, jacobian
from .report import AuditReport
from .verify import DEFAULT_TOL, Probe

__all__ = ["audit"]


def audit(
    model: nn.Module,
    example_inputs,
    *,
    softmax_output: bool = False,
    tol: float | None = None,
    dtype: torch.dtype = torch.float64,
    rank: bool = True,
    max_rank_entries: int = MAX_ENTRIES,
    rank_rtol: float | None = None,
    seed: int = 0,
) -> AuditReport:
    """Audit ``model`` on ``example_inputs`` (a tensor or a tuple of positional inputs).

    ``softmax_output``: the output is logits read through a softmax (classifier, language model): outputs are
    compared after ``log_softmax(-1)`` and the output Linear's shift is counted.  Every claim is verified on a
    ``dtype`` copy of the model in eval mode; the model itself is not changed.  ``tol`` (None): ``1e-6`` in float64,
    ``1000 eps`` in a lower precision (float32: ``1.2e-4``), where true symmetries measure rounding of ``1e-7``..``1e-6``;
    ``rank_rtol`` (None): ``1e-9`` in float64, ``100 eps`` below (float32: ``1.2e-5``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"audit needs a torch.nn.Module, got {type(model).__name__}")
    if rank_rtol is None:  # float32 Jacobians have a rounding floor near 1e-8 of the largest singular value
        rank_rtol = RANK_RTOL if dtype == torch.float64 else max(RANK_RTOL, 100 * torch.finfo(dtype).eps)
    if tol is None:
        tol = DEFAULT_TOL if dtype == torch.float64 else max(DEFAULT_TOL, 1000 * torch.finfo(dtype).eps)
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    found = find_symmetries(model)
    notes = list(found.notes)
    if softmax_output:
        was = model.training
        model.eval()
        try:
            shift, why = softmax_shift(model, inputs)
        finally:
            model.train(was)
        if shift is not None:
            found.symmetries.append(shift)
        if why:
            notes.append(why)
    probe = Probe(model, inputs, dtype=dtype, softmax_output=softmax_output)
    notes += _attention_notes(probe, found)
    generator = torch.Generator().manual_seed(seed)
    # with the rank asked for, its Jacobian (when small enough) also serves every check as a product
    jac_info = jacobian(probe, max_entries=max_rank_entries) if rank else {}
    for s in found.symmetries:
        probe.check(s, generator, tol)
    rank_value, info = (None, dict(jac_info, reason="disabled (rank=False)"))
    if rank:
        rank_value, info = functional_rank(probe, max_entries=max_rank_entries, rtol=rank_rtol)
    spectra = []
    for name, qk, vo in found.attention:
        spectra.append({"module": name, "kind": "W_Q^T W_K", "heads": head_spectra(qk, probe.params)})
        spectra.append({"module": name, "kind": "W_O W_V", "heads": head_spectra(vo, probe.params)})
    return AuditReport(
        parameters=sum(p.numel() for p in model.parameters()),
        symmetries=found.symmetries,
        functional_rank=rank_value,
        rank_info=info,
        notes=notes,
        spectra=spectra,
        effective_dimension=embeddings(model),
        tol=tol,
        dtype=str(dtype).removeprefix("torch."),
    )


def _attention_notes(probe: Probe, found) -> list:
    """Notes for attention seen running (``detect``) in modules whose projections were not identified."""
    mods = dict(probe.model.named_modules())
    identified = {id(mods[n]) for n in found.identified if n in mods}
    seen, error = unidentified_attention(probe.model, probe.inputs, identified)
    if error:
        return [f"attention detection: the forward under the watch failed ({error}); unidentified attention may be missed"]
    out = []
    for name, what in seen.items():
        label = name or "(model)"
        if any(name == u or name.startswith(u + ".") for u in found.unidentified):
            continue  # already reported from its (or an enclosing module's) class name
        out.append(
            f"{label} ({type(mods[name]).__name__}): runs attention ({what}) but its projections were not identified "
            f"{PROTOCOL_HINT}; its QK/VO symmetries are not counted"
        )
    return out
