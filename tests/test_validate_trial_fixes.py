"""Defects a new-user trial of ``symspec validate`` and ``symspec check-data`` found (each test failed before its fix).

A1: an unknown ``--dim`` name is a usage error; C1: a shape failure with a defaulted symbolic dim hints at ``--dim``;
C9: a law with no case in the data is "not checked" ("-" for rate and interval, JSON null), not a failure;
A4: the identity element of an equivariance law's enumerated group is not a case; C3: the ambiguous-model error
says what each model needs; C10: the missing-model error says how to leave its laws out; D: an unknown ``--laws``
name gets a "did you mean".
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

import symspec
from symspec.cli.main import main
from symspec.data.check import check_data
from symspec.errors import ModelError, UsageError

POINT_CLOUD = "examples/point_cloud.sym"
MODULAR = "examples/modular_addition.sym"

FACTORIES = """
import torch

class Energy48(torch.nn.Module):  # built for clouds of 16 points: a Linear on the flattened [16, 3]
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(48, 1)

    def forward(self, x):
        return self.lin(x.reshape(x.shape[0], -1)).squeeze(-1)

def energy():
    return Energy48()

def norm():
    return lambda x: x.norm(dim=(-2, -1))

def explode():
    raise RuntimeError("the factory must not run before the options are checked")

def add_exact(p):
    return lambda a, b: torch.nn.functional.one_hot((a + b) % p, p).float() * 10
"""


@pytest.fixture
def factories(tmp_path, monkeypatch):
    name = f"trialmodels_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.chdir(tmp_path)
    return name


def _abs(path: str) -> str:
    import os

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), path)


# ---- A1: --dim with a name the spec does not have ---------------------------------------------------------------


def test_unknown_dim_is_a_usage_error_listing_the_specs_dims(factories, capsys):
    code = main(["validate", _abs(POINT_CLOUD), "--model", f"energy={factories}:explode", "--laws", "invariant", "--dim", "M=5"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--dim M=5" in err and "no symbolic dim 'M'" in err and "its symbolic dims: N" in err
    assert "must not run" not in err  # checked before any factory is called


def test_unknown_dim_did_you_mean(factories, capsys):
    code = main(["validate", _abs(POINT_CLOUD), "--model", f"energy={factories}:norm", "--laws", "invariant", "--dim", "n=5"])
    err = capsys.readouterr().err
    assert code == 2 and "--dim n=5" in err and "did you mean N?" in err


def test_dim_on_a_spec_without_symbolic_dims(factories, capsys):
    code = main(["validate", _abs(MODULAR), "--param", "p=5", "--model", f"{factories}:add_exact", "--dim", "N=16"])
    err = capsys.readouterr().err
    assert code == 2 and "--dim N=16" in err and "has no symbolic dims" in err


def test_unknown_dim_from_python():
    with pytest.raises(UsageError, match=r"dims\['M'\]: spec point_cloud has no symbolic dim 'M'; its symbolic dims: N"):
        symspec.validate(POINT_CLOUD, energy=lambda x: x.sum((-2, -1)), laws="invariant", dims={"M": 5})


def test_known_dim_still_works(factories, capsys):
    code = main(["validate", _abs(POINT_CLOUD), "--model", f"energy={factories}:norm", "--laws", "invariant", "--dim", "N=5"])
    out = capsys.readouterr().out
    assert code == 0 and "tensors drawn with symbolic dims N=5" in out


# ---- C1: a shape failure while a symbolic dim had its default size ----------------------------------------------


def test_shape_failure_with_a_defaulted_dim_hints_at_dim(factories, capsys):
    code = main(["validate", _abs(POINT_CLOUD), "--model", f"energy={factories}:energy", "--laws", "invariant"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "mat1 and mat2 shapes cannot be multiplied" in err  # the model's own message is kept
    assert "the symbolic dim N took its default size 8" in err and "--dim N=SIZE" in err


def test_shape_failure_with_a_given_dim_has_no_default_hint(factories, capsys):
    code = main(["validate", _abs(POINT_CLOUD), "--model", f"energy={factories}:energy", "--laws", "invariant", "--dim", "N=4"])
    err = capsys.readouterr().err
    assert code == 2 and "mat1 and mat2" in err and "default size" not in err


def test_shape_failure_hint_from_python():
    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(48, 1)

        def forward(self, x):
            return self.lin(x.reshape(x.shape[0], -1)).squeeze(-1)

    with pytest.raises(ModelError, match=r"took its default size 8.*dims=\{'N': SIZE\}"):
        symspec.validate(POINT_CLOUD, energy=Fixed(), laws="invariant", samples=16)


# ---- C9: a law with no case in the data -------------------------------------------------------------------------

TWO = (
    "spec two\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nmodel g(a: Z, b: Z) -> class(Z)\n"
    "law fshift: f(a + 1) == f(a) + 1\nlaw comm: g(a, b) == g(b, a)\n"
)


DATA = (
    "spec d\ndomain Z = cyclic(3)\nmodel g(a: Z, b: Z) -> class(Z)\n"
    "law comm: g(a, b) == g(b, a)\nlaw step: g(a + 1, b + 1) == g(a, b)\n"
)


def test_law_with_no_case_in_the_data_is_not_checked():
    report = check_data(symspec.loads(DATA), {"a": [0, 1], "b": [1, 0], "target": [1, 1]})
    assert report["comm"].passed is True and report["comm"].cases == 2
    law = report["step"]
    assert law.passed is None and law.cases == 0 and law.skipped == 9
    assert law.note == "none of its 9 cases has all its calls in the data (with its guard true): nothing was checked"
    assert report.passed  # the law the data has cases of holds; the other is listed apart
    row = next(line for line in report.render().splitlines() if line.startswith("step "))
    assert row.split()[-2:] == ["not", "checked"] and "0.0000" not in row and "FAIL" not in row
    assert row.split()[7:9] == ["-", "-"]  # rate and interval (after the mode "not checked" and three counts)
    assert report.render().rstrip().endswith("passed: 1 of 2 laws hold on the data (1 not checked)")
    d = {x["name"]: x for x in json.loads(report.to_json())["laws"]}["step"]
    assert d["rate"] is None and d["interval"] is None and d["passed"] is None


def test_nothing_in_the_data_at_all_is_still_not_a_pass():
    report = check_data(symspec.loads(DATA), {"a": [0], "b": [1], "target": [1]})
    assert report["comm"].passed is None and report["step"].passed is None
    assert not report.passed
    assert report.render().rstrip().endswith("FAILED: 0 of 2 laws hold on the data (2 not checked)")


def test_check_data_cli_exit_0_when_a_law_has_no_case(tmp_path, capsys):
    spec = tmp_path / "d.sym"
    spec.write_text(DATA)
    data = tmp_path / "g.csv"
    data.write_text("a,b,target\n0,1,1\n1,0,1\n")
    assert main(["check-data", str(spec), "--data", str(data)]) == 0
    out = capsys.readouterr().out
    assert "passed: 1 of 2 laws hold on the data (1 not checked)" in out
    assert "note: step: none of its 9 cases has all its calls in the data" in out


def test_constraint_form_with_no_case_is_not_checked():
    spec = symspec.loads(
        "spec m\nparam n = 4\ndomain P = range(0, n)\nmodel d(a: P, b: P) -> class(range(0, 9))\n"
        "law zero: d(a, a) == 0\nlaw sym: d(a, b) == d(b, a)\n"
    )
    report = check_data(spec, {"a": [0], "b": [1], "target": [3]})
    assert report["zero"].passed is None and report["zero"].cases == 0
    row = next(line for line in report.render().splitlines() if line.startswith("zero "))
    assert "0.0000" not in row and row.endswith("not checked")


def test_validate_zero_case_law_shows_no_rate():
    spec = symspec.loads("spec v\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nlaw never: f(a) == f(a) + 1 when a != a\n")
    report = symspec.validate(spec, f=lambda a: torch.zeros(a.shape[0], 3))
    law = report["never"]
    assert law.cases == 0 and law.passed is False  # validate: a guard no case satisfies still fails (docs)
    row = next(line for line in report.render().splitlines() if line.startswith("never "))
    assert "0.0000" not in row and "[0" not in row and row.endswith("FAIL")
    d = json.loads(report.to_json())["laws"][0]
    assert d["rate"] is None and d["interval"] is None


# ---- A4: the identity element is not a case ---------------------------------------------------------------------

CYCLIC = """spec c
domain Z = cyclic(5)
group C = <r | r^5>
action C on Z { r -> shift(1) }
model f(a: Z) -> class(Z)
model h(a: Z, b: Z) -> class(Z)
law eq: forall g: C. f(g . a) == g . f(a)
law pair: forall g: C. h(g . a, g . b) == h(a, b)
law swapped: forall g: C. h(g . b, g . a) == h(a, b)
law plus: forall g: C. f(g . a + 1) == g . f(a) + 1
law one: f(C.r . a) == C.r . f(a)
"""


def _shift(a):
    return torch.nn.functional.one_hot((a + 3) % 5, 5).float()


def test_identity_is_not_a_case_in_validate():
    difference = lambda a, b: torch.nn.functional.one_hot((a - b) % 5, 5).float()  # noqa: E731
    report = symspec.validate(symspec.loads(CYCLIC), f=_shift, h=difference)
    assert report["eq"].cases == 5 * 4 and report["eq"].mode == "exhaustive"
    assert report["pair"].cases == 25 * 4
    assert report["swapped"].cases == 25 * 5  # at the identity h(b, a) == h(a, b) can fail: kept
    assert report["plus"].cases == 5 * 5  # at the identity f(a + 1) == f(a) + 1 can fail: kept
    assert report["one"].cases == 5  # a constant element is not the identity
    assert [report[n].passed for n in ("eq", "pair", "swapped", "plus", "one")] == [True, True, False, True, True]


def test_identity_is_not_a_case_in_check_data():
    spec = symspec.loads(CYCLIC)
    table = {"a": list(range(5)), "target": [(a + 3) % 5 for a in range(5)]}
    report = check_data(spec, table, model="f", laws=["eq", "plus", "one"])
    assert (report["eq"].cases, report["eq"].skipped) == (20, 0)
    assert report["plus"].cases == 25 and report["one"].cases == 5


def test_identity_exclusion_counts_the_violations_against_brute_force():
    spec = symspec.loads(CYCLIC)
    labels = [3, 4, 0, 1, 1]  # the last label is off by one: not equivariant at a = 4
    report = check_data(spec, {"a": list(range(5)), "target": labels}, model="f", laws=["eq"])
    brute = [(a, g) for a in range(5) for g in range(1, 5) if labels[(a + g) % 5] != (labels[a] + g) % 5]
    assert report["eq"].cases == 20 and report["eq"].violations == len(brute) > 0


def test_trivial_group_keeps_its_identity():
    spec = symspec.loads(
        "spec t\ndomain Z = cyclic(3)\ngroup T = <r | r>\naction T on Z { r -> shift(0) }\n"
        "model f(a: Z) -> class(Z)\nlaw inv: forall g: T. f(g . a) == f(a)\n"
    )
    report = symspec.validate(spec, f=lambda a: torch.zeros(a.shape[0], 3))
    assert report["inv"].cases == 3 and report["inv"].passed


# ---- C3: check-data's ambiguous model ---------------------------------------------------------------------------


def test_ambiguous_model_lists_what_each_model_needs(tmp_path, capsys):
    spec = tmp_path / "two.sym"
    spec.write_text(TWO)
    data = tmp_path / "d.csv"
    data.write_text("x,y,target\n0,1,1\n")
    assert main(["check-data", str(spec), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--model NAME" in err
    assert "f needs the columns a, target (missing a)" in err
    assert "g needs the columns a, b, target (missing a, b)" in err
    assert "the data has x, y, target" in err


def test_ambiguous_model_from_python():
    with pytest.raises(UsageError, match=r"f needs the columns a, target \(has them all\)"):
        check_data(symspec.loads(TWO + "model k(a: Z) -> class(Z)\nlaw kk: k(a + 1) == k(a) + 1\n"), {"a": [0], "target": [0]})


# ---- C10: the missing-model error of the Python API -------------------------------------------------------------


def test_missing_model_says_how_to_leave_its_laws_out():
    with pytest.raises(ModelError) as err:
        symspec.validate(symspec.loads(TWO), f=lambda a: torch.zeros(a.shape[0], 3))
    text = str(err.value)
    assert "missing g (used by law comm)" in text
    assert "models={'g': ...}" in text and "laws=[...]" in text and "spec.select([...])" in text


# ---- D: --laws with an unknown name -----------------------------------------------------------------------------


def test_unknown_law_did_you_mean_in_check_data(tmp_path, capsys):
    spec = tmp_path / "two.sym"
    spec.write_text(TWO)
    data = tmp_path / "g.csv"
    data.write_text("a,b,target\n0,1,1\n")
    assert main(["check-data", str(spec), "--data", str(data), "--model", "g", "--laws", "comut"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--laws comut" in err and "unknown law(s) comut" in err
    assert "did you mean comm?" in err and "the spec's laws: fshift, comm" in err


def test_unknown_law_did_you_mean_in_validate(factories, capsys):
    code = main(["validate", _abs(MODULAR), "--param", "p=5", "--model", f"{factories}:add_exact", "--laws", "shfit"])
    err = capsys.readouterr().err
    assert code == 2 and "--laws shfit" in err and "did you mean shift?" in err and "the spec's laws:" in err


def test_unknown_law_without_a_close_name():
    with pytest.raises(UsageError) as err:
        symspec.validate(MODULAR, params={"p": 5}, laws=["zzzz"], add=lambda a, b: torch.zeros(a.shape[0], 5))
    assert "unknown law(s) zzzz" in str(err.value) and "did you mean" not in str(err.value)
