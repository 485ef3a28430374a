"""Hostile layer shapes: an orbit layer or a group convolution too large to tie is a compile error at the layer
(and a ValueError from the runtime class), never an allocation. `tensor[100000]` under `cyclic(100000)`
compiled and then asked torch for 80 GB when the layer was built; a 5000-wide fiber with `[kernel 31]` asked numpy
for 179 GiB; D4 on a 100 x 100 grid ran 20 s before failing."""

from __future__ import annotations

import resource

import pytest
import torch

import symspec
from symspec import runtime as rt
from symspec.codegen.core import CompileError

D4 = "group D = <r, s | r^4, s^2, (s r)^2>\n"

CASES = [
    (
        "d4-1000",
        "domain I = tensor[1000, 1000]\n" + D4 + "action D on I { r -> rot90(dims=(0, 1)), s -> flip(dim=1) }\n"
        "layer f: I -> I under D\n",
        "1,000,000,000,000 position pairs",
    ),
    (
        "d4-100",
        "domain I = tensor[100, 100]\n" + D4 + "action D on I { r -> rot90(dims=(0, 1)), s -> flip(dim=1) }\n"
        "layer f: I -> I under D\n",
        "100,000,000 position pairs",
    ),
    (
        "cyclic-roll",
        "domain I = tensor[100000]\ngroup C = cyclic(100000)\naction C on I by roll(dim=0)\nlayer f: I -> I under C\n",
        "10,000,000,000 position pairs",
    ),
    (
        "conv-3d-kernel-31",
        "domain V = tensor[48, H, H, H]\ngroup C = <r | r^48>\naction C on V { r -> roll(dim=0) }\n"
        "layer f: V -> V under C [kernel 31]\n",
        "68,638,464 entries",
    ),
    (
        "conv-fiber-5000",
        "domain V = tensor[5000, H, H]\ngroup C = <r | r^5000>\naction C on V { r -> roll(dim=0) }\n"
        "layer f: V -> V under C [kernel 31]\n",
        "24,025,000,000 entries",
    ),
]


@pytest.fixture(autouse=True)
def _cap_memory():
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = 8 * 2**30
    if hard != resource.RLIM_INFINITY and hard < cap:
        cap = hard
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("source, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_too_large_layers_are_compile_errors(source, words):
    with pytest.raises(CompileError) as info:
        symspec.compile(symspec.loads("spec h\n" + source, "h.sym"))
    text = str(info.value)
    assert "layer f" in text and words in text and "over the limit" in text, text


def test_the_limits_agree_and_the_documented_largest_layer_compiles():
    from symspec.codegen.conv_layers import MAX_KERNEL_ENTRIES as CODEGEN_KERNEL
    from symspec.codegen.layers import MAX_ORBIT_PAIRS as CODEGEN_PAIRS

    assert CODEGEN_PAIRS == rt.layers.MAX_ORBIT_PAIRS == 4096**2
    assert CODEGEN_KERNEL == rt.conv.MAX_KERNEL_ENTRIES == 4096**2
    # p4m with an 8-wide fiber and [kernel 31] in 2D: 8 x 8 x 961 = 61,504 entries, far below
    mod = symspec.compile(
        symspec.loads(
            "spec ok\ndomain V = tensor[8, H, H]\ngroup C = <r | r^8>\naction C on V { r -> roll(dim=0) }\n"
            "layer f: V -> V under C [kernel 31]\n",
            "ok.sym",
        )
    )
    assert mod.LAYERS["f"](1, 1)(torch.randn(1, 1, 8, 3, 3)).shape == (1, 1, 8, 3, 3)


def test_runtime_classes_refuse_before_allocating():
    n = 100_000
    gens = torch.arange(n).roll(1).unsqueeze(0)  # one generator: a cyclic shift of 100,000 points
    with pytest.raises(ValueError, match="10,000,000,000 position pairs"):
        rt.OrbitLinear(1, 1, gens, gens, (n,), (n,))
    ops = {"r": [("roll", {"dim": 0})]}
    with pytest.raises(ValueError, match="24,025,000,000 entries"):
        rt.GroupConv(1, 1, ops, ops, (5000,), (5000,), kernel=31, grid=2)


def test_a_domain_past_the_action_tables_names_the_limit():
    """tensor[3000, 3000] (9,000,000 positions) has no push maps (MAX_POINTS 4,000,000): the error said 'needs
    layers symspec does not build yet (matrix actions, or sizes known only at run time)', neither of which applies."""
    source = (
        "spec h\ndomain I = tensor[3000, 3000]\ngroup C = <r | r^4>\naction C on I { r -> rot90(dims=(0, 1)) }\n"
        "layer f: I -> real under C\n"
    )
    with pytest.raises(CompileError) as info:
        symspec.compile(symspec.loads(source, "h.sym"))
    text = str(info.value)
    assert "9,000,000 positions" in text and "MAX_POINTS" in text and "[kernel k]" in text, text
