"""Lowering of steerable layers (matrix groups with symbolic point counts, tensor representations of O(n)).

A layer compiles here when its group is one SO(n)/O(n) factor acting by
``matrix(dim)`` / ``matrix(dims=...)``, optionally times one symmetric(N)
permuting point dims, and one of its ends has point dims or symbolic dims
(fixed shapes under the rotation group alone stay with ``rt.BasisLinear``).
Whether any nonzero map exists is decided here with numpy
(``symspec.codegen.layers.basis_size``) on the fixed dims only, so lowering
needs no torch.
"""

from __future__ import annotations

import math

from ..analysis.domains import RealDomain, Tensor
from ..errors import Diagnostic
from .core import CompileError
from .draws import factor_action
from .expr import Name, as_expr
from .layer_basis import MAX_BASIS_UNKNOWNS, Layer, basis_size

__all__ = ["steerable_layer", "MAX_STEERABLE_UNKNOWNS", "MAX_FIXED_DIMS"]

MAX_STEERABLE_UNKNOWNS = 1600  # as symspec.runtime.steerable.MAX_STEERABLE_UNKNOWNS
MAX_FIXED_DIMS = 48  # fixed dims of both ends together: einsum subscripts (as symspec.runtime.steerable._SUBSCRIPTS)
_POINT_MAPS = {(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (0, 2), (2, 1), (1, 2), (2, 2)}


def _fail(spec, message: str, span, hint=None):
    raise CompileError([Diagnostic(message, span, hint, kind="compile")], {spec.file: spec.source})


def _permuted_dims(act, rank: int) -> tuple | None:
    """The dims every generator of a symmetric(N) action permutes together; () when it acts trivially; None otherwise."""
    if act is None:
        return None
    if str(act.kind) == "trivial" or not any(act.ops.values()):
        return ()
    found = set()
    for seq in act.ops.values():
        if len(seq) != 1 or seq[0][0] != "permute_dims":
            return None
        found.add(tuple(d % rank for d in dict(seq[0][1])["dims"]))
    return found.pop() if len(found) == 1 else None


def _rotated_dims(act, rank: int) -> tuple | None:
    """The dims a rotation factor's matrix acts on; () when it acts trivially; None for any other action."""
    if act is None:
        return None
    if str(act.kind) == "trivial":
        return ()
    if str(act.kind) != "matrix" or act.matrix_dim is None:
        return None
    dims = act.matrix_dim if isinstance(act.matrix_dim, tuple) else (act.matrix_dim,)
    return tuple(d % rank for d in dims)


def _end(spec, gir, perm, rot, domain) -> dict | None:
    """``{"shape", "points", "coords"}`` of one end, or None when this layer kind does not apply."""
    if isinstance(domain, RealDomain):
        return {"shape": (), "points": (), "coords": ()}
    if not isinstance(domain, Tensor):
        return None
    rank = len(domain.dims)
    points = _permuted_dims(factor_action(spec, gir, perm, domain), rank) if perm is not None else ()
    coords = _rotated_dims(factor_action(spec, gir, rot, domain), rank)
    if points is None or coords is None or set(points) & set(coords):
        return None
    return {"shape": tuple(domain.dims), "points": points, "coords": coords}


def steerable_layer(spec, tables, name: str, layer, gir, src, dst, cls: str, comment: str):
    """The :class:`~symspec.codegen.layers.Layer` of a steerable layer, or None when another kind builds this layer."""
    factors = gir.factors or (gir,)
    rots = [f for f in factors if f.definition.kind in ("SO", "O")]
    perms = [f for f in factors if f.definition.kind == "symmetric"]
    if len(rots) != 1 or len(perms) > 1 or len(rots) + len(perms) != len(factors):
        return None
    rot, perm = rots[0], (perms[0] if perms else None)
    n = rot.definition.arg
    if not isinstance(n, int):
        return None
    ends = [_end(spec, gir, perm, rot, d) for d in (layer.source, layer.target)]
    if ends[0] is None or ends[1] is None:
        return None
    if all(isinstance(d, int) for e in ends for d in e["shape"]):
        positions = math.prod(ends[0]["shape"]) * math.prod(ends[1]["shape"])
        if perm is None or positions <= MAX_BASIS_UNKNOWNS:
            return None  # fixed shapes: rt.BasisLinear (the same maps, one dense basis) while it fits its limit
    parts = []
    for e in ends:
        rank = len(e["shape"])
        free = [d for d in range(rank) if d not in e["points"]]
        fixed_dims = [d for d in free if isinstance(e["shape"][d], int)]
        parts.append(
            {
                "points": len(e["points"]),
                "batch": [e["shape"][d] for d in free if not isinstance(e["shape"][d], int)],
                "fixed": [e["shape"][d] for d in fixed_dims],
                "coords": [fixed_dims.index(d) for d in e["coords"]],
                "size": next((e["shape"][d] for d in e["points"]), None),
            }
        )
    a, b = parts
    source, target = spec.domain_name(layer.source), spec.domain_name(layer.target)
    if (a["points"], b["points"]) not in _POINT_MAPS:
        return None
    if a["batch"] != b["batch"]:
        only_in = [d for d in a["batch"] if d not in b["batch"]] or [d for d in b["batch"] if d not in a["batch"]]
        sym = only_in[0] if only_in else next(x for x, y in zip(a["batch"], b["batch"]) if x != y)
        where = source if sym in a["batch"] else target
        if perm is None:
            hint = f"to pool over or spread to the {sym} points, put symmetric({sym}) in the group (group E = symmetric({sym}) x {rot.name})"
        elif sym == perm.definition.arg:  # the permutation acts on dim 0 by default
            hint = f"{perm.name} permutes dim 0 by default; declare 'action {perm.name} on {where} by permute(dims=(...))' with the dims of size {sym}"
        else:  # another permutation factor would make a product this layer kind does not build
            hint = (
                f"{perm.name} permutes the dims of size {perm.definition.arg} only; give both ends the same point count "
                f"name, or pool over the {sym} dim before this layer"
            )
        _fail(
            spec,
            f"layer {name}: {gir.name} does not act on the dim of size {sym} of {where}, so the layer maps it point "
            f"by point and both ends must keep it (here: {a['batch'] or 'none'} -> {b['batch'] or 'none'})",
            layer.span,
            hint,
        )
    if a["points"] == 0 and b["points"] and not isinstance(b["size"], int):
        _fail(
            spec,
            f"layer {name}: the output {target} has {b['size']} points but its input {source} has none, so the number "
            "of points is not known when the layer runs",
            layer.span,
            "give the output a fixed number of points, or map from a domain that has the points",
        )
    if len(a["fixed"]) + len(b["fixed"]) > MAX_FIXED_DIMS:
        _fail(
            spec,
            f"layer {name}: {source} and {target} have {len(a['fixed'])} + {len(b['fixed'])} fixed dims, over the "
            f"limit {MAX_FIXED_DIMS} in all",
            layer.span,
            "drop dims of size 1, or merge feature dims into one",
        )
    p_in, p_out = math.prod(a["fixed"]), math.prod(b["fixed"])
    if p_in * p_out > MAX_STEERABLE_UNKNOWNS:
        _fail(
            spec,
            f"layer {name}: the fixed dims of {source} ({p_in} positions) and {target} ({p_out} positions) give a "
            f"rotation basis over {p_in * p_out} unknowns (a dense SVD), over the limit {MAX_STEERABLE_UNKNOWNS}",
            layer.span,
            "use smaller fixed dims (features nothing acts on can be channels instead)",
        )
    kind = "so" if rot.definition.kind == "SO" else "o"
    rep_in, rep_out = [(kind, n, tuple(a["coords"]))], [(kind, n, tuple(b["coords"]))]
    if basis_size(rep_in, rep_out, tuple(a["fixed"]), tuple(b["fixed"])) == 0:
        _fail(
            spec,
            f"no nonzero linear map from {source} to {target} commutes with {gir.name} except 0, so layer {name} "
            "would always output zero",
            layer.span,
            f"{rot.name} has no nonzero linear map between these representations; build invariant features first "
            "(rt.rep_norm: the norms over the rotated dims) or map to a domain it acts on alike",
        )
    group = as_expr((kind, n))
    ends_expr = [as_expr({"shape": tables.dims(e["shape"]), "points": e["points"], "coords": e["coords"]}) for e in ends]
    args = (Name("c_in"), Name("c_out"), group, *ends_expr, Name("bias"))
    return Layer(cls, "rt.SteerableLinear", args, comment, name)
