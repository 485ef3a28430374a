"""Parquet data (pyarrow): the same tables and verdicts as the other formats; nulls, lists and bad files answered.

Skipped where pyarrow is absent (the dev extra installs it; ``test_parquet_without_pyarrow`` covers its absence).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symspec.data import check_data, load_table
from symspec.errors import UsageError
from symspec.pipeline import loads

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

COLOURS = "spec s\ndomain C = set(red, green, blue)\nmodel f(c: C, d: bool) -> class(C)\nlaw l: f(c, d) == f(c, d)\n"
MOD = "spec m\ndomain Z = cyclic(5)\nmodel f(a: Z, b: Z) -> class(Z)\nlaw commutes: f(a, b) == f(b, a)\n"
NEG = "spec n\nmodel g(x: tensor[2, 2]) -> real\nlaw neg: g(-x) == g(x)\n"


def _write(tmp_path, name: str, columns: dict) -> str:
    path = tmp_path / name
    pq.write_table(pa.table(columns), path)
    return str(path)


def test_names_dictionary_and_bool(tmp_path):
    spec = loads(COLOURS)
    plain = _write(
        tmp_path, "a.parquet", {"c": ["red", "blue", "green"], "d": [True, False, True], "target": ["green", "red", "blue"]}
    )
    coded = _write(
        tmp_path,
        "b.parquet",
        {
            "c": pa.array(["red", "blue", "green"]).dictionary_encode(),
            "d": [True, False, True],
            "target": ["green", "red", "blue"],
        },
    )
    for path in (plain, coded):
        table = load_table(spec, path)
        assert table.inputs["c"].tolist() == [0, 2, 1] and table.inputs["d"].tolist() == [1, 0, 1]
        assert table.target.tolist() == [1, 0, 2]


def test_verdict_matches_the_pt_file(tmp_path):
    spec = loads(MOD)
    gen = torch.Generator().manual_seed(3)
    a, b = torch.randint(0, 5, (200,), generator=gen), torch.randint(0, 5, (200,), generator=gen)
    y = (a + b) % 5
    y[7] = (y[7] + 1) % 5  # one mislabelled row: commutes fails on the pairs it meets
    torch.save({"a": a, "b": b, "target": y}, tmp_path / "d.pt")
    path = _write(tmp_path, "d.parquet", {"a": a.numpy(), "b": b.numpy(), "target": y.numpy()})
    one, two = check_data(spec, str(tmp_path / "d.pt")), check_data(spec, path)
    assert [(r.name, r.cases, r.violations) for r in one.laws] == [(r.name, r.cases, r.violations) for r in two.laws]
    assert one.conflict_count == two.conflict_count and one.conflict_count > 0


@pytest.mark.parametrize("null_column", ["a", "target"])
def test_null_names_its_row(tmp_path, null_column):
    columns = {"a": [1, 2, 3], "b": [2, 1, 3], "target": [3, 3, 1]}
    columns[null_column] = [1, None, 3]
    path = _write(tmp_path, "n.parquet", columns)
    with pytest.raises(
        UsageError, match=rf"n\.parquet: column '{null_column}': row 1 is empty \(null\); every row needs a value"
    ):
        load_table(loads(MOD), path)


def test_tensor_column_from_nested_lists(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(3, 2, 2) - 5
    nested = _write(tmp_path, "t.parquet", {"x": x.tolist(), "target": [1.0, 2.0, 3.0]})
    fixed_type = pa.list_(pa.list_(pa.float32(), 2), 2)
    fixed = _write(tmp_path, "f.parquet", {"x": pa.array(x.tolist(), type=fixed_type), "target": [1.0, 2.0, 3.0]})
    for path in (nested, fixed):
        table = load_table(loads(NEG), path)
        assert table.inputs["x"].shape == (3, 2, 2)
        assert table.inputs["x"].tolist() == x.tolist()


def test_tensor_column_ragged_or_null_inside(tmp_path):
    ragged = [[[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0]]]
    path = _write(tmp_path, "r.parquet", {"x": ragged, "target": [1.0, 2.0, 3.0]})
    with pytest.raises(UsageError, match=r"column 'x': row 2 holds a list of 1 values where the rows before hold 2"):
        load_table(loads(NEG), path)
    holey = [[[1.0, 2.0], [3.0, 4.0]], [[1.0, None], [3.0, 4.0]], [[1.0, 2.0], [3.0, 5.0]]]
    path = _write(tmp_path, "h.parquet", {"x": holey, "target": [1.0, 2.0, 3.0]})
    with pytest.raises(UsageError, match=r"column 'x': row 1 holds an empty \(null\) entry"):
        load_table(loads(NEG), path)


def test_not_parquet_and_wrong_types(tmp_path):
    bad = tmp_path / "g.parquet"
    bad.write_bytes(b"PAR1garbagePAR1")
    with pytest.raises(UsageError, match=r"--data .*g\.parquet: not a readable parquet file"):
        load_table(loads(MOD), str(bad))
    import datetime

    path = _write(
        tmp_path, "ts.parquet", {"c": [datetime.datetime(2020, 1, 1)] * 2, "d": [True, False], "target": ["red", "red"]}
    )
    with pytest.raises(UsageError, match=r"column 'c': values of type datetime64\[us\] cannot be values of set"):
        load_table(loads(COLOURS), path)
