"""check-data under attack: odd data files, hostile text, silent value wrap-around, case explosions, brute force.

Each test here was a bug found by review (a traceback, a silently wrong value or count, a misleading report)
or pins a behaviour the review tried to break and could not.
"""

from __future__ import annotations

import itertools
import json
import os
import random

import numpy as np
import pytest
import torch

import symspec.data.check as check_module
from symspec.cli.main import main
from symspec.data.check import check_data
from symspec.data.load import load_table
from symspec.errors import UsageError
from symspec.pipeline import loads

MOD = loads("spec m\ndomain Z = cyclic(5)\nmodel add(a: Z, b: Z) -> class(Z)\nlaw commutes: add(a, b) == add(b, a)\n")
RANGE = loads("spec r\ndomain R = range(-5, 5)\nmodel f(a: R) -> class(R)\nlaw same: f(a) == f(a)\n")


# ---- values that wrap or overflow -------------------------------------------------------------------------------


def test_uint64_beyond_int64_is_outside_not_wrapped():
    """2^64 - 1 as uint64 once became -1 (inside range(-5, 5)) without a word."""
    with pytest.raises(UsageError, match=r"column 'a': row 1: 18446744073709551615 is outside range\(-5, 5\)"):
        load_table(RANGE, {"a": np.array([0, 2**64 - 1], dtype=np.uint64), "target": [0, 0]})
    table = load_table(RANGE, {"a": np.array([4, 0], dtype=np.uint64), "target": [0, 0]})
    assert table.inputs["a"].tolist() == [4, 0]


def test_huge_float_is_named_as_written():
    with pytest.raises(UsageError, match=r"column 'a': row 0: 1e\+30 is outside range\(-5, 5\) \(values -5\.\.4\)"):
        load_table(RANGE, {"a": np.array([1e30]), "target": [0]})


def test_csv_integer_beyond_int64_is_a_usage_error(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("a,b,target\n99999999999999999999999,1,1\n")
    with pytest.raises(UsageError, match=r"column 'a': row 0: 99999999999999999999999 is outside cyclic\(5\)"):
        load_table(MOD, str(path))


def test_csv_integers_written_as_floats(tmp_path):
    """A csv column written from a float array ("3.0") reads as the npz float column does; 2.5 and nan do not."""
    path = tmp_path / "f.csv"
    path.write_text("a,b,target\n1.0,2.00,3e0\n4,0, 4.0 \n")
    table = load_table(MOD, str(path))
    assert table.inputs["a"].tolist() == [1, 4] and table.inputs["b"].tolist() == [2, 0] and table.target.tolist() == [3, 4]
    path.write_text("a,b,target\n1,2.5,3\n")
    with pytest.raises(UsageError, match=r"column 'b': row 0: 2\.5 is not an integer value of cyclic\(5\)"):
        load_table(MOD, str(path))
    path.write_text("a,b,target\n1,nan,3\n")
    with pytest.raises(UsageError, match=r"column 'b': row 0: nan is not an integer value of cyclic\(5\)"):
        load_table(MOD, str(path))


# ---- columns that are not columns --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, kind",
    [
        (torch.tensor(1), "a 0-d tensor"),
        (3, "int"),
        (np.int64(2), "int64"),
        (np.array(2), "a 0-d array"),
        ("hello", "str"),
        (None, "NoneType"),
    ],
)
def test_scalar_columns_are_usage_errors(value, kind):
    with pytest.raises(UsageError, match=rf"column 'a' holds {kind}, not one value per row"):
        load_table(MOD, {"a": value, "b": [1], "target": [2]})


def test_pt_of_scalars(tmp_path):
    torch.save({"a": 1, "b": 2, "target": 3}, tmp_path / "ints.pt")
    with pytest.raises(UsageError, match=r"column 'a' holds int, not one value per row"):
        load_table(MOD, str(tmp_path / "ints.pt"))


def test_bfloat16_and_half_columns():
    table = load_table(MOD, {"a": torch.tensor([1.0, 4.0], dtype=torch.bfloat16), "b": [1, 2], "target": [2, 1]})
    assert table.inputs["a"].tolist() == [1, 4]
    spec = loads("spec q\nmodel q(a: cyclic(3)) -> real\nlaw p: q(a + 1) == q(a)\n")
    table = load_table(spec, {"a": [0, 1], "target": torch.tensor([0.5, 1.5], dtype=torch.bfloat16)})
    assert table.target.tolist() == [0.5, 1.5]


def test_a_parameter_named_target_is_refused():
    """The label column is 'target': a parameter of that name once read the labels as its input."""
    spec = loads("spec q\nmodel q(target: cyclic(3)) -> class(cyclic(3))\nlaw p: q(a + 1) == q(a) + 1\n")
    with pytest.raises(UsageError, match=r"model q has a parameter named 'target', the name of the label column"):
        load_table(spec, {"target": [1, 2]})


# ---- hostile text -------------------------------------------------------------------------------------------------


def test_control_characters_from_the_data_are_escaped(tmp_path, capsys):
    path = tmp_path / "esc.csv"
    path.write_text("a,b,target,\x1b[31mEVIL\n1,2,3,4\n")
    with pytest.raises(UsageError) as err:
        load_table(MOD, str(path))
    assert "\x1b" not in str(err.value) and "unknown column '\\x1b[31mEVIL'" in str(err.value)
    path.write_text("a,b,target\n\x1b]0;title\x07,2,3\n")
    with pytest.raises(UsageError) as err:
        load_table(MOD, str(path))
    assert (
        "\x1b" not in str(err.value) and "\x07" not in str(err.value) and "unknown value '\\x1b]0;title\\x07'" in str(err.value)
    )
    torch.save({"a\nb": torch.tensor([1]), "b": torch.tensor([1]), "target": torch.tensor([2])}, tmp_path / "nl.pt")
    assert main(["check-data", _spec_file(tmp_path), "--data", str(tmp_path / "nl.pt")]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "the data has a\\nb, b, target" in message


def _spec_file(tmp_path) -> str:
    path = tmp_path / "m.sym"
    path.write_text(MOD.source)
    return str(path)


# ---- case explosion -----------------------------------------------------------------------------------------------


def test_the_default_case_limit_is_minutes_not_hours():
    """10^10 cases at a few 10^6 a second is hours; the default stops at 10^9 (a few minutes)."""
    assert check_module.MAX_CASES == 10**9
    spec = loads(
        "spec big\ndomain Z = cyclic(1000)\nmodel add(a: Z, b: Z) -> class(Z)\n"
        "law four: forall k: Z, j: Z. add(a + k, b + j) == add(a, b) + k + j\n"
    )
    key = torch.arange(3000)
    with pytest.raises(UsageError, match=r"law four has 3000000000 cases on this data, more than the 1000000000"):
        check_data(spec, {"a": key % 1000, "b": key // 1000, "target": key % 1000})


def test_cli_max_cases(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,b,target\n" + "".join(f"{a},{b},{(a + b) % 5}\n" for a in range(5) for b in range(5)))
    assert main(["check-data", _spec_file(tmp_path), "--data", str(data), "--max-cases", "10"]) == 2
    assert "law commutes has 25 cases on this data, more than the 10 check-data enumerates" in capsys.readouterr().err
    assert main(["check-data", _spec_file(tmp_path), "--data", str(data), "--max-cases", "25"]) == 0
    capsys.readouterr()
    assert main(["check-data", _spec_file(tmp_path), "--data", str(data), "--max-cases", "-1"]) == 2
    assert "--max-cases must be a non-negative integer" in capsys.readouterr().err


# ---- the report ---------------------------------------------------------------------------------------------------


def test_tolerances_are_in_the_report():
    """The law's tolerances apply to real labels: the report says which (as validate's does), not null."""
    spec = loads("spec q\nmodel q(a: cyclic(3)) -> real\nlaw p: q(a + 1) == q(a)\nlaw t: q(a + 1) == q(a) [tol 0.5]\n")
    report = check_data(spec, {"a": [0, 1, 2], "target": [1.0, 1.2, 1.0]})
    assert (report["p"].tol, report["p"].rtol) == (1e-5, 1e-4)
    assert (report["t"].tol, report["t"].rtol) == (0.5, 0.0)
    assert (report["p"].violations, report["t"].violations) == (2, 0)
    laws = json.loads(report.to_json())["laws"]
    assert laws[0]["tol"] == 1e-5 and laws[1]["tol"] == 0.5


def test_json_has_no_nan_or_infinity():
    spec = loads("spec q\nmodel q(a: cyclic(3)) -> real\nlaw p: q(a + 1) == q(a)\nlaw le: q(a) <= q(a + 1)\n")
    report = check_data(spec, {"a": [0, 1, 2], "target": [1e308, -1e308, 0.0]})

    def refuse(constant):
        raise ValueError(constant)

    parsed = json.loads(report.to_json(), parse_constant=refuse)
    assert parsed["laws"][0]["violations"] == 3


# ---- a constant label of a set domain (the constraint forms must not crash the check) ----------------------------

SETS = loads(
    "spec sets\ndomain Z = cyclic(4)\ndomain C = set(red, green, blue)\nmodel s(c: C, a: Z) -> class(C)\n"
    "law s_const: s(red, a) == blue\nlaw s_guard: s(c, a) == c when c != green\n"
)


def test_set_label_constants_are_checked():
    rows = [(c, a, (c + a) % 3) for c in range(3) for a in range(4) if (c * 4 + a) % 3]
    report = check_data(SETS, {"c": [r[0] for r in rows], "a": [r[1] for r in rows], "target": [r[2] for r in rows]})
    d = {(c, a): y for c, a, y in rows}
    const = [d[0, a] != 2 for a in range(4) if (0, a) in d]
    guard = [d[c, a] != c for c in (0, 2) for a in range(4) if (c, a) in d]
    assert (report["s_const"].cases, report["s_const"].violations) == (len(const), sum(const))
    assert (report["s_guard"].cases, report["s_guard"].violations) == (len(guard), sum(guard))


# ---- brute force over many law shapes ------------------------------------------------------------------------------

SHAPES = loads(
    """spec shapes
domain Z = cyclic(4)
domain R = range(2, 5)
model f(a: Z, b: Z) -> class(Z)
model h(r: R) -> class(range(-1, 3))
model p(a: Z, b: Z) -> bool
model q(a: Z) -> real
law f_assoc: f(f(a, b), c) == f(a, f(b, c))
law f_ident: f(a, 0) == a
law f_nestc: f(f(a, 1), b) == f(a, f(1, b))
law f_shift: forall k: Z. f(a + k, b - k) == f(a, b)
law f_neg: f(-a, -b) == -f(a, b)
law f_guard: f(a, b) == f(b, a) when a != b and a < b
law f_plus: f(a, b) == f(a, 0) + b
law f_le: f(a, b) <= f(b, a) + 1
law f_inner: f(f(a, b), f(b, a)) == f(f(b, a), f(a, b))
law h_mono: h(r) <= h(r + 1) when r < 4
law h_val: h(r) == r - 3
law p_anti: p(a, b) == not p(b, a) when a != b
law p_trans: p(a, b) and p(b, c) => p(a, c)
law p_shift: p(a + 1, b + 1) == p(a, b)
law q_per: q(a + 2) == q(a)
law q_odd: q(-a) == -q(a)
law q_le: q(a) <= q(a + 1) when a < 3
"""
)


class _Absent(Exception):
    pass


def _oracle(model: str, d: dict) -> dict:
    """law -> [case outcome]: True violated, False held, None not checkable (a call absent, or the guard false)."""

    def g(*key):
        key = key if len(key) > 1 else key[0]
        if key not in d:
            raise _Absent
        return d[key]

    def close(x, y):
        return abs(x - y) <= 1e-5 + 1e-4 * abs(y)

    z, pairs, triples = range(4), list(itertools.product(range(4), repeat=2)), list(itertools.product(range(4), repeat=3))
    laws = {
        "f": {
            "f_assoc": [lambda a=a, b=b, c=c: g(g(a, b), c) != g(a, g(b, c)) for a, b, c in triples],
            "f_ident": [lambda a=a: g(a, 0) != a for a in z],
            "f_nestc": [lambda a=a, b=b: g(g(a, 1), b) != g(a, g(1, b)) for a, b in pairs],
            "f_shift": [lambda a=a, b=b, k=k: g((a + k) % 4, (b - k) % 4) != g(a, b) for a, b, k in triples],
            "f_neg": [lambda a=a, b=b: g(-a % 4, -b % 4) != -g(a, b) % 4 for a, b in pairs],
            "f_guard": [lambda a=a, b=b: g(a, b) != g(b, a) if a < b else None for a, b in pairs],
            "f_plus": [lambda a=a, b=b: g(a, b) != (g(a, 0) + b) % 4 for a, b in pairs],
            "f_le": [lambda a=a, b=b: g(a, b) > (g(b, a) + 1) % 4 for a, b in pairs],
            "f_inner": [lambda a=a, b=b: (lambda x, y: g(x, y) != g(y, x))(g(a, b), g(b, a)) for a, b in pairs],
        },
        "h": {
            "h_mono": [lambda r=r: g(r) > g(r + 1) if r < 4 else None for r in range(2, 5)],
            "h_val": [lambda r=r: g(r) != r - 3 for r in range(2, 5)],
        },
        "p": {
            "p_anti": [lambda a=a, b=b: g(a, b) == g(b, a) if a != b else None for a, b in pairs],
            "p_trans": [
                lambda a=a, b=b, c=c: (lambda x, y, w: bool(x and y and not w))(g(a, b), g(b, c), g(a, c)) for a, b, c in triples
            ],
            "p_shift": [lambda a=a, b=b: g((a + 1) % 4, (b + 1) % 4) != g(a, b) for a, b in pairs],
        },
        "q": {
            "q_per": [lambda a=a: not close(g((a + 2) % 4), g(a)) for a in z],
            "q_odd": [lambda a=a: not close(g(-a % 4), -g(a)) for a in z],
            "q_le": [lambda a=a: g(a) > g(a + 1) + 1e-5 if a < 3 else None for a in z],
        },
    }[model]
    out = {}
    for name, cases in laws.items():
        outcomes = []
        for case in cases:
            try:
                outcomes.append(case())
            except _Absent:
                outcomes.append(None)
        out[name] = (sum(o is not None for o in outcomes), sum(bool(o) for o in outcomes if o is not None))
    return out


KEYS = {
    "f": (("a", "b"), list(itertools.product(range(4), repeat=2)), list(range(4))),
    "h": (("r",), [(r,) for r in range(2, 5)], list(range(-1, 3))),
    "p": (("a", "b"), list(itertools.product(range(4), repeat=2)), [0, 1]),
    "q": (("a",), [(a,) for a in range(4)], [0.0, 1.0, -1.0, 0.5, 1.00001]),
}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("model", sorted(KEYS))
def test_law_shapes_against_brute_force(model, seed):
    """Nested calls whose inner label feeds an absent outer input, constants, guards, foralls, range offsets,
    bool and real labels; duplicates (the first row answers) and conflicts."""
    rng = random.Random(seed * 31 + len(model))
    params, keys, labels = KEYS[model]
    keep = rng.random()
    rows = [(*k, rng.choice(labels)) for k in keys if rng.random() < keep]
    rows += [(*r[:-1], rng.choice(labels)) for r in rng.sample(rows, min(len(rows), rng.randint(0, 3)))]
    rng.shuffle(rows)
    first: dict = {}
    for *x, y in rows:
        first.setdefault(tuple(x) if len(x) > 1 else x[0], y)
    want = _oracle(model, first)
    dtype = torch.float64 if model == "q" else torch.int64
    columns = {
        name: torch.tensor([r[i] for r in rows], dtype=dtype if name == "target" else torch.int64)
        for i, name in enumerate((*params, "target"))
    }
    report = check_data(SHAPES, columns, model=model, laws=list(want))
    for name, counts in want.items():
        assert (report[name].cases, report[name].violations) == counts, name


# ---- csv: memory proportional to the file, line numbers, real columns ---------------------------------------------


def test_one_huge_csv_field_is_refused_not_multiplied(tmp_path):
    """A fixed-width string array is rows x the longest value: one 10^5-character field in 10^5 rows was 40 GB."""
    path = tmp_path / "wide.csv"
    path.write_text("a,b,target\n" + "1,1,2\n" * 5 + "1," + "1" * 100_000 + ",2\n" + "1,1,2\n" * 5)
    with pytest.raises(UsageError, match=r"wide\.csv: line 7, column 'b': a value of 100000 characters \(at most 256\)"):
        load_table(MOD, str(path))
    with pytest.raises(UsageError, match=r"column 'a': row 1: a value of 1000 characters \(at most 256\)"):
        load_table(MOD, {"a": ["1", "x" * 1000], "b": [1, 1], "target": [2, 2]})


def test_csv_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("a,b,target\n\n1,1,2\n\n\n1,1\n")
    with pytest.raises(UsageError, match=r"blank\.csv: line 6 has 2 fields; the header has 3"):
        load_table(MOD, str(path))
    path.write_text('a,b,target\n"1\n",1,2\n1,1\n')  # a quoted field spanning two lines
    with pytest.raises(UsageError, match=r"blank\.csv: line 4 has 2 fields; the header has 3"):
        load_table(MOD, str(path))


def test_csv_of_many_rows_in_chunks(tmp_path, monkeypatch):
    import symspec.data.load as load_module

    monkeypatch.setattr(load_module, "CSV_CHUNK", 7)  # rows cross chunk boundaries, blank lines in some chunks
    rows = [(a, b, (a + b) % 5) for a in range(5) for b in range(5)]
    text = "a,b,target\n" + "".join(f"{a},{b},{y}\n" + ("\n" if a == b else "") for a, b, y in rows)
    (tmp_path / "m.csv").write_text(text)
    table = load_table(MOD, str(tmp_path / "m.csv"))
    assert table.inputs["a"].tolist() == [r[0] for r in rows] and table.target.tolist() == [r[2] for r in rows]


def test_real_column_names_the_bad_row(tmp_path):
    spec = loads("spec q\nmodel q(a: cyclic(3)) -> real\nlaw p: q(a + 1) == q(a)\n")
    (tmp_path / "r.csv").write_text("a,target\n0,1.5\n1,\x1b[2Jx\n")
    with pytest.raises(UsageError) as err:
        load_table(spec, str(tmp_path / "r.csv"))
    assert str(err.value).endswith("column 'target': row 1: '\\x1b[2Jx' is not a number")


# ---- real/tensor inputs: hashed lookup, exact whatever the hash --------------------------------------------------


@pytest.mark.parametrize("degenerate", [False, True])
def test_real_lookup_is_exact_whatever_the_hash(monkeypatch, degenerate):
    """Rows are found by a hash of their entries, confirmed entry by entry; with a hash that collides nearly
    always (three values) the answers are the same: the first row holding the query, or -1."""
    import symspec.data.table as table_module

    if degenerate:
        monkeypatch.setattr(table_module, "_row_hash", lambda m: (m.sum(1) * 7).floor().to(torch.int64) % 3)
    spec = loads("spec s\nmodel f(x: tensor[2], c: cyclic(3)) -> real\nlaw l: f(-x, c) == f(x, c)\n")
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(-2, 3, (60, 2), generator=gen).double() / 2
    x[5] = torch.tensor([-0.0, 0.5])
    c = torch.randint(0, 3, (60,), generator=gen)
    table = load_table(spec, {"x": x, "c": c, "target": torch.randn(60, generator=gen, dtype=torch.float64)})
    qx = torch.cat([x, -x, torch.tensor([[0.0, 0.5], [9.0, 9.0], [float("nan"), 0.0]])])
    qc = torch.cat([c, c, torch.tensor([c[5].item(), 0, 0])])
    want = []
    for xi, ci in zip(qx.tolist(), qc.tolist()):
        hit = [i for i in range(60) if x[i].tolist() == xi and int(c[i]) == ci]
        want.append(hit[0] if hit else -1)
    assert table.positions(x=qx, c=qc).tolist() == want
    report = check_data(spec, {"x": x, "c": c, "target": torch.ones(60, dtype=torch.float64)})
    keys = {(tuple(xi), int(ci)) for xi, ci in zip(x.tolist(), c.tolist())}
    keys = {(tuple(v + 0.0 for v in xi), ci) for xi, ci in keys}
    assert report["l"].cases == sum((tuple(-v + 0.0 for v in xi), ci) in keys for xi, ci in keys)


def test_many_tensor_rows_are_not_resorted_per_batch():
    """Each batch of queries once sorted every row with it (240,000 rows: a minute); the rows are hashed once."""
    src = "spec s\ngroup P = symmetric(3)\nmodel e(x: tensor[3]) -> real\nlaw inv: forall g: P. e(g . x) == e(x)\n"
    x = torch.randn(5000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.cat([x, x[:, [1, 0, 2]]])
    report = check_data(src, {"x": x, "target": x.sum(1)})
    assert (report["inv"].cases, report["inv"].violations) == (10000, 0)  # each row: its swap (g = 1 is not a case)


# ---- conflicts: a key repeated on many rows ----------------------------------------------------------------------


def test_a_key_on_many_rows_lists_one_row_per_target():
    """200,000 rows of one input listed every row number (a 2.9 MB line of text, 5.7 MB of JSON)."""
    spec = loads("spec m\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nlaw s: f(a + 1) == f(a) + 1\n")
    n = 200_000
    target = torch.zeros(n, dtype=torch.int64)
    target[[7, 9, 150_000]] = torch.tensor([1, 1, 2])
    report = check_data(spec, {"a": torch.zeros(n, dtype=torch.int64), "target": target})
    assert report.conflict_count == 1
    assert report.conflicts == [{"inputs": {"a": "0"}, "rows": [0, 7, 150000], "targets": ["0", "1", "2"], "row_count": n}]
    text = report.render()
    assert "  a=0:  row 0: 0, row 7: 1, row 150000: 2  (200000 rows; the first of each target shown)" in text
    assert len(text) < 2000 and len(report.to_json()) < 4000
    few = check_data(spec, {"a": [0, 0, 0], "target": [0, 1, 0]})
    assert few.conflicts == [{"inputs": {"a": "0"}, "rows": [0, 1, 2], "targets": ["0", "1", "0"]}]  # all rows


def test_tensor_label_conflicts_are_cut_in_the_text():
    spec = loads("spec t\nmodel f(a: cyclic(2)) -> tensor[50]\nlaw s: f(a + 1) == f(a)\n")
    report = check_data(spec, {"a": [0, 0], "target": torch.stack([torch.zeros(50), torch.ones(50)]).double()})
    line = next(ln for ln in report.render().splitlines() if ln.startswith("  a=0:"))
    assert len(line) < 200 and "row 1: [1.0, 1.0" in line
    assert report.conflicts[0]["targets"][1] == [1.0] * 50  # the JSON keeps the whole label


def test_an_undecodable_or_hostile_data_path_prints(tmp_path):
    """A file name with an undecodable byte (a lone surrogate) and an escape: the report's header escapes both,
    so it can be written to a UTF-8 stdout and cannot drive the terminal."""
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff\x1b[31m.csv")
    with open(path, "w") as f:
        f.write("a,b,target\n0,1,1\n1,0,1\n")
    report = check_data(MOD, path)
    header = report.render().splitlines()[0]
    assert "\x1b" not in header and header.encode("utf-8") and "bad\\udcff\\x1b[31m.csv" in header
    assert json.loads(report.to_json())["data"] == path


@pytest.mark.parametrize(
    "column, message",
    [
        (torch.empty(2, dtype=torch.long, device="meta"), r"column 'a' holds a meta tensor \(no values\), not one value per row"),
        (torch.nested.nested_tensor([torch.tensor([1]), torch.tensor([2, 3])]), r"column 'a' holds a nested tensor"),
        (torch.quantize_per_tensor(torch.tensor([1.0, 2.0]), 1.0, 0, torch.qint8), r"column 'a': values of type torch\.qint8"),
    ],
)
def test_tensors_numpy_cannot_read(tmp_path, column, message):
    """A .pt may hold meta, nested or quantized tensors (weights_only loads them): a usage error, no traceback."""
    torch.save({"a": column, "b": torch.tensor([1, 1]), "target": torch.tensor([2, 3])}, tmp_path / "t.pt")
    with pytest.raises(UsageError, match=message):
        load_table(MOD, str(tmp_path / "t.pt"))
    sparse = load_table(MOD, {"a": torch.tensor([1, 0]).to_sparse(), "b": [1, 1], "target": [2, 1]})
    assert sparse.inputs["a"].tolist() == [1, 0]
