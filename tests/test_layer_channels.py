"""Hostile channel counts for every compiled layer kind: a clear TypeError/ValueError naming the layer before
anything is allocated. Huge counts used to reach torch's allocator (a 'can't allocate memory'
RuntimeError, or on a large machine a multi-GiB allocation); 0 or negative channels a ZeroDivisionError, a
'math domain error' or a silently empty layer; a bool a 1-channel layer."""

from __future__ import annotations

import resource

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt

_MODULES: dict = {}


def _mod(name, params):
    key = (name, tuple(sorted((params or {}).items())))
    if key not in _MODULES:
        _MODULES[key] = symspec.compile(symspec.load(ROOT / "examples" / f"{name}.sym", params=params))
    return _MODULES[key]


_SO3 = "spec s\ndomain V = tensor[4, 3]\ndomain M = tensor[N, 3, 3]\nlayer f: V -> V under SO(3)\nlayer g: M -> M under symmetric(N) x O(3)\n"

LAYERS = [
    ("image_d4", {"size": 5}, "conv", "OrbitLinear"),
    ("image_d4", {"size": 5}, "readout", "OrbitLinear"),
    ("image_d4", {"size": 5}, "lift8", "GroupConv"),
    ("image_d4", {"size": 5}, "conv8", "GroupConv"),
    ("graph_layers", {"hidden": 3}, "embed", "PairToNodes"),
    ("graph_layers", {"hidden": 3}, "message", "NodesToPair"),
    ("graph_layers", {"hidden": 3}, "aggregate", "PairToNodes"),
    ("graph_layers", {"hidden": 3}, "update", "DeepSetsLinear"),
    ("graph_layers", {"hidden": 3}, "readout", "DeepSetsLinear"),
    ("point_cloud_net", None, "edges", "SteerableLinear"),
    ("point_cloud_net", None, "edge_mix", "SteerableLinear"),
    ("point_cloud_net", None, "readout", None),
    (_SO3, None, "f", "BasisLinear"),
    (_SO3, None, "g", "SteerableLinear"),
]


def _cls(source, params, name):
    if source.startswith("spec "):
        key = (source, ())
        if key not in _MODULES:
            _MODULES[key] = symspec.compile(symspec.loads(source, "s.sym"))
        return _MODULES[key].LAYERS[name]
    return _mod(source, params).LAYERS[name]


@pytest.fixture(autouse=True)
def _no_big_allocations():
    """Cap the address space so that a layer that does try to allocate terabytes fails inside torch (a
    RuntimeError, which the tests reject) rather than swapping the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = 16 * 2**30
    if hard != resource.RLIM_INFINITY and hard < cap:
        cap = hard
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("source, params, name, kind", LAYERS, ids=[f"{s[:8]}-{n}" for s, _, n, _ in LAYERS])
def test_hostile_channels_are_clear_errors(source, params, name, kind):
    cls = _cls(source, params, name)
    cls(2, 3)  # a sane layer builds
    for c_in, c_out, error, words in [
        (10**6, 10**6, ValueError, "over the limit"),
        (2**40, 1, ValueError, "over the limit"),
        (0, 3, ValueError, "c_in must be at least 1"),
        (3, 0, ValueError, "c_out must be at least 1"),
        (-2, 3, ValueError, "c_in must be at least 1"),
        (True, 2, TypeError, "c_in must be a number of channels"),
        (2, 2.5, TypeError, "c_out must be an integer"),
        ("4", 2, TypeError, "c_in must be an integer"),
    ]:
        with pytest.raises(error, match=words) as info:
            cls(c_in, c_out)
        assert f"layer {name}" in str(info.value), str(info.value)


def test_limit_counts_the_dense_kernel_not_only_the_parameters():
    """p4m conv: 72 tied weights per channel pair, but the forward builds an 8 x 8 x 3 x 3 = 576-entry dense kernel
    per pair; the limit is on the larger."""
    from symspec.runtime.layers import MAX_LAYER_ENTRIES

    cls = _mod("image_d4", {"size": 5}).LAYERS["conv8"]
    c = int((MAX_LAYER_ENTRIES / 576) ** 0.5) + 1  # c^2 x 72 is under the limit, c^2 x 576 over it
    assert c * c * 72 < MAX_LAYER_ENTRIES < c * c * 576
    with pytest.raises(ValueError, match="576 per channel pair"):
        cls(c, c)


def test_numpy_and_torch_integers_are_channels():
    import numpy as np

    cls = _mod("image_d4", {"size": 5}).LAYERS["conv4"]
    layer = cls(np.int64(2), torch.tensor(3))
    assert (layer.c_in, layer.c_out) == (2, 3) and type(layer.c_in) is int
    y = layer(torch.randn(1, 2, 4, 5, 5))
    assert y.shape == (1, 3, 4, 5, 5)


def test_norm_gate_channels():
    with pytest.raises(ValueError, match="NormGate: channels must be at least 1"):
        rt.NormGate(0)
    with pytest.raises(ValueError, match="over the limit"):
        rt.NormGate(2**31)
