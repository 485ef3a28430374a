"""check-data, second review pass: inputs the first pass did not try (issue 17, item 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symspec.data.check import check_data
from symspec.errors import UsageError
from symspec.pipeline import loads

TENSOR = loads(
    "spec t\ndomain C = tensor[4, 2]\ndomain Z = cyclic(3)\ngroup P = symmetric(4)\n"
    "model e(x: C, k: Z) -> real\nlaw inv: forall g: P. e(g . x, k) == e(x, k)\n"
)


@pytest.mark.parametrize("rows", [0, 1])
def test_tensor_inputs_with_no_rows_or_one(rows):
    """0 rows of a tensor input reshaped to [0, -1] (a RuntimeError traceback); now: nothing checked, no pass."""
    x = torch.randn(rows, 4, 2, dtype=torch.float64)
    report = check_data(TENSOR, {"x": x, "k": torch.zeros(rows, dtype=torch.int64), "target": x.sum((1, 2))})
    # one row: its only present case was g = the identity, which is not a case (docs/validation.md): 0 either way
    assert (report["inv"].cases, report["inv"].violations) == (0, 0)
    assert not report.passed


MOD3 = loads("spec s\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nlaw c: f(a + 1) == f(a)\n")


def test_numpy_scalars_as_options():
    """max_rate=np.float32(0.5), examples=np.int64(2) were usage errors ('must be between 0 and 1, got 0.5');
    validate takes them."""
    data = {"a": [0, 1, 2], "target": [0, 0, 0]}
    report = check_data(MOD3, data, max_rate=np.float32(0.5), examples=np.int64(2), max_cases=np.int64(100))
    assert report.passed and report["c"].max_rate == 0.5 and type(report["c"].max_rate) is float
    data["target"] = [0, 0, 1]  # rate 2/3
    assert not check_data(MOD3, data, max_rate=np.float32(0.5)).passed
    with pytest.raises(UsageError, match="max_rate must be between 0 and 1"):
        check_data(MOD3, data, max_rate=np.bool_(True))


def test_tensor_column_in_a_csv_says_where_tensors_come_from(tmp_path):
    """A csv (even with 0 rows) for a tensor input said 'expected rows of shape [4, 2], got []'."""
    for body in ("", "1.0,0,2.0\n"):
        path = tmp_path / "t.csv"
        path.write_text("x,k,target\n" + body)
        with pytest.raises(UsageError, match=r"column 'x': tensor\[4, 2\] values cannot be read from text.*\.pt or \.npz"):
            check_data(TENSOR, path)


def test_sum_of_class_labels_is_not_a_convolution(monkeypatch):
    """f(a) + f(b) on one-hot labels convolved n x n classes (10^5 classes: 51 s; 2 x 10^7: minutes, GBs);
    the one-hot path adds the labels. Both label paths agree with brute force."""
    import symspec.data.check as check_module

    monkeypatch.setattr(check_module, "STRICT", True)
    classes = 20_000_000
    spec = loads(
        f"spec s\ndomain Z = range(0, 3)\nmodel f(a: Z) -> class(range(-2, {classes}))\nlaw k: f(a) + f(b) <= {classes}\n"
    )
    data = {"a": [0, 1, 2], "target": [classes - 1, 1, -2]}
    labels = data["target"]
    brute = [x + y > classes for x in labels for y in labels]
    report = check_data(spec, data)
    assert (report["k"].cases, report["k"].violations) == (9, sum(brute))
    small = loads("spec s\ndomain Z = range(0, 3)\nmodel f(a: Z) -> class(range(-2, 7))\nlaw k: f(a) + f(b) <= 7\n")
    data = {"a": [0, 1, 2], "target": [6, 1, -2]}
    want = sum(x + y > 7 for x in data["target"] for y in data["target"])
    for fast in (True, False):
        monkeypatch.setattr(check_module, "FAST", fast)
        assert check_data(small, data)["k"].violations == want
