"""A law no case could check is 'not checked' in the table and the JSON (never 'pass'), and the summary says so."""

from __future__ import annotations

import json

import torch

import symspec
from symspec.data.check import check_data

TWO = (
    "spec two\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nmodel g(a: Z) -> class(Z)\n"
    "law both: f(a) == g(a)\nlaw mine: f(a + 1) == f(a) + 1\n"
)


def test_check_data_lists_unchecked_laws_apart():
    report = check_data(symspec.loads(TWO), {"a": [0, 1, 2], "target": [0, 1, 2]}, model="f")
    assert report["both"].passed is None and report["mine"].passed is True
    assert report.passed  # every law that was checked holds
    row = next(line for line in report.render().splitlines() if line.startswith("both "))
    assert row.split()[-1] == "checked" and "pass" not in row and "[0.0000" not in row
    assert report.render().rstrip().endswith("passed: 1 of 2 laws hold on the data (1 not checked)")
    laws = {d["name"]: d for d in json.loads(report.to_json())["laws"]}
    assert laws["both"]["passed"] is None and laws["both"]["interval"] is None
    assert laws["mine"]["passed"] is True and laws["mine"]["interval"][0] == 0.0 < laws["mine"]["interval"][1]


def test_nothing_checked_is_not_a_pass():
    report = check_data(symspec.loads(TWO), {"a": [0, 1, 2], "target": [0, 1, 2]}, model="f", laws=["both"])
    assert not report.passed
    assert report.render().rstrip().endswith("FAILED: 0 of 1 laws hold on the data (1 not checked)")


class _Zero(torch.nn.Module):
    def forward(self, a):
        return torch.zeros(a.shape[0], 3)


def test_validate_summary_counts_unchecked_laws():
    spec = symspec.loads("spec one\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nlaw s: f(a + 1) == f(a)\n")
    report = symspec.validate(spec, models={"f": _Zero()})
    assert report["s"].passed is True and report.passed
    assert report.render().rstrip().endswith("passed: 1 of 1 laws hold within tolerance")
