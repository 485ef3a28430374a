"""Residual quantiles of real/tensor laws in validation reports, and the symbolic dims' drawn sizes."""

from __future__ import annotations

import json

import pytest
import torch

import symspec
from symspec.cli import main
from symspec.runtime import residuals
from symspec.validation.run import _Residuals

SPEC = """\
spec residuals
domain Cloud = tensor[N, 3]
group P = symmetric(N)
group Rot = SO(3)
model energy(x: Cloud) -> real
model forces(x: Cloud) -> Cloud
law zero: energy(x) == 0
law below: energy(x) <= 0
law invariant: forall g: P. energy(g . x) == energy(x)
law equivariant: forall g: Rot. forces(g . x) == g . forces(x) [tol 1e-4]
law flat: forces(x) == 0
"""

CLASSES = """\
domain Zp = cyclic(5)
model add(a: Zp, b: Zp) -> class(Zp)
law commutes: add(a, b) == add(b, a)
"""


@pytest.fixture(scope="module")
def spec():
    return symspec.loads(SPEC, "residuals.sym")


def _half(x):
    return torch.full(x.shape[:1], 0.5, dtype=x.dtype)


def test_an_exact_model_has_residuals_of_zero(spec):
    report = symspec.validate(
        spec,
        models={"energy": lambda x: x.pow(2).sum((1, 2)) * 0, "forces": lambda x: x * 0},
        samples=300,
        dims={"N": 4},
    )
    assert report.passed, report.render()
    for name in ("zero", "below", "invariant", "flat"):
        r = report[name].residual
        assert r["cases"] == 300 and r["sample"] == 300
        assert all(r[k][q] == 0 for k in ("abs", "rel") for q in ("p50", "p90", "p99", "max")), (name, r)
    exact = symspec.validate(
        spec,
        models={"energy": lambda x: x.pow(2).sum((1, 2)), "forces": lambda x: x},
        samples=300,
        laws=["invariant", "equivariant"],
    )
    for name in ("invariant", "equivariant"):  # rounding only: float32 ulps of the sums and rotations
        r = exact[name].residual
        assert r["abs"]["max"] < 1e-4 and r["rel"]["max"] < 1e-5, (name, r)


def test_a_model_off_by_one_half_has_every_quantile_one_half(spec):
    def forces(x):  # one entry of each case off by 0.5, the others exact
        out = torch.zeros_like(x)
        out[:, 0, 1] = 0.5
        return out

    report = symspec.validate(spec, models={"energy": _half, "forces": forces}, samples=1000, laws=["zero", "below", "flat"])
    assert not report.passed
    for name in ("zero", "below", "flat"):  # the largest entry per case: 0.5; relative: 0.5 / max(0.5, 0) = 1
        r = report[name].residual
        assert r["abs"] == {"p50": 0.5, "p90": 0.5, "p99": 0.5, "max": 0.5}, (name, r)
        assert r["rel"] == {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0}, (name, r)


def test_quantiles_are_those_of_the_cases():
    # residuals of 0, 1, ..., 99 (one per case): p50, p90, p99 are the observed values at or above the quantile
    acc = _Residuals(1_000, "cpu", 0)
    values = torch.arange(100, dtype=torch.float64)
    acc.add(values[:60], values[:60] / 100, 60)
    acc.add(values[60:], values[60:] / 100, 40)
    r = acc.summary()
    assert r["abs"] == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 99.0}
    assert r["rel"]["max"] == 0.99 and r["cases"] == r["sample"] == 100


def test_beyond_the_bound_a_uniform_sample_is_kept_and_the_max_stays_exact():
    acc = _Residuals(1_000, "cpu", 0)
    for start in range(0, 100_000, 7_000):  # 0 .. 99,999 in batches
        values = torch.arange(start, min(start + 7_000, 100_000), dtype=torch.float64)
        acc.add(values, values, values.shape[0])
        assert acc.held <= 2 * 1_000 + 7_000  # bounded memory
    r = acc.summary()
    assert r["cases"] == 100_000 and r["sample"] == 1_000
    assert r["abs"]["max"] == 99_999.0
    assert abs(r["abs"]["p50"] - 50_000) < 5_000 and abs(r["abs"]["p90"] - 90_000) < 3_000


def test_residuals_kernel_definition():
    lhs = torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, -4.0]])
    rhs = torch.tensor([[1.0, 2.5], [0.0, 0.0], [3.0, 4.0]])
    absolute, relative = residuals(3, ("==",), lhs, rhs)
    assert absolute.tolist() == [0.5, 0.0, 8.0]
    assert relative.tolist() == [0.5 / 2.5, 0.0, 8.0 / 4.0]
    absolute, _ = residuals(3, ("<=",), lhs, rhs)  # only the excess of lhs over rhs
    assert absolute.tolist() == [0.0, 0.0, 0.0]
    absolute, _ = residuals(3, (">=",), lhs, rhs)
    assert absolute.tolist() == [0.5, 0.0, 8.0]
    absolute, _ = residuals(2, ("==",), torch.tensor([float("nan"), 1.0]), 0.0)  # a NaN is as far off as can be
    assert absolute.tolist() == [float("inf"), 1.0]


def test_json_and_text_have_the_residuals_and_the_drawn_sizes(spec, tmp_path, capsys):
    report = symspec.validate(spec, models={"energy": _half}, samples=200, dims={"N": 5}, laws=["zero"])
    assert report.dims == {"N": 5} and report["zero"].dims == {"N": 5}
    data = json.loads(report.to_json())
    assert data["dims"] == {"N": 5}
    law = data["laws"][0]
    assert law["dims"] == {"N": 5}
    assert set(law["residual"]) == {"abs", "rel", "cases", "sample"}
    assert set(law["residual"]["abs"]) == {"p50", "p90", "p99", "max"}
    text = report.render()
    assert "symbolic dims N=5" in text
    assert "|lhs-rhs| p50" in text and "relative p50" in text

    # the CLI's JSON, on a spec whose models come from a factory
    (tmp_path / "res.sym").write_text(SPEC)
    (tmp_path / "resmodels.py").write_text("import torch\n\ndef build():\n    return lambda x: torch.full(x.shape[:1], 0.5)\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        code = main(
            [
                "validate",
                str(tmp_path / "res.sym"),
                "--model",
                "energy=resmodels:build",
                "--laws",
                "zero",
                "--samples",
                "100",
                "--json",
                "-",
            ]
        )
    finally:
        sys.path.remove(str(tmp_path))
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["dims"] == {"N": 8}  # the default size of a symbolic dim
    assert out["laws"][0]["residual"]["abs"]["p50"] == 0.5
    sys.path.insert(0, str(tmp_path))
    try:
        base = ["validate", str(tmp_path / "res.sym"), "--model", "energy=resmodels:build", "--laws", "zero", "--samples", "50"]
        code = main([*base, "--dim", "N=3", "--json", "-"])
        assert json.loads(capsys.readouterr().out)["dims"] == {"N": 3}
        assert main([*base, "--dim", "N=0"]) == 2
        assert "--dim expects NAME=SIZE" in capsys.readouterr().err
    finally:
        sys.path.remove(str(tmp_path))


def test_the_plot_has_a_residual_panel(spec, tmp_path):
    pytest.importorskip("matplotlib")
    report = symspec.validate(spec, models={"energy": _half, "forces": lambda x: x * 0}, samples=100, laws=["zero", "flat"])
    assert report["flat"].residual["abs"]["max"] == 0  # drawn at the floor of the log axis
    path = report.plot(str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").stat().st_size > 0 and path.endswith("r.png")


def test_class_laws_have_no_residuals():
    p = 5
    report = symspec.validate(symspec.loads(CLASSES), add=lambda a, b: 10 * torch.nn.functional.one_hot((a + b) % p, p).float())
    assert report.passed and report["commutes"].residual is None
    assert report.dims == {} and "residuals per case" not in report.render()
    assert json.loads(report.to_json())["laws"][0]["residual"] is None
