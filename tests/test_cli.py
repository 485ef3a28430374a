"""The command line: exit codes, messages, --param, and what `check` imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT

from symspec.cli import main

MODULAR = str(ROOT / "examples" / "modular_addition.sym")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symspec", *args], capture_output=True, text=True, cwd=ROOT)


def test_check_examples_exit_0(capsys):
    assert main(["check", *map(str, EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert f"{len(EXAMPLES)} files ok" in out


def test_check_invalid_exit_1_and_summary(tmp_path, capsys):
    bad = tmp_path / "bad.sym"
    bad.write_text("domain Zp = cyclic(5)\nmodel f(a: Zq) -> class(Zp)\n")
    assert main(["check", MODULAR, str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:12: error: unknown domain 'Zq'" in err
    assert "hint: did you mean 'Zp'?" in err
    assert "1 of 2 files invalid" in err


def test_missing_file_is_a_usage_error(capsys):
    assert main(["check", "no/such/file.sym"]) == 2
    assert "cannot read 'no/such/file.sym'" in capsys.readouterr().err


def test_directory_is_a_usage_error(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_param_override_applies(tmp_path, capsys):
    spec = tmp_path / "p.sym"
    spec.write_text("param p = 5\ndomain Z = cyclic(p)\nmodel f(a: Z) -> class(Z)\nlaw l: f(a) == f(a) + 0\nlaw c: f(3) == 3\n")
    assert main(["check", str(spec)]) == 0
    assert main(["check", "--param", "p=3", str(spec)]) == 1  # the constant 3 is no longer a class
    assert "the constant must be one of the output's classes" in capsys.readouterr().err


@pytest.mark.parametrize(
    "param, message",
    [("q=3", "unknown parameter 'q'"), ("p=x", "must be an integer"), ("p", "expects NAME=INT"), ("=3", "expects NAME=INT")],
)
def test_bad_param_override_exit_2(param, message, capsys):
    assert main(["check", MODULAR, "--param", param]) == 2
    assert message in capsys.readouterr().err


def test_usage_errors_exit_2():
    assert run().returncode == 2
    assert run("check").returncode == 2
    assert run("frobnicate").returncode == 2


def test_help_and_version():
    helped = run("--help")
    assert helped.returncode == 0 and "check" in helped.stdout
    assert run("check", "--help").returncode == 0
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("symspec ")


def test_python_dash_m_matches_console_script():
    proc = run("check", MODULAR)
    assert proc.returncode == 0 and "1 file ok" in proc.stdout


def test_quiet_prints_errors_only(tmp_path):
    spec = tmp_path / "w.sym"
    spec.write_text("domain Unused = cyclic(3)\n")
    quiet = run("check", "-q", str(spec))
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    loud = run("check", str(spec))
    assert "warning: domain 'Unused' is declared but never used" in loud.stderr


def _imported_by_check(files) -> tuple:
    code = (
        "import sys, json; from symspec.cli import main; "
        f"rc = main(['check', '-q', *{json.dumps([str(p) for p in files])}]); "
        "print(json.dumps([rc, sorted(m for m in ('torch', 'sympy', 'networkx') if m in sys.modules)]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    rc, imported = json.loads(proc.stdout.strip().splitlines()[-1])
    return rc, imported


def test_check_imports_no_torch():
    rc, imported = _imported_by_check(EXAMPLES)
    assert rc == 0 and "torch" not in imported


def test_check_imports_networkx_only_for_graphs():
    rc, imported = _imported_by_check([ROOT / "examples" / "image_d4.sym", ROOT / "examples" / "modular_addition.sym"])
    assert rc == 0 and "networkx" not in imported
    rc, imported = _imported_by_check([ROOT / "examples" / "graph_distance.sym"])
    assert rc == 0 and "networkx" in imported


def test_check_imports_sympy_only_for_group_algebra():
    # no groups and no pair of equivariance laws on one model: nothing to compute with sympy
    rc, imported = _imported_by_check([ROOT / "examples" / "comparison.sym"])
    assert rc == 0 and imported == []


def test_check_importtime_has_no_torch():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "symspec", "check", "-q", MODULAR], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "symspec.analysis" in modules
    assert not {m for m in modules if m.split(".")[0] == "torch"}


def test_a_closed_pipe_is_not_a_traceback():
    proc = subprocess.run(
        f"{sys.executable} -m symspec explain examples/graph_distance.sym | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert "Traceback" not in proc.stderr and proc.stdout.startswith("spec graph_distance")


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["compile", MODULAR], ["explain", MODULAR], ["check", MODULAR]])
def test_a_full_disk_on_stdout_is_a_message_exit_2(command):
    """Standard output on /dev/full: one error line, exit 2, no traceback (not even at interpreter exit)."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "symspec", *command], stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
    assert proc.returncode == 2
    assert proc.stderr == "symspec: error: cannot write to standard output: No space left on device\n"


FACTORIES = """
import sys
import torch

def exits(p):
    sys.exit(3)

def table(p):
    return lambda a, b: torch.zeros(a.shape[0], p)
"""


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "{mod}:exits"], "factory {mod}:exits for model 'add' raised SystemExit: 3"),
        (["--model", "{mod}:table", "--max-rate", "nan"], "--max-rate must be between 0 and 1, got nan"),
        (["--model", "{mod}:table", "--max-rate", "-1"], "--max-rate must be between 0 and 1, got -1.0"),
        (["--model", "{mod}:table", "--plot", "."], "--plot .: is a directory"),
        (["--model", "{mod}:table", "--json", "/dev/full"], "--json /dev/full: cannot write: No space left on device"),
    ],
    ids=["factory-exits", "max-rate-nan", "max-rate-negative", "plot-dir", "json-full"],
)
def test_validate_hostile_options_exit_2(tmp_path, monkeypatch, capsys, extra, message):
    mod = f"factories_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{mod}.py").write_text(FACTORIES)
    monkeypatch.chdir(tmp_path)
    if "/dev/full" in extra and not __import__("os").path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    args = ["validate", MODULAR, "--param", "p=5", "--samples", "20", *[a.format(mod=mod) for a in extra]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"symspec: error: {message.format(mod=mod)}" in err and "Traceback" not in err
