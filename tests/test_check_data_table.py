"""symspec.data: Table lookups against plain Python, load_table's formats and its usage errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from symspec.data import Table, load_table
from symspec.errors import UsageError
from symspec.pipeline import load, loads

MOD = "examples/modular_addition.sym"
GRAPH = "examples/graph_distance.sym"


@pytest.fixture(scope="module")
def mod_spec():
    return load(MOD, params={"p": 7})


@pytest.fixture(scope="module")
def graph_spec():
    return load(GRAPH, params={"n": 3})


def _full(p: int):
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    return a, b, (a + b) % p


def test_lookup_matches_a_dict(mod_spec):
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 7, (30,), generator=gen)
    b = torch.randint(0, 7, (30,), generator=gen)
    y = torch.randint(0, 7, (30,), generator=gen)
    table = load_table(mod_spec, {"a": a, "b": b, "target": y})
    first: dict = {}
    for i, (x1, x2, t) in enumerate(zip(a.tolist(), b.tolist(), y.tolist())):
        first.setdefault((x1, x2), (t, i))
    qa = torch.tensor([x for x in range(-1, 8) for _ in range(-1, 8)])
    qb = torch.tensor([x for _ in range(-1, 8) for x in range(-1, 8)])
    present, target, row = table.lookup(a=qa, b=qb)
    for x1, x2, ok, t, r in zip(qa.tolist(), qb.tolist(), present.tolist(), target.tolist(), row.tolist()):
        want = first.get((x1, x2))
        assert ok == (want is not None)
        if want is not None:
            assert (t, r) == want
        else:
            assert r == -1


def test_sparse_index_agrees_with_dense(mod_spec, monkeypatch):
    import symspec.data.table as tmod

    a, b, y = _full(7)
    keep = torch.arange(49) % 3 != 0
    dense = load_table(mod_spec, {"a": a[keep], "b": b[keep], "target": y[keep]})
    monkeypatch.setattr(tmod, "DENSE_INDEX_LIMIT", 0)
    sparse = Table(**{k: getattr(dense, k) for k in Table.__dataclass_fields__ if not k.startswith("_")})
    sparse.sizes = dict(sparse.sizes)
    assert sparse.space() == 49
    monkeypatch.setattr(Table, "space", lambda self: 10**9)  # forces the binary search
    for x in (dense, sparse):
        present, target, row = x.lookup(a=a, b=b)
        assert present.tolist() == keep.tolist()
        assert target[present].tolist() == y[keep].tolist()
    assert sparse._index[2] is None


def test_conflicts(mod_spec):
    a, b, y = _full(7)
    a2, b2 = torch.cat([a, a[[3, 3, 10]]]), torch.cat([b, b[[3, 3, 10]]])
    y2 = torch.cat([y, torch.tensor([y[3].item(), (y[3].item() + 1) % 7, y[10].item()])])
    table = load_table(mod_spec, {"a": a2, "b": b2, "target": y2})
    assert table.conflicts() == [(3, [3, 49, 50], [3, 3, 4])]
    assert table.conflict_count() == 1
    assert table.decode(3) == {"a": 0, "b": 3}


def _write(tmp_path, fmt: str, columns: dict) -> str:
    path = tmp_path / f"data{fmt}"
    if fmt == ".pt":
        torch.save({k: torch.as_tensor(v) for k, v in columns.items()}, path)
    elif fmt == ".npz":
        np.savez(path, **{k: np.asarray(v) for k, v in columns.items()})
    elif fmt == ".csv":
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(columns))
            w.writerows(zip(*columns.values()))
    else:
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        pq.write_table(pa.table({k: list(v) for k, v in columns.items()}), path)
    return str(path)


@pytest.mark.parametrize("fmt", [".pt", ".npz", ".csv", ".parquet"])
def test_formats_round_trip(tmp_path, graph_spec, fmt):
    dist = graph_spec.ir.graphs["G"].distances
    u, v = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    u, v = u.reshape(-1), v.reshape(-1)
    path = _write(tmp_path, fmt, {"u": u, "v": v, "target": dist[u, v]})
    table = load_table(graph_spec, path)
    assert table.source == path and table.model == "dist" and table.output == "class"
    assert table.inputs["u"].tolist() == u.tolist() and table.target.tolist() == dist[u, v].tolist()
    assert table.classes == 5 and table.sizes == {"u": 9, "v": 9}


def test_csv_with_names(tmp_path, graph_spec):
    labels = [graph_spec.ir.graphs["G"].label(i) for i in range(9)]
    path = _write(tmp_path, ".csv", {"u": [labels[4], "0"], "v": [labels[8], labels[0]], "target": ["2", "0"]})
    table = load_table(graph_spec, path)
    assert table.inputs["u"].tolist() == [4, 0] and table.inputs["v"].tolist() == [8, 0]
    assert table.show("u", 4) == "(1, 1)"


def test_set_and_bool_names(tmp_path):
    spec = loads("spec s\ndomain C = set(red, green, blue)\nmodel f(c: C, d: bool) -> class(C)\nlaw l: f(c, d) == f(c, d)\n")
    path = _write(tmp_path, ".csv", {"c": ["red", "blue", "1"], "d": ["true", "0", "False"], "target": ["green", "2", "red"]})
    table = load_table(spec, path)
    assert table.inputs["c"].tolist() == [0, 2, 1] and table.inputs["d"].tolist() == [1, 0, 0]
    assert table.target.tolist() == [1, 2, 0]


def test_parquet_without_pyarrow(tmp_path, graph_spec, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(UsageError, match=r"reading \.parquet needs pyarrow"):
        load_table(graph_spec, str(tmp_path / "d.parquet"))


ERRORS = [
    ({"u": [0], "v": [0]}, r"no column 'target' \(model dist needs the columns u, v, target"),
    ({"u": [0], "v": [0], "target": [0], "w": [1]}, r"unknown column 'w' \(model dist takes the columns u, v, target\)"),
    ({"u": [0, 1], "v": [0], "target": [0, 1]}, r"the columns have different lengths \(u: 2, v: 1, target: 2\)"),
    ({"u": [0, 9], "v": [0, 0], "target": [0, 1]}, r"column 'u': row 1: 9 is outside nodes\(G\) \(values 0\.\.8\)"),
    ({"u": ["(5, 5)"], "v": [0], "target": [0]}, r"column 'u': row 0: unknown value '\(5, 5\)'; its names: \(0, 0\)"),
    ({"u": [0.5], "v": [0], "target": [0]}, r"column 'u': row 0: 0\.5 is not an integer value of nodes\(G\)"),
    ({"u": [0], "v": [0], "target": [-1]}, r"column 'target': row 0: -1 is outside class\(range\(0, 5\)\) \(values 0\.\.4\)"),
]


@pytest.mark.parametrize("columns, message", ERRORS)
def test_usage_errors(graph_spec, columns, message):
    with pytest.raises(UsageError, match=message):
        load_table(graph_spec, columns)


def test_file_errors(tmp_path, graph_spec):
    with pytest.raises(UsageError, match=r"--data .*nope\.csv: no such file"):
        load_table(graph_spec, str(tmp_path / "nope.csv"))
    (tmp_path / "d.txt").write_text("u,v,target\n")
    with pytest.raises(UsageError, match=r"unknown format '\.txt'; expected one of \.pt, \.npz, \.csv, \.parquet"):
        load_table(graph_spec, str(tmp_path / "d.txt"))
    (tmp_path / "bad.pt").write_bytes(b"not a zip")
    with pytest.raises(UsageError, match=r"bad\.pt: not a torch-loadable \.pt file of tensors"):
        load_table(graph_spec, str(tmp_path / "bad.pt"))
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(UsageError, match=r"a \.pt dataset must hold a dict of column name -> tensor, got list"):
        load_table(graph_spec, str(tmp_path / "list.pt"))
    (tmp_path / "ragged.csv").write_text("u,v,target\n0,0,0\n1,1\n")
    with pytest.raises(UsageError, match=r"ragged\.csv: line 3 has 2 fields; the header has 3"):
        load_table(graph_spec, str(tmp_path / "ragged.csv"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UsageError, match=r"empty csv file"):
        load_table(graph_spec, str(tmp_path / "empty.csv"))
    (tmp_path / "dup.csv").write_text("u,u,target\n")
    with pytest.raises(UsageError, match=r"column 'u' appears twice in the header"):
        load_table(graph_spec, str(tmp_path / "dup.csv"))


def test_model_choice():
    spec = loads("spec s\nmodel f(a: cyclic(3)) -> class(cyclic(3))\nmodel g(b: cyclic(3)) -> bool\nlaw l: f(a) == f(a)\n")
    assert load_table(spec, {"b": [0, 1], "target": [1, 0]}).model == "g"  # the columns say which
    with pytest.raises(UsageError, match=r"the spec has the models f, g: say which one the data labels with --model NAME"):
        load_table(spec, {"a": [0], "b": [0], "target": [1]})
    with pytest.raises(UsageError, match=r"--model h: the spec has no model 'h'; its models: f, g"):
        load_table(spec, {"a": [0], "target": [1]}, model="h")


def test_real_outputs_and_inputs():
    spec = loads("spec s\nmodel f(x: real, c: cyclic(3)) -> real\nlaw l: f(x, c) == f(x, c)\n")
    table = load_table(spec, {"x": [0.5, 1.5], "c": [0, 2], "target": [1.0, 2.0]})
    assert table.output == "real" and not table.finite() and table.sizes["x"] is None
    with pytest.raises(UsageError, match=r"column 'target': row 1 is not finite"):
        load_table(spec, {"x": [0.5, 1.5], "c": [0, 2], "target": [1.0, float("nan")]})
