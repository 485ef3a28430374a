"""The one transform vocabulary (symspec.transforms): the analysis's push maps, the runtime's tables and
torch applied directly to a tensor agree, op by op and for composed sequences (applied right to left);
the numpy and torch permutation helpers agree."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import symspec
from symspec import runtime as rt
from symspec import transforms as tf
from symspec.analysis import groups
from symspec.analysis.domains import Cyclic, Tensor

# ---- strategies --------------------------------------------------------------------------


def _dim(draw, rank: int, d: int) -> int:
    """Dim ``d`` as written, non-negative or negative."""
    return d - rank if draw(st.booleans()) else d


@st.composite
def position_ops(draw, shape: tuple) -> tuple:
    """One op on the positions of ``shape`` that the checker would accept: (name, args)."""
    rank = len(shape)
    pairs = [(i, j) for i in range(rank) for j in range(rank) if i != j and shape[i] == shape[j]]
    names = ["flip", "roll", "permute", "permute_dims"] + (["rot90", "transpose"] if pairs else [])
    name = draw(st.sampled_from(names))
    d = draw(st.integers(0, rank - 1))
    if name == "rot90":
        i, j = draw(st.sampled_from(pairs))
        return name, {"dims": (_dim(draw, rank, i), _dim(draw, rank, j))}
    if name == "transpose":
        i, j = draw(st.sampled_from(pairs))
        return name, {"i": _dim(draw, rank, i), "j": _dim(draw, rank, j)}
    if name == "flip":
        return name, {"dim": _dim(draw, rank, d)}
    if name == "roll":
        args = {"dim": _dim(draw, rank, d)}
        if draw(st.booleans()):  # absent: the default shift of 1
            args["shift"] = draw(st.integers(-5, 5))
        return name, args
    if name == "permute":
        return name, {"perm": tuple(draw(st.permutations(range(shape[d])))), "dim": _dim(draw, rank, d)}
    same = [e for e in range(rank) if shape[e] == shape[d]]
    dims = draw(st.lists(st.sampled_from(same), min_size=1, max_size=len(same), unique=True))
    perm = tuple(draw(st.permutations(range(shape[d]))))
    return name, {"perm": perm, "dims": tuple(_dim(draw, rank, e) for e in dims)}


@st.composite
def value_ops(draw, n: int) -> tuple:
    """One op on the values 0..n-1: (name, args)."""
    name = draw(st.sampled_from(sorted(tf.VALUE_OPS)))
    if name == "shift":
        return name, ({"k": draw(st.integers(-2 * n, 2 * n))} if draw(st.booleans()) else {})
    if name == "negate":
        return name, {}
    if name == "scale":
        return name, {"u": draw(st.sampled_from([u for u in range(-n, 2 * n) if math.gcd(u, n) == 1]))}
    return name, {"perm": tuple(draw(st.permutations(range(n))))}


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@st.composite
def position_cases(draw, min_ops: int, max_ops: int) -> tuple:
    shape = draw(shapes)
    return shape, draw(st.lists(position_ops(shape), min_size=min_ops, max_size=max_ops))


@st.composite
def value_cases(draw, min_ops: int, max_ops: int) -> tuple:
    n = draw(st.integers(1, 12))
    return n, draw(st.lists(value_ops(n), min_size=min_ops, max_size=max_ops))


# ---- three independent computations of one op sequence --------------------------------------


def _torch_op(x: torch.Tensor, name: str, a: dict) -> torch.Tensor:
    """The op applied to a tensor directly with torch (no symspec code)."""
    if name == "rot90":
        return torch.rot90(x, 1, a["dims"])
    if name == "flip":
        return torch.flip(x, (a["dim"],))
    if name == "roll":
        return torch.roll(x, a.get("shift", 1), a["dim"])
    if name == "permute":
        return x.index_select(a["dim"], torch.tensor(a["perm"]))
    if name == "transpose":
        return x.transpose(a["i"], a["j"])
    if name == "permute_dims":  # y[sigma[i]] = x[i] along each dim: y = x[sigma^-1]
        gather = torch.argsort(torch.tensor(a["perm"]))
        for d in a["dims"]:
            x = x.index_select(d, gather)
        return x
    raise AssertionError(name)


def _direct_positions(ops: list, x: torch.Tensor) -> torch.Tensor:
    """``op_0(op_1(...op_k(x)))``: the sequence applied right to left."""
    for name, a in reversed(ops):
        x = _torch_op(x, name, a)
    return x


def _direct_values(ops: list, n: int) -> list:
    """Where each value goes under the sequence, right to left, by plain arithmetic."""
    images = []
    for v in range(n):
        for name, a in reversed(ops):
            v = {
                "shift": lambda v, a: (v + a.get("k", 1)) % n,
                "negate": lambda v, a: (-v) % n,
                "scale": lambda v, a: (v * a["u"]) % n,
                "relabel": lambda v, a: a["perm"][v],
            }[name](v, a)
        images.append(v)
    return images


def _analysis(ops: list, domain, shape: tuple | None) -> np.ndarray:
    """The analysis's push map, from ops in its own form (tuples of (name, value) pairs)."""
    return groups.ops_perm(tuple((name, tuple(a.items())) for name, a in ops), domain, shape)


def _check_positions(shape: tuple, ops: list) -> None:
    analysis = _analysis(ops, Tensor(shape), shape)
    table = rt.action_table({"g": ops, "e": []}, shape=shape)
    points = math.prod(shape)
    assert table.dtype == torch.long and table.shape == (2, points)
    assert np.array_equal(analysis, table[0].numpy()) and torch.equal(table[1], torch.arange(points))
    x = torch.arange(points).reshape(shape)
    expected = _direct_positions(ops, x)
    assert torch.equal(expected.reshape(-1)[table[0]], x.reshape(-1))  # y.flat[push[i]] = x.flat[i]
    batch = torch.randn(3, 2, *shape, dtype=torch.float64)  # the runtime's own use: batch, channels, event dims
    moved = rt.act_on_positions(batch, table[0], len(shape))
    assert torch.equal(moved, torch.stack([torch.stack([_direct_positions(ops, c) for c in b]) for b in batch]))


# ---- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(position_cases(1, 1))
def test_every_position_op_agrees_across_analysis_runtime_and_torch(case):
    _check_positions(*case)


@settings(max_examples=300, deadline=None)
@given(position_cases(2, 4))
def test_composed_position_ops_are_applied_right_to_left_everywhere(case):
    _check_positions(*case)


@settings(max_examples=300, deadline=None)
@given(value_cases(1, 4))
def test_value_ops_and_sequences_agree_across_analysis_runtime_and_arithmetic(case):
    n, ops = case
    analysis = _analysis(ops, Cyclic(n), None)
    table = rt.action_table({"g": ops}, n=n)
    assert np.array_equal(analysis, table[0].numpy())
    assert table[0].tolist() == _direct_values(ops, n)


def test_every_op_of_the_vocabulary_is_covered():
    # the strategies above draw from these sets: a new op must come with its direct reference
    assert tf.POSITION_OPS == {"rot90", "flip", "roll", "permute", "transpose", "permute_dims"}
    assert tf.VALUE_OPS == {"shift", "negate", "scale", "relabel"}
    with pytest.raises(ValueError, match="unknown transform 'shear' on positions"):
        tf.op_push("shear", {}, shape=(2, 2))
    with pytest.raises(ValueError, match="unknown transform 'rot90' on values"):
        tf.op_push("rot90", {"dims": (0, 1)}, n=4)


@pytest.mark.parametrize("size", [2, 3, 4])
def test_rot90_then_flip_is_rot90_after_flip(size):
    # the sequence whose order matters: the runtime used to apply the first op first, the analysis the last
    ops = [("rot90", {"dims": (0, 1)}), ("flip", {"dim": 1})]
    shape = (size, size)
    x = torch.arange(size * size).reshape(shape)
    push = rt.action_table({"g": ops}, shape=shape)[0]
    right_to_left = torch.rot90(torch.flip(x, (1,)), 1, (0, 1))
    left_to_right = torch.flip(torch.rot90(x, 1, (0, 1)), (1,))
    assert not torch.equal(right_to_left, left_to_right)
    assert torch.equal(right_to_left.reshape(-1)[push], x.reshape(-1))
    assert np.array_equal(_analysis(ops, Tensor(shape), shape), push.numpy())
    r, s = (tf.op_push(name, a, shape=shape) for name, a in ops)
    assert np.array_equal(push.numpy(), tf.compose(r, s)) and not np.array_equal(push.numpy(), tf.compose(s, r))


def test_shift_then_scale_on_values_is_scale_after_shift():
    n = 7
    ops = [("scale", {"u": 3}), ("shift", {"k": 1})]
    assert rt.action_table({"g": ops}, n=n)[0].tolist() == [(3 * (v + 1)) % n for v in range(n)]


def test_spec_actions_match_the_runtime_tables():
    spec = symspec.loads(
        "domain I = tensor[2, 3, 3]\ngroup D = <r, s | r^4, s^2, (s r)^2>\n"
        "action D on I { r -> rot90(dims=(-2, -1)), s -> flip(dim=-1) }\n"
        "domain Z = cyclic(6)\ngroup R = dihedral(6)\naction R on Z by shift\n"
    )
    for group, domain, where in (("D", "I", {"shape": (2, 3, 3)}), ("R", "Z", {"n": 6})):
        act = spec.ir.groups[group].actions[domain]
        ops = {g: [(name, dict(args)) for name, args in act.ops[g]] for g in spec.ir.groups[group].generators}
        table = rt.action_table(ops, **where)
        assert act.perms and all(np.array_equal(act.perms[g], row.numpy()) for g, row in zip(ops, table))


def test_empty_generator_set_gives_an_empty_table():
    assert rt.action_table({}, shape=(2, 3)).shape == (0, 6)
    assert rt.action_table({}, n=4).shape == (0, 4)


# ---- permutation helpers: numpy against torch ----------------------------------------------------


def _perms(draw, batch: int, n: int) -> np.ndarray:
    return np.array([draw(st.permutations(range(n))) for _ in range(batch)], dtype=np.int64).reshape(batch, n)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 10), st.data())
def test_compose_and_inverse_agree_between_numpy_and_torch(batch, n, data):
    a, b, c = (_perms(data.draw, batch, n) for _ in range(3))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    ab = tf.compose(a, b)
    assert np.array_equal(ab, rt.compose(ta, tb).numpy())
    assert np.array_equal(tf.inverse(a), rt.invert(ta).numpy())
    for row in range(batch):  # a after b: b acts first
        assert [int(a[row, b[row, i]]) for i in range(n)] == ab[row].tolist()
        assert np.array_equal(tf.compose(a[row], b[row]), ab[row])
        assert np.array_equal(tf.inverse(a[row]), tf.inverse(a)[row])
    assert np.array_equal(tf.compose(tf.inverse(a), a), np.broadcast_to(tf.identity(n), a.shape))
    assert np.array_equal(tf.inverse(ab), tf.compose(tf.inverse(b), tf.inverse(a)))
    assert np.array_equal(tf.compose(ab, c), tf.compose(a, tf.compose(b, c)))


@settings(max_examples=200, deadline=None)
@given(st.permutations(range(8)), st.integers(-9, 9))
def test_power_is_repeated_composition(perm, k):
    p = np.array(perm, dtype=np.int64)
    expected = tf.identity(8)
    for _ in range(abs(k)):
        expected = tf.compose(expected, p if k > 0 else tf.inverse(p))
    assert np.array_equal(tf.power(p, k), expected)


def test_analysis_reexports_the_one_vocabulary():
    assert groups.compose is tf.compose and groups.inverse is tf.inverse
    assert groups.identity is tf.identity and groups.power is tf.power


def test_transforms_does_not_import_torch():
    code = "import sys, symspec.transforms, symspec.analysis.groups; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_value_ops_against_tables_written_by_hand():
    """Explicit push maps on cyclic(5), independent of any formula in the code (the arithmetic reference above
    only checks the order of composition)."""
    cases = [
        ([("shift", {"k": 2})], [2, 3, 4, 0, 1]),
        ([("negate", {})], [0, 4, 3, 2, 1]),
        ([("scale", {"u": 2})], [0, 2, 4, 1, 3]),
        ([("relabel", {"perm": (1, 0, 2, 4, 3)})], [1, 0, 2, 4, 3]),
        ([("scale", {"u": 2}), ("shift", {"k": 1})], [2, 4, 1, 3, 0]),  # shift first, then scale: 2(v + 1)
        ([("shift", {"k": 1}), ("scale", {"u": 2})], [1, 3, 0, 2, 4]),  # scale first, then shift: 2v + 1
    ]
    for ops, expected in cases:
        assert _analysis(ops, Cyclic(5), None).tolist() == expected, ops
        assert rt.action_table({"g": ops}, n=5)[0].tolist() == expected, ops
