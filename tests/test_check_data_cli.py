"""``symspec check-data``: exit codes 0/1/2, ``--json -``, and every usage error's message."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from symspec.cli.main import main
from symspec.pipeline import load

GRAPH = "examples/graph_distance.sym"
TWO = "spec two\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nmodel g(a: Z) -> class(Z)\nlaw l: f(a + 1) == f(a) + 1\n"


@pytest.fixture(scope="module")
def distances():
    return load(GRAPH, params={"n": 3}).ir.graphs["G"].distances


def _save(path, distances, corrupt: bool = False):
    u, v = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    u, v = u.reshape(-1), v.reshape(-1)
    y = distances[u, v].copy()
    if corrupt:
        y[1] += 1  # d((0,0), (0,1)) = 2: breaks symmetric and the automorphisms
    torch.save({"u": torch.tensor(u), "v": torch.tensor(v), "target": torch.tensor(y)}, path)
    return str(path)


def test_exit_0_and_1(tmp_path, distances, capsys):
    good = _save(tmp_path / "good.pt", distances)
    bad = _save(tmp_path / "bad.pt", distances, corrupt=True)
    assert main(["check-data", GRAPH, "--param", "n=3", "--data", good]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"symspec check-data {GRAPH} --data {good}  (spec graph_distance, model dist, 81 rows)")
    assert "passed: 5 of 5 laws hold on the data\n" in out
    assert main(["check-data", GRAPH, "--param", "n=3", "--data", bad, "--laws", "symmetric"]) == 1
    out = capsys.readouterr().out
    assert "u=(0, 0) v=(0, 1) rows=[1, 9]:  dist(u, v) = 2 vs dist(v, u) = 1" in out
    assert "FAILED: 0 of 1 laws hold on the data\n" in out


def test_json_stdout(tmp_path, distances, capsys):
    bad = _save(tmp_path / "bad.pt", distances, corrupt=True)
    assert main(["check-data", GRAPH, "--param", "n=3", "--data", bad, "--json", "-", "--laws", "symmetric,zero"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["passed"] is False and report["rows"] == 81 and report["conflicts"] == []
    assert [(law["name"], law["violations"]) for law in report["laws"]] == [("symmetric", 2), ("zero", 0)]
    assert "symspec check-data" in captured.err  # the table goes to stderr
    out = tmp_path / "r.json"
    assert main(["check-data", GRAPH, "--param", "n=3", "--data", bad, "--json", str(out), "--laws", "zero"]) == 0
    assert json.loads(out.read_text())["laws"][0]["name"] == "zero"


def _error(args, capsys) -> str:
    assert main(["check-data", *args]) == 2
    return capsys.readouterr().err.strip()


def test_usage_errors(tmp_path, distances, capsys):
    good = _save(tmp_path / "good.pt", distances)
    n3 = ["--param", "n=3"]
    assert _error(["no/such.sym", "--data", good], capsys) == "symspec: error: cannot read 'no/such.sym': no such file"
    missing = str(tmp_path / "none.csv")
    assert _error([GRAPH, *n3, "--data", missing], capsys) == f"symspec: error: --data {missing}: no such file"
    csv = tmp_path / "d.csv"
    csv.write_text("u,v,target,extra\n0,0,0,1\n")
    assert _error([GRAPH, *n3, "--data", str(csv)], capsys) == (
        f"symspec: error: {csv}: unknown column 'extra' (model dist takes the columns u, v, target)"
    )
    csv.write_text("u,v,target\n0,9,0\n")
    assert _error([GRAPH, *n3, "--data", str(csv)], capsys) == (
        f"symspec: error: {csv}: column 'v': row 0: 9 is outside nodes(G) (values 0..8)"
    )
    csv.write_text('u,v,target\n"(0, 0)","(7, 7)",0\n')
    assert _error([GRAPH, *n3, "--data", str(csv)], capsys).startswith(
        f"symspec: error: {csv}: column 'v': row 0: unknown value '(7, 7)'; its names: (0, 0), (0, 1)"
    )
    csv.write_text("u,v,target\n0,0\n")
    assert (
        _error([GRAPH, *n3, "--data", str(csv)], capsys) == f"symspec: error: --data {csv}: line 2 has 2 fields; the header has 3"
    )
    pt = tmp_path / "bad.pt"
    pt.write_bytes(b"garbage")
    assert _error([GRAPH, *n3, "--data", str(pt)], capsys).startswith(
        f"symspec: error: --data {pt}: not a torch-loadable .pt file of tensors (weights_only):"
    )
    assert _error([GRAPH, *n3, "--data", good, "--laws", "nope"], capsys) == (
        "symspec: error: --laws nope: unknown law(s) nope; the spec's laws: symmetric, zero, triangle, geodesic, automorphism"
    )
    assert _error([GRAPH, *n3, "--data", good, "--laws", ","], capsys) == "symspec: error: --laws ',' names no law"
    assert _error([GRAPH, "--param", "n=x", "--data", good], capsys) == "symspec: error: --param n must be an integer, got 'x'"
    assert _error([GRAPH, *n3, "--data", good, "--json", str(tmp_path / "no" / "r.json")], capsys) == (
        f"symspec: error: --json {tmp_path / 'no' / 'r.json'}: no such directory '{tmp_path / 'no'}'"
    )
    assert _error([GRAPH, *n3, "--data", good, "--model", "nope"], capsys) == (
        "symspec: error: --model nope: the spec has no model 'nope'; its models: dist"
    )


def test_ambiguous_model_and_spec_errors(tmp_path, capsys):
    spec = tmp_path / "two.sym"
    spec.write_text(TWO)
    data = tmp_path / "d.npz"
    np.savez(data, a=np.array([0, 1, 2]), target=np.array([0, 1, 2]))
    assert _error([str(spec), "--data", str(data)], capsys) == (
        "symspec: error: the spec has the models f, g and the columns fit f, g alike: say which one the data labels "
        "with --model NAME (model= from Python); f needs the columns a, target (has them all); g needs the columns "
        "a, target (has them all); the data has a, target"
    )
    assert main(["check-data", str(spec), "--data", str(data), "--model", "f"]) == 0
    capsys.readouterr()
    broken = tmp_path / "broken.sym"
    broken.write_text("spec b\nmodel f(a: cyclic(3)) -> class(cyclic(3))\nlaw l: h(a) == f(a)\n")
    err = _error([str(broken), "--data", str(data)], capsys)
    assert err.startswith(f"{broken}:3:8: error: unknown model or function 'h'")
