"""Convolutional layers on the cases the first tests left out (review of issue 14, item 1).

Equivariance in float64 with every parameter random under every group element
(fiber dims of several sizes, fiber-only generators, three generators,
products acting on one end only, transpose and negative dims, kernels 1 and
5 on grids smaller than the kernel, rotations composed with translations, a
24-element rotation group of the cube in 3D, strides in 1D); parameter counts
against a brute-force null space over unconstrained kernels under every
element; the eval-mode kernel cache against edits through ``.data``; inputs of
the wrong shape refused instead of silently reshaped.
"""

from __future__ import annotations

import pytest
import torch

import symspec
import symspec.codegen
from symspec import runtime as rt
from symspec.testing import layer_sampler, randomized_copy

REGULAR_D4 = (
    "  r -> compose(permute(perm=(3, 0, 1, 2, 7, 4, 5, 6), dim={f}), rot90(dims={rot}))\n"
    "  s -> compose(permute(perm=(4, 7, 6, 5, 0, 3, 2, 1), dim=0), {mirror})\n"
)

# two fiber dims of different sizes: a flip of one, a roll of the other
NON_SQUARE_FIBER = (
    "domain F = tensor[2, 3, H, H]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\n"
    "action D4 on F {\n  r -> compose(flip(dim=1), rot90(dims=(2, 3)))\n  s -> compose(roll(dim=0), flip(dim=3))\n}\n"
    "layer conv: F -> F under D4 [kernel 3]\n"
)
# a transpose of two fiber dims, commuting with the rotation; to a fiber of another shape
FIBER_TRANSPOSE = (
    "domain F = tensor[3, 3, H, H]\ndomain G = tensor[2, H, H]\ngroup C = <r, t | r^4, t^2, r t = t r>\n"
    "action C on F {\n  r -> rot90(dims=(2, 3))\n  t -> transpose(i=0, j=1)\n}\n"
    "action C on G {\n  r -> rot90(dims=(1, 2))\n  t -> roll(dim=0)\n}\n"
    "layer conv: F -> F under C [kernel 3]\nlayer down: F -> G under C [kernel 5]\n"
)
# a generator acting on the fiber only (no grid op), rectangular grid H x W
FIBER_ONLY = (
    "domain F = tensor[4, H, W]\ngroup A = <a | a^2>\naction A on F { a -> flip(dim=0) }\n"
    "layer conv: F -> F under A [kernel 3]\nlayer point: F -> F under A [kernel 1]\n"
)
# p4m with a third generator flipping a second fiber dim
THREE_GENERATORS = (
    "domain F = tensor[8, 2, H, H]\ngroup G = <r, s, a | r^4, s^2, (s r)^2, a^2, a r = r a, a s = s a>\n"
    "action G on F {\n" + REGULAR_D4.format(f=0, rot="(2, 3)", mirror="flip(dim=3)") + "  a -> flip(dim=1)\n}\n"
    "layer conv: F -> F under G [kernel 3]\nlayer wide: F -> F under G [kernel 5, padding circular]\n"
)
# D4 x Z2 on a 2-point fiber (small enough for the brute-force count)
THREE_SMALL = (
    "domain F = tensor[2, H, H]\ngroup G = <r, s, a | r^4, s^2, (s r)^2, a^2, a r = r a, a s = s a>\n"
    "action G on F {\n  r -> rot90(dims=(1, 2))\n  s -> flip(dim=2)\n  a -> roll(dim=0)\n}\n"
    "layer conv: F -> F under G [kernel 3]\n"
)
# C4 x Z2 where Z2 moves the input only (it acts trivially on the output)
PRODUCT = (
    "domain F = tensor[4, 2, H, H]\ndomain G = tensor[4, H, H]\ngroup C4 = <r | r^4>\ngroup Z2 = <a | a^2>\n"
    "group P = C4 x Z2\naction C4 on F { r -> compose(roll(dim=0), rot90(dims=(2, 3))) }\n"
    "action C4 on G { r -> compose(roll(dim=0), rot90(dims=(1, 2))) }\naction Z2 on F { a -> flip(dim=1) }\n"
    "layer down: F -> G under P [kernel 3]\nlayer pool: F -> real under P\n"
)
# p4m written with transpose as the mirror, negative dims, a clockwise rotation; kernels 5 and 1
TRANSPOSED = (
    "domain F = tensor[8, H, H]\ndomain I = tensor[H, H]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\n"
    "action D4 on F {\n" + REGULAR_D4.format(f=-3, rot="(-1, -2)", mirror="transpose(i=1, j=2)") + "}\n"
    "action D4 on I {\n  r -> rot90(dims=(1, 0))\n  s -> transpose(i=0, j=1)\n}\n"
    "layer conv: F -> F under D4 [kernel 5]\nlayer lift: I -> F under D4 [kernel 5]\n"
    "layer project: F -> I under D4 [kernel 1]\nlayer torus: F -> F under D4 [kernel 5, padding circular]\n"
)
# one generator rotating about another centre: rolls composed with the rotation (circular padding)
ROLLED_ROTATION = (
    "domain F = tensor[4, H, H]\ngroup C4 = <r | r^4>\n"
    "action C4 on F { r -> compose(roll(dim=1, shift=2), roll(dim=0, shift=3), rot90(dims=(2, 1)), roll(dim=2)) }\n"
    "layer conv: F -> F under C4 [kernel 3, padding circular]\n"
)
# the 24 rotations of the cube on a 3D grid, two of three grid dims per generator; the fiber swaps by their parity
CUBE = (
    "domain V = tensor[2, S, S, S]\ngroup O = <r, t | r^4, t^4, (r t)^3, (r t^2)^2>\n"
    "action O on V {\n  r -> compose(roll(dim=0), rot90(dims=(1, 3)))\n  t -> compose(roll(dim=0), rot90(dims=(2, 3)))\n}\n"
    "layer conv: V -> V under O [kernel 3]\n"
)
# 1D: D3 on a 3-point fiber and a reflected line, strided
STRIDED_1D = (
    "domain S = tensor[3, L]\ndomain T = tensor[3, M]\ngroup D3 = <r, s | r^3, s^2, (s r)^2>\n"
    + "".join(f"action D3 on {d} {{\n  r -> roll(dim=0)\n  s -> compose(flip(dim=0), flip(dim=1))\n}}\n" for d in ("S", "T"))
    + "layer down: S -> T under D3 [kernel 5, stride 2]\n"
)

# (id, source, layer, input shape [c_in, *shape])
CASES = [
    ("non-square-fiber", NON_SQUARE_FIBER, "conv", (2, 2, 3, 7, 7)),
    ("fiber-transpose", FIBER_TRANSPOSE, "conv", (2, 3, 3, 6, 6)),
    ("fiber-transpose-to-other-fiber", FIBER_TRANSPOSE, "down", (2, 3, 3, 6, 6)),
    ("fiber-only-generator", FIBER_ONLY, "conv", (2, 4, 5, 7)),
    ("fiber-only-kernel-1", FIBER_ONLY, "point", (2, 4, 5, 7)),
    ("three-generators", THREE_GENERATORS, "conv", (2, 8, 2, 6, 6)),
    ("three-generators-kernel-5-circular", THREE_GENERATORS, "wide", (1, 8, 2, 6, 6)),
    ("product-one-end", PRODUCT, "down", (2, 4, 2, 6, 6)),
    ("product-pool", PRODUCT, "pool", (2, 4, 2, 6, 6)),
    ("transpose-negative-dims", TRANSPOSED, "conv", (2, 8, 6, 6)),
    ("kernel-5-on-a-2x2-grid", TRANSPOSED, "lift", (2, 2, 2)),
    ("kernel-5-on-a-1x1-grid", TRANSPOSED, "lift", (2, 1, 1)),
    ("kernel-5-circular-on-a-2x2-torus", TRANSPOSED, "torus", (2, 8, 2, 2)),
    ("kernel-1-project", TRANSPOSED, "project", (2, 8, 5, 5)),
    ("rotation-about-another-centre-even", ROLLED_ROTATION, "conv", (2, 4, 6, 6)),
    ("rotation-about-another-centre-odd", ROLLED_ROTATION, "conv", (2, 4, 5, 5)),
    ("cube-rotations-3d", CUBE, "conv", (2, 2, 4, 4, 4)),
    ("d3-1d-stride-2", STRIDED_1D, "down", (2, 3, 9)),
]


def _layer(source: str, name: str, c_in: int, c_out: int = 3):
    spec = symspec.loads(source, "conv_adv.sym")
    return spec, symspec.compile(spec).LAYERS[name](c_in, c_out)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_equivariant_with_every_parameter_random_under_every_element(case):
    _, source, name, shape = case
    spec, layer = _layer(source, name, shape[0])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, *shape, generator=g, dtype=torch.float64)
    symspec.assert_equivariant(layer.double(), spec, name, x, elements=24, generator=g)


@pytest.mark.parametrize("batch", [1, 2])
def test_float32_batch_one_and_non_contiguous_inputs(batch):
    spec, layer = _layer(TRANSPOSED, "conv", 2)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 2, 8, 6, 6, generator=g)
    symspec.assert_equivariant(layer, spec, "conv", x, elements=8, generator=g)
    layer = randomized_copy(layer.double(), g)
    x = x.double()
    y = layer(x)
    channels_last = x.reshape(batch, 16, 6, 6).contiguous(memory_format=torch.channels_last).view(batch, 2, 8, 6, 6)
    transposed = x.transpose(-1, -2).contiguous().transpose(-1, -2)
    assert not channels_last.is_contiguous() and not transposed.is_contiguous()
    for moved in (channels_last, transposed):  # another memory format may take another conv algorithm
        assert torch.allclose(layer(moved), y, rtol=0, atol=1e-12)


def _count(spec, name: str, layer, size: int) -> int:
    """Dimension of the UNCONSTRAINED conv kernels ``[F_out, F_in, k^d]`` commuting with the group (SVD of the
    residuals ``conv(g . x) - g . conv(x)`` of every basis kernel at once, the layer's own padding, random x): no
    orbits involved."""
    sampler = layer_sampler(spec, name)
    g = torch.Generator().manual_seed(5)
    # every element when one table lists them, else 32 random ones (a product: 8 elements); 3 random inputs each
    if sampler.order is not None:
        every = sampler.every(repeat=3)
    else:
        every = rt.Elements(e.repeat_interleave(3, 0) for e in sampler.draw(32, g))
    f_out, f_in = layer.weight_orbits.shape[:2]
    k, d = layer.kernel, layer.grid
    n, basis = every[0].shape[0], f_out * f_in * k**d
    dims = [s if isinstance(s, int) else size for s in spec.layers[name].source.dims]
    out_dims = [s if isinstance(s, int) else size for s in spec.layers[name].target.dims]
    x = torch.randn(3, 1, *dims, dtype=torch.float64, generator=g).repeat(n // 3, *(1,) * (len(dims) + 1))
    weight = torch.eye(basis, dtype=torch.float64).reshape(basis * f_out, f_in, *(k,) * d)  # basis kernel j: block j

    def conv(t):
        flat = t.reshape(n, f_in, *(size,) * d)
        pad = k // 2
        if layer.padding == "circular":
            flat, pad = torch.nn.functional.pad(flat, (pad,) * 2 * d, mode="circular"), 0
        out = (torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d)[d - 1](
            flat, weight, padding=pad
        )
        return out.reshape(n, basis, f_out, *out.shape[2:]).movedim(1, 0).reshape(basis * n, 1, *out_dims)

    repeated = rt.Elements(e.repeat(basis, *(1,) * (e.dim() - 1)) for e in every)
    residual = conv(sampler.act(every, "input", x)) - sampler.act(repeated, "output", conv(x))
    s = torch.linalg.svdvals(residual.reshape(basis, -1).T)
    return basis - int((s > 1e-9 * s.max()).sum())


@pytest.mark.parametrize(
    "source, name, size",
    [
        (NON_SQUARE_FIBER, "conv", 5),
        (FIBER_TRANSPOSE, "down", 6),
        (THREE_SMALL, "conv", 5),
        (PRODUCT, "down", 5),
        (ROLLED_ROTATION, "conv", 5),
        (CUBE, "conv", 4),
    ],
)
def test_parameter_counts_equal_the_brute_force_null_space_under_every_element(source, name, size):
    spec, layer = _layer(source, name, 1, 1)
    assert layer.weight.numel() == layer.num_orbits == _count(spec, name, layer, size)


def _p4(c_in: int = 2, c_out: int = 2):
    source = (
        "domain Feat = tensor[4, H, H]\ngroup C4 = <r | r^4>\n"
        "action C4 on Feat { r -> compose(roll(dim=0), rot90(dims=(1, 2))) }\n"
        "layer conv: Feat -> Feat under C4 [kernel 3]\nlayer pool: Feat -> real under C4\n"
    )
    mod = symspec.compile(symspec.loads(source, "p4.sym"))
    return mod.LAYERS["conv"](c_in, c_out), mod.LAYERS["pool"](c_in, c_out)


def _fresh(layer, x):
    """The layer's output with the kernel gathered now (training mode: no cache)."""
    layer.train()
    with torch.no_grad():
        y = layer(x)
    layer.eval()
    return y


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.weight.data.mul_(2.0),  # .data has its own version counter
        lambda m: m.bias.data.add_(1.0),
        lambda m: setattr(m.weight, "data", torch.randn_like(m.weight)),
        lambda m: [p.data.copy_(torch.randn_like(p)) for p in m.parameters()],  # an EMA swap in eval mode
        lambda m: m.load_state_dict({k: torch.randn_like(v) for k, v in m.state_dict().items()}),
    ],
    ids=["data-mul", "bias-data-add", "data-assign", "ema-swap", "load-state-dict"],
)
def test_eval_cache_sees_every_parameter_edit(edit):
    layer, _ = _p4()
    x = torch.randn(2, 2, 4, 6, 6)
    layer.eval()
    with torch.no_grad():
        before = layer(x)
        edit(layer)
        after = layer(x)
    assert not torch.equal(after, before)
    assert torch.equal(after, _fresh(layer, x))
    with torch.inference_mode():
        layer.weight.data.neg_()
        assert torch.equal(layer(x), _fresh(layer, x))


def test_eval_cache_follows_dtype_and_a_dropped_bias():
    layer, _ = _p4()
    layer.eval()
    x = torch.randn(1, 2, 4, 5, 5)
    with torch.no_grad():
        layer(x)
        layer.double()
        assert torch.equal(layer(x.double()), _fresh(layer, x.double()))
        layer.bias = None
        assert torch.equal(layer(x.double()), _fresh(layer, x.double()))


@pytest.mark.parametrize(
    "shape",
    [(1, 8, 6, 6), (1, 2, 2, 2, 6, 6), (1, 1, 2, 4, 6, 6), (1, 2, 4, 6), (1, 2, 3, 6, 6)],
    ids=["fiber-flattened-into-channels", "fiber-split", "channels-split", "a-grid-dim-missing", "wrong-fiber"],
)
def test_inputs_of_the_wrong_shape_are_refused_not_reshaped(shape):
    conv, pool = _p4()
    for layer in (conv, pool):
        with pytest.raises(ValueError, match=r"takes \[batch, 2, 4, n1, n2\] \(2 channels, fiber \(4,\), 2 grid dims\)"):
            layer(torch.randn(*shape))
    assert conv(torch.randn(1, 2, 4, 6, 7)).shape == (1, 2, 4, 6, 7)  # any grid size (a rectangle too)
    assert pool(torch.randn(1, 2, 4, 3, 3)).shape == (1, 2)


@pytest.mark.parametrize(
    "domain, action, first",
    [
        ("tensor[A, B, H, H]", "rot90(dims=(2, 3))", "symbolic size"),
        ("tensor[N, 4, H, H]", "compose(roll(dim=1), rot90(dims=(2, 3)))", "symbolic size"),
        ("tensor[3, 3, 5, 5]", "compose(rot90(dims=(0, 1)), rot90(dims=(2, 3)))", "rotated dim"),
    ],
)
def test_a_guessed_grid_of_four_dims_is_a_compile_error_at_the_layer(domain, action, first):
    # was: symspec check passed, and building the layer raised a bare ValueError from rt.GroupConv
    source = (
        f"domain F = {domain}\ngroup C = <r | r^4>\naction C on F {{ r -> {action} }}\nlayer conv: F -> F under C [kernel 3]\n"
    )
    with pytest.raises(symspec.codegen.CompileError) as info:
        symspec.check(symspec.loads(source, "conv_bad.sym"))
    diag = info.value.diagnostics[0]
    assert (diag.span.file, diag.span.line, diag.span.column) == ("conv_bad.sym", 4, 1)
    assert diag.message == (
        f"layer conv: the grid of {domain} would be its last 4 dims (from its first {first} on), but a "
        "convolution has 1, 2 or 3 grid dims"
    )
    assert "[grid d]" in diag.hint


# translations must be the same on both ends: these compiled and were not equivariant (errors about 30)
OTHER_TRANSLATIONS = [
    (
        "domain F = tensor[2, 5, 5]\ndomain G = tensor[3, 5, 5]\ngroup T = <t | t^5>\n"
        "action T on F { t -> roll(dim=1) }\naction T on G { t -> roll(dim=2, shift=2) }\n"
        "layer conv: F -> G under T [kernel 3, padding circular, grid 2]\n",
        "layer conv: generator t moves the grid of tensor[2, 5, 5] and of tensor[3, 5, 5] differently (other "
        "translations, on a grid of 5 x 5), so no convolution commutes with it",
    ),
    (  # a product whose translation factor moves the input only
        "domain F = tensor[2, 5, 5]\ndomain G = tensor[3, 5, 5]\ngroup T = <t | t^5>\ngroup C = <c | c^2>\n"
        "group P = T x C\naction T on F { t -> roll(dim=1) }\naction C on F { c -> roll(dim=0) }\n"
        "action C on G { c -> flip(dim=0) }\nlayer conv: F -> G under P [kernel 3, padding circular, grid 2]\n",
        "layer conv: generator T.t moves the grid of tensor[2, 5, 5] and of tensor[3, 5, 5] differently",
    ),
    (  # rotations about two different centres
        "domain F = tensor[4, H, H]\ndomain G = tensor[H, H]\ngroup C4 = <r | r^4>\n"
        "action C4 on F { r -> compose(roll(dim=0), rot90(dims=(1, 2))) }\n"
        "action C4 on G { r -> compose(roll(dim=1), rot90(dims=(0, 1))) }\n"
        "layer conv: F -> G under C4 [kernel 3, padding circular]\n",
        "layer conv: generator r moves the grid of tensor[4, H, H] and of tensor[H, H] differently (other "
        "translations, on a grid of 5 x 5)",
    ),
]


@pytest.mark.parametrize("source, message", OTHER_TRANSLATIONS, ids=["shifts", "one-end", "centres"])
def test_generators_translating_the_two_grids_differently_are_refused(source, message):
    with pytest.raises(symspec.codegen.CompileError) as info:
        symspec.check(symspec.loads(source, "conv_bad.sym"))
    diag = info.value.diagnostics[0]
    assert (diag.span.file, diag.span.line) == ("conv_bad.sym", source.count("\n"))
    assert diag.span.column == 1 and message in diag.message and "the same roll" in diag.hint


def test_the_same_translation_written_otherwise_is_accepted_and_equivariant():
    # roll after rot90 on one end, rot90 after another roll on the other: the same move of the grid at every size
    source = (
        "domain F = tensor[4, H, H]\ndomain G = tensor[H, H]\ngroup C4 = <r | r^4>\n"
        "action C4 on F { r -> compose(roll(dim=0), roll(dim=1), rot90(dims=(1, 2))) }\n"
        "action C4 on G { r -> compose(rot90(dims=(0, 1)), roll(dim=1, shift=-1)) }\n"
        "layer project: F -> G under C4 [kernel 3, padding circular]\n"
    )
    spec, layer = _layer(source, "project", 2)
    g = torch.Generator().manual_seed(3)
    for size in (5, 6):
        x = torch.randn(2, 2, 4, size, size, dtype=torch.float64, generator=g)
        symspec.assert_equivariant(layer.double(), spec, "project", x, generator=g)


def test_runtime_refuses_generators_translating_the_two_grids_differently():
    shifted = {"t": [("roll", {"dim": 1})]}, {"t": [("roll", {"dim": 2, "shift": 2})]}
    layer = rt.GroupConv(1, 1, *shifted, (2,), (3,), kernel=3, grid=2, padding="circular")
    with pytest.raises(ValueError, match=r"generator t moves a grid of \(5, 5\) differently on the input and"):
        layer(torch.randn(1, 1, 2, 5, 5))
    with pytest.raises(ValueError, match="generator t translates the grid, and a convolution with stride 2"):
        rt.GroupConv(1, 1, shifted[0], shifted[0], (2,), (3,), kernel=3, grid=2, padding="circular", stride=2)


def test_a_one_wide_kernel_still_tells_two_rotations_apart():
    # the grids' point parts were compared on the kernel's box: 1 x 1 x 1 for kernel 1, where every rotation agrees
    source = (
        "domain I = tensor[3, 3, H, H, H]\ndomain O = tensor[4, H, H, H]\ngroup G = <a | a^4>\n"
        "action G on I { a -> compose(flip(dim=1), rot90(dims=(2, 4))) }\n"
        "action G on O { a -> compose(permute(perm=(2, 1, 0, 3), dim=0), rot90(dims=(2, 1))) }\n"
        "layer L: I -> O under G [kernel 1, padding circular]\n"
    )
    with pytest.raises(symspec.codegen.CompileError) as info:
        symspec.check(symspec.loads(source, "conv_bad.sym"))
    diag = info.value.diagnostics[0]
    assert (diag.span.line, diag.span.column) == (6, 1)
    assert diag.message.startswith("layer L: generator a rotates or reflects the grid of tensor[3, 3, H, H, H] and of")
    rotations = {"a": [("rot90", {"dims": (0, 1)})]}, {"a": [("rot90", {"dims": (1, 0)})]}
    with pytest.raises(ValueError, match="generator a moves the grid of the input and of the output differently"):
        rt.GroupConv(1, 1, *rotations, (), (), kernel=1, grid=2)


def test_the_grid_hint_counts_the_flipped_dims():
    """A 1-D domain moved only by a flip cannot be told apart: the hint says [grid 1] (it said [grid 2] always)."""
    source = (
        "domain S = tensor[11]\ngroup F = <f | f^2>\naction F on S { f -> flip(dim=0) }\nlayer c: S -> S under F [kernel 3]\n"
    )
    with pytest.raises(symspec.SpecError) as info:
        symspec.check(symspec.loads(source, "g.sym"))
    assert info.value.diagnostics[0].hint == "give the number of trailing grid dims: [kernel 3, grid 1]"
