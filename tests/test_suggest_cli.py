"""symspec suggest on the command line: the printed spec checks, --json, and usage errors exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from conftest import ROOT

from symspec.cli import main

SIG = "f(a: cyclic(59), b: cyclic(59)) -> class(cyclic(59))"


def write_add(path, p: int = 59, fraction: float = 0.4) -> str:
    g = torch.Generator().manual_seed(0)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.flatten(), b.flatten()
    keep = torch.randperm(p * p, generator=g)[: int(fraction * p * p)]
    torch.save({"a": a[keep], "b": b[keep], "target": (a[keep] + b[keep]) % p}, path)
    return str(path)


def test_printed_spec_passes_check(tmp_path, capsys):
    data = write_add(tmp_path / "add.pt")
    assert main(["suggest", "--data", data, "--signature", SIG]) == 0
    text = capsys.readouterr().out
    assert "law swap_a_b: f(a, b) == f(b, a)" in text
    out = tmp_path / "suggested.sym"
    out.write_text(text)
    assert main(["check", str(out)]) == 0


def test_json_on_stdout_spec_on_stderr(tmp_path, capsys):
    data = write_add(tmp_path / "add.pt")
    assert main(["suggest", "--data", data, "--signature", SIG, "--json", "-"]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert {c["name"] for c in doc["candidates"] if c["status"] == "accepted"} >= {"swap_a_b", "shift_a"}
    assert "law shift_a:" in cap.err and doc["spec"] == cap.err


def test_spec_file_and_output_option(tmp_path, capsys):
    spec = tmp_path / "add.sym"
    spec.write_text("param p = 59\ndomain Zp = cyclic(p)\nmodel add(a: Zp, b: Zp) -> class(Zp)\n")
    data = write_add(tmp_path / "add.pt")
    out = tmp_path / "out.sym"
    assert main(["suggest", str(spec), "--data", data, "-o", str(out), "--json", str(tmp_path / "e.json")]) == 0
    text = out.read_text()
    assert "law shift_a: forall k: Zp. add(a + k, b) == add(a, b) + k" in text  # the declared domain's name
    assert main(["check", str(out)]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["model"] == "add"


def test_bad_signature_shows_a_caret(tmp_path, capsys):
    data = write_add(tmp_path / "add.pt")
    assert main(["suggest", "--data", data, "--signature", "f(a: cyclc(59), b: cyclic(59)) -> class(cyclic(59))"]) == 2
    err = capsys.readouterr().err
    assert "--signature:1:6: error: unknown domain constructor 'cyclc'" in err
    assert " 1 | f(a: cyclc(59), b: cyclic(59)) -> class(cyclic(59))\n   |      ^^^^^\n" in err
    assert "did you mean 'cyclic'?" in err


def test_unclosed_signature_points_into_the_signature(tmp_path, capsys):
    data = write_add(tmp_path / "add.pt")
    assert main(["suggest", "--data", data, "--signature", "f(a: cyclic(59), b: cyclic(59) -> bool"]) == 2
    err = capsys.readouterr().err
    assert "--signature:1:32: error: unexpected '->'" in err and "opened at 1:2" in err


def test_usage_errors_exit_2(tmp_path, capsys):
    data = write_add(tmp_path / "add.pt")
    assert main(["suggest", "--data", str(tmp_path / "none.pt"), "--signature", SIG]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["suggest", "--data", data, "--signature", "f(x: cyclic(59), b: cyclic(59)) -> class(cyclic(59))"]) == 2
    assert "no column 'x'" in capsys.readouterr().err
    assert main(["suggest", "--data", data]) == 2
    assert "--signature" in capsys.readouterr().err
    assert main(["suggest", "--data", data, "--signature", "f(u: nodes(G)) -> bool"]) == 2
    assert "a signature cannot declare a graph" in capsys.readouterr().err
    assert main(["suggest", "--data", data, "--signature", SIG, "--threshold", "2"]) == 2
    assert "--threshold" in capsys.readouterr().err
    assert main(["suggest", "--data", data, "--signature", SIG, "--param", "p=3"]) == 2
    assert "--param needs a SPEC" in capsys.readouterr().err


def test_example_recovers_commutes_and_shift(tmp_path):
    script = ROOT / "examples" / "suggest_modular_addition.py"
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert "commutes: recovered" in run.stdout and "shift: recovered" in run.stdout
    assert "1 file ok" in run.stdout


GRAPH_WITH_LAWS = """spec graph_distance
param n = 5
graph G = grid(n, n)
domain Node = nodes(G)
group Aut = automorphisms(G)
model dist(u: Node, v: Node) -> class(range(0, 2 * n - 1))
"""


def write_grid_distances(path, n: int = 5) -> str:
    import networkx as nx

    graph = nx.convert_node_labels_to_integers(nx.grid_2d_graph(n, n), ordering="sorted")
    dist = dict(nx.all_pairs_shortest_path_length(graph))
    u, v = (t.flatten() for t in torch.meshgrid(torch.arange(n * n), torch.arange(n * n), indexing="ij"))
    torch.save({"u": u, "v": v, "target": torch.tensor([dist[i][j] for i, j in zip(u.tolist(), v.tolist())])}, path)
    return str(path)


def test_a_law_the_spec_already_has_is_marked_and_the_header_counts_the_body(tmp_path, capsys):
    spec = tmp_path / "g.sym"
    spec.write_text(GRAPH_WITH_LAWS + "law automorphism: forall g: Aut. dist(g . u, g . v) == dist(u, v)\n")
    data = write_grid_distances(tmp_path / "d.pt")
    assert main(["suggest", str(spec), "--data", data]) == 0
    text = capsys.readouterr().out
    head = text.splitlines()[0]
    assert head.startswith("# symspec suggest: 3 new laws supported by 625 rows of dist") and "1 already in the spec" in head
    assert "# already in the spec: the spec's law automorphism states it" in text  # the same law (structurally)
    assert "# law automorphism_u_v: forall g: Aut. dist(g . u, g . v) == dist(u, v)" in text  # commented out
    assert "\nlaw swap_u_v: dist(u, v) == dist(v, u)\n" in text and "\nlaw diagonal_u_v: dist(u, u) == 0\n" in text
    assert "\nlaw triangle_u_v: dist(u, v) <= dist(u, w) + dist(w, v)\n" in text
    assert text.count("\nlaw ") == 4  # the spec's own law and the three new ones
    assert main(["suggest", str(spec), "--data", data, "--json", "-"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts == {"accepted": 3, "in spec": 1}


def test_a_declared_group_is_used_by_name_and_the_printed_spec_checks_without_warnings(tmp_path, capsys):
    spec = tmp_path / "g.sym"
    spec.write_text(GRAPH_WITH_LAWS)  # declares group Aut, no law uses it yet
    out = tmp_path / "out.sym"
    assert main(["suggest", str(spec), "--data", write_grid_distances(tmp_path / "d.pt"), "-o", str(out)]) == 0
    capsys.readouterr()
    text = out.read_text()
    assert "law automorphism_u_v: forall g: Aut. dist(g . u, g . v) == dist(u, v)" in text
    assert "automorphisms(G)." not in text
    assert main(["check", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning" not in err and "never used" not in err, err


def test_the_model_is_chosen_by_the_data_columns_as_check_data_does(tmp_path, capsys):
    spec = tmp_path / "two.sym"
    spec.write_text("model f(a: cyclic(59), b: cyclic(59)) -> class(cyclic(59))\nmodel h(x: cyclic(59)) -> class(cyclic(59))\n")
    data = write_add(tmp_path / "add.pt")
    assert main(["suggest", str(spec), "--data", data]) == 0
    assert "law swap_a_b: f(a, b) == f(b, a)" in capsys.readouterr().out
    other = tmp_path / "other.pt"
    torch.save({"p": torch.arange(3), "q": torch.arange(3), "target": torch.arange(3)}, other)
    assert main(["suggest", str(spec), "--data", str(other)]) == 2
    err = capsys.readouterr().err
    assert "none of the spec's models matches the data's columns (p, q, target)" in err
    assert "f takes a, b, target; h takes x, target; name one with --model" in err


def test_empty_data_says_it_has_no_rows(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,target\n")
    assert main(["suggest", "--data", str(empty), "--signature", SIG]) == 0
    text = capsys.readouterr().out
    assert "# WARNING: the data has 0 rows: no law could be tested." in text
    assert "no pair tested: the data has 0 rows" in text and "(0 absent)" not in text


def test_one_candidate_is_singular(tmp_path, capsys):
    data = tmp_path / "one.pt"
    torch.save({"a": torch.arange(2), "target": torch.arange(2)}, data)
    assert main(["suggest", "--data", str(data), "--signature", "f(a: cyclic(2)) -> class(range(0, 2))"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.endswith("; 1 candidate tested"), head  # shift_invariant_a, contradicted by its one pair
