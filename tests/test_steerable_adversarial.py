"""Adversarial checks of the steerable layers (rt.SteerableLinear) and the gates: cases the first tests left out.

Equivariance with EVERY PARAMETER RANDOM in float64 (``symspec.assert_equivariant``,
random permutations times Haar rotations, reflections included for O(n)) on
O(2)/SO(2), O(4), SO(5) with a symbolic N, a feature dim between the point and
coordinate dims, pair tensors with features, a fixed N past rt.BasisLinear's
limit, batch 1, float32 and non-contiguous inputs; the kernel cache against
``torch.func`` (functional_call on temporaries, grad, vmap), ``.data`` edits,
dtype round trips and pickling; many fixed dims (einsum subscripts); the gates
at x = 0 and with wrong ``rep_dims``; the compile errors.
"""

from __future__ import annotations

import copy
import itertools
import pickle

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt
from symspec.codegen import CompileError
from symspec.testing import randomized_copy

SPEC = ROOT / "tests" / "specs" / "valid" / "steerable_adversarial.sym"

# layer -> event shape of its input for a given number of points
SHAPES = {
    "mat_real": lambda n: (n, 2, 2),
    "plane_plane_so": lambda n: (n, 2),
    "mat_mat_so": lambda n: (n, 2, 2),
    "plane_vec_so": lambda n: (n, 2),
    "quad_quad": lambda n: (n, 4, 4),
    "quad_real": lambda n: (n, 4, 4),
    "five_nodes": lambda n: (n, 5, 5),
    "feat_feat": lambda n: (n, 4, 3),
    "feat_cloud": lambda n: (n, 4, 3),
    "cloud_feat": lambda n: (n, 3),
    "pair_pair": lambda n: (n, n, 3, 2),
    "pair_cloud": lambda n: (n, n, 3, 2),
    "cloud_pair": lambda n: (n, 3),
    "fixed_fixed": lambda n: (5, 5, 3),
}


@pytest.fixture(scope="module")
def compiled():
    spec = symspec.load(SPEC)
    return spec, symspec.compile(spec)


@pytest.mark.parametrize("name", list(SHAPES))
def test_layers_commute_with_random_parameters(compiled, name):
    spec, mod = compiled
    layer = mod.LAYERS[name](2, 3)
    assert isinstance(layer, rt.SteerableLinear)
    g = torch.Generator().manual_seed(3)
    for n in (1, 4) if name != "fixed_fixed" else (5,):
        x = torch.randn(2, 2, *SHAPES[name](n), generator=g, dtype=torch.float64)
        symspec.assert_equivariant(layer.double(), spec, name, x, generator=torch.Generator().manual_seed(n))
    # batch 1, a non-contiguous view, float32
    x = torch.randn(2, 4, *SHAPES[name](5), generator=g, dtype=torch.float64)[:1, ::2]
    assert not x.is_contiguous()
    random = randomized_copy(layer, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(random(x), random(x.contiguous()))
    symspec.assert_equivariant(layer, spec, name, x, generator=torch.Generator().manual_seed(1))
    symspec.assert_equivariant(layer.float(), spec, name, x.float(), generator=torch.Generator().manual_seed(2))


def _maps(layer: torch.nn.Module, in_shape: tuple) -> torch.Tensor:
    """One row per weight entry (bias zero, one channel each way): the flattened linear map it spans."""
    layer = copy.deepcopy(layer).double()
    positions = int(torch.tensor(in_shape).prod())
    eye = torch.eye(positions, dtype=torch.float64).reshape(positions, 1, *in_shape)
    rows = []
    with torch.no_grad():
        if layer.bias is not None:
            layer.bias.zero_()
        for idx in itertools.product(*map(range, layer.weight.shape)):
            layer.weight.zero_()
            layer.weight[idx] = 1.0
            rows.append(layer(eye).reshape(positions, -1).reshape(-1))
    return torch.stack(rows)


@pytest.mark.parametrize(
    "src, dst, group, action",
    [
        ("tensor[{n}, 3]", "tensor[{n}, 3, 3]", "SO(3)", "action S on B by matrix(dims=(-2, -1))"),
        ("tensor[{n}, {n}, 3]", "tensor[{n}, 3]", "O(3)", "action P on A by permute(dims=(0, 1))"),
        ("tensor[{n}, 2]", "tensor[{n}, 2]", "SO(2)", ""),
    ],
)
@pytest.mark.parametrize("n", [2, 3])
def test_basis_linear_and_steerable_linear_span_the_same_maps_on_fixed_shapes(tmp_path, src, dst, group, action, n):
    """Fixed shapes go to rt.BasisLinear (a dense null space); the factorized layer must span the same maps."""
    path = tmp_path / "fixed.sym"
    path.write_text(
        f"spec fixed\ndomain A = {src.format(n=n)}\ndomain B = {dst.format(n=n)}\ngroup P = symmetric({n})\n"
        f"group S = {group}\ngroup E = P x S\n{action}\nlayer l: A -> B under E\n"
    )
    dense = symspec.compile(symspec.load(path)).LAYERS["l"](1, 1)
    assert isinstance(dense, rt.BasisLinear)
    ends = []
    for text in (src, dst):
        shape = tuple(n if d == "{n}" else int(d) for d in text[7:-1].split(", "))
        points = (0, 1) if text.count("{n}") == 2 else (0,)
        ends.append({"shape": shape, "points": points, "coords": tuple(range(len(points), len(shape)))})
    kind, size = ("so" if group.startswith("SO") else "o"), int(group[-2])
    ours = rt.SteerableLinear(1, 1, (kind, size), ends[0], ends[1])
    a, b = _maps(dense, ends[0]["shape"]), _maps(ours, ends[0]["shape"])
    rank = [int(torch.linalg.matrix_rank(m, atol=1e-9)) for m in (a, b, torch.cat([a, b]))]
    assert rank[0] == rank[1] == rank[2], rank


# ---- the kernel cache ------------------------------------------------------------------------------------------


def _layer(compiled, name="pair_pair", c=4, bias=False):
    return compiled[1].LAYERS[name](c, c, bias=bias).double()


def test_functional_call_on_temporaries_does_not_reuse_a_stale_kernel(compiled):
    """Temporaries freed between calls get the same address and version: the cache must not take one for another."""
    layer = _layer(compiled, c=16)
    x = torch.randn(2, 16, 3, 3, 3, 2, dtype=torch.float64)
    w0 = layer.weight.detach().clone()
    with torch.no_grad():
        ref = torch.func.functional_call(layer, {"weight": w0}, (x,))
        for k in range(2, 6):
            w = w0 * k
            y = torch.func.functional_call(layer, {"weight": w}, (x,))
            del w  # the next temporary may take its address (version 0 again)
            assert torch.allclose(y, k * ref, atol=1e-12), k


def test_torch_func_grad_and_vmap_run_and_agree_with_autograd(compiled):
    layer = _layer(compiled, "feat_cloud", bias=True)
    x = torch.randn(3, 4, 5, 4, 3, dtype=torch.float64)
    params = {k: v.detach() for k, v in layer.named_parameters()}
    grads = torch.func.grad(lambda p: torch.func.functional_call(layer, p, (x,)).square().sum())(params)
    layer(x).square().sum().backward()
    for k, p in layer.named_parameters():
        assert torch.allclose(grads[k], p.grad)
    weights = torch.randn(3, *layer.weight.shape, dtype=torch.float64)
    with torch.no_grad():
        ys = torch.func.vmap(lambda w: torch.func.functional_call(layer, {"weight": w}, (x,)))(weights)
        for k in range(3):
            assert torch.allclose(ys[k], torch.func.functional_call(layer, {"weight": weights[k]}, (x,)))


def test_edits_through_data_are_seen_after_eval_and_every_other_edit_at_once(compiled):
    layer = _layer(compiled, "quad_quad", bias=True).eval()
    assert layer.bias is not None  # the trace
    x = torch.randn(2, 4, 3, 4, 4, dtype=torch.float64)

    def fresh():
        copy_ = copy.deepcopy(layer)
        with torch.no_grad():
            return copy_(x)

    with torch.no_grad():
        layer(x)
        layer.weight.mul_(2)  # in place: the version counter moves
        assert torch.equal(layer(x), fresh())
        layer.load_state_dict({k: torch.randn_like(v) for k, v in layer.state_dict().items()})
        assert torch.equal(layer(x), fresh())
    layer.weight.data.mul_(3)  # .data bypasses the version counter: documented, .eval() forgets the kernel
    layer.bias.data.add_(1)
    layer.eval()
    with torch.no_grad():
        assert torch.equal(layer(x), fresh())


def test_a_cast_down_and_back_keeps_the_bases_exact(compiled):
    """``.float().double()`` (or ``.half()``) must not round the float64 bases: float64 equivariance stays at 1e-12."""
    spec, mod = compiled
    layer = mod.LAYERS["mat_mat_so"](2, 3).half().float().double()
    assert layer.basis.dtype == layer.bias_basis.dtype == torch.float64
    x = torch.randn(2, 2, 5, 2, 2, dtype=torch.float64)
    assert symspec.assert_equivariant(layer, spec, "mat_mat_so", x, generator=torch.Generator().manual_seed(0)) < 1e-12


def test_a_layer_with_a_cached_kernel_pickles_and_copies():
    end = {"shape": ("N", 3, 3), "points": (0,), "coords": (1, 2)}
    layer = randomized_copy(rt.SteerableLinear(2, 3, ("o", 3), end, end).double(), torch.Generator().manual_seed(0))
    x = torch.randn(2, 2, 4, 3, 3, dtype=torch.float64)
    with torch.no_grad():
        y = layer(x)
        for other in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
            assert torch.equal(other(x), y)


# ---- many fixed dims -------------------------------------------------------------------------------------------


def test_many_fixed_dims_contract_the_right_subscripts():
    """14 size-1 dims before the features: the input and output subscripts used to collide (a silent diagonal)."""
    source = {"shape": ("N", *(1,) * 13, 4, 3), "points": (0,), "coords": (15,)}
    target = {"shape": ("N", 4, 3), "points": (0,), "coords": (2,)}
    layer = randomized_copy(rt.SteerableLinear(2, 3, ("o", 3), source, target).double(), torch.Generator().manual_seed(0))
    assert layer.bias is None  # vectors: no invariant
    x = torch.randn(2, 2, 5, *(1,) * 13, 4, 3, dtype=torch.float64)
    with torch.no_grad():
        kernel = layer.kernel(torch.float64).reshape(3, 2, 2, 12, 12)  # [o, i, point maps, out, in]
        flat = x.reshape(2, 2, 5, 12)
        terms = torch.stack([flat, flat.mean(2, keepdim=True).expand_as(flat)], 2)  # identity, mean
        expected = torch.einsum("bimnq,oimpq->bonp", terms, kernel).reshape(2, 3, 5, 4, 3)
        assert torch.allclose(layer(x), expected, atol=1e-12)


def test_too_many_fixed_dims_is_an_error_at_the_layer(tmp_path):
    path = tmp_path / "deep.sym"
    ones = ", ".join(["1"] * 47)
    path.write_text(f"spec deep\ndomain A = tensor[N, {ones}, 3]\ngroup E = symmetric(N) x O(3)\nlayer l: A -> A under E\n")
    with pytest.raises(CompileError) as err:
        symspec.compile(symspec.load(path))
    text = str(err.value)
    assert f"{path}:4:1: error: layer l: A and A have 48 + 48 fixed dims, over the limit 48 in all" in text
    assert "hint: drop dims of size 1, or merge feature dims into one" in text


def test_two_point_names_get_a_hint_that_fits_the_group(tmp_path):
    path = tmp_path / "names.sym"
    path.write_text(
        "spec names\ndomain A = tensor[N, 3]\ndomain B = tensor[M, 3]\ngroup E = symmetric(N) x O(3)\nlayer l: A -> B under E\n"
    )
    with pytest.raises(CompileError) as err:
        symspec.compile(symspec.load(path))
    text = str(err.value)
    assert (
        f"{path}:5:1: error: layer l: E does not act on the dim of size M of B, so the layer maps it point by point "
        "and both ends must keep it (here: none -> ['M'])"
    ) in text
    assert "permutes the dims of size N only; give both ends the same point count name" in text


# ---- the gates -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_gates_and_norms_have_finite_gradients_at_zero(dtype):
    x = torch.zeros(2, 3, 4, 3, dtype=dtype)
    x[0, 0, 0] = 1.0
    x.requires_grad_(True)
    gate = rt.NormGate(3, rep_dims=(-1,)).to(dtype)
    (gate(x).sum() + rt.rep_norm(x, (1,)).sum()).backward()
    assert torch.isfinite(x.grad).all()


def test_gates_refuse_rep_dims_outside_the_event():
    """``rep_dims=(2,)`` copied from a pair tensor onto ``[b, c, N, 3]`` used to wrap onto the point dim."""
    x = torch.randn(2, 3, 5, 3)
    with pytest.raises(IndexError, match="event dim 2 is out of range for an event of 2 dims"):
        rt.NormGate(3, rep_dims=(2,))(x)
    with pytest.raises(IndexError, match="out of range"):
        rt.rep_norm(x, (-3,))
    with pytest.raises(ValueError, match="names a dim twice"):
        rt.rep_norm(x, (1, -1))
    with pytest.raises(ValueError, match="do not match"):
        rt.gated(x, torch.randn(2, 3, 3), (1,))  # gates over the coordinates, not the points
    with pytest.raises(ValueError, match=r"NormGate\(12\) takes \[batch, 12, \*event\], got \(2, 1, 5, 3\)"):
        rt.NormGate(12)(torch.randn(2, 1, 5, 3))  # used to broadcast one channel to 12


def test_an_integer_input_is_an_error_not_zeros():
    """The weights cast to int64 truncated to 0: a silent zero output."""
    end = {"shape": ("N", 3), "points": (), "coords": (1,)}
    with pytest.raises(TypeError, match="floating point input, not torch.int64"):
        rt.SteerableLinear(1, 1, ("o", 3), end, end)(torch.tensor([[[[1, 2, 3]]]]))


def test_a_point_dim_the_permutation_does_not_act_on_gets_the_action_hint(tmp_path):
    path = tmp_path / "dim1.sym"
    path.write_text(
        "spec dim1\ndomain B = tensor[M, 3]\ndomain D = tensor[M, N, 3]\ngroup P = symmetric(N)\n"
        "group E = P x O(3)\nlayer l: D -> B under E\n"
    )
    with pytest.raises(CompileError) as err:
        symspec.compile(symspec.load(path))
    text = str(err.value)
    assert (
        f"{path}:6:1: error: layer l: E does not act on the dim of size N of D, so the layer maps it point by point "
        "and both ends must keep it (here: ['M', 'N'] -> ['M'])"
    ) in text
    assert "hint: P permutes dim 0 by default; declare 'action P on D by permute(dims=(...))' with the dims of size N" in text


@pytest.mark.parametrize(
    "end, shape",
    [
        ({"shape": ("N", "N", 3), "points": (0, 1), "coords": (2,)}, (2, 2, 1, 5, 3)),  # used to give a 5 x 5 output
        ({"shape": ("N", 3), "points": (0,), "coords": (1,)}, (2, 3, 5, 3)),  # channels
        ({"shape": ("N", 3), "points": (0,), "coords": (1,)}, (2, 2, 5, 4)),  # coordinates
        ({"shape": ("N", 3), "points": (0,), "coords": (1,)}, (2, 2, 5)),  # rank
        ({"shape": (5, 5, 3), "points": (0, 1), "coords": (2,)}, (2, 2, 4, 4, 3)),  # a fixed N
    ],
)
def test_a_wrong_input_shape_is_a_value_error_naming_the_expected_shape(end, shape):
    layer = rt.SteerableLinear(2, 2, ("o", 3), end, end)
    with pytest.raises(ValueError, match=r"expected \[batch, 2, .*\] \(point dims of one size\), got"):
        layer(torch.randn(shape))


# ---- the rotation basis: adjacent generators, one at a time ----------------------------------------------------


@pytest.mark.parametrize(
    "kind, n, a, ad, b, bd",
    [
        ("so", 3, (3,), (0,), (3, 3), (0, 1)),
        ("o", 2, (2, 2), (0, 1), (2, 2), (0, 1)),
        ("o", 4, (4, 4), (0, 1), (4, 4), (0, 1)),
        ("o", 3, (4, 3), (1,), (3,), (0,)),
        ("so", 3, (3, 3, 3), (0, 1, 2), (3, 3), (0, 1)),
        ("so", 5, (5, 5), (0, 1), (), ()),
        ("o", 1, (1,), (0,), (1,), (0,)),
    ],
)
def test_the_rotation_basis_spans_the_all_generator_null_space(kind, n, a, ad, b, bd):
    """n - 1 adjacent Lie generators constrain as much as all n (n - 1) / 2 (the runtime's equivariant_basis)."""
    from symspec.runtime import steerable
    from symspec.runtime.layers import equivariant_basis, invariant_basis

    ours, full = steerable.rotation_basis(kind, n, a, ad, b, bd), equivariant_basis([(kind, n, ad)], [(kind, n, bd)], a, b)
    size = int(torch.tensor(a + b).prod()) if a + b else 1
    flat = [m.reshape(m.shape[0], size) for m in (ours, full)]
    assert ours.shape[0] == full.shape[0] == int(torch.linalg.matrix_rank(torch.cat(flat), atol=1e-9))
    assert torch.allclose(flat[0] @ flat[0].T, torch.eye(ours.shape[0], dtype=torch.float64), atol=1e-12)
    assert steerable.rotation_invariants(kind, n, b, bd).shape == invariant_basis([(kind, n, bd)], b).shape


def test_a_rotation_group_of_high_dimension_builds_without_a_huge_svd(tmp_path):
    """SO(18) on tensor[N, 18] -> tensor[18]: the stacked 153 generators took 214 s and 19.5 GB (a full SVD's U)."""
    path = tmp_path / "so18.sym"
    path.write_text(
        "spec so18\ndomain A = tensor[N, 18]\ndomain B = tensor[18]\ngroup E = symmetric(N) x SO(18)\nlayer l: A -> B under E\n"
    )
    layer = randomized_copy(symspec.compile(symspec.load(path)).LAYERS["l"](2, 3).double(), torch.Generator().manual_seed(0))
    assert tuple(layer.weight.shape) == (3, 2, 1, 1)  # the mean of the points, times a scalar
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 5, 18, generator=g, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(18, 18, generator=g, dtype=torch.float64))
    if torch.det(q) < 0:  # a rotation: SO(18)
        q[:, 0] = -q[:, 0]
    perm = torch.randperm(5, generator=g)
    with torch.no_grad():
        assert torch.allclose(layer(x[:, :, perm] @ q.T), layer(x) @ q.T, atol=1e-12)


def test_the_rotation_basis_does_not_depend_on_the_svd_s_choice():
    """Weights are coefficients in the basis: any orthonormal basis of the same span must canonicalize to it."""
    from symspec.runtime import steerable

    for args in (("so", 3, (3, 3, 3), (0, 1, 2), (3, 3), (0, 1)), ("o", 3, (4, 3), (1,), (4, 3), (1,))):
        basis = steerable.rotation_basis(*args)
        flat = basis.reshape(basis.shape[0], -1)
        q, _ = torch.linalg.qr(
            torch.randn(flat.shape[0], flat.shape[0], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        )
        assert torch.allclose(steerable.canonical_basis(q @ flat), flat, atol=1e-12)
