"""Smoke tests of the example trainers: a few steps at tiny sizes, the JSON schema, --laws parsing."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))

import train_comparison  # noqa: E402
import train_graph_distance  # noqa: E402
import train_modular_addition  # noqa: E402

TINY = {
    "modular": (train_modular_addition, ["--p", "7", "--frac", "0.5"], ["commutes", "shift", "assoc"]),
    "modular-transformer": (
        train_modular_addition,
        ["--p", "7", "--frac", "0.5", "--arch", "transformer"],
        ["commutes", "shift", "assoc"],
    ),
    "graph": (
        train_graph_distance,
        ["--graph", "cycle64", "--frac", "0.5"],
        ["symmetric", "zero", "triangle", "geodesic", "automorphism"],
    ),
    "comparison": (train_comparison, ["--m", "8"], ["irreflexive", "antisymmetric", "transitive", "bradley_terry"]),
}


def _check_record(record: dict, laws: list, steps: int) -> None:
    assert set(record) == {"config", "steps_to_acc", "final_test_acc", "history"}
    assert set(record["steps_to_acc"]) == {"0.99", "1.0"}
    assert all(v is None or (isinstance(v, int) and 0 < v <= steps) for v in record["steps_to_acc"].values())
    assert record["config"]["laws"] == laws and record["config"]["seed"] == 0
    assert 0.0 <= record["final_test_acc"] <= 1.0
    history = record["history"]
    assert history and all({"step", "train_loss", "test_acc"} <= set(h) for h in history)
    assert [h["step"] for h in history] == sorted(h["step"] for h in history) and history[-1]["step"] <= steps
    if laws:
        assert set(history[-1]["laws"]) == set(laws)


@pytest.mark.parametrize("name", sorted(TINY))
def test_trainer_writes_the_json_schema(name, tmp_path, capsys):
    module, sizes, laws = TINY[name]
    out = tmp_path / "run.json"
    chosen = laws[:2]
    args = [*sizes, "--max-steps", "6", "--eval-every", "3", "--laws", ",".join(chosen), "--json", str(out), "--no-progress"]
    module.main(args)
    _check_record(json.loads(out.read_text()), chosen, 6)
    assert ",".join(chosen) in capsys.readouterr().out


def test_several_law_sets_run_from_one_init_and_plot(tmp_path, capsys):
    out, plot = tmp_path / "runs.json", tmp_path / "acc.png"
    args = ["--p", "7", "--frac", "0.5", "--max-steps", "4", "--eval-every", "2", "--no-progress"]
    train_modular_addition.main([*args, "--laws", "none", "--laws", "all", "--json", str(out), "--plot", str(plot)])
    runs = json.loads(out.read_text())["runs"]
    assert [r["config"]["laws"] for r in runs] == [[], ["commutes", "shift", "assoc"]]
    for r, laws in zip(runs, ([], ["commutes", "shift", "assoc"])):
        _check_record(r, laws, 4)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert "none (baseline)" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(TINY))
def test_unknown_law_is_rejected_with_the_valid_names(name, capsys):
    module, sizes, laws = TINY[name]
    with pytest.raises(SystemExit) as exit_info:
        module.main([*sizes, "--max-steps", "1", "--laws", f"{laws[0]},nonsense"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown law 'nonsense'" in err and f"valid: none, all, or names among {', '.join(laws)}" in err
