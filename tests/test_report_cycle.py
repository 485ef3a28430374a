"""A transitivity law's shortest cycle on data is part of the report's JSON; other reports have no cycle key."""

from __future__ import annotations

import json

import torch

import symspec
from symspec.cli.main import main

ORDER = """
spec order
domain Item = range(0, 6)
model gt(a: Item, b: Item) -> bool
law transitive: gt(a, b) and gt(b, c) => gt(a, c)
"""


def _rows_with_a_3_cycle():
    rows = [(a, b, a > b) for a in range(6) for b in range(6) if a != b]
    rows = [r for r in rows if r[:2] not in ((1, 3), (3, 1))] + [(1, 3, True)]  # 3 > 2 > 1 > 3
    return rows


def test_cycle_in_the_json(tmp_path, capsys):
    rows = _rows_with_a_3_cycle()
    data = {k: torch.tensor([r[i] for r in rows]) for i, k in enumerate(("a", "b", "target"))}
    report = symspec.check_data(symspec.loads(ORDER, "order.sym"), data)
    law = report.to_dict()["laws"][0]
    assert law["cycle"]["length"] == 3 and sorted(law["cycle"]["values"]) == [1, 2, 3]
    assert law["cycle"]["rows"] and all(isinstance(r, int) for r in law["cycle"]["rows"])
    spec, path = tmp_path / "order.sym", tmp_path / "order.pt"
    spec.write_text(ORDER, encoding="utf-8")
    torch.save(data, path)
    assert main(["check-data", str(spec), "--data", str(path), "--json", "-"]) == 1
    assert json.loads(capsys.readouterr().out)["laws"][0]["cycle"]["length"] == 3


def test_no_cycle_key_elsewhere():
    law = symspec.validation.report.LawReport(name="x", span="f:1:1", law_class="constraint", mode="exhaustive")
    assert "cycle" not in law.to_dict()
