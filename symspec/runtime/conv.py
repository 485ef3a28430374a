"""Local (convolutional) group-equivariant layers: kernels tied by the orbits of a point group.

A domain ``tensor[*fiber, *grid]`` splits into leading *fiber* dims and
``grid`` trailing *grid* dims (1, 2 or 3: conv1d/2d/3d). Each generator of
the group acts by position ops (``symspec.transforms``): on the grid by point
operations about its centre (``rot90``, ``flip``, ``transpose``; linear part
``A``, a signed permutation of the axes) and translations (``roll`` on a grid
dim, absorbed by a circular convolution), on the fiber by any permutation
``pi``. A convolution ``y[o, p] = sum_{i, d} W[o, i, d] x[i, p + d]``
commutes with such a generator exactly when
``W[pi_out(o), pi_in(i), A d] = W[o, i, d]``: the kernel is tied by the
orbits of the generators acting jointly on (output fiber index, input fiber
index, kernel offset). Those orbits are found once, by union-find over push
maps of the SAME ops on index tables of shape ``(*fiber, k, ..., k)`` -- a
table the size of the kernel, never of the image -- and kept as one index
table; the forward gathers the full conv weight from the parameter vector
(cached in eval mode without autograd) and calls
``torch.nn.functional.conv1d/2d/3d``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual name

from ..transforms import ops_push
from .layers import check_channels, orbit_labels

__all__ = ["GroupConv", "GridPool", "conv_kernel_orbits", "POINT_OPS", "CONV_PADDINGS"]

POINT_OPS = frozenset(("rot90", "flip", "transpose"))  # ops that may act on grid dims (about the grid's centre)
CONV_PADDINGS = ("zeros", "circular")
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _op_dims(name: str, args: dict, rank: int) -> tuple:
    """The dims (normalized to ``0..rank-1``) one position op moves."""
    if name == "rot90":
        dims = args["dims"]
    elif name == "transpose":
        dims = (args["i"], args["j"])
    elif name == "permute_dims":
        dims = args["dims"]
    else:
        dims = (args["dim"],)
    return tuple(int(d) % rank for d in dims)


def _point_ops(ops, rank: int, grid: int, padding: str, generator: str) -> list:
    """``ops`` without its translations (rolls on grid dims); ValueError for an op no convolution commutes with."""
    first_grid = rank - grid
    out = []
    for name, args in ops:
        args = dict(args)
        dims = _op_dims(name, args, rank)
        on_grid = [d >= first_grid for d in dims]
        if not any(on_grid):
            out.append((name, args))  # a permutation of the fiber
            continue
        if not all(on_grid):
            raise ValueError(f"generator {generator}: {name} mixes fiber and grid dims {dims}")
        if name == "roll":
            if padding != "circular":
                raise ValueError(f"generator {generator} translates the grid, which only a circular convolution commutes with")
            continue  # a translation: every convolution commutes with it (circular padding)
        if name not in POINT_OPS:
            raise ValueError(f"generator {generator}: {name} on grid dims is not a rotation or reflection about the centre")
        out.append((name, args))
    return out


def _grid_moves(ops, rank: int, grid: int) -> list:
    """The ops of one generator on the grid alone (translations included), renumbered onto the grid's dims."""
    first, out = rank - grid, []
    for name, args in ops:
        args = dict(args)
        if min(_op_dims(name, args, rank)) < first:
            continue  # a fiber permutation (ops mixing fiber and grid are refused by _point_ops)
        for key in ("dims", "dim", "i", "j"):
            if key in args:
                v = args[key]
                args[key] = tuple(int(d) % rank - first for d in v) if isinstance(v, tuple) else int(v) % rank - first
        out.append((name, args))
    return out


def _split(push: np.ndarray, fiber: int, offsets: int, generator: str) -> tuple:
    """(fiber push map [fiber], offset push map [offsets]) of a push map on ``fiber x offsets`` that is their product."""
    table = push.reshape(fiber, offsets)
    f, d = table // offsets, table % offsets
    if not ((f == f[:, :1]).all() and (d == d[:1, :]).all()):
        raise ValueError(f"generator {generator} does not act on fiber and grid separately")
    return f[:, 0], d[0]


def _same(snapshot: torch.Tensor, param: torch.Tensor) -> bool:
    """Whether ``param`` still holds the values of ``snapshot`` (same dtype, device and shape)."""
    return (
        snapshot.dtype == param.dtype
        and snapshot.device == param.device
        and snapshot.shape == param.shape
        and torch.equal(snapshot, param.detach())
    )


# (output fiber, input fiber, offset) triples a kernel's orbit table may have (the codegen refuses larger layers at
# compile time with the same limit, symspec.codegen.conv_layers.MAX_KERNEL_ENTRIES): as many as D4's global orbit
# layer on 64 x 64; each generator's edges take 8 bytes per entry while the orbits are found
MAX_KERNEL_ENTRIES = 4096**2


def conv_kernel_orbits(
    in_ops: dict, out_ops: dict, in_fiber: tuple, out_fiber: tuple, kernel: int, grid: int, padding: str = "zeros"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight orbits ``[F_out, F_in, k^grid]``, bias orbits ``[F_out]``), each labelled 0..n-1.

    ``in_ops`` / ``out_ops`` map each generator to its ops ``[(name, args), ...]``
    on the input / output domain (applied right to left, as ``symspec.transforms``).
    """
    in_fiber, out_fiber = tuple(in_fiber), tuple(out_fiber)
    f_in, f_out, offsets = math.prod(in_fiber), math.prod(out_fiber), kernel**grid
    if f_out * f_in * offsets > MAX_KERNEL_ENTRIES:
        raise ValueError(
            f"a convolution kernel of {f_out:,} output x {f_in:,} input fiber positions x {offsets:,} offsets has "
            f"{f_out * f_in * offsets:,} entries to tie, over the limit of {MAX_KERNEL_ENTRIES:,}: use smaller fibers "
            "or a smaller kernel"
        )
    box = (kernel,) * grid
    edges, bias_edges = [], []
    for g in in_ops:
        rank_in, rank_out = len(in_fiber) + grid, len(out_fiber) + grid
        push_in = ops_push(_point_ops(in_ops[g], rank_in, grid, padding, g), shape=(*in_fiber, *box))
        push_out = ops_push(_point_ops(out_ops[g], rank_out, grid, padding, g), shape=(*out_fiber, *box))
        pi_in, a_in = _split(push_in, f_in, offsets, g)
        pi_out, a_out = _split(push_out, f_out, offsets, g)
        # the point parts compared on a 3-wide box: a 1-wide kernel cannot tell two rotations apart
        unit = (3,) * grid
        point_in = [op for op in _grid_moves(in_ops[g], rank_in, grid) if op[0] != "roll"]
        point_out = [op for op in _grid_moves(out_ops[g], rank_out, grid) if op[0] != "roll"]
        if not np.array_equal(ops_push(point_in, shape=unit), ops_push(point_out, shape=unit)):
            raise ValueError(f"generator {g} moves the grid of the input and of the output differently")
        # (o, i, d) -> (pi_out(o), pi_in(i), A d), flattened row-major
        o, i, d = np.meshgrid(np.arange(f_out), np.arange(f_in), np.arange(offsets), indexing="ij")
        edges.append(torch.from_numpy(((pi_out[o] * f_in + pi_in[i]) * offsets + a_in[d]).reshape(-1)))
        bias_edges.append(torch.from_numpy(pi_out.astype(np.int64)))
    weight = orbit_labels(edges, f_out * f_in * offsets).view(f_out, f_in, offsets)
    return weight, orbit_labels(bias_edges, f_out)


def _check_input(x: torch.Tensor, c_in: int, fiber: tuple, grid: int, layer: str) -> None:
    """ValueError unless ``x`` is ``[batch, c_in, *fiber, *grid]`` (``grid`` dims of any size)."""
    lead = (c_in, *fiber)
    if x.dim() != 1 + len(lead) + grid or tuple(x.shape[1 : 1 + len(lead)]) != lead:
        want = ", ".join(["batch", *map(str, lead), *(f"n{i}" for i in range(1, grid + 1))])
        raise ValueError(f"{layer} takes [{want}] ({c_in} channels, fiber {fiber}, {grid} grid dims), got {tuple(x.shape)}")


class GroupConv(torch.nn.Module):
    """``[batch, c_in, *in_fiber, *grid] -> [batch, c_out, *out_fiber, *grid]``: a convolution commuting with a group.

    The group's generators are given by their ops on the input (``in_ops``)
    and output (``out_ops``) domains; ``grid`` trailing dims are convolved
    with a ``kernel``-wide window ("same" size: ``kernel // 2`` on each side,
    zeros or circular). With ``stride`` s the output keeps every s-th grid
    point, corners included: each input grid size n needs s to divide n - 1
    (then rotations and reflections about the centre keep the sampled points),
    and the output's is (n - 1) / s + 1. Weights ``[c_out, c_in, orbits]`` are tied by the
    orbits of (output fiber, input fiber, kernel offset); bias ``[c_out,
    orbits]`` by the output fiber's orbits. Init N(0, 1/fan_in), fan_in =
    ``c_in * F_in * kernel^grid``; biases 0.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        in_ops: dict,
        out_ops: dict,
        in_fiber: tuple,
        out_fiber: tuple,
        kernel: int,
        grid: int,
        padding: str = "zeros",
        bias: bool = True,
        stride: int = 1,
    ):
        super().__init__()
        if stride < 1:
            raise ValueError(f"the stride must be positive, got {stride}")
        self.stride = stride
        if grid not in _CONV:
            raise ValueError(f"a convolution has 1, 2 or 3 grid dims, got {grid}")
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"the kernel must be odd and positive, got {kernel}")
        if padding not in CONV_PADDINGS:
            raise ValueError(f"padding is one of {CONV_PADDINGS}, got {padding!r}")
        self.c_in, self.c_out, self.kernel, self.grid, self.padding = c_in, c_out, kernel, grid, padding
        self.in_fiber, self.out_fiber = tuple(in_fiber), tuple(out_fiber)
        weight_orbits, bias_orbits = conv_kernel_orbits(in_ops, out_ops, in_fiber, out_fiber, kernel, grid, padding)
        # generators that translate the grid: both ends must move it alike, checked once per grid size met
        ranks = (len(self.in_fiber) + grid, len(self.out_fiber) + grid)
        moves = {g: (_grid_moves(in_ops[g], ranks[0], grid), _grid_moves(out_ops[g], ranks[1], grid)) for g in in_ops}
        self._translating = {g: m for g, m in moves.items() if any(op == "roll" for op, _ in (*m[0], *m[1]))}
        if self._translating and stride != 1:
            raise ValueError(
                f"generator {next(iter(self._translating))} translates the grid, and a convolution with stride {stride} "
                f"commutes only with translations by multiples of {stride}"
            )
        self._checked_grids: set = set()
        self.register_buffer("weight_orbits", weight_orbits, persistent=False)
        self.num_orbits = int(weight_orbits.max()) + 1
        f_in = math.prod(self.in_fiber)
        # the forward gathers the tied weight into the dense conv weight [c_out * F_out, c_in * F_in, k, ...]
        dense = math.prod(self.out_fiber) * f_in * kernel**grid
        c_in, c_out = check_channels(self, "GroupConv", c_in, c_out, max(dense, self.num_orbits))
        self.c_in, self.c_out = c_in, c_out
        fan_in = c_in * f_in * kernel**grid
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, self.num_orbits) / math.sqrt(fan_in))
        if bias:
            self.register_buffer("bias_orbits", bias_orbits, persistent=False)
            self.bias = torch.nn.Parameter(torch.zeros(c_out, int(bias_orbits.max()) + 1))
        else:
            self.bias = None
        self._cache: tuple | None = None  # (dtype, parameter snapshot, weight, bias): eval mode, no autograd, CPU

    def expanded(self, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The full conv weight ``[c_out * F_out, c_in * F_in, k, ...]`` and bias ``[c_out * F_out]`` (one gather each)."""
        f_out, f_in = self.weight_orbits.shape[:2]
        w = self.weight[:, :, self.weight_orbits]  # [c_out, c_in, F_out, F_in, K]
        w = w.transpose(1, 2).reshape(self.c_out * f_out, self.c_in * f_in, *(self.kernel,) * self.grid)
        b = self.bias[:, self.bias_orbits].reshape(-1) if self.bias is not None else None
        if dtype is not None:
            w, b = w.to(dtype), (b.to(dtype) if b is not None else None)
        return w, b

    def _kernel(self, dtype: torch.dtype) -> tuple:
        """The expanded kernel; reused in eval mode without autograd on the CPU while the parameters' values are equal
        to the snapshot it was built from (a value comparison: edits through ``.data`` bypass version counters)."""
        if torch.compiler.is_compiling():  # a compiled graph gathers the kernel itself (the cache is a graph break)
            return self.expanded(dtype)
        if self.training or torch.is_grad_enabled() or self.weight.device.type != "cpu":
            self._cache = None  # an accelerator gathers faster than it could compare values (no host sync)
            return self.expanded(dtype)
        params = [p for p in (self.weight, self.bias) if p is not None]
        cache = self._cache
        fresh = cache is not None and cache[0] == dtype and len(cache[1]) == len(params)
        if not (fresh and all(_same(s, p) for s, p in zip(cache[1], params))):
            self._cache = (dtype, [p.detach().clone() for p in params], *self.expanded(dtype))
        return self._cache[2:]

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def _check_translations(self, sizes: tuple) -> None:
        """ValueError unless every translating generator moves a grid of ``sizes`` alike on both ends."""
        for g, (moves_in, moves_out) in self._translating.items():
            if not np.array_equal(ops_push(moves_in, shape=sizes), ops_push(moves_out, shape=sizes)):
                raise ValueError(
                    f"generator {g} moves a grid of {sizes} differently on the input and on the output, so no "
                    "convolution commutes with it"
                )
        self._checked_grids.add(sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.c_in, self.in_fiber, self.grid, "GroupConv")
        batch, grid_shape = x.shape[0], x.shape[x.dim() - self.grid :]
        w, b = self._kernel(x.dtype)
        flat = x.reshape(batch, w.shape[1], *grid_shape)
        pad = self.kernel // 2
        if self.padding == "circular" and pad:
            if any(n < pad for n in grid_shape):
                raise ValueError(f"circular padding of {pad} needs every grid dim >= {pad}, got {tuple(grid_shape)}")
            flat = F.pad(flat, (pad,) * (2 * self.grid), mode="circular")
            pad = 0
        if self.stride != 1 and any((n - 1) % self.stride for n in grid_shape):
            raise ValueError(
                f"stride {self.stride} needs every grid size n with n - 1 divisible by {self.stride} (the corners are "
                f"kept, so rotations about the centre keep the sampled points), got {tuple(grid_shape)}"
            )
        if self._translating and tuple(grid_shape) not in self._checked_grids:
            self._check_translations(tuple(grid_shape))
        y = _CONV[self.grid](flat, w, b, stride=self.stride, padding=pad)
        return y.reshape(batch, self.c_out, *self.out_fiber, *y.shape[2:])


class GridPool(torch.nn.Module):
    """Invariant ``[batch, c_in, *fiber, *grid] -> [batch, c_out]``: the mean over the grid, then a fiber map tied by orbits.

    ``y_o = sum_{i, f} W[o, i, orbit(f)] mean_p x[i, f, p] + b_o``: invariant
    under every translation of the grid and every point operation, and under
    the fiber permutations ``fiber_perms`` ``[g, F]`` (push maps).
    """

    def __init__(self, c_in: int, c_out: int, fiber_perms: torch.Tensor, fiber: tuple, grid: int, bias: bool = True):
        super().__init__()
        self.fiber, self.grid = tuple(fiber), grid
        f = math.prod(self.fiber)
        c_in, c_out = check_channels(self, "GridPool", c_in, c_out, max(f, 1))
        self.register_buffer("fiber_orbits", orbit_labels(list(fiber_perms), f), persistent=False)
        orbits = int(self.fiber_orbits.max()) + 1
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, orbits) / math.sqrt(c_in * f))
        self.bias = torch.nn.Parameter(torch.zeros(c_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.weight.shape[1], self.fiber, self.grid, "GridPool")
        pooled = x.mean(tuple(range(x.dim() - self.grid, x.dim()))).reshape(x.shape[0], -1)  # [b, c_in * F]
        w = self.weight[:, :, self.fiber_orbits].reshape(self.weight.shape[0], -1).to(x.dtype)
        y = pooled @ w.T
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y
