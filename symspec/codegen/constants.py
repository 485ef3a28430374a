"""The ``constant`` factor of ``rt.GroupSampler`` for a constant group element in a law (``D4.r``).

A law variable fixed at a generator (``analysis/constants.py``) is "drawn" by a sampler whose only element is
that generator: its op sequence per domain the law moves, as ``runtime/groups.py`` describes.
"""

from __future__ import annotations

import math

import numpy as np

from ..analysis.domains import Range, RealDomain, Tensor
from ..transforms import MAX_TABLE_ORDER, ops_push

__all__ = ["constant_description", "element_order", "MAX_ORDER_POINTS"]

MAX_ORDER_POINTS = 100_000  # an element's order is read from its cycles on at most this many points per domain


def _touched(ops) -> list:
    dims = []
    for _name, args in ops:
        for k, v in dict(args).items():
            if k in ("dim", "i", "j"):
                dims.append(v)
            elif k == "dims":
                dims += list(v)
    return dims


def _cycles_lcm(perm: np.ndarray) -> int:
    """The order of a permutation: the lcm of its cycle lengths."""
    seen = np.zeros(len(perm), dtype=bool)
    order = 1
    for start in range(len(perm)):
        if seen[start]:
            continue
        length, j = 0, start
        while not seen[j]:
            seen[j] = True
            j = int(perm[j])
            length += 1
        order = math.lcm(order, length)
    return order


def element_order(spec, gir, generator: str, domains) -> int | None:
    """The order of generator ``generator`` of ``gir`` acting on ``domains`` together (the lcm over the domains of
    its cycle lengths), or None when one of them has no push map of at most MAX_ORDER_POINTS points, or the order
    passes MAX_TABLE_ORDER (its powers are then not listed)."""
    order = 1
    for d in domains:
        act = spec.ir.action(gir, d)
        kind = getattr(getattr(act, "kind", None), "value", getattr(act, "kind", None))
        if isinstance(d, RealDomain) or kind == "trivial":
            continue
        perm = act.perms.get(generator) if act is not None else None
        if perm is None and act is not None and isinstance(d, Tensor) and generator in act.ops:
            perm = _event_push(act.ops[generator], d)  # tensor[N, 3] rolled on dim 1: its cycles on the fixed dims
        if perm is None or len(perm) > MAX_ORDER_POINTS:
            return None
        order = math.lcm(order, _cycles_lcm(np.asarray(perm)))
        if order > MAX_TABLE_ORDER:
            return None
    return order


def _event_push(ops, d: Tensor):
    """The push map of ``ops`` on the dims they move of a tensor whose earlier dims may be symbolic (they move
    together, like channels), when those moved dims are fixed and at most MAX_ORDER_POINTS; else None."""
    ops = [(op, dict(args)) for op, args in ops]
    touched = _touched(ops)
    if not touched or any(op == "permute_dims" and "perm" not in args for op, args in ops):
        return None
    lead = min(touched)
    event = d.dims[lead:]
    if not all(isinstance(x, int) for x in event) or math.prod(event) > MAX_ORDER_POINTS:
        return None
    shifted = []
    for op, args in ops:
        moved = {
            k: (v - lead if k in ("dim", "i", "j") else tuple(x - lead for x in v) if k == "dims" else v) for k, v in args.items()
        }
        shifted.append((op, moved))
    return ops_push(shifted, shape=tuple(event))


def constant_description(
    spec, gir, generator: str, name: str, domains: dict, number=int, dims=tuple, powers: int | None = None
) -> list:
    """The one ``constant`` factor of generator ``generator`` of ``gir`` acting on ``domains`` (key -> domain).

    ``powers``: the element's order; then the factor is instead the ``finite`` group of its powers (every one
    listed: what ``symmetrize`` averages over).  Raises ValueError where the generator does not permute points of
    fixed number (a matrix action, or a tensor whose moved dims are symbolic).
    """
    on = {}
    for key, d in domains.items():
        act = spec.ir.action(gir, d)
        kind = getattr(getattr(act, "kind", None), "value", getattr(act, "kind", None))
        if isinstance(d, RealDomain) or kind == "trivial":
            on[key] = None
            continue
        if act is None or generator not in act.ops or kind not in ("values", "positions", "symbolic"):
            raise ValueError(f"the constant element {name} acting on {spec.domain_name(d)} is not a permutation of its points")
        ops = [(op, dict(args)) for op, args in act.ops[generator]]
        if isinstance(d, Tensor):
            touched = _touched(ops)
            lead = min(touched) if touched else len(d.dims)
            if not all(isinstance(x, int) for x in d.dims[lead:]) or any(
                op == "permute_dims" and "perm" not in args for op, args in ops
            ):
                raise ValueError(
                    f"the constant element {name} moves dims of {spec.domain_name(d)} of symbolic size; "
                    "a constant element needs the dims it moves fixed"
                )
            on[key] = {"shape": dims(d.dims), "ops": ops}
        else:
            on[key] = {"n": number(d.size), "lo": d.lo if isinstance(d, Range) else 0, "ops": ops}
    if powers is not None:
        on = {k: None if a is None else {**a, "ops": {generator: a["ops"]}} for k, a in on.items()}
        return [{"kind": "finite", "name": f"<{name}>", "order": powers, "on": on}]
    return [{"kind": "constant", "name": name, "on": on}]
