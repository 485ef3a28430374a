"""Test helpers: check that a module commutes with a spec's group, as e3nn's ``assert_equivariant`` does.

``assert_equivariant(module, spec, layer, x)`` draws random elements of the
layer's group, applies each to the input and to the output, each by that
domain's own action in the spec, and compares ``module(g . x)`` with
``g . module(x)`` in the input's dtype with a dtype-scaled tolerance (float64:
1e-10 relative). By default it checks a copy of the module whose parameters
are all drawn at random, so that a layer which is equivariant only at its
initial values (a zero bias outside the invariant subspace) fails.

The spec's analysis is read only through the frozen lookups
``spec.ir.group(gdef)`` and ``spec.ir.action(gir, domain)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from . import runtime as rt
from .analysis.domains import RealDomain, Tensor

__all__ = ["assert_equivariant", "randomized_copy", "TOLERANCE"]

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}

# finite groups with at most this many elements get an element table; larger ones are sampled as random words
_TABLE_LIMIT = 5000
_WORD_LENGTH = 32


@dataclass(frozen=True)
class _On:
    """How one factor moves one end (input or output) of a layer.

    ``kind``: ``"table"`` (``table`` holds the generators' push maps over the
    flattened positions), ``"permute"`` (a permutation of any size moves the
    event dims ``dims`` together) or ``"matrix"`` (a matrix acts on event dim
    ``dims[0]``); ``rank`` is the number of event dims of the domain.
    """

    kind: str
    rank: int
    table: torch.Tensor | None = None
    dims: tuple = ()


@dataclass(frozen=True)
class _Factor:
    """A factor of the layer's group (or the whole group when it is one finite table) and its action on both ends.

    ``ends[0]`` / ``ends[1]``: the input / output action, None where the
    factor acts as the identity. ``elements``: aligned element tables of the
    ends that move (``"table"`` factors of at most ``_TABLE_LIMIT`` elements),
    else None (random words). ``size`` and ``special``: SO(n) / O(n).
    """

    name: str
    kind: str
    ends: tuple
    elements: list | None = None
    size: int = 0
    special: bool = False


def _ops(action, gens) -> dict:
    return {g: [(op, dict(args)) for op, args in action.ops[g]] for g in gens}


def _rank(domain) -> int:
    return len(domain.dims) if isinstance(domain, Tensor) else 0


def _on(f, action, domain) -> _On | None:
    """How factor ``f`` acts on ``domain`` by ``action``; None for the identity (``real``, a trivial action)."""
    if isinstance(domain, RealDomain) or (action is not None and action.kind == "trivial"):
        return None
    if action is None:
        raise ValueError(f"assert_equivariant: {f.name} has no action on {domain}")
    if action.kind == "matrix" and f.definition.kind in ("SO", "O"):
        return _On("matrix", _rank(domain), dims=(action.matrix_dim,))
    if not f.generators:
        return None  # a trivial group
    if action.perms and isinstance(domain, Tensor) and all(isinstance(d, int) for d in domain.dims):
        return _On("table", _rank(domain), table=rt.action_table(_ops(action, f.generators), shape=tuple(domain.dims)))
    if action.kind == "symbolic" and f.definition.kind == "symmetric":
        return _On("permute", _rank(domain), dims=tuple(dict(next(iter(action.ops.values()))[0][1])["dims"]))
    raise ValueError(f"assert_equivariant cannot sample {f.name} acting on {domain}")


def _factor(f, ons: list) -> _Factor | None:
    """The factor record of ``f`` from its action on each end; None when it moves neither."""
    kinds = {o.kind for o in ons if o is not None}
    if not kinds:
        return None
    if len(kinds) > 1:
        raise ValueError(f"assert_equivariant cannot sample {f.name}: it acts by {sorted(kinds)} on the two ends")
    kind = kinds.pop()
    if kind == "matrix":
        return _Factor(f.name, kind, tuple(ons), size=f.definition.arg, special=f.definition.kind == "SO")
    if kind == "table":
        try:
            rows = rt.joint_elements([o.table for o in ons if o is not None], max_order=_TABLE_LIMIT)
        except ValueError:
            rows = None
        return _Factor(f.name, kind, tuple(ons), elements=rows)
    return _Factor(f.name, kind, tuple(ons))


def _factors(spec, layer: str) -> list:
    """The factors of the layer's group that move its input or output, each with its action on both ends.

    A finite group acting by permuting fixed positions on both ends is one
    table (every element can be enumerated); otherwise each factor of a
    product is drawn on its own, acting on each end by that end's action.
    """
    definition = spec.layers[layer]
    gir = spec.ir.group(definition.group)
    domains = (definition.source, definition.target)
    acts = tuple(spec.ir.action(gir, d) for d in domains)
    whole = not gir.continuous and all(
        _rank(d) == 0 or a is None or a.kind == "trivial" or (a.perms and all(isinstance(n, int) for n in d.dims))
        for a, d in zip(acts, domains)
    )
    if whole or not gir.factors:
        found = _factor(gir, [_on(gir, a, d) for a, d in zip(acts, domains)])
        return [found] if found is not None else []
    out = []
    for f in gir.factors:
        found = _factor(f, [_on(f, spec.ir.action(f, d), d) for d in domains])
        if found is not None:
            out.append(found)
    return out


def _draw(factor: _Factor, ends: tuple, generator, row: int | None = None) -> list:
    """One element of ``factor``, as a function per end (None: the identity) moving a ``[batch, c, *shape]`` tensor."""
    if factor.kind == "table":
        if factor.elements is not None:
            r = row if row is not None else int(torch.randint(0, factor.elements[0].shape[0], (1,), generator=generator))
            parts = [rows[r] for rows in factor.elements]
        else:
            tables = [o.table for o in factor.ends if o is not None]
            sizes = [t.shape[-1] for t in tables]
            word = rt.random_words(rt.concat_actions(tables), 1, _WORD_LENGTH, generator=generator)[0]
            offsets = [sum(sizes[:i]) for i in range(len(sizes))]  # concat_actions shifted each end's points
            parts = [part - o for part, o in zip(torch.split(word, sizes), offsets)]
        it = iter(parts)
        return [None if o is None else _table_move(o, next(it)) for o in factor.ends]
    if factor.kind == "permute":
        on, t = next((o, t) for o, t in zip(factor.ends, ends) if o is not None)
        n = t.shape[2 + on.dims[0]]
        perm = rt.random_permutations(1, n, generator)[0]
        return [None if o is None else _permute_move(o, perm) for o in factor.ends]
    q = rt.haar_orthogonal(1, factor.size, factor.special, generator, dtype=torch.float64)[0]
    return [None if o is None else _matrix_move(o, q) for o in factor.ends]


def _table_move(on: _On, push: torch.Tensor):
    return lambda t: rt.act_on_positions(t, push.to(t.device), on.rank)


def _permute_move(on: _On, perm: torch.Tensor):
    def move(t: torch.Tensor) -> torch.Tensor:
        push = perm.to(t.device).expand(t.shape[0], perm.shape[0])
        for d in on.dims:  # event dim d sits after the batch and channel dims
            t = rt.permute_event_dim(t, push, d + 1)
        return t

    return move


def _matrix_move(on: _On, q: torch.Tensor):
    def move(t: torch.Tensor) -> torch.Tensor:
        return rt.matrix_event_dim(t, q.to(t.device).expand(t.shape[0], *q.shape), on.dims[0] + 1)

    return move


def randomized_copy(module: torch.nn.Module, generator: torch.Generator | None = None) -> torch.nn.Module:
    """A deep copy of ``module`` with every parameter drawn from N(0, 1) (drawn on the CPU, then cast to its device and dtype)."""
    out = copy.deepcopy(module)
    with torch.no_grad():
        for p in out.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64))
    return out


def assert_equivariant(
    module,
    spec,
    layer: str,
    x: torch.Tensor,
    elements: int = 8,
    generator: torch.Generator | None = None,
    atol: float | None = None,
    randomize: bool = True,
) -> float:
    """Raise AssertionError unless ``module`` commutes with the group of ``layer`` on ``x``; return the worst error.

    ``x`` is ``[batch, c_in, *shape]``; every example gets the same element per
    trial, ``elements`` trials (every element when the group is one table of
    at most ``elements`` elements). Each factor of a product acts on the input
    and on the output by that domain's own action (the identity where it acts
    trivially). ``randomize`` (default): check a copy of an ``nn.Module`` whose
    parameters are all drawn from N(0, 1) with ``generator``, so the check
    holds for any trained values, not only the initial ones (zero biases).
    The error is the largest absolute difference; the bound is ``atol``
    (default ``TOLERANCE[x.dtype]``) times ``max(1, max |module(x)|)``.
    """
    if layer not in spec.layers:
        raise KeyError(f"spec has no layer '{layer}'; its layers are {sorted(spec.layers)}")
    factors = _factors(spec, layer)
    if randomize and isinstance(module, torch.nn.Module):
        module = randomized_copy(module, generator)
    tol = atol if atol is not None else TOLERANCE.get(x.dtype, 1e-6)
    with torch.no_grad():
        y = module(x)
        scale = max(1.0, float(y.abs().max())) if y.numel() else 1.0
        worst = 0.0
        exhaustive = len(factors) == 1 and factors[0].elements is not None and factors[0].elements[0].shape[0] <= elements
        trials = range(factors[0].elements[0].shape[0]) if exhaustive else range(elements)
        for trial in trials:
            gx, gy = x, y
            for factor in factors:
                move_in, move_out = _draw(factor, (x, y), generator, trial if exhaustive else None)
                gx = move_in(gx) if move_in is not None else gx
                gy = move_out(gy) if move_out is not None else gy
            worst = max(worst, float((module(gx) - gy).abs().max()))
    assert worst <= tol * scale, f"layer {layer} is not equivariant: error {worst:.3g} > {tol * scale:.3g}"
    return worst
