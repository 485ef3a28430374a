"""Index tables built at module load: group actions as push maps, graph distances."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..transforms import ops_push

__all__ = [
    "on_shortest_path",
    "action_table",
    "graph_distances",
    "field",
    "masked_mean",
    "pad_support",
    "expectation_logprobs",
    "as_logit",
    "cached_to",
    "repeat_examples",
    "where_examples",
]


def action_table(generators: dict, shape: tuple | None = None, n: int | None = None) -> torch.Tensor:
    """Push maps ``[len(generators), points]`` (long) of each generator's ops, applied right to left.

    ``generators`` maps a generator to its ops ``[(name, args), ...]``; the
    last op acts first (``symspec.transforms``, which computes every row once,
    in numpy).  ``shape`` for the positions of a tensor with fixed dims, ``n``
    for the values of a finite domain.
    """
    rows = [ops_push(ops, shape=shape, n=n) for ops in generators.values()]
    if not rows:
        return torch.empty(0, n if shape is None else math.prod(shape), dtype=torch.long)
    return torch.from_numpy(np.stack(rows))


def graph_distances(n: int, edges) -> torch.Tensor:
    """All-pairs shortest-path lengths of an undirected graph (-1 where unreachable), by BFS layers."""
    adj = torch.zeros(n, n, dtype=torch.float32)
    if len(edges):
        e = torch.tensor(edges, dtype=torch.long)
        adj[e[:, 0], e[:, 1]] = 1
        adj[e[:, 1], e[:, 0]] = 1
    dist = torch.full((n, n), -1, dtype=torch.long)
    frontier = torch.eye(n, dtype=torch.bool)
    seen = frontier.clone()
    d = 0
    while frontier.any():
        dist[frontier] = d
        frontier = ((frontier.float() @ adj) > 0) & ~seen
        seen |= frontier
        d += 1
    return dist


def field(batch: dict, name: str, law: str) -> torch.Tensor:
    """``batch[name]``, or an error that says which law needs it and what the batch has."""
    try:
        return batch[name]
    except KeyError:
        raise KeyError(
            f"law {law} needs the batch field '{name}'; the batch has: {', '.join(map(str, batch)) or 'nothing'}"
        ) from None


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over the examples where ``mask`` holds (0 when none does)."""
    if mask is None:
        return values.mean()
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1)


def pad_support(logp: torch.Tensor, offset: int, low: int, size: int) -> torch.Tensor:
    """Log-probabilities on ``offset..offset+n-1`` re-indexed on ``low..low+size-1`` (log 0 -> log tiny)."""
    floor = math.log(torch.finfo(logp.dtype).tiny)  # finite: a padded class has probability ~0, never exactly 0
    out = torch.full((*logp.shape[:-1], size), floor, dtype=logp.dtype, device=logp.device)
    start = offset - low
    out[..., start : start + logp.shape[-1]] = logp
    return out


def expectation_logprobs(logp: torch.Tensor, offset: int) -> torch.Tensor:
    """The expected value of a class output over the integers ``offset, offset+1, ...``."""
    values = torch.arange(logp.shape[-1], device=logp.device, dtype=logp.dtype) + offset
    return (logp.exp() * values).sum(-1)


def as_logit(output: torch.Tensor) -> torch.Tensor:
    """A bool model's output as one logit per example (``[batch]`` or ``[batch, 1]``)."""
    return output.squeeze(-1) if output.dim() > 1 and output.shape[-1] == 1 else output


def on_shortest_path(distances: torch.Tensor, u: torch.Tensor, w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``between(G, u, w, v)``: w lies on a shortest u-v path."""
    duv = distances[u, v]
    return (distances[u, w] + distances[w, v] == duv) & (duv >= 0)


_DEVICE_CACHE: dict = {}


def cached_to(table: torch.Tensor, device) -> torch.Tensor:
    """``table`` on ``device``, copied once per device (for module-level index tables)."""
    key = (id(table), str(device))
    found = _DEVICE_CACHE.get(key)
    if found is None:
        found = _DEVICE_CACHE[key] = table.to(device)
    return found


def where_examples(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per example (first dim), ``a`` where ``mask`` holds and ``b`` elsewhere."""
    return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)


def repeat_examples(x: torch.Tensor, times: int) -> torch.Tensor:
    """The batch repeated ``times`` times along dim 0 (for laws drawing several samples per example)."""
    return x.repeat(times, *([1] * (x.dim() - 1)))
