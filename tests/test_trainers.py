"""Smoke tests of the example trainers: a few steps at tiny sizes, the JSON schema, --laws parsing."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))

import train_attribute_comparison  # noqa: E402
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
    "attribute-comparison": (
        train_attribute_comparison,
        ["--m", "2"],
        [
            "reflexive",
            "antisymmetric_lt",
            "antisymmetric_gt",
            "symmetric_eq",
            "transitive_lt",
            "transitive_gt",
            "transitive_eq",
            "mixed_eq_lt",
            "mixed_lt_eq",
            "mixed_eq_gt",
            "mixed_gt_eq",
        ],
    ),
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


def test_trainer_prints_each_run_as_it_finishes_when_piped():
    """stdout a pipe (CI log, notebook): each run's line arrives when that run ends, not all at the end."""
    import os
    import subprocess
    import time

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # block-buffered, as in CI
    env["OMP_NUM_THREADS"] = "1"  # tiny matrices: threads only contend on a loaded machine
    args = [sys.executable, str(ROOT / "examples" / "train_modular_addition.py"), "--p", "7", "--frac", "0.5"]
    args += ["--laws", "none", "--laws", "all", "--max-steps", "400", "--eval-every", "100000", "--no-progress"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        header = [proc.stdout.readline(), proc.stdout.readline()]
        assert header[0].startswith("modular_addition: {'p': 7") and header[1].startswith("laws"), header
        first = proc.stdout.readline()
        first_at = time.perf_counter()
        second = proc.stdout.readline()
        gap = time.perf_counter() - first_at
        assert first.startswith("none (baseline)") and second.startswith("commutes,shift,assoc"), (first, second)
        # 400 steps with three laws take seconds; lines written together (buffered to the end) arrive together
        assert gap > 0.5, f"the second run's line came {gap:.3f} s after the first: both were held back to the end"
    finally:
        proc.kill()
        proc.communicate()


def test_a_baseline_after_other_runs_prints_their_speed_up_after_it(capsys):
    args = ["--p", "7", "--frac", "0.5", "--max-steps", "4", "--eval-every", "2", "--no-progress"]
    train_modular_addition.main([*args, "--laws", "commutes", "--laws", "none"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["commutes", "none", "speed-up", "commutes"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--eval-every", "0"], "--eval-every must be positive, got 0"),
        (["--max-steps", "0"], "--max-steps must be positive, got 0"),
        (["--lr", "-1"], "--lr must be non-negative, got -1.0"),
        (["--json", "no/such/dir/r.json"], "--json no/such/dir/r.json: no such directory 'no/such/dir'"),
        (["--save", "."], "--save .: is a directory"),
        (["--p", "0"], "cyclic(n) needs n >= 1, got 0"),
        (["--p", "2", "--frac", "0.1"], "--frac 0.1 leaves 0 training and 4 test examples; both need one"),
    ],
    ids=["eval-every", "max-steps", "lr", "json-dir", "save-dir", "p", "empty-split"],
)
def test_trainer_usage_errors_exit_2_before_training(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_modular_addition.main(["--p", "7", "--frac", "0.5", "--laws", "none", *args])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_image_d4_trainer_prints_each_network_and_writes_json(tmp_path, capsys):
    import train_image_d4

    out = tmp_path / "d4.json"
    tiny = ["--steps", "2", "--size", "10", "--train", "32", "--test", "16", "--fields", "2"]
    result = train_image_d4.main([*tiny, "--seeds", "3", "4", "--json", str(out)])
    lines = capsys.readouterr().out.splitlines()
    models = ["p4", "p4m", "cnn", "cnn_aug"]
    assert [line.split()[:3] for line in lines[:8]] == [[m, "seed", s] for s in ("3", "4") for m in models]
    assert len(lines) == 8 + 1 + 4 and lines[8].startswith("rotated-test accuracy over seeds [3, 4]")
    assert json.loads(out.read_text()) == result and set(result) == {"config", "models"}
    assert list(result["models"]) == models
    for entry in result["models"].values():
        assert set(entry["runs"]) == {"3", "4"} and entry["parameters"] > 0
        assert 0.0 <= entry["rotated_mean"] <= 1.0 and entry["rotated_std"] >= 0.0
    for bad, message in ((["--steps", "0"], "--steps must be positive"), (["--size", "11"], "--size must be even")):
        with pytest.raises(SystemExit) as exit_info:
            train_image_d4.main(bad)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attribute_comparison_implied_fraction_by_satisfiability(seed):
    """A test triple is implied when exactly one of lt, eq, gt keeps the training answers satisfiable by some
    preorder (a set of <=/< constraints is satisfiable iff no strict edge lies inside a strongly connected
    component); a different computation from the trainer's reachability."""
    import networkx as nx

    task = train_attribute_comparison.build_task(3, 0.2, seed)
    train, test = task.train, task.test

    def satisfiable(rows) -> bool:
        g = nx.DiGraph()
        strict = []
        for i, j, r in rows:  # edge u -> v: u <= v
            if r == 1:
                g.add_edges_from([(i, j), (j, i)])
            else:
                u, v = (i, j) if r == 0 else (j, i)
                g.add_edge(u, v)
                strict.append((u, v))
        component = {n: k for k, c in enumerate(nx.strongly_connected_components(g)) for n in c}
        return all(component[u] != component[v] for u, v in strict)

    known = 0
    for a in range(3):
        seen = train["a"] == a
        rows = list(zip(train["i"][seen].tolist(), train["j"][seen].tolist(), train["target"][seen].tolist()))
        wanted = test["a"] == a
        for i, j in zip(test["i"][wanted].tolist(), test["j"][wanted].tolist()):
            possible = [r for r in range(3) if (i != j or r == 1) and satisfiable([*rows, (i, j, r)])]
            known += len(possible) == 1
    assert task.config["implied_by_train"] == round(known / len(test["i"]), 4)
