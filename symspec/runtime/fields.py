"""The batch fields a compiled loss reads, checked against their domains before any table lookup or model call.

A value outside its domain is no error torch reports: a negative index reads a table from its end, ``a + k`` is
reduced modulo n, a ``[n, 1]`` field broadcasts against ``[n]`` draws to ``[n, n]``. One host sync per step
(whether any value is out of range); the details are computed only when one is.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import BatchError, BatchTypeError
from .descriptors import Real, TensorOf, Values

__all__ = ["check_batch_fields"]


def check_batch_fields(batch: Mapping, fields: Mapping) -> None:
    """:class:`~symspec.errors.BatchError` unless every field in ``fields`` is a tensor of one length with its
    domain's shape and range (:class:`~symspec.errors.BatchTypeError`: its dtype; integer real tensors pass: the
    laws' arithmetic promotes them, and an action that would truncate them refuses them itself). ``fields`` maps a field to its
    descriptor (``rt.Values`` / ``rt.Real`` / ``rt.TensorOf``) or to ``(domain name, descriptor)``, the name the
    messages give. Skipped under ``torch.compile`` (the range test reads the device: a graph break)."""
    if torch.compiler.is_compiling():
        return
    ranged = []  # (field, domain text, descriptor, tensor) of integer fields
    length = None
    for name, entry in fields.items():
        label, domain = entry if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) else (None, entry)
        x = batch[name]
        if not isinstance(x, torch.Tensor):
            raise BatchError(f"batch field '{name}' must be a tensor, got {type(x).__name__}")
        dims = domain.dims if isinstance(domain, TensorOf) else ()
        if x.dim() != 1 + len(dims) or any(isinstance(d, int) and d != s for d, s in zip(dims, x.shape[1:])):
            rows = ", ".join(["batch", *map(str, dims)])
            raise BatchError(
                f"a batch of {label or 'this field'} is [{rows}]; got a tensor of shape {list(x.shape)} (batch field '{name}')"
            )
        if length is None:
            length = (name, x.shape[0])
        elif x.shape[0] != length[1]:
            raise BatchError(f"batch field '{name}' has {x.shape[0]} rows, field '{length[0]}' has {length[1]}")
        what = f"{label} ({_span(domain)})" if label and isinstance(domain, Values) else label
        if isinstance(domain, Values):
            if x.dtype == torch.bool:
                if domain.lo > 0 or domain.hi < 2:
                    raise BatchTypeError(
                        f"batch field '{name}' holds bools; its domain {what or ''} takes the integers {_span(domain)}"
                    )
                continue
            if x.is_floating_point() or x.is_complex():
                raise BatchTypeError(
                    f"batch field '{name}' holds {x.dtype} values; its domain {what or _span(domain)} takes integers: "
                    "pass an integer tensor (x.long())"
                )
            if x.numel():
                ranged.append((name, what or _span(domain), domain, x))
        elif isinstance(domain, Real) and x.dtype == torch.bool:
            raise BatchTypeError(f"batch field '{name}' holds bools; its domain {label or 'real'} takes real numbers")
    if not ranged:
        return
    outside = [(x < d.lo) | (x >= d.hi) for _, _, d, x in ranged]
    if not bool(torch.stack([o.any() for o in outside]).any()):  # the one host sync
        return
    for (name, what, _, x), bad in zip(ranged, outside):
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            raise BatchError(
                f"batch field '{name}' holds {int(x[row])} at row {row} ({int(bad.sum())} of {x.shape[0]} rows outside), "
                f"outside its domain {what}"
            )


def _span(domain: Values) -> str:
    return f"{domain.lo}..{domain.hi - 1}"
