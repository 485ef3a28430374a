"""``params={...}`` takes numpy integers, as validate's options do.

Before: ``symspec.loads(text, params={"p": np.int64(7)})`` was a ParamError 'must be an integer, got
np.int64(7)' (parameters read from a numpy config or array).
"""

from __future__ import annotations

import numpy as np
import pytest

import symspec
from symspec.errors import ParamError

TEXT = "param p = 5\ndomain Z = cyclic(p)\nmodel f(a: Z, b: Z) -> class(Z)\nlaw c: f(a, b) == f(b, a)\n"


@pytest.mark.parametrize("value", [np.int64(7), np.int32(7), np.uint8(7)])
def test_a_numpy_integer_overrides_a_param(value):
    spec = symspec.loads(TEXT, "p.sym", params={"p": value})
    source = symspec.pipeline.compile_source(spec)
    assert "P = 7\n" in source and "np." not in source
    assert type(spec.ir.laws["c"].variables["a"].domain.n) is int and spec.ir.laws["c"].variables["a"].domain.n == 7


@pytest.mark.parametrize("value", [True, np.bool_(True), 7.0, np.float64(7.0), "7"])
def test_non_integers_are_still_refused(value):
    with pytest.raises(ParamError, match="parameter 'p' must be an integer"):
        symspec.loads(TEXT, "p.sym", params={"p": value})


def test_a_numpy_integer_past_the_limit_is_refused():
    with pytest.raises(ParamError, match="beyond the 64-bit integer limit"):
        symspec.loads(TEXT, "p.sym", params={"p": np.uint64(2**63)})
