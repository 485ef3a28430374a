"""Lowering of convolutional layers (``layer L: D1 -> D2 under G [kernel k]``) to ``rt.GroupConv`` (``rt.GridPool``).

Which dims are the grid (docs/compile.md, Convolutional layers): ``[grid d]``
when given; else the trailing dims from the first symbolic one (``tensor[4, H,
W]``: grid ``H x W``, fiber ``4``); else, all sizes fixed, the trailing dims
from the first one a generator rotates or transposes. Every generator must act
on the grid by rotations/reflections about its centre (``rot90``, ``flip``,
``transpose``: the same on both ends) and translations (``roll``: circular
padding, stride 1 only), on the fiber dims by any permutation; anything
else is an error at the layer. A stride s keeps every s-th grid point,
corners included (n points -> (n - 1) / s + 1, s dividing n - 1). Numpy only (no torch): ``symspec check`` runs this.
"""

from __future__ import annotations

import math

import numpy as np

from ..analysis.domains import RealDomain, Tensor
from ..analysis.resolve import MAX_GRID_DIMS
from ..errors import Diagnostic
from ..transforms import ops_push
from .core import CompileError
from .expr import Name, as_expr, rt
from .layer_basis import Layer

__all__ = ["conv_layer", "grid_rank"]

_POINT = ("rot90", "flip", "transpose")
# (output fiber, input fiber, offset) triples a kernel's orbits may be found over, built when the layer is
# (symspec.runtime.conv.MAX_KERNEL_ENTRIES: the same limit at run time): as many as D4's global orbit layer on 64 x 64
MAX_KERNEL_ENTRIES = 4096**2
_CONV_OPS = ("rot90", "flip", "transpose", "roll", "permute", "permute_dims")


def _fail(spec, message: str, span, hint: str | None = None):
    raise CompileError([Diagnostic(message, span, hint, kind="compile")], {spec.file: spec.source})


def _dims_of(name: str, args: dict, rank: int) -> tuple:
    """The dims (0..rank-1) that op ``name`` moves (as ``symspec.runtime.conv``)."""
    if name == "rot90" or name == "permute_dims":
        dims = args["dims"]
    elif name == "transpose":
        dims = (args["i"], args["j"])
    else:
        dims = (args["dim"],)
    return tuple(int(d) % rank for d in dims)


def grid_rank(layer, ops_in: dict, ops_out: dict) -> int | None:
    """How many trailing dims of both ends are the grid (the rule above); None when the rule cannot tell."""
    given = layer.option("grid")
    if given is not None:
        return given
    ends = [(layer.source, ops_in), (layer.target, ops_out)]
    symbolic = [
        len(d.dims) - next(i for i, n in enumerate(d.dims) if not isinstance(n, int))
        for d, _ in ends
        if not all(isinstance(n, int) for n in d.dims)
    ]
    if symbolic:
        return max(symbolic)
    moved = []
    for domain, ops in ends:
        rank = len(domain.dims)
        firsts = [min(_dims_of(n, dict(a), rank)) for seq in ops.values() for n, a in seq if n in ("rot90", "transpose")]
        if firsts:
            moved.append(rank - min(firsts))
    return max(moved) if moved else None


def _grid_hint(domain, ops: dict) -> int:
    """A likely grid rank for a hint: the trailing dims from the first one a flip or roll moves (at most 3), else 2."""
    rank = len(domain.dims)
    firsts = [min(_dims_of(n, dict(a), rank)) for seq in ops.values() for n, a in seq if n in ("flip", "roll")]
    return min(rank - min(firsts), MAX_GRID_DIMS) if firsts else min(2, rank)


def _ops(act, generators) -> dict:
    """Each generator's ops ``[(name, args)]`` (the identity where the action is trivial)."""
    return {g: [(n, dict(a)) for n, a in (act.ops.get(g, ()) if act is not None else ())] for g in generators}


def _check_ops(
    spec, name, layer, end: str, domain, ops: dict, grid: int, padding: str, kernel: int, stride: int = 1
) -> np.ndarray:
    """Each generator's push map on the kernel's offsets (``[g, k^grid]``); a compile error for an op no conv commutes with."""
    rank = len(domain.dims)
    first = rank - grid
    box = (kernel,) * grid
    pushes = []
    for g, seq in ops.items():
        point = []
        for op, args in seq:
            dims = _dims_of(op, args, rank) if op in _CONV_OPS else ()
            if op not in _CONV_OPS:
                _fail(
                    spec,
                    f"layer {name}: generator {g} acts on {end} {domain} by {op}, not a permutation of positions",
                    layer.span,
                )
            on_grid = [d >= first for d in dims]
            if not any(on_grid):
                continue  # a permutation of the fiber dims: any is fine
            if not all(on_grid):
                _fail(
                    spec,
                    f"layer {name}: generator {g} acts by {op} on dims {dims} of {end} {domain}, mixing its fiber dims "
                    f"(the first {first}) with its grid dims (the last {grid})",
                    layer.span,
                    "a convolution needs the group to act on the grid and on the fiber separately; give [grid d] if "
                    "the grid dims were not guessed right",
                )
            if op == "roll":
                if stride != 1:
                    _fail(
                        spec,
                        f"layer {name}: generator {g} translates the grid of {end} {domain} (roll on dim {dims[0]}), and "
                        f"a convolution with stride {stride} commutes only with translations by multiples of {stride}",
                        dict(layer.option_spans).get("stride", layer.span),
                        "drop the stride (downsample by pooling), or drop the roll from the group",
                    )
                if padding != "circular":
                    _fail(
                        spec,
                        f"layer {name}: generator {g} translates the grid of {end} {domain} (roll on dim {dims[0]}), and a "
                        "convolution with zero padding commutes with translations only away from the border",
                        layer.span,
                        "add 'padding circular' to the layer's options (exact on a torus), or drop the roll from the group: "
                        "a convolution is translation-equivariant anyway",
                    )
                continue  # a translation: absorbed by the circular convolution
            if op not in _POINT:
                _fail(
                    spec,
                    f"layer {name}: generator {g} acts by {op} on grid dims {dims} of {end} {domain}, which is not a "
                    "rotation or reflection about the grid's centre",
                    layer.span,
                    "on the grid, a generator may rot90, flip, transpose or roll; permute only fiber dims",
                )
            grid_args = dict(args)
            for key in ("dims", "dim", "i", "j"):  # the op renumbered onto the grid alone
                if key in grid_args:
                    v = grid_args[key]
                    grid_args[key] = tuple(int(d) % rank - first for d in v) if isinstance(v, tuple) else int(v) % rank - first
            point.append((op, grid_args))
        pushes.append(ops_push(point, shape=box))
    return np.stack(pushes) if pushes else np.zeros((0, kernel**grid), dtype=np.int64)


def _grid_moves(ops: dict, rank: int, grid: int) -> dict:
    """Each generator's ops on the grid alone (translations included), renumbered onto the grid's dims."""
    first, out = rank - grid, {}
    for g, seq in ops.items():
        moves = []
        for op, args in seq:
            if min(_dims_of(op, args, rank)) < first:
                continue  # a fiber permutation (ops mixing fiber and grid are refused before)
            local = dict(args)
            for key in ("dims", "dim", "i", "j"):
                if key in local:
                    v = local[key]
                    local[key] = tuple(int(d) % rank - first for d in v) if isinstance(v, tuple) else int(v) % rank - first
            moves.append((op, local))
        out[g] = moves
    return out


def _probe_grids(sizes: tuple) -> list:
    """The grid sizes on which two grid actions are compared: the sizes when fixed, else each symbolic one at 5, 6, 7."""
    if all(isinstance(n, int) for n in sizes):
        return [tuple(sizes)]
    return [tuple(n if isinstance(n, int) else m for n in sizes) for m in (5, 6, 7)]


def _check_grids(spec, name: str, layer, g_in: tuple, g_out: tuple, stride: int) -> None:
    """Both ends on the same grid (stride 1), or the output on every ``stride``-th point of the input's grid, corners
    included: ``m = (n - 1) / stride + 1`` with ``stride`` dividing ``n - 1`` (checked at run time for symbolic sizes)."""
    shown = f"the grid of its input ({', '.join(map(str, g_in))}) and of its output ({', '.join(map(str, g_out))})"
    if stride == 1:
        if g_in != g_out:
            _fail(
                spec,
                f"layer {name}: {shown} differ",
                layer.span,
                "a convolution keeps the grid: declare both ends on the same grid sizes",
            )
        return
    span = dict(layer.option_spans).get("stride", layer.span)
    for n, m in zip(g_in, g_out):
        if isinstance(n, int) and isinstance(m, int):
            if (n - 1) % stride or m != (n - 1) // stride + 1:
                _fail(
                    spec,
                    f"layer {name}: with stride {stride}, {shown} must have sizes m = (n - 1) / {stride} + 1 with "
                    f"{stride} dividing n - 1, so that rotations and reflections about the centre keep the sampled points",
                    span,
                    f"e.g. an input grid of {4 * stride + 1} and an output grid of 5",
                )
        elif isinstance(n, int) or isinstance(m, int) or n == m:
            _fail(
                spec,
                f"layer {name}: with stride {stride}, {shown} must both be fixed, or both symbolic with different names "
                "(the output's grid is smaller)",
                span,
                "declare the output on its own sizes, e.g. tensor[4, H, H] -> tensor[4, M, M]",
            )


def conv_layer(spec, tables, name: str, layer, gir, src, dst, cls: str, comment: str):
    """The :class:`~symspec.codegen.layers.Layer` of a layer with a ``kernel`` option, or None for any other layer."""
    kernel = layer.option("kernel")
    if kernel is None:
        return _grid_pool(spec, tables, name, layer, gir, src, cls, comment)
    if isinstance(layer.target, RealDomain) or isinstance(layer.source, RealDomain):
        _fail(
            spec,
            f"layer {name} has a kernel, but {'its output' if isinstance(layer.target, RealDomain) else 'its input'} is real, "
            "which has no grid",
            layer.span,
            "pool to real with a layer without [kernel k] (the mean over the grid, then a map tied by the fiber's orbits)",
        )
    if gir.continuous or gir.definition.kind == "symmetric" or not gir.generators:
        _fail(
            spec,
            f"layer {name}: a convolutional layer needs a finite group acting by rotations, reflections and translations "
            f"of the grid and permutations of the fiber, not {gir.name}",
            layer.span,
            "declare the point group as a presentation, e.g. <r, s | r^4, s^2, (s r)^2>, with an action on each domain",
        )
    ops_in, ops_out = _ops(src, gir.generators), _ops(dst, gir.generators)
    grid = grid_rank(layer, ops_in, ops_out)
    if grid is None:
        _fail(
            spec,
            f"layer {name}: cannot tell which dims of {layer.source} are the grid (no symbolic size, no rotation)",
            layer.span,
            f"give the number of trailing grid dims: [kernel 3, grid {_grid_hint(layer.source, ops_in)}]",
        )
    if grid > MAX_GRID_DIMS:  # only a guess can be (an option is checked); conv1d/2d/3d exist
        _fail(
            spec,
            f"layer {name}: the grid of {layer.source} would be its last {grid} dims (from its first "
            f"{'symbolic size' if any(not isinstance(n, int) for n in layer.source.dims) else 'rotated dim'} on), but a "
            "convolution has 1, 2 or 3 grid dims",
            layer.span,
            "symbolic sizes are for grid dims: give the fiber dims fixed sizes, or say how many trailing dims are the "
            "grid with [grid d]",
        )
    for end, domain in (("input", layer.source), ("output", layer.target)):
        if len(domain.dims) < grid:
            _fail(spec, f"layer {name}: its {end} {domain} has fewer than {grid} grid dims", layer.span, "give [grid d]")
        fiber = domain.dims[: len(domain.dims) - grid]
        if not all(isinstance(d, int) for d in fiber):
            _fail(
                spec,
                f"layer {name}: the fiber dims {tuple(fiber)} of its {end} {domain} must have fixed sizes (the grid is "
                f"the last {grid} dims)",
                layer.span,
                "symbolic sizes are for grid dims: write the fiber's size, e.g. tensor[4, H, W]",
            )
    f_in = math.prod(layer.source.dims[: len(layer.source.dims) - grid])
    f_out = math.prod(layer.target.dims[: len(layer.target.dims) - grid])
    entries = f_out * f_in * kernel**grid
    if entries > MAX_KERNEL_ENTRIES:
        _fail(
            spec,
            f"layer {name}: its kernel ties {f_out:,} output x {f_in:,} input fiber positions x {kernel**grid:,} offsets, "
            f"{entries:,} entries, over the limit of {MAX_KERNEL_ENTRIES:,}",
            layer.span,
            "use smaller fibers or a smaller kernel",
        )
    g_in, g_out = layer.source.dims[-grid:], layer.target.dims[-grid:]
    padding = layer.option("padding", "zeros")
    stride = layer.option("stride", 1)
    _check_grids(spec, name, layer, tuple(g_in), tuple(g_out), stride)
    if padding == "circular":
        small = [n for n in g_in if isinstance(n, int) and n < kernel // 2]
        if small:
            _fail(spec, f"layer {name}: circular padding of {kernel // 2} needs grid sizes >= {kernel // 2}", layer.span)
    # the rotations and reflections compared on a 3-wide box at least (a 1-wide kernel cannot tell them apart)
    a_in = _check_ops(spec, name, layer, "input", layer.source, ops_in, grid, padding, max(kernel, 3), stride)
    a_out = _check_ops(spec, name, layer, "output", layer.target, ops_out, grid, padding, max(kernel, 3), stride)
    for g, p, q in zip(gir.generators, a_in, a_out):
        if not np.array_equal(p, q):
            _fail(
                spec,
                f"layer {name}: generator {g} rotates or reflects the grid of {layer.source} and of {layer.target} "
                "differently, so no convolution commutes with it",
                layer.span,
                "give the generator the same rot90/flip/transpose on the grid of both domains",
            )
    if stride == 1:  # translations too (a stride refuses them): the same move of the grid on both ends
        moves_in = _grid_moves(ops_in, len(layer.source.dims), grid)
        moves_out = _grid_moves(ops_out, len(layer.target.dims), grid)
        for g in gir.generators:
            if not any(op == "roll" for op, _ in (*moves_in[g], *moves_out[g])):
                continue  # rotations and reflections about the centre: equal on the kernel, equal on any grid
            for sizes in _probe_grids(tuple(g_in)):
                if not np.array_equal(ops_push(moves_in[g], shape=sizes), ops_push(moves_out[g], shape=sizes)):
                    _fail(
                        spec,
                        f"layer {name}: generator {g} moves the grid of {layer.source} and of {layer.target} "
                        f"differently (other translations, on a grid of {' x '.join(map(str, sizes))}), so no "
                        "convolution commutes with it",
                        layer.span,
                        "a convolution moves its output's grid as its input's: give the generator the same roll (and "
                        "rot90/flip/transpose) on the grid of both domains; fiber permutations may differ",
                    )
    in_fiber = tuple(layer.source.dims[: len(layer.source.dims) - grid])
    out_fiber = tuple(layer.target.dims[: len(layer.target.dims) - grid])
    args = (
        Name("c_in"),
        Name("c_out"),
        as_expr(ops_in),
        as_expr(ops_out),
        tables.dims(in_fiber),
        tables.dims(out_fiber),
    )
    kwargs = (
        ("kernel", as_expr(kernel)),
        ("grid", as_expr(grid)),
        ("padding", as_expr(padding)),
        ("stride", as_expr(stride)),
        ("bias", Name("bias")),
    )
    note = f" (convolution: kernel {kernel}, {grid} grid dims, padding {padding}, stride {stride})"
    return Layer(cls, "rt.GroupConv", args, comment + note, name, kwargs)


def _grid_pool(spec, tables, name: str, layer, gir, src, cls: str, comment: str):
    """An ``rt.GridPool`` for ``tensor[*fiber, *grid] -> real`` with symbolic grid sizes under a point group; else None.

    Fixed sizes keep the exact orbit layer; symbolic ones had no layer: the
    mean over the grid, then a map tied by the fiber's orbits.
    """
    source = layer.source
    if (
        not isinstance(source, Tensor)
        or all(isinstance(d, int) for d in source.dims)
        or gir.continuous
        or gir.definition.kind == "symmetric"
        or not gir.generators
        or src is None
        or not src.ops
    ):
        return None
    ops = _ops(src, gir.generators)
    if any(op not in _CONV_OPS for seq in ops.values() for op, _ in seq):
        return None
    grid = len(source.dims) - next(i for i, n in enumerate(source.dims) if not isinstance(n, int))
    if isinstance(layer.target, Tensor):  # a global map between symbolic grids: no layer has a size-free basis
        _fail(
            spec,
            f"layer {name}: a global equivariant map from {source} to {layer.target} needs fixed sizes, but the grid of "
            f"{source} is symbolic",
            layer.span,
            "make it local: add [kernel 3] (a group convolution on any grid size), or fix the sizes",
        )
    if not isinstance(layer.target, RealDomain):
        return None
    _check_ops(spec, name, layer, "input", source, ops, grid, "circular", 1)  # the mean is translation-invariant
    rank, fiber = len(source.dims), tuple(source.dims[: len(source.dims) - grid])
    fiber_ops = {}
    for g, seq in ops.items():
        kept = []
        for op, args in seq:
            if max(_dims_of(op, args, rank)) < len(fiber):  # a fiber op, renumbered onto the fiber alone
                kept.append(
                    (
                        op,
                        {
                            k: tuple(int(d) % rank for d in v) if k == "dims" else int(v) % rank if k in ("dim", "i", "j") else v
                            for k, v in args.items()
                        },
                    )
                )
        fiber_ops[g] = kept
    table = rt("action_table", as_expr(fiber_ops), shape=tables.dims(fiber))
    args = (Name("c_in"), Name("c_out"), table, tables.dims(fiber), as_expr(grid))
    note = f" (mean over the {grid} grid dims, then the fiber's orbits)"
    return Layer(cls, "rt.GridPool", args, comment + note, name, (("bias", Name("bias")),))
