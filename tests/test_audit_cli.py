"""``symspec audit``: exit codes, messages, JSON keys, --input forms, --example, --plot."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from symspec.cli import main
from symspec.cli.audit import parse_input

MOD = "test_audit_models"


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids the contention of a shared machine
    yield
    torch.set_num_threads(before)


def test_json_to_stdout_has_the_keys(capsys):
    assert main(["audit", "--model", f"{MOD}:small_encoder", "--input", "6,5,8", "--json", "-"]) == 0
    out = capsys.readouterr()
    d = json.loads(out.out)
    assert {"parameters", "redundant", "symmetries", "functional_rank"} <= set(d)
    assert all({"kind", "module", "dim", "verified", "error"} <= set(s) for s in d["symmetries"])
    assert d["redundant"] == 2 * 2 * 16 + 8 + 8 + 16  # QK and VO (2 heads of 4), key and value biases, 16 ReLU units
    assert d["functional_rank"] is not None and d["parameters"] - d["functional_rank"] >= d["redundant"]
    assert "attention_qk" in out.err  # the table goes to stderr under --json -


def test_integer_input_for_an_embedding_model_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png, js = tmp_path / "s.png", tmp_path / "r.json"
    args = ["audit", "--model", f"{MOD}:gpt", "--input", "long:3,6", "--logits", "--no-rank", "--plot", str(png)]
    assert main([*args, "--json", str(js)]) == 0
    assert png.stat().st_size > 0
    d = json.loads(js.read_text())
    assert d["functional_rank"] is None and d["by_kind"]["softmax_shift"] == 9
    assert "softmax_shift" in capsys.readouterr().out


def test_example_function(capsys):
    assert main(["audit", "--model", f"{MOD}:small_encoder", "--example", f"{MOD}:example", "--no-rank"]) == 0
    assert "redundant" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", f"{MOD}:broken_factory", "--input", "3"], "raised RuntimeError: factory failure"),
        (["--model", "no_such_module:f", "--input", "3"], "cannot import 'no_such_module'"),
        (["--model", "nocolon", "--input", "3"], "expected PKG.MOD:FACTORY"),
        (["--model", f"{MOD}:small_encoder", "--input", "4,x"], "sizes must be integers"),
        (["--model", f"{MOD}:small_encoder", "--input", "cplx:4"], "unknown dtype 'cplx'"),
        (["--model", f"{MOD}:small_encoder", "--input", "4,5,7"], "the model raised"),
        (["--model", f"{MOD}:small_encoder"], "give the example batch"),
        (["--model", f"{MOD}:small_encoder", "--input", "long:4,5"], "has no nn.Embedding"),
        (["--model", f"{MOD}:small_encoder", "--input", "4,5,8", "--json", "/no/such/dir/r.json"], "no such directory"),
        (["--model", f"{MOD}:small_encoder", "--input", "4,5,8", "--tol", "0"], "--tol must be a positive finite number"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args, message, capsys):
    assert main(["audit", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_argparse_errors_exit_2():
    proc = subprocess.run([sys.executable, "-m", "symspec", "audit", "--input", "3"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "--model" in proc.stderr and "Traceback" not in proc.stderr


def test_parse_input_forms():
    assert parse_input("4,16") == ("float32", (4, 16), None)
    assert parse_input("double:2,3") == ("float64", (2, 3), None)
    assert parse_input("long:4,16:100") == ("int64", (4, 16), 100)


def test_facade_is_lazy_and_callable():
    code = (
        "import sys, symspec; assert 'torch' not in sys.modules; import torch; "
        "m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)); "
        "r = symspec.audit(m, torch.randn(9, 3)); import symspec.audit as a; "
        "assert a(m, torch.randn(9, 3)).redundant == r.redundant == 4; "
        "print(r.to_dict()['by_module'])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "{'0': 4}"
