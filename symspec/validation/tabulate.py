"""A model on finite inputs, evaluated once on every input and then read by indexing.

When the cases to check outnumber a model's distinct inputs (exhaustive
checks of ``assoc`` on Z_113 ask for 1.4 M triples, each several calls, over
only 12,769 pairs), evaluating every input once and answering each call from
that table gives the same outputs for a deterministic model at a fraction of
the cost: the checks become gathers.
"""

from __future__ import annotations

import math
import time

import torch

from ..runtime.calls import check_output
from ..runtime.checks import forward_error
from ..runtime.descriptors import Values

__all__ = ["Tabulated", "table_size", "mixed_radix"]

MAX_TABLE_ENTRIES = 50_000_000  # outputs kept (200 MB in float32)


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


class Tabulated:
    """``model`` evaluated on every input (in batches, shape-checked); calls index the table."""

    def __init__(self, name: str, model, inputs: tuple, output: tuple, batch_size: int, device):
        self.lows = [d.lo for d in inputs]
        self.sizes = [d.size for d in inputs]
        self.strides = [math.prod(self.sizes[i + 1 :]) for i in range(len(self.sizes))]
        total = math.prod(self.sizes)
        started = time.perf_counter()
        chunks = []
        for start in range(0, total, batch_size):
            index = torch.arange(start, min(total, start + batch_size), device=device)
            try:
                out = model(*mixed_radix(index, self.sizes, self.lows))
            except Exception as err:
                raise forward_error([name], err) from err
            check_output(name, out, output, index.shape[0])
            chunks.append(out)
        self.table = torch.cat(chunks)
        self.inputs = total
        self.seconds = time.perf_counter() - started

    def __call__(self, *args):
        index = sum((a - low) * stride for a, low, stride in zip(args, self.lows, self.strides))
        return self.table[index]
