"""Equivariant layers: per declared layer, which runtime layer class builds it and with what arguments.

Whether a matrix-group layer has any nonzero equivariant map is decided here
with numpy (the null space of the stacked constraints, in float64, with the
runtime's cutoff), so lowering needs no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..analysis.domains import RealDomain, Tensor
from ..analysis.groups import MAX_POINTS
from ..errors import Diagnostic
from .conv_layers import conv_layer
from .core import CompileError, comment_text
from .draws import factor_action
from .expr import Attr, BinOp, Const, Name, TupleE, as_expr, rt, torch_
from .layer_basis import MAX_BASIS_UNKNOWNS, Layer, basis_size
from .names import py
from .steerable_layers import steerable_layer

__all__ = ["Layer", "lower_layers", "basis_size", "MAX_BASIS_UNKNOWNS"]


def _c(*rest):
    """Constructor arguments: ``c_in, c_out``, then ``rest``."""
    return (Name("c_in"), Name("c_out"), *[as_expr(x) for x in rest])


def _reps(spec, tables, gir, domain):
    """(argument expression, data) of a domain's representation under the group, for rt.BasisLinear; None if none."""
    if isinstance(domain, RealDomain):
        return as_expr(None), None
    if not isinstance(domain, Tensor) or not all(isinstance(d, int) for d in domain.dims):
        return None
    exprs, values = [], []
    whole = spec.ir.action(gir, domain) if gir.factors else None
    for i, f in enumerate(gir.factors or (gir,)):
        # a product's factor acts through its part (the identity where it has no action of its own)
        act = whole.parts[i] if whole is not None and whole.parts else spec.ir.action(f, domain)
        if whole is not None and not whole.parts and whole.kind == "trivial":  # the product declared 'by identity'
            act = whole
            if f.generators and f.definition.kind not in ("SO", "O"):  # each generator the identity permutation
                table = rt("action_table", as_expr({g: [] for g in f.generators}), shape=tables.dims(domain.dims))
                exprs.append(TupleE((as_expr("perm"), table)))
                values.append(("perm", [np.arange(math.prod(domain.dims))] * len(f.generators)))
                continue
        if act is None:
            return None
        if act.kind == "matrix" or (act.kind == "trivial" and f.definition.kind in ("SO", "O")):
            # a rotation group leaving this end unchanged acts on no dim: its generators still listed (zero, identity)
            kind = "so" if f.definition.kind == "SO" else "o"
            dim = act.matrix_dim if act.kind == "matrix" else ()
            exprs.append(as_expr((kind, f.definition.arg, dim)))
            values.append((kind, f.definition.arg, dim))
        elif act.perms and f.generators:
            ops = {g: [(op, dict(args)) for op, args in act.ops[g]] for g in f.generators}
            table = rt("action_table", as_expr(ops), shape=tables.dims(domain.dims))
            exprs.append(TupleE((as_expr("perm"), table)))
            values.append(("perm", [act.perms[g] for g in f.generators]))
        elif not f.generators and act.kind != "matrix":
            continue  # a trivial factor
        else:
            return None
    return as_expr(exprs), values


def _permutes_dim_0(act) -> bool:
    """Whether ``act`` permutes dim 0 (and no other) with every generator."""
    if act is None or act.kind == "trivial":
        return False
    return all(seq and dict(seq[0][1]).get("dims") == (0,) for seq in act.ops.values())


def _fail(spec, message: str, span, hint=None):
    raise CompileError([Diagnostic(message, span, hint, kind="compile")], {spec.file: spec.source})


def _matrix_layer(spec, tables, name: str, layer, gir):
    """Constructor arguments of an rt.BasisLinear layer (continuous groups on fixed shapes), or None."""
    if not gir.continuous or gir.definition.noncompact:  # Lorentz groups, translations, rigid motions: not yet
        return None
    src = _reps(spec, tables, gir, layer.source)
    dst = _reps(spec, tables, gir, layer.target)
    if src is None or dst is None or src[1] is None:
        return None
    in_shape = tuple(layer.source.dims)
    out_shape = tuple(layer.target.dims) if isinstance(layer.target, Tensor) else ()
    unknowns = math.prod(in_shape) * math.prod(out_shape)
    if unknowns > MAX_BASIS_UNKNOWNS:
        _fail(
            spec,
            f"layer {name} maps {math.prod(in_shape)} input positions to {math.prod(out_shape)} output positions: its "
            f"equivariant basis (an SVD over {unknowns} unknowns) is too large to compute (limit {MAX_BASIS_UNKNOWNS})",
            layer.span,
            "use smaller fixed dims, or a symbolic dim (tensor[N, 3]) with a permutation group",
        )
    if basis_size(src[1], dst[1], in_shape, out_shape) == 0:
        _fail(
            spec,
            f"no nonzero linear map from {spec.domain_name(layer.source)} to {spec.domain_name(layer.target)} "
            f"commutes with {gir.name} except 0, so layer {name} would always output zero",
            layer.span,
            "map to a domain the group acts on (an invariant output needs invariant features first)",
        )
    return _c(src[0], dst[0], tables.dims(in_shape), tables.dims(out_shape), Name("bias"))


def _check_orbit_pairs(spec, name: str, layer) -> None:
    """A compile error when an orbit layer's (output, input) position pairs pass MAX_ORBIT_PAIRS (the table of their
    orbits is built when the layer is, and its forward gathers a dense weight of that size per channel pair)."""
    points = [math.prod(d.dims) if isinstance(d, Tensor) else 1 for d in (layer.source, layer.target)]
    if all(isinstance(p, int) for p in points) and points[0] * points[1] > MAX_ORBIT_PAIRS:
        _fail(
            spec,
            f"layer {name} maps {points[0]:,} input positions to {points[1]:,} output positions: its weights are tied by "
            f"the orbits of {points[0] * points[1]:,} position pairs, over the limit of {MAX_ORBIT_PAIRS:,}",
            layer.span,
            "make it local and translation-equivariant with [kernel k] (a group convolution, any grid size), or use "
            "smaller domains",
        )


def _orbit_layer(spec, tables, layer, gir, src, dst, name: str):
    _check_orbit_pairs(spec, name, layer)
    ops = {g: [(op, dict(args)) for op, args in src.ops[g]] for g in gir.generators}
    in_table = rt("action_table", as_expr(ops), shape=tables.dims(layer.source.dims))
    if isinstance(layer.target, RealDomain):  # every generator fixes the one output point
        out_table = torch_("zeros", len(gir.generators), 1, dtype=Attr(Name("torch"), "long"))
        out_shape = as_expr(())
    else:
        ops = {g: [(op, dict(args)) for op, args in dst.ops[g]] for g in gir.generators}
        out_table = rt("action_table", as_expr(ops), shape=tables.dims(layer.target.dims))
        out_shape = tables.dims(layer.target.dims)
    return _c(in_table, out_table, tables.dims(layer.source.dims), out_shape, Name("bias"))


@dataclass(frozen=True)
class _GraphEnd:
    """One end of a graph layer under symmetric(n): its kind and the fixed feature dims after the node dims."""

    kind: str  # "pair" (tensor[n, n, *F]: dims 0 and 1 permuted), "nodes" (tensor[n, *F]: dim 0), "real"
    features: tuple = ()


def _moved_dims(act, domain: Tensor, n):
    """The dims every generator of ``act`` permutes together (one ``permute_dims`` each), or None.

    symmetric(1) has no generators: nothing moves, and its default is read off the shape as the analysis builds it
    (the leading dims of size 1, at most two: any linear map commutes with the trivial group).
    """
    if not act.ops:
        lead = 0
        while lead < min(len(domain.dims), 2) and domain.dims[lead] == n:
            lead += 1
        return tuple(range(lead)) if lead and n == 1 else None
    # permute(dims=(1, 0)) moves the same dims as (0, 1): one permutation applied to each listed dim
    dims = {
        tuple(sorted(dict(ops[0][1]).get("dims") or ())) if len(ops) == 1 and ops[0][0] == "permute_dims" else None
        for ops in act.ops.values()
    }
    return next(iter(dims)) or None if len(dims) == 1 else None


def _graph_end(spec, name: str, layer, gir, domain, act) -> _GraphEnd | None:
    """``domain`` as an end of a graph layer under symmetric(n), None if it is none; a compile error for the shapes
    the graph layers refuse (symbolic feature dims, third-order tensors, a feature dim of size n under a default
    action)."""
    if isinstance(domain, RealDomain):
        return _GraphEnd("real")
    if not isinstance(domain, Tensor) or act is None or act.kind == "trivial":
        return None
    n = gir.definition.arg
    moved = _moved_dims(act, domain, n)
    if moved is None:
        return None
    named = spec.domain_name(domain)
    text = named if named == str(domain) else f"{named} ({domain})"
    default = act.source == "default"
    if moved not in ((0,), (0, 1)):
        if default and moved == tuple(range(len(moved))) and len(moved) > 2:
            _fail(
                spec,
                f"cannot compile layer {name} yet: symmetric({n})'s default action permutes dims {moved} of {text} "
                "together, and graph layers take at most two node dims (pair tensors)",
                layer.span,
                f"to keep dims {tuple(range(2, len(domain.dims)))} as features, declare "
                + _declare_action(spec, gir, domain, (0, 1))
                if isinstance(n, int)
                else f"a feature dim of the symbolic size {n} is refused too; with a fixed size, this layer is the exact "
                "orbit layer",
            )
        return None
    kind = "pair" if len(moved) == 2 else "nodes"
    features = tuple(domain.dims[len(moved) :])
    for i, f in enumerate(features, start=len(moved)):
        if f == n and not isinstance(f, int):
            _fail(
                spec,
                f"cannot compile layer {name} yet: dim {i} of {text} has size {n} like the nodes, but symmetric({n})'s "
                f"action permutes only dims {moved}; graph layers take the node dims first, then fixed feature dims",
                layer.span,
                f"put the node dims first (tensor[{n}, {n}, ...]: its default action permutes both)",
            )
        if not isinstance(f, int):
            _fail(
                spec,
                f"cannot compile layer {name} yet: dim {i} of {text} has the symbolic size {f}; a graph layer's "
                f"feature dims (those after the node dims, which symmetric({n}) does not permute) must be fixed",
                layer.span,
                f"give the feature dims fixed sizes (tensor[{n}, {n}, {5 if n == 4 else 4}])",  # not n's size
            )
        if default and f == n and n != 1:  # (symmetric(1) moves nothing: either reading is exact)
            _fail(
                spec,
                f"layer {name}: dim {i} of {text} has size {n} like the nodes, but symmetric({n})'s default action "
                f"permutes only dims {moved} (the leading dims of size {n}); it would be a feature dim",
                layer.span,
                f"to keep it a feature dim, say so: {_declare_action(spec, gir, domain, moved)}",
            )
    return _GraphEnd(kind, features)


def _declare_action(spec, gir, domain, dims: tuple) -> str:
    """The statements that declare symmetric(n) permuting ``dims`` of ``domain`` (naming the group and the domain
    first when the layer writes them inline)."""
    named_group = gir.name.isidentifier()
    group = gir.name if named_group else "P"
    domain_name = spec.domain_name(domain)
    named = domain_name.isidentifier()
    where = domain_name if named else "D"
    steps = [] if named else [f"'domain D = {domain}'"]
    if not named_group:
        steps.append(f"'group P = symmetric({gir.definition.arg})'")
    steps.append(f"'action {group} on {where} by permute(dims={dims})'")
    if not (named_group and named):
        steps[-1] += f" and use {group} and {where} in the layer"
    return ", ".join(steps)


MAX_GRAPH_WEIGHTS = 100_000_000  # weights per channel pair of a graph layer (maps x F_in x F_out): 400 MB in float32
_MAPS = {
    ("pair", "pair"): 15,
    ("pair", "real"): 2,
    ("pair", "nodes"): 5,
    ("nodes", "pair"): 5,
    ("nodes", "nodes"): 2,
    ("nodes", "real"): 1,
}


def _check_size(spec, name: str, layer, a: _GraphEnd, b: _GraphEnd) -> None:
    """A compile error when the graph layer's weights per channel pair pass MAX_GRAPH_WEIGHTS (the feature dims are
    mixed by full matrices: the size grows with F_in x F_out)."""
    weights = _MAPS[(a.kind, b.kind)] * math.prod(a.features) * math.prod(b.features)
    if weights > MAX_GRAPH_WEIGHTS:
        _fail(
            spec,
            f"layer {name} would hold {weights:,} weights per channel pair ({_MAPS[(a.kind, b.kind)]} maps x "
            f"{math.prod(a.features):,} input x {math.prod(b.features):,} output features; limit {MAX_GRAPH_WEIGHTS:,})",
            layer.span,
            "use fewer feature positions (features mix as full matrices), or channels (c_in, c_out) instead",
        )


_GRAPH_LAYERS = {
    ("pair", "pair"): "rt.PairLinear",
    ("pair", "real"): "rt.PairPool",
    ("pair", "nodes"): "rt.PairToNodes",
    ("nodes", "pair"): "rt.NodesToPair",
}


def _graph_layer(spec, name: str, layer, gir, src, dst, cls: str, comment: str) -> Layer | None:
    """The layer under symmetric(n) alone between pair tensors, node tensors (each with fixed trailing feature dims)
    and ``real``: Maron et al.'s bases (DeepSets for nodes to nodes and nodes to real); None for other shapes."""
    a = _graph_end(spec, name, layer, gir, layer.source, src)
    b = _graph_end(spec, name, layer, gir, layer.target, dst) if a is not None else None
    if a is None or b is None or a.kind == "real":
        return None
    _check_size(spec, name, layer, a, b)
    size_in = math.prod(a.features)
    if (a.kind, b.kind) == ("nodes", "nodes"):
        kwargs = (("rest_as_features", Const(True)), ("rest_size", Const(size_in)), ("in_features", as_expr(a.features)))
        if a.features != b.features:
            kwargs += (("out_features", as_expr(b.features)),)
        return Layer(cls, "rt.DeepSetsLinear", _c(Name("bias")), comment + " (other dims as features)", name, kwargs)
    if (a.kind, b.kind) == ("nodes", "real"):
        args = (BinOp("*", Name("c_in"), Const(size_in)), Name("c_out"), Name("bias"))
        return Layer(cls, "rt.DeepSetsPool", args, comment, name, (("in_features", as_expr(a.features)),))
    kwargs = tuple((k, as_expr(f)) for k, f in (("in_features", a.features), ("out_features", b.features)) if f)
    return Layer(cls, _GRAPH_LAYERS[(a.kind, b.kind)], _c(Name("bias")), comment, name, kwargs)


_PRODUCT_GRAPH_LAYERS = {**_GRAPH_LAYERS, ("nodes", "nodes"): "rt.NodesLinear", ("nodes", "real"): "rt.NodesPool"}
_RANK = {"pair": 2, "nodes": 1, "real": 0}


def _feature_ops(ops, ndim: int, rank: int) -> list | None:
    """``ops`` (a finite factor's generator on a domain of ``ndim`` dims) if each moves only dims from ``rank`` on
    (the features), with every argument needed to tabulate it; else None."""
    out = []
    for op, args in ops:
        args = dict(args)
        if op not in ("roll", "flip", "permute", "transpose", "rot90", "permute_dims"):
            return None
        if op == "permute_dims" and "perm" not in args:
            return None
        dims = [args[k] for k in ("dim", "i", "j") if k in args] + list(args.get("dims", ()))
        if not dims or any(not isinstance(d, int) or d % ndim < rank for d in dims):
            return None
        out.append((op, args))
    return out


def _graph_product_layer(spec, tables, name: str, layer, gir, cls: str, comment: str) -> Layer | None:
    """A graph layer under ``symmetric(N) x H`` (H finite groups permuting only the feature dims): the node maps
    with their feature-to-feature weights tied by the orbits of H; None for layers of other groups (with a kernel,
    or a continuous factor). With a symbolic N, a compile error for the shapes and actions it cannot build, which
    no other layer builds either; with a fixed N, None there (the orbit layer builds them)."""
    if layer.option("kernel") is not None or gir.continuous or not gir.factors:
        return None
    if any(f.definition.kind == "symmetric" and not isinstance(f.definition.arg, int) for f in gir.factors):
        return _tied_graph_layer(spec, name, layer, gir, cls, comment)
    # fixed sizes: the orbit layer's tables grow as (N^2 F)^2 (N = 24 with 3 features: 1.6 s to build, 0.6 s per
    # forward), the closed form's do not; the one symmetric factor that permutes the input's leading dims is the nodes
    candidates = []
    for f in gir.factors:
        act = None if isinstance(layer.source, RealDomain) else factor_action(spec, gir, f, layer.source)
        if f.definition.kind == "symmetric" and act is not None and act.kind != "trivial" and isinstance(layer.source, Tensor):
            if _moved_dims(act, layer.source, f.definition.arg) in ((0,), (0, 1)):
                candidates.append(f)
    if len(candidates) != 1:
        return None
    try:
        return _tied_graph_layer(spec, name, layer, gir, cls, comment, candidates[0])
    except CompileError:  # a shape or action the graph layers refuse: the orbit layer is exact for fixed sizes
        return None


def _tied_graph_layer(spec, name: str, layer, gir, cls: str, comment: str, node=None) -> Layer | None:
    """:func:`_graph_product_layer`'s layer with ``node`` (default: the symbolic symmetric factor) as the nodes."""
    if node is None:
        nodes = [f for f in gir.factors if f.definition.kind == "symmetric" and not isinstance(f.definition.arg, int)]
    else:
        nodes = [node]
    others = [f for f in gir.factors if all(f is not g for g in nodes)]
    if not nodes or any(f.continuous or f.definition.noncompact for f in others):
        return None
    n = nodes[0].definition.arg
    if len(nodes) > 1:
        _fail(
            spec,
            f"cannot compile layer {name} yet: {gir.name} has {len(nodes)} symmetric factors of symbolic size "
            f"({', '.join(f.name for f in nodes)}); graph layers take one (the nodes)",
            layer.span,
            "use one symmetric(N) factor for the nodes, and finite groups for the features",
        )
    hint = (
        f"graph layers under {gir.name} take pair tensors (tensor[{n}, {n}, *F]), node tensors (tensor[{n}, *F]) or "
        f"real, with the other factors permuting only the fixed feature dims F"
    )
    ends = []
    for domain in (layer.source, layer.target):
        act = None if isinstance(domain, RealDomain) else factor_action(spec, gir, nodes[0], domain)
        end = _graph_end(spec, name, layer, nodes[0], domain, act)
        if end is None or (end.kind == "real" and not ends):
            _fail(spec, f"cannot compile layer {name} yet: {symmetric_end(spec, domain, n)}", layer.span, hint)
        ends.append(end)
    generators = []
    for domain, end in zip((layer.source, layer.target), ends):
        ops = {}
        for f in others:
            act = None if isinstance(domain, RealDomain) else factor_action(spec, gir, f, domain)
            for g in f.generators:
                seq = () if act is None or act.kind == "trivial" else act.ops.get(g)
                kept = None if seq is None else _feature_ops(seq, len(domain.dims), _RANK[end.kind]) if seq else []
                if kept is None:
                    _fail(
                        spec,
                        f"cannot compile layer {name} yet: {f.name}'s generator {g} acts on {spec.domain_name(domain)} "
                        f"({domain}) by more than a permutation of its feature dims (those after the node dims)",
                        layer.span,
                        hint,
                    )
                ops[f"{f.name}.{g}"] = kept
        shape = (1,) * _RANK[end.kind] + end.features  # node dims of size 1: the table covers the features alone
        generators.append(rt("action_table", as_expr(ops), shape=as_expr(shape)))
    a, b = ends
    _check_size(spec, name, layer, a, b)
    kwargs = tuple((k, as_expr(f)) for k, f in (("in_features", a.features), ("out_features", b.features)) if f)
    kwargs += (("feature_generators", TupleE(tuple(generators))),)
    base = _PRODUCT_GRAPH_LAYERS[(a.kind, b.kind)]
    return Layer(cls, base, _c(Name("bias")), comment, name, kwargs)


def symmetric_end(spec, domain, n) -> str:
    """Why ``domain`` is no end of a graph layer under symmetric(n) (for an error message)."""
    if isinstance(domain, RealDomain):
        return "an invariant input (real) has no node dims to permute"
    return (
        f"symmetric({n}) does not act on {spec.domain_name(domain)} ({domain}) by permuting dim 0, or dims 0 and 1 "
        "together, with fixed sizes after them"
    )


MAX_ORBIT_PAIRS = 4096**2  # position pairs of a fallback orbit layer (as many as D4's global layer on 64 x 64)


def _higher_order_fixed(layer, gir, src, dst) -> bool:
    """Whether symmetric(n) (fixed n) permutes three or more dims of an end together, all sizes fixed and small
    enough for the orbit layer (at most MAX_ORBIT_PAIRS position pairs): no graph layer, but the orbit layer is
    exact there."""
    n = gir.definition.arg
    if not isinstance(n, int) or src is None or not src.perms or not gir.generators:
        return False
    ends = [(layer.source, src), (layer.target, dst)]
    if any(isinstance(d, Tensor) and (a is None or not a.perms or not all(isinstance(x, int) for x in d.dims)) for d, a in ends):
        return False
    moved = [_moved_dims(a, d, n) for d, a in ends if isinstance(d, Tensor)]
    if not any(m is not None and len(m) > 2 for m in moved):
        return False
    points = [math.prod(d.dims) if isinstance(d, Tensor) else 1 for d, _ in ends]
    return points[0] * points[1] <= MAX_ORBIT_PAIRS


def lower_layers(spec, tables) -> list:
    """Per layer: a :class:`Layer` (class name, runtime base, constructor arguments, comment)."""
    out = []
    for name, layer in spec.layers.items():
        gir, src, dst = spec.ir.layers[name]
        comment = comment_text(f"{spec.file}:{layer.span.line}  layer {name}: {layer.source} -> {layer.target} under {gir.name}")
        cls = py(name)
        if gir.definition.kind == "alternating" and not isinstance(gir.definition.arg, int) and not layer.option("kernel"):
            n = gir.definition.arg
            _fail(
                spec,
                f"cannot compile layer {name} yet: no layer is built under {gir.name} with a symbolic size (its "
                f"equivariant maps depend on {n}: for small {n} there are more than symmetric({n})'s)",
                layer.span,
                f"layers under symmetric({n}) commute with {gir.name} too (on node and pair tensors they are all of "
                f"its maps from {n} = 6 on); or fix {n}",
            )
        product = _graph_product_layer(spec, tables, name, layer, gir, cls, comment)  # symmetric(N) x finite groups
        if product is not None:
            out.append(product)
            continue
        conv = conv_layer(spec, tables, name, layer, gir, src, dst, cls, comment)  # layers with a kernel option
        if conv is not None:
            out.append(conv)
            continue
        # symmetric(n) has closed forms (DeepSets, the Bell maps) whose size does not grow with n: prefer them
        closed_form = gir.definition.kind == "symmetric"
        fixed_end = isinstance(layer.target, RealDomain) or (dst is not None and dst.perms)  # a table for the output
        if src is not None and src.perms and fixed_end and not gir.continuous and not closed_form:
            out.append(Layer(cls, "rt.OrbitLinear", _orbit_layer(spec, tables, layer, gir, src, dst, name), comment, name))
            continue
        if closed_form and not gir.factors:  # symmetric(n) alone: the graph layers (nodes, pairs, features, real)
            if _higher_order_fixed(layer, gir, src, dst):  # tensor[4, 4, 4] under symmetric(4): exact orbit layer
                out.append(Layer(cls, "rt.OrbitLinear", _orbit_layer(spec, tables, layer, gir, src, dst, name), comment, name))
                continue
            graph = _graph_layer(spec, name, layer, gir, src, dst, cls, comment)
            if graph is not None:
                out.append(graph)
                continue
        factors = gir.factors or (gir,)
        perm = [f for f in factors if f.definition.kind == "symmetric"]
        rest = [f for f in factors if f.definition.kind not in ("symmetric",)]
        first_dim_perm = (
            len(perm) == 1
            and isinstance(layer.source, Tensor)
            and all(isinstance(d, int) for d in layer.source.dims[1:])
            and all(f.definition.kind in ("SO", "O") and f.definition.arg >= 3 for f in rest)
            and src is not None
            and _permutes_dim_0(factor_action(spec, gir, perm[0], layer.source))
        )
        vector_only = not rest or len(layer.source.dims) == 2  # rotations on the one vector dim of tensor[N, n]
        if first_dim_perm and vector_only and isinstance(layer.target, Tensor) and layer.target == layer.source:
            # symmetric(N) on dim 0 (x rotations acting on a vector dim, whose commutant is the scalars); rotations
            # on more dims (tensor[N, 3, 3]) have more maps: steerable layers below
            rest_size = math.prod(d for d in layer.source.dims[1:] if isinstance(d, int))
            if rest:  # rotations: keep each coordinate apart, tie the weights across them
                out.append(Layer(cls, "rt.DeepSetsLinear", _c(Name("bias")), comment, name))
            else:  # nothing acts on the other dims: they are features
                kwargs = (("rest_as_features", Const(True)), ("rest_size", Const(rest_size)))
                kwargs += (("in_features", as_expr(tuple(layer.source.dims[1:]))),)
                out.append(Layer(cls, "rt.DeepSetsLinear", _c(Name("bias")), comment + " (other dims as features)", name, kwargs))
            continue
        if first_dim_perm and layer.target == RealDomain() and not rest:
            rest_size = math.prod(d for d in layer.source.dims[1:] if isinstance(d, int))
            args = (BinOp("*", Name("c_in"), Const(rest_size)), Name("c_out"), Name("bias"))
            kwargs = (("in_features", as_expr(tuple(layer.source.dims[1:]))),)
            out.append(Layer(cls, "rt.DeepSetsPool", args, comment, name, kwargs))
            continue
        steerable = steerable_layer(spec, tables, name, layer, gir, src, dst, cls, comment)
        if steerable is not None:
            out.append(steerable)
            continue
        basis = _matrix_layer(spec, tables, name, layer, gir)
        if basis is not None:
            out.append(Layer(cls, "rt.BasisLinear", basis, comment, name))
            continue
        hint = None
        if (
            isinstance(layer.source, Tensor)
            and len(layer.source.dims) >= 2
            and not all(isinstance(d, int) for d in layer.source.dims[1:])
        ):
            hint = "symmetric(N) acts on dim 0 by default; for pair tensors declare 'action G on D by permute(dims=(0, 1))'"
        if closed_form and not gir.factors:
            n = gir.definition.arg
            hint = (
                f"graph layers under {gir.name} take pair tensors (tensor[{n}, {n}, *F], both node dims permuted), "
                f"node tensors (tensor[{n}, *F]) and real, the node dims first and F fixed"
            )
        rots = [f for f in (gir.factors or (gir,)) if f.definition.kind in ("SO", "O")]
        others = [f for f in (gir.factors or (gir,)) if f.definition.kind not in ("SO", "O", "symmetric")]
        if rots and (len(rots) > 1 or others):
            extra = ", ".join(f.name for f in (rots[1:] if len(rots) > 1 else []) + others)
            hint = (
                f"steerable layers take one SO(n) or O(n), optionally times symmetric(N); {gir.name} also has {extra}: "
                "build a layer under that part alone, or state the rest as a law (loss, augment)"
            )
        if gir.definition.noncompact:  # Lorentz groups, translations, rigid motions (docs/language.md, Non-compact groups)
            hint = f"{gir.name} is not compact: no layers under it yet; train with its laws' loss and augment instead"
        big = [
            (d, math.prod(d.dims))
            for d in (layer.source, layer.target)
            if isinstance(d, Tensor) and all(isinstance(n, int) for n in d.dims) and math.prod(d.dims) > MAX_POINTS
        ]
        point_group = not gir.continuous and not any(f.definition.kind == "symmetric" for f in (gir.factors or (gir,)))
        if big and point_group:  # an orbit layer would do, but the action has no push maps at this size
            domain, points = big[0]
            _fail(
                spec,
                f"cannot compile layer {name}: {domain} has {points:,} positions, more than the {MAX_POINTS:,} a finite "
                f"action is tabulated on (symspec.analysis.groups.MAX_POINTS), and an orbit layer under {gir.name} "
                "needs those tables",
                layer.span,
                "make it local with [kernel k] (a group convolution, any grid size), or use smaller domains",
            )
        _fail(
            spec,
            f"cannot compile layer {name} yet: {gir.name} acting on {layer.source} -> {layer.target} needs "
            "layers symspec does not build yet (matrix actions, or sizes known only at run time)",
            layer.span,
            hint,
        )
    return out
