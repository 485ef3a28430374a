"""examples/check_data_graph_distance.py runs and finds every corrupted label (small grid, quickly)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "check_data_graph_distance.py"


def test_example_names_every_corrupted_row(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("check_data_graph_distance", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--n", "4", "--rate", "0.05", "--seed", "0", "--out", str(tmp_path), "--no-cli"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "distances.csv").read_text().startswith("u,v,target\n")
    wrong = int(re.search(r"(\d+) labels corrupted", out).group(1))
    assert wrong == 13
    assert f"corrupted rows named by some violation: {wrong} of {wrong}" in out
    assert f"of the {wrong} rows named by the most violations, {wrong} are the corrupted ones" in out
