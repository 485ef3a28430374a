"""Convolutional group-equivariant layers (``layer L: D1 -> D2 under G [kernel k]``): rt.GroupConv and rt.GridPool.

Equivariance in float64 with every parameter random, under every generator
and random group elements (``symspec.assert_equivariant``) and under
translations (``torch.roll`` on grid dims, circular padding); parameter
counts against a brute-force null space of the equivariance constraints on
unconstrained kernels; the conv layer against the global orbit layer of the
same group (with translations) on a small image; errors at file:line:col.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt
from symspec.codegen import CompileError
from symspec.testing import randomized_copy

CORPUS = ROOT / "tests" / "specs" / "valid" / "conv_layers.sym"

REGULAR_D4 = """
action D4 on Feat {
  r -> compose(permute(perm=(3, 0, 1, 2, 7, 4, 5, 6), dim=0), rot90(dims=(1, 2)))
  s -> compose(permute(perm=(4, 7, 6, 5, 0, 3, 2, 1), dim=0), flip(dim=2))
}
"""


def p4(size="S", options="[kernel 3]"):
    return (
        f"domain Feat = tensor[4, {size}, {size}]\ndomain Image = tensor[{size}, {size}]\ngroup C4 = <r | r^4>\n"
        "action C4 on Feat { r -> compose(roll(dim=0), rot90(dims=(1, 2))) }\n"
        "action C4 on Image { r -> rot90(dims=(0, 1)) }\n"
        f"layer conv: Feat -> Feat under C4 {options}\n"
        f"layer lift: Image -> Feat under C4 {options}\n"
        f"layer project: Feat -> Image under C4 {options}\n"
        "layer pool: Feat -> real under C4\n"
    )


def p4m(size="S", options="[kernel 3]"):
    return (
        f"domain Feat = tensor[8, {size}, {size}]\ndomain Image = tensor[{size}, {size}]\n"
        "group D4 = <r, s | r^4, s^2, (s r)^2>\n" + REGULAR_D4 + "action D4 on Image {\n  r -> rot90(dims=(0, 1))\n"
        "  s -> flip(dim=1)\n}\n"
        f"layer conv: Feat -> Feat under D4 {options}\n"
        f"layer lift: Image -> Feat under D4 {options}\n"
        f"layer project: Feat -> Image under D4 {options}\n"
        "layer pool: Feat -> real under D4\n"
    )


# 1D: a reflection swapping the two fiber channels; 3D: rotations about one axis and a mirror across another
ONE_D = (
    "domain Seq = tensor[2, L]\ndomain Line = tensor[L]\ngroup M = <s | s^2>\n"
    "action M on Seq { s -> compose(permute(perm=(1, 0), dim=0), flip(dim=1)) }\n"
    "action M on Line { s -> flip(dim=0) }\n"
    "layer conv: Seq -> Seq under M [kernel 5, padding circular]\n"
    "layer lift: Line -> Seq under M [kernel 3]\n"
)
# every size fixed and no rotation: [grid 1] says which dim is the grid
ONE_D_FIXED = (
    "domain Seq = tensor[2, 6]\ngroup M = <s | s^2>\n"
    "action M on Seq { s -> compose(permute(perm=(1, 0), dim=0), flip(dim=1)) }\n"
    "layer conv: Seq -> Seq under M [kernel 3, grid 1]\n"
)
THREE_D = (
    "domain Vol = tensor[S, S, S]\ndomain Feat = tensor[2, S, S, S]\ngroup G = <r, s | r^4, s^2, r s = s r>\n"
    "action G on Vol {\n  r -> rot90(dims=(1, 2))\n  s -> flip(dim=0)\n}\n"
    "action G on Feat {\n  r -> rot90(dims=(2, 3))\n  s -> compose(roll(dim=0), flip(dim=1))\n}\n"
    "layer lift: Vol -> Feat under G [kernel 3]\n"
    "layer conv: Feat -> Feat under G [kernel 3, padding circular]\n"
)
# p4 with translations on a fixed 5 x 5 torus: r rotates, t translates (the group has 4 * 25 elements)
P4_TORUS = (
    "domain Feat = tensor[4, 5, 5]\ngroup P = <r, t | r^4, t^5, r t r^-1 t = t r t r^-1, r^2 t r^-2 t>\n"
    "action P on Feat {\n  r -> compose(roll(dim=0), rot90(dims=(1, 2)))\n  t -> roll(dim=1)\n}\n"
    "layer conv: Feat -> Feat under P [kernel 3, padding circular]\n"
    "layer dense: Feat -> Feat under P\n"
)
# stride s keeps every s-th grid point, corners included: 9 -> 5 with stride 2, 7 -> 3 with stride 3
STRIDE = (
    "domain Feat = tensor[8, H, H]\ndomain Small = tensor[8, M, M]\ndomain F9 = tensor[8, 9, 9]\n"
    "domain F5 = tensor[8, 5, 5]\ndomain Img = tensor[7, 7]\ndomain Reg = tensor[8, 3, 3]\n"
    "group D4 = <r, s | r^4, s^2, (s r)^2>\n"
    + "".join(REGULAR_D4.replace("Feat", d) for d in ("Feat", "Small", "F9", "F5", "Reg"))
    + "action D4 on Img {\n  r -> rot90(dims=(0, 1))\n  s -> flip(dim=1)\n}\n"
    "layer down: Feat -> Small under D4 [kernel 3, stride 2]\n"
    "layer down_fixed: F9 -> F5 under D4 [kernel 3, stride 2, padding circular]\n"
    "layer lift: Img -> Reg under D4 [stride 3, kernel 5]\n"
)

# (id, source, layer, runtime class, input shape [c_in, *shape])
CASES = [
    ("p4-conv", p4(), "conv", rt.GroupConv, (2, 4, 7, 7)),
    ("p4-lift", p4(), "lift", rt.GroupConv, (2, 7, 7)),
    ("p4-project", p4(), "project", rt.GroupConv, (2, 4, 7, 7)),
    ("p4-pool", p4(), "pool", rt.GridPool, (2, 4, 7, 7)),
    ("p4-circular-even-grid", p4(options="[kernel 3, padding circular]"), "conv", rt.GroupConv, (2, 4, 6, 6)),
    ("p4-kernel-5", p4(options="[kernel 5]"), "conv", rt.GroupConv, (2, 4, 6, 6)),
    ("p4-fixed-size", p4(size=6), "conv", rt.GroupConv, (2, 4, 6, 6)),
    ("p4m-conv", p4m(), "conv", rt.GroupConv, (2, 8, 6, 6)),
    ("p4m-lift", p4m(), "lift", rt.GroupConv, (2, 6, 6)),
    ("p4m-project-circular", p4m(options="[kernel 3, padding circular]"), "project", rt.GroupConv, (2, 8, 5, 5)),
    ("p4m-pool", p4m(), "pool", rt.GridPool, (2, 8, 6, 6)),
    ("p4m-fixed-size", p4m(size=5), "conv", rt.GroupConv, (2, 8, 5, 5)),
    ("1d-conv", ONE_D, "conv", rt.GroupConv, (2, 2, 9)),
    ("1d-lift", ONE_D, "lift", rt.GroupConv, (2, 9)),
    ("3d-lift", THREE_D, "lift", rt.GroupConv, (1, 5, 5, 5)),
    ("3d-conv", THREE_D, "conv", rt.GroupConv, (2, 2, 4, 4, 4)),
    ("p4-torus-translations", P4_TORUS, "conv", rt.GroupConv, (2, 4, 5, 5)),
    ("1d-fixed-size-grid-option", ONE_D_FIXED, "conv", rt.GroupConv, (2, 2, 6)),
    ("p4m-stride-2-symbolic", STRIDE, "down", rt.GroupConv, (2, 8, 9, 9)),
    ("p4m-stride-2-fixed-circular", STRIDE, "down_fixed", rt.GroupConv, (2, 8, 9, 9)),
    ("p4-stride-3-lift", STRIDE, "lift", rt.GroupConv, (2, 7, 7)),
]


def _layer(source: str, name: str, c_in: int, c_out: int = 3):
    spec = symspec.loads(source, "conv.sym")
    return spec, symspec.compile(spec).LAYERS[name](c_in, c_out)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_layers_are_equivariant_with_every_parameter_random(case):
    _, source, name, cls, shape = case
    spec, layer = _layer(source, name, shape[0])
    assert isinstance(layer, cls)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, *shape, generator=g, dtype=torch.float64)
    # every generator's element table when small, else 8 random elements, each time on a copy with random parameters
    symspec.assert_equivariant(layer.double(), spec, name, x, elements=16, generator=g)
    random = randomized_copy(layer.double(), g)
    assert all(bool(p.abs().max() > 0.1) for p in random.parameters())  # the biases too


def _apply(ops, x: torch.Tensor, first: int) -> torch.Tensor:
    """The ops ``[(name, args)]`` applied right to left to the dims of ``x`` from ``first`` on (torch, by hand)."""
    for name, a in reversed(ops):
        if name == "roll":
            x = torch.roll(x, a.get("shift", 1), first + a["dim"])
        elif name == "rot90":
            x = torch.rot90(x, 1, tuple(first + d for d in a["dims"]))
        elif name == "flip":
            x = torch.flip(x, (first + a["dim"],))
        elif name == "permute":
            x = torch.index_select(x, first + a["dim"], torch.tensor(a["perm"]))
        else:  # pragma: no cover - the cases use only these
            raise AssertionError(name)
    return x


@pytest.mark.parametrize("source, name, grid", [(p4(), "conv", 2), (p4m(), "lift", 2), (ONE_D, "conv", 1), (THREE_D, "conv", 3)])
def test_circular_conv_layers_commute_with_every_translation(source, name, grid):
    source = source.replace("[kernel 3]", "[kernel 3, padding circular]")
    spec, layer = _layer(source, name, 2)
    layer = randomized_copy(layer.double(), torch.Generator().manual_seed(1))
    dims = len(spec.layers[name].source.dims)
    size = 5 if grid < 3 else 4
    shape = (2, *[d if isinstance(d, int) else size for d in spec.layers[name].source.dims])
    x = torch.randn(2, *shape, dtype=torch.float64)
    y = layer(x).detach()
    for shifts in itertools.product(range(-1, 3), repeat=grid):
        moved_dims = tuple(range(2 + dims - grid, 2 + dims))
        out_dims = tuple(range(y.dim() - grid, y.dim()))
        err = (layer(torch.roll(x, shifts, moved_dims)).detach() - torch.roll(y, shifts, out_dims)).abs().max()
        assert float(err) < 1e-12 * max(1.0, float(y.abs().max()))


def _brute_force_count(spec, name: str, size: int) -> int:
    """The dimension of the space of UNCONSTRAINED conv kernels (circular, size x size grid) commuting with every
    generator, by SVD of the constraints ``conv_K(g . x) - g . conv_K(x)`` over random x (no orbits involved)."""
    layer = spec.layers[name]
    gir, src, dst = spec.ir.layers[name]
    kernel, grid = layer.option("kernel"), 2
    f_in = 1 if len(layer.source.dims) == grid else layer.source.dims[0]
    f_out = 1 if len(layer.target.dims) == grid else layer.target.dims[0]
    x = torch.randn(3, f_in, *(len(layer.source.dims) - grid) * [1], size, size, dtype=torch.float64)
    x = x.reshape(3, *[d if isinstance(d, int) else size for d in layer.source.dims])
    columns = []
    for j in range(f_out * f_in * kernel * kernel):
        w = torch.zeros(f_out * f_in * kernel * kernel, dtype=torch.float64)
        w[j] = 1.0
        w = w.view(f_out, f_in, kernel, kernel)

        def conv(t, w=w):
            flat = torch.nn.functional.pad(t.reshape(t.shape[0], f_in, size, size), (kernel // 2,) * 4, mode="circular")
            return torch.nn.functional.conv2d(flat, w).reshape(
                t.shape[0], *[d if isinstance(d, int) else size for d in layer.target.dims]
            )

        residual = []
        for g in gir.generators:
            ops_in = [(n, dict(a)) for n, a in src.ops.get(g, ())]
            ops_out = [(n, dict(a)) for n, a in dst.ops.get(g, ())]
            residual.append((conv(_apply(ops_in, x, 1)) - _apply(ops_out, conv(x), 1)).reshape(-1))
        columns.append(torch.cat(residual))
    constraints = torch.stack(columns, dim=1)
    s = torch.linalg.svdvals(constraints)
    return f_out * f_in * kernel * kernel - int((s > 1e-9 * s.max()).sum())


@pytest.mark.parametrize(
    "source, name",
    [(p4(), "conv"), (p4(), "lift"), (p4(), "project"), (p4m(), "conv"), (p4m(), "lift"), (p4(options="[kernel 5]"), "conv")],
)
def test_parameter_counts_equal_the_brute_force_null_space(source, name):
    source = source.replace("[kernel 3]", "[kernel 3, padding circular]").replace("[kernel 5]", "[kernel 5, padding circular]")
    spec, layer = _layer(source, name, 1, 1)
    assert layer.num_orbits == _brute_force_count(spec, name, size=7)
    assert layer.weight.numel() == layer.num_orbits


def test_p4_regular_to_regular_3x3_has_36_weights_per_channel_pair():
    spec, layer = _layer(p4(), "conv", 2, 5)
    assert layer.weight.shape == (5, 2, 36)
    assert layer.bias.shape == (5, 1)  # the regular representation: one bias per channel


def _dense(layer, shape) -> torch.Tensor:
    """The matrix ``[outputs, inputs]`` of a layer on inputs ``[1, *shape]``."""
    n = torch.Size(shape).numel()
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 1, *shape)
    return layer(basis).detach().reshape(n, -1).T


def test_conv_layer_is_the_global_orbit_layer_restricted_to_the_kernel_window():
    spec, conv = _layer(P4_TORUS, "conv", 1, 1)
    _, dense = _layer(P4_TORUS, "dense", 1, 1)
    assert isinstance(dense, rt.OrbitLinear)
    conv = randomized_copy(conv.double(), torch.Generator().manual_seed(2))
    conv.bias = None
    m = _dense(conv, (4, 5, 5))  # [out, in] over (fiber, row, column)
    orbits = dense.weight_orbits  # every equivariant linear map is constant on these
    f_o, y_o, x_o = torch.unravel_index(torch.arange(100), (4, 5, 5))
    near = lambda a, b: ((a[:, None] - b[None, :]) % 5).le(1) | ((a[:, None] - b[None, :]) % 5).ge(4)  # noqa: E731
    window = near(y_o, y_o) & near(x_o, x_o)  # circular offsets within the 3 x 3 kernel
    assert bool((m[~window] == 0).all())
    # the conv map is in the span of the global maps: constant on each orbit of (output, input) pairs
    labels = orbits.reshape(-1)
    values = m.reshape(-1)
    first = torch.zeros(int(labels.max()) + 1, dtype=torch.float64).scatter_(0, labels, values)
    assert torch.allclose(values, first[labels], atol=1e-12)
    # and the global maps supported in the window are exactly the conv maps: as many orbits as conv weights
    inside = torch.unique(labels[window.reshape(-1)])
    outside = torch.unique(labels[~window.reshape(-1)])
    assert not set(inside.tolist()) & set(outside.tolist())
    assert len(inside) == conv.num_orbits == 36


def test_expanded_kernel_is_cached_in_eval_mode_and_refreshed_when_parameters_change():
    _, layer = _layer(p4(), "conv", 2, 2)
    x = torch.randn(2, 2, 4, 6, 6)
    layer.eval()
    with torch.no_grad():
        y = layer(x)
        cached = layer._cache[2]
        assert torch.equal(layer(x), y) and layer._cache[2] is cached
        layer.weight.add_(1.0)
        assert not torch.equal(layer(x), y) and layer._cache[2] is not cached
    layer.train()
    assert layer._cache is None
    layer(x).square().sum().backward()  # training: the gather stays in the graph
    assert layer.weight.grad is not None and bool(layer.weight.grad.abs().sum() > 0)


def test_float32_input_keeps_its_dtype_and_matches_float64():
    spec, layer = _layer(p4m(), "conv", 2, 2)
    x = torch.randn(2, 2, 8, 6, 6, dtype=torch.float64)
    y32 = layer(x.float())
    assert y32.dtype == torch.float32
    assert torch.allclose(y32.double(), layer.double()(x), atol=1e-5)


def test_building_a_64x64_d4_conv_never_touches_the_image_size():
    spec, layer = _layer(p4m(size=64), "conv", 8, 8)
    assert layer.weight_orbits.shape == (8, 8, 9)  # a kernel-sized table
    assert layer(torch.randn(1, 8, 8, 64, 64)).shape == (1, 8, 8, 64, 64)


def test_corpus_conv_layers_compile_to_group_convolutions():
    spec = symspec.load(CORPUS)
    layers = symspec.compile(spec).LAYERS
    kinds = {name: type(layers[name](1, 1)).__mro__[1] for name in spec.layers}
    assert kinds["p4_pool"] is rt.GridPool and kinds["p4m_pool"] is rt.GridPool
    assert all(kinds[n] is rt.GroupConv for n in spec.layers if not n.endswith("pool"))
    assert layers["p4_project"](1, 1).kernel == 5


# ---- compile errors at the layer (file:line:col and message) -------------------------------------------------

ERRORS = [
    (
        p4().replace("layer conv: Feat -> Feat under C4 [kernel 3]", "layer conv: Feat -> Feat under C4"),
        (6, 1),
        "layer conv: a global equivariant map from tensor[4, S, S] to tensor[4, S, S] needs fixed sizes, but the grid of "
        "tensor[4, S, S] is symbolic",
    ),
    (
        "domain F = tensor[4, 4, 4]\ngroup C = <r, t | r^4, t^4, r t r^-1 t = t r t r^-1, r^2 t r^-2 t>\n"
        "action C on F {\n  r -> compose(roll(dim=0), rot90(dims=(1, 2)))\n  t -> roll(dim=2)\n}\n"
        "layer conv: F -> F under C [kernel 3]\n",
        (7, 1),
        "layer conv: generator t translates the grid of input tensor[4, 4, 4] (roll on dim 2), and a convolution with zero "
        "padding commutes with translations only away from the border",
    ),
    (
        "domain F = tensor[4, 4, 4]\ngroup C = <s | s^2>\naction C on F { s -> permute(perm=(1, 0, 3, 2), dim=1) }\n"
        "layer f: F -> F under C [kernel 3, grid 2]\n",
        (4, 1),
        "layer f: generator s acts by permute on grid dims (1,) of input tensor[4, 4, 4], which is not a rotation or "
        "reflection about the grid's centre",
    ),
    (
        "domain F = tensor[S, S]\ngroup C = <r | r^4>\naction C on F { r -> rot90(dims=(0, 1)) }\n"
        "domain G = tensor[2, S, S]\naction C on G { r -> compose(roll(dim=0), rot90(dims=(2, 1))) }\n"
        "layer f: F -> G under C [kernel 3]\n",
        (6, 1),
        "layer f: generator r rotates or reflects the grid of tensor[S, S] and of tensor[2, S, S] differently",
    ),
    (
        "domain F = tensor[S, S]\ngroup C = <r | r^4>\naction C on F { r -> rot90(dims=(0, 1)) }\n"
        "layer f: F -> F under C [kernel 3, stride 2]\n",
        (4, 36),
        "layer f: with stride 2, the grid of its input (S, S) and of its output (S, S) must both be fixed, or both "
        "symbolic with different names",
    ),
    (
        "domain F = tensor[8, 8]\ndomain G = tensor[4, 4]\ngroup C = <r | r^4>\naction C on F { r -> rot90(dims=(0, 1)) }\n"
        "action C on G { r -> rot90(dims=(0, 1)) }\nlayer f: F -> G under C [kernel 3, stride 2]\n",
        (6, 36),
        "layer f: with stride 2, the grid of its input (8, 8) and of its output (4, 4) must have sizes m = (n - 1) / 2 + 1",
    ),
    (
        "domain F = tensor[5]\ndomain G = tensor[3]\ngroup T = <t | t^5>\naction T on F { t -> roll(dim=0) }\n"
        "action T on G { t -> roll(dim=0, shift=3) }\n"
        "layer f: F -> G under T [kernel 3, stride 2, padding circular, grid 1]\n",
        (6, 36),
        "layer f: generator t translates the grid of input tensor[5] (roll on dim 0), and a convolution with stride 2 "
        "commutes only with translations by multiples of 2",
    ),
    (
        "domain F = tensor[S, S]\ngroup C = <r | r^4>\naction C on F { r -> rot90(dims=(0, 1)) }\n"
        "layer f: F -> real under C [kernel 3]\n",
        (4, 1),
        "layer f has a kernel, but its output is real, which has no grid",
    ),
    (
        "domain F = tensor[2, 6]\ngroup M = <s | s^2>\naction M on F { s -> flip(dim=1) }\nlayer f: F -> F under M [kernel 3]\n",
        (4, 1),
        "layer f: cannot tell which dims of tensor[2, 6] are the grid",
    ),
    (
        "domain F = tensor[3, S]\ngroup R = SO(3)\naction R on F by matrix(dim=0)\nlayer f: F -> F under R [kernel 3]\n",
        (4, 1),
        "layer f: a convolutional layer needs a finite group",
    ),
    (
        "domain F = tensor[4, S, T]\ndomain G = tensor[4, T, S]\ngroup C = <r | r^4>\naction C on F { r -> roll(dim=0) }\n"
        "action C on G { r -> roll(dim=0) }\nlayer f: F -> G under C [kernel 3]\n",
        (6, 1),
        "layer f: the grid of its input (S, T) and of its output (T, S) differ",
    ),
]


@pytest.mark.parametrize("source, where, message", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_conv_layer_errors_name_the_layer(source, where, message):
    spec = symspec.loads(source, "conv_bad.sym")
    with pytest.raises(CompileError) as info:
        symspec.check(spec)
    diag = info.value.diagnostics[0]
    assert (diag.span.file, diag.span.line, diag.span.column) == ("conv_bad.sym", *where), str(info.value)
    assert message in diag.message
    assert diag.hint


def test_a_stride_that_does_not_keep_the_corners_is_refused_at_run_time():
    _, layer = _layer(STRIDE, "down", 1)
    assert layer(torch.randn(1, 1, 8, 9, 9)).shape == (1, 3, 8, 5, 5)
    with pytest.raises(ValueError, match="stride 2 needs every grid size n with n - 1 divisible by 2"):
        layer(torch.randn(1, 1, 8, 8, 8))


def test_runtime_refuses_actions_no_convolution_commutes_with():
    mixing = {"r": [("rot90", {"dims": (0, 1)})]}  # rotates a fiber dim onto a grid dim
    with pytest.raises(ValueError, match="mixes fiber and grid dims"):
        rt.GroupConv(1, 1, mixing, mixing, (4,), (4,), kernel=3, grid=2)
    moving = {"t": [("roll", {"dim": 1})]}
    with pytest.raises(ValueError, match="only a circular convolution commutes with"):
        rt.GroupConv(1, 1, moving, moving, (4,), (4,), kernel=3, grid=2)
    layer = rt.GroupConv(1, 1, moving, moving, (4,), (4,), kernel=3, grid=2, padding="circular")
    assert layer.num_orbits == 4 * 4 * 9  # translations tie nothing: any kernel commutes with them
