"""A law's float constant meets float64 data in float64 (it was rounded to float32 first) and float32 data as
that data is rounded."""

from __future__ import annotations

import torch

from symspec.runtime.checks import at_most, within_tolerance


def test_float64_data_against_a_float_constant_at_tolerance_zero():
    x = torch.tensor([0.30000000000000004, 0.3, 0.29999999999999993], dtype=torch.float64)
    assert at_most(x, 0.3, 0.0).tolist() == [False, True, True]
    assert within_tolerance(x, 0.3, 0.0, 0.0).tolist() == [False, True, False]


def test_float32_data_against_the_same_constant():
    x = torch.tensor([0.3], dtype=torch.float32)
    assert at_most(x, 0.3, 0.0).tolist() == [True] and within_tolerance(x, 0.3, 0.0, 0.0).tolist() == [True]
    assert at_most(x, 0.3, 0.0).dtype == torch.bool
