"""The batch fields a compiled loss reads, checked against their domains before any table lookup or model call.

A value outside its domain is no error torch reports: a negative index reads a table from its end, ``a + k`` is
reduced modulo n, a ``[n, 1]`` field broadcasts against ``[n]`` draws to ``[n, n]``. One host sync per step
(whether any value is out of range); the details are computed only when one is.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import BatchError
from .descriptors import Real, TensorOf, Values

__all__ = ["check_batch_fields"]


def check_batch_fields(batch: Mapping, fields: Mapping) -> None:
    """:class:`~symspec.errors.BatchError` unless every field in ``fields`` (name -> ``rt.Values`` / ``rt.Real`` /
    ``rt.TensorOf``) is a tensor of one length with its domain's dtype, shape and range. Skipped under
    ``torch.compile`` (the range test reads the device: a graph break)."""
    if torch.compiler.is_compiling():
        return
    ranged = []  # (name, domain, tensor) of integer fields
    length = None
    for name, domain in fields.items():
        x = batch[name]
        if not isinstance(x, torch.Tensor):
            raise BatchError(f"batch field '{name}' must be a tensor, got {type(x).__name__}")
        rows = "[n]" if not isinstance(domain, TensorOf) else f"[n, {', '.join(map(str, domain.dims))}]"
        want = 1 + (len(domain.dims) if isinstance(domain, TensorOf) else 0)
        fixed = domain.dims if isinstance(domain, TensorOf) else ()
        if x.dim() != want or any(isinstance(d, int) and d != s for d, s in zip(fixed, x.shape[1:])):
            raise BatchError(f"batch field '{name}' must have shape {rows}, got {list(x.shape)}")
        if length is None:
            length = (name, x.shape[0])
        elif x.shape[0] != length[1]:
            raise BatchError(f"batch field '{name}' has {x.shape[0]} rows, field '{length[0]}' has {length[1]}")
        if isinstance(domain, Values):
            if x.dtype == torch.bool:
                if domain.lo > 0 or domain.hi < 2:
                    raise BatchError(f"batch field '{name}' holds bools; its domain takes the integers {_span(domain)}")
                continue
            if x.is_floating_point() or x.is_complex():
                raise BatchError(
                    f"batch field '{name}' holds {x.dtype} values; its domain takes the integers {_span(domain)}: "
                    "pass an integer tensor (x.long())"
                )
            if x.numel():
                ranged.append((name, domain, x))
        elif isinstance(domain, Real | TensorOf) and not x.is_floating_point():
            raise BatchError(f"batch field '{name}' holds {x.dtype} values; its domain takes real numbers (x.float())")
    if not ranged:
        return
    outside = [(x < d.lo) | (x >= d.hi) for _, d, x in ranged]
    if not bool(torch.stack([o.any() for o in outside]).any()):  # the one host sync
        return
    for (name, domain, x), bad in zip(ranged, outside):
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            count = int(bad.sum())
            raise BatchError(
                f"batch field '{name}' holds {int(x[row])} at row {row} ({count} of {x.shape[0]} rows outside), "
                f"outside its domain's integers {_span(domain)}"
            )


def _span(domain: Values) -> str:
    return f"{domain.lo}..{domain.hi - 1}"
