"""The ``constant`` factor of ``rt.GroupSampler`` for a constant group element in a law (``D4.r``).

A law variable fixed at a generator (``analysis/constants.py``) is "drawn" by a sampler whose only element is
that generator: its op sequence per domain the law moves, as ``runtime/groups.py`` describes.
"""

from __future__ import annotations

from ..analysis.domains import Range, RealDomain, Tensor

__all__ = ["constant_description"]


def _touched(ops) -> list:
    dims = []
    for _name, args in ops:
        for k, v in dict(args).items():
            if k in ("dim", "i", "j"):
                dims.append(v)
            elif k == "dims":
                dims += list(v)
    return dims


def constant_description(spec, gir, generator: str, name: str, domains: dict, number=int, dims=tuple) -> list:
    """The one ``constant`` factor of generator ``generator`` of ``gir`` acting on ``domains`` (key -> domain).

    Raises ValueError where the generator does not permute points of fixed number (a matrix action, or a
    tensor whose moved dims are symbolic).
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
            if not all(isinstance(x, int) for x in d.dims[lead:]) or any(op == "permute_dims" for op, _ in ops):
                raise ValueError(
                    f"the constant element {name} moves dims of {spec.domain_name(d)} of symbolic size; "
                    "a constant element needs the dims it moves fixed"
                )
            on[key] = {"shape": dims(d.dims), "ops": ops}
        else:
            on[key] = {"n": number(d.size), "lo": d.lo if isinstance(d, Range) else 0, "ops": ops}
    return [{"kind": "constant", "name": name, "on": on}]
