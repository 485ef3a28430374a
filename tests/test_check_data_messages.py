"""Data-file messages a new user met: grid names with commas, names without the space, a file that is no .pt."""

from __future__ import annotations

import pytest

import symspec
from symspec.errors import UsageError

GRAPH = "examples/graph_distance.sym"


def test_unquoted_grid_names_get_the_quoting_hint(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("u,v,target\n(0, 0),(0, 1),1\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        symspec.check_data(GRAPH, str(path), laws=["symmetric"])
    assert str(info.value) == (
        f"--data {path}: line 2 has 5 fields; the header has 3; "
        "a value holding a comma (a grid node '(0, 2)') must be quoted: \"(0, 2)\""
    )


def test_names_match_without_their_spaces(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text('u,v,target\n"(0,0)","(0,1)",1\n"(0, 1)","( 0,0 )",1\n', encoding="utf-8")
    report = symspec.check_data(GRAPH, str(path), laws=["symmetric"])
    assert report["symmetric"].cases == 2 and report["symmetric"].violations == 0


def test_a_file_that_is_no_pt_says_so_without_torch_advice(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(bytes(range(256)) * 3)
    with pytest.raises(UsageError) as info:
        symspec.check_data(GRAPH, str(path), laws=["symmetric"])
    message = str(info.value)
    assert message.startswith(f"--data {path}: not a torch-loadable .pt file of tensors (weights_only): ")
    assert "weights_only` set to `False`" not in message and not message.rstrip().split()[-1].isdigit()


def test_explain_shows_how_data_names_the_nodes(capsys):
    from symspec.cli.main import main

    assert main(["explain", GRAPH]) == 0
    assert "  G = grid(7, 7): 49 nodes, 84 edges\n    nodes (as data files name them): (0, 0), (0, 1), (0, 2), ..., (6, 6)\n" in (
        capsys.readouterr().out
    )


def test_class_labels_report_no_loss_of_their_encoding():
    import torch

    spec = symspec.load(GRAPH, params={"n": 3})
    g = spec.ir.graphs["G"]
    d = torch.as_tensor(g.distances)
    u, v = torch.arange(9).repeat_interleave(9), torch.arange(9).repeat(9)
    target = d[u, v].clone()
    target[1] += 1  # (0, 0) -> (0, 1): 2 instead of 1
    law = symspec.check_data(spec, {"u": u, "v": v, "target": target}, laws=["symmetric"])["symmetric"]
    assert law.violations == 2 and law.worst is None and law.divergence is None
    assert all(ex["loss"] is None for ex in law.examples)
    text = symspec.check_data(spec, {"u": u, "v": v, "target": target}, laws=["symmetric"]).render()
    assert "loss" not in text.split("worst counterexamples", 1)[1] and "1e+03" not in text
