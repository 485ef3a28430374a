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
