"""Group elements as index tables, applied per example in one gather.

A finite group acting by permuting points (values of a finite domain, or
positions of a tensor) is stored as *push maps*: row ``perm`` sends point i
to ``perm[i]``; ``compose(a, b)`` is ``a`` after ``b``, the convention of
``symspec.transforms`` (whose numpy vocabulary builds the generator rows).
Small groups get a table with one row per element (built once from the
generators by closure); large ones are sampled as random words in the
generators.  Applying per-example elements to a batch is one
``gather``.
"""

from __future__ import annotations

import math

import torch

from .sampling import traceable

__all__ = [
    "element_table",
    "random_words",
    "MAX_WORD_ENTRIES",
    "act_on_values",
    "act_on_positions",
    "compose",
    "invert",
    "gather_positions",
    "matrix_event_dim",
    "concat_actions",
    "joint_elements",
    "permute_event_dim",
]


def compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a`` after ``b`` (``b`` acts first) for (batches of) push maps: ``symspec.transforms.compose`` on device."""
    return a.gather(-1, b)


def invert(p: torch.Tensor) -> torch.Tensor:
    """The inverse of (a batch of) push maps over the last dim: ``symspec.transforms.inverse`` on device.

    For permutations (every caller's maps are, by construction). Any other
    map leaves -1 at the points nothing lands on, never uninitialized memory:
    indexing with the result then fails (the general pushforward of
    ``symspec.runtime.distributions`` handles maps that are not permutations).
    One fill and one scatter, no sort and no host sync.
    """
    out = torch.full_like(p, -1)
    out.scatter_(-1, p, torch.arange(p.shape[-1], device=p.device).expand_as(p))
    return out


def element_table(generators: torch.Tensor, max_order: int = 100_000) -> torch.Tensor:
    """Every element of the group the generator rows ``[g, n]`` generate, one row each (identity first).

    Breadth-first closure, one batched composition per level; raises
    ValueError past ``max_order`` (sample random words instead).
    """
    n = generators.shape[-1]
    identity = torch.arange(n, device=generators.device).unsqueeze(0)
    seen = {tuple(identity[0].tolist())}
    table = [identity]
    frontier = identity
    while frontier.shape[0]:
        shape = (frontier.shape[0], generators.shape[0], n)
        products = compose(generators.unsqueeze(0).expand(shape), frontier.unsqueeze(1).expand(shape)).reshape(-1, n)
        fresh = []
        for row in products.unique(dim=0):
            key = tuple(row.tolist())
            if key not in seen:
                seen.add(key)
                fresh.append(row)
        if len(seen) > max_order:
            raise ValueError(f"the group has more than {max_order} elements; sample random words instead")
        frontier = torch.stack(fresh) if fresh else frontier[:0]
        table.append(frontier)
    return torch.cat(table)


MAX_WORD_ENTRIES = 1 << 22  # entries of the pool of random walks built at once (32 MB of int64)


def random_words(generators: torch.Tensor, batch: int, length: int, generator=None, pool: int = 1024) -> torch.Tensor:
    """``batch`` random group elements: products of ``length`` steps, each a generator, an inverse or the identity.

    The identity makes the walk lazy: without it, words of one length can be
    stuck in a coset (every word of even length in rot90 and a flip is a
    rotation by 0 or 180 degrees, or a diagonal flip).  Near-uniform for
    long words.  At most ``pool`` words are built per call and the examples
    draw uniformly among them, so that a batch of 10^4 examples of a group on
    128 points costs 1024 walks, not 10^4 (each example's element is still
    near-uniform; examples of one call may share one).  The pool also holds at
    most MAX_WORD_ENTRIES entries (fewer walks on many points).
    """
    n = generators.shape[-1]
    device = generators.device
    both = torch.cat([generators, invert(generators), torch.arange(n, device=device).unsqueeze(0)])
    words = max(1, min(batch, pool, MAX_WORD_ENTRIES // max(n, 1)))  # the walks hold words x n entries at once
    out = torch.arange(n, device=device).expand(words, n).clone()
    for _ in range(length):  # a loop over word length, not over examples
        pick = torch.randint(0, both.shape[0], (words,), generator=traceable(generator), device=device)
        out = compose(both[pick], out)
    if words < batch:
        out = out[torch.randint(0, words, (batch,), generator=traceable(generator), device=device)]
    return out


def act_on_values(values: torch.Tensor, push: torch.Tensor) -> torch.Tensor:
    """Values of a finite domain moved by per-example push maps ``[batch, n]`` (or one map ``[n]``)."""
    if push.dim() == 1:
        return push[values]
    return push.gather(-1, values.unsqueeze(-1)).squeeze(-1)


def act_on_positions(x: torch.Tensor, push: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Move the entries of the last ``event_dims`` dims of ``x`` by push maps over their flattened positions.

    ``push`` is ``[points]`` for one element or ``[batch, points]`` for one per
    example (batch = x's first dim); leading dims between batch and the event
    dims (channels) move together.
    """
    shape = x.shape
    flat = x.reshape(*shape[: x.dim() - event_dims], -1)
    gather = invert(push)  # y[push[i]] = x[i]  <=>  y[j] = x[inverse[j]]
    if gather.dim() == 1:
        out = flat.index_select(-1, gather)
    else:
        index = gather.view(gather.shape[0], *([1] * (flat.dim() - 2)), gather.shape[-1]).expand_as(flat)
        out = flat.gather(-1, index)
    return out.reshape(shape)


def concat_actions(tables: list) -> torch.Tensor:
    """Generator push maps of one group on several domains, as maps of their disjoint union."""
    out, offset = [], 0
    for t in tables:
        out.append(t + offset)
        offset += t.shape[-1]
    return torch.cat(out, dim=-1)


def joint_elements(tables: list, max_order: int = 100_000) -> list:
    """Element tables of one group acting on several domains at once, one per domain, rows aligned.

    ``tables`` holds each domain's generator push maps ``[g, n_d]`` (same
    generators, same order); row r of every output is the same element.
    """
    sizes = [t.shape[-1] for t in tables]
    offsets = torch.tensor([0, *sizes[:-1]]).cumsum(0).tolist()
    joint = torch.cat([t + o for t, o in zip(tables, offsets)], dim=-1)
    elements = element_table(joint, max_order)
    return [part - o for part, o in zip(torch.split(elements, sizes, dim=-1), offsets)]


def permute_event_dim(x: torch.Tensor, push: torch.Tensor, dim: int) -> torch.Tensor:
    """Move entries along event dim ``dim`` of ``x`` (batch first) by per-example push maps ``[batch, size]``."""
    axis = dim + 1
    gather = invert(push)
    shape = [gather.shape[0]] + [1] * (x.dim() - 1)
    shape[axis] = gather.shape[-1]
    return x.gather(axis, gather.view(shape).expand_as(x))


def matrix_event_dim(x: torch.Tensor, matrices: torch.Tensor, dim: int) -> torch.Tensor:
    """Per-example matrix product on event dim ``dim``: ``y[..., i, ...] = sum_j M[i, j] x[..., j, ...]``."""
    moved = x.movedim(dim + 1, -1)
    out = torch.einsum("bij,b...j->b...i", matrices.to(x.dtype), moved)
    return out.movedim(-1, dim + 1)


def gather_positions(x: torch.Tensor, gather: torch.Tensor, event_dims: int) -> torch.Tensor:
    """``y[b].flat[j] = x[b].flat[gather[b, j]]`` over the last ``event_dims`` dims, per example.

    The index is ``[batch, points]`` and broadcasts (as a view) over the dims
    between the batch and the event dims, so the cost is one pass over x.
    """
    shape = x.shape
    flat = x.reshape(shape[0], -1, math.prod(shape[x.dim() - event_dims :]))
    index = gather.view(gather.shape[0], 1, gather.shape[-1]).expand(flat.shape)
    return flat.gather(-1, index).reshape(shape)


def batch_elements(t: torch.Tensor, batch: int) -> torch.Tensor:
    """Per-example elements fitted to a batch: one element (first dim 1) is shared by every example."""
    return t.expand(batch, *t.shape[1:]) if t.shape[0] == 1 and batch != 1 else t


def event_axis(x: torch.Tensor, rank: int, dim: int) -> int:
    """Event dim ``dim`` of a domain of ``rank`` dims, as the argument of the ``*_event_dim`` kernels (batch excluded)."""
    return x.dim() - rank + dim - 1
