"""SteerableLinear's reused kernel and torch.utils.swap_tensors.

The eval-mode kernel cache held a weak reference to the weight; torch.utils.swap_tensors refuses a tensor with a
weak reference, so after one forward without autograd, ``load_state_dict`` (and ``.to()``, ``.float()``...) under
``torch.__future__.set_swap_module_params_on_conversion(True)`` raised 'Cannot swap t1 because it has weakref
associated with it'. The swapped-in values must also be the ones the next forward uses.
"""

from __future__ import annotations

import pytest
import torch
from conftest import ROOT

import symspec


@pytest.fixture
def swap_flag():
    before = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    yield
    torch.__future__.set_swap_module_params_on_conversion(before)


@pytest.fixture(scope="module")
def layers():
    return symspec.compile(symspec.load(ROOT / "examples" / "point_cloud_net.sym")).LAYERS


@pytest.mark.parametrize("name, shape", [("edge_mix", (2, 4, 4, 3)), ("edges", (2, 5, 3))])
def test_load_state_dict_swaps_after_a_cached_forward(layers, swap_flag, name, shape):
    torch.manual_seed(0)
    layer, other = layers[name](2, 3).eval(), layers[name](2, 3).eval()
    for m in (layer, other):
        for p in m.parameters():
            p.data.normal_()
    x = torch.randn(1, *shape)
    with torch.no_grad():
        before = layer(x)  # fills the kernel cache
        layer.load_state_dict(other.state_dict())
        after, expected = layer(x), other(x)
    assert not torch.equal(before, expected)
    torch.testing.assert_close(after, expected, rtol=0, atol=0)


def test_to_swaps_after_a_cached_forward(layers, swap_flag):
    torch.manual_seed(1)
    layer = layers["edge_mix"](2, 3).eval()
    x = torch.randn(1, 2, 4, 4, 3, dtype=torch.float64)
    with torch.no_grad():
        y32 = layer(x.float())
        layer.to(torch.float64)
        y64 = layer(x)
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64.float(), y32, rtol=1e-5, atol=1e-5)


def test_swap_tensors_on_the_weight_is_seen(layers):
    torch.manual_seed(2)
    layer = layers["edge_mix"](2, 3).eval()
    x = torch.randn(1, 2, 4, 4, 3)
    with torch.no_grad():
        layer(x)
        new = torch.nn.Parameter(torch.randn_like(layer.weight))
        torch.utils.swap_tensors(layer.weight, new)
        y = layer(x)
        layer.clear_cache()
        fresh = layer(x)
    torch.testing.assert_close(y, fresh, rtol=0, atol=0)
