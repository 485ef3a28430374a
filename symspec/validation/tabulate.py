"""A model on finite inputs, evaluated once on every input and then read by indexing.

When the cases to check outnumber a model's distinct inputs (exhaustive
checks of ``assoc`` on Z_113 ask for 1.4 M triples, each several calls, over
only 12,769 pairs), evaluating every input once and answering each call from
that table gives the same outputs for a deterministic model at a fraction of
the cost: the checks become gathers. When there is no table (``tabulate=False``,
or fewer cases than inputs), :class:`Deduplicated` still evaluates each distinct
input of a batch once: the calls of one check overlap (``add(a, b)`` and
``add(b, a)`` over every pair are the same pairs).
"""

from __future__ import annotations

import math
import time

import torch

from ..errors import ModelError
from ..runtime.calls import check_output
from ..runtime.checks import finite_rows, forward_error
from ..runtime.descriptors import Values

__all__ = ["Tabulated", "Deduplicated", "table_size", "mixed_radix", "forward_chunk", "CPU_CHUNK"]

MAX_TABLE_ENTRIES = 50_000_000  # outputs kept (200 MB in float32)
CPU_CHUNK = 2048  # rows per forward on the CPU (measured: benchmarks/bench_validate.py, docs/validation.md)


def forward_chunk(batch_size: int, device) -> int:
    """Rows per forward when validation evaluates a model on many inputs: ``batch_size``, at most
    ``CPU_CHUNK`` on the CPU (activations that stay in cache)."""
    return min(batch_size, CPU_CHUNK) if torch.device(device).type == "cpu" else batch_size


def mixed_radix(index: torch.Tensor, sizes: list, lows: list) -> list:
    """Case ``index`` of the product of ``range(low, low + size)``s as one tensor per factor (last fastest; wraps)."""
    out = []
    for size, low in zip(reversed(sizes), reversed(lows)):
        out.append(index % size + low)
        index = index // size
    return out[::-1]


def table_size(inputs: tuple) -> int | None:
    """How many inputs a model on these domains has, or None when they are not all finite."""
    if not inputs or not all(isinstance(d, Values) for d in inputs):
        return None
    return math.prod(d.size for d in inputs)


def _evaluate(name: str, model, args: list, output, chunk: int) -> torch.Tensor:
    """``model`` on the rows of ``args`` in forwards of at most ``chunk`` rows, each output shape-checked."""
    total = args[0].shape[0]
    parts = []
    for start in range(0, total, chunk):
        part = [a[start : start + chunk] for a in args] if total > chunk else args
        try:
            out = model(*part)
        except ModelError:
            raise
        except Exception as err:
            raise forward_error([name], err) from err
        check_output(name, out, output, part[0].shape[0])
        parts.append(out)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


class Tabulated:
    """``model`` evaluated on every input (in batches, shape-checked); calls index the table.

    ``all_outputs_finite``: every output of the table is finite as validation counts it
    (:func:`~symspec.runtime.checks.finite_rows`), so a check need not look again.
    """

    def __init__(self, name: str, model, inputs: tuple, output: tuple, batch_size: int, device):
        self.lows = [d.lo for d in inputs]
        self.sizes = [d.size for d in inputs]
        self.strides = [math.prod(self.sizes[i + 1 :]) for i in range(len(self.sizes))]
        total = math.prod(self.sizes)
        started = time.perf_counter()
        index = torch.arange(total, device=device)
        args = mixed_radix(index, self.sizes, self.lows)
        self.table = _evaluate(name, model, args, output, forward_chunk(batch_size, device))
        self.all_outputs_finite = bool(finite_rows(self.table, output).all())
        self.inputs = total
        self.seconds = time.perf_counter() - started

    def __call__(self, *args):
        index = sum((a - low) * stride for a, low, stride in zip(args, self.lows, self.strides))
        return self.table[index]


class Deduplicated:
    """``model`` called on each distinct input once per batch: a call evaluates the inputs it has not seen
    since :meth:`clear` (in forwards of at most ``chunk`` rows, shape-checked) and gathers every row.

    The same outputs as calling ``model`` on every row, for a deterministic model (as :class:`Tabulated`).
    Inputs are keyed by their index in the product of the domains; the outputs seen are kept sorted by
    key until :meth:`clear` (validation clears once per batch: at most the batch's calls are held).
    """

    def __init__(self, name: str, model, inputs: tuple, output, chunk: int):
        self.name, self.model, self.output, self.chunk = name, model, output, chunk
        self.lows = [d.lo for d in inputs]
        self.sizes = [d.size for d in inputs]
        self.strides = [math.prod(self.sizes[i + 1 :]) for i in range(len(self.sizes))]
        self.fits = math.prod(self.sizes) < 2**62  # keys are int64: a larger product is never keyed (no collision)
        self.evaluated = 0  # distinct inputs evaluated, over every batch
        self.clear()

    def clear(self) -> None:
        """Forget the outputs seen (the next call evaluates its inputs afresh)."""
        self.keys: torch.Tensor | None = None  # sorted keys of the inputs seen
        self.outputs: torch.Tensor | None = None  # their outputs, in key order

    def __call__(self, *args):
        if not self._keyable(args):  # nothing to share, or values outside the domains: every row as it is
            return self.model(*args)
        key = sum((a.long() - low) * stride for a, low, stride in zip(args, self.lows, self.strides))
        unique, inverse = torch.unique(key, sorted=True, return_inverse=True)
        if self.keys is None:
            new = unique
        else:
            pos = torch.searchsorted(self.keys, unique).clamp_max(self.keys.shape[0] - 1)
            new = unique[self.keys[pos] != unique]
        if new.shape[0]:
            inputs = [v.to(a.dtype) for v, a in zip(mixed_radix(new, self.sizes, self.lows), args)]
            out = _evaluate(self.name, self.model, inputs, self.output, self.chunk)
            self.evaluated += int(new.shape[0])
            if self.keys is None:
                self.keys, self.outputs = new, out
            else:
                keys, order = torch.cat([self.keys, new]).sort()
                self.keys, self.outputs = keys, torch.cat([self.outputs, out])[order]
        if self.keys.shape[0] == unique.shape[0]:  # every input seen is among this call's
            return self.outputs[inverse]
        return self.outputs[torch.searchsorted(self.keys, unique)[inverse]]

    def _keyable(self, args) -> bool:
        """Every argument an integer tensor of the same cases, every value inside its domain (one host sync)."""
        if not self.fits or len(args) != len(self.sizes) or not isinstance(args[0], torch.Tensor) or not args[0].dim():
            return False
        if not args[0].shape[0]:
            return False
        if any(not isinstance(a, torch.Tensor) or a.dim() != 1 or a.shape != args[0].shape for a in args):
            return False
        if any(a.is_floating_point() or a.is_complex() or a.dtype == torch.bool for a in args):
            return False
        inside = torch.stack([((a >= low) & (a < low + size)).all() for a, low, size in zip(args, self.lows, self.sizes)])
        return bool(inside.all())
