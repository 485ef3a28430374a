"""generated/ holds the compiled examples: recompiling each gives the same text, and the
modules depend only on torch and symspec.runtime."""

from __future__ import annotations

import ast
import os

import pytest
from conftest import EXAMPLES, ROOT

import symspec
from symspec.cli import main
from symspec.codegen import compile_source


@pytest.fixture()
def at_root():
    old = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(old)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_generated_files_are_up_to_date(path, at_root):
    rel = f"examples/{path.name}"
    golden = (ROOT / "generated" / f"{path.stem}.py").read_text(encoding="utf-8")
    assert compile_source(symspec.load(rel)) == golden, f"regenerate: symspec compile {rel} -o generated/{path.stem}.py"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_generated_lines_fit_and_params_are_named(path):
    text = (ROOT / "generated" / f"{path.stem}.py").read_text(encoding="utf-8")
    assert all(len(line) <= 120 for line in text.splitlines())
    assert f"symspec compile examples/{path.name} -o generated/{path.stem}.py" in text
    spec = symspec.load(path)
    for name, value in spec.params.items():
        assert f"\n{name.upper()} = {value}\n" in text  # each parameter once, as a named constant


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_generated_modules_import_only_torch_and_the_runtime(path):
    tree = ast.parse((ROOT / "generated" / f"{path.stem}.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module if node.module != "symspec" else "symspec." + node.names[0].name)
    assert imported <= {"__future__", "torch", "symspec.runtime"}, imported


def test_cli_compile_writes_the_same_text(tmp_path, at_root):
    out = tmp_path / "m.py"
    assert main(["compile", "examples/modular_addition.sym", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text == compile_source(symspec.load("examples/modular_addition.sym"), str(out))
    assert f"symspec compile examples/modular_addition.sym -o {out}" in text  # the header's regenerate command
    assert main(["compile", "examples/modular_addition.sym", "--param", "p=7", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "\nP = 7\n" in text and 'PARAMS = {"p": P}' in text  # the parameter, as a named constant
    assert main(["compile", "no/such.sym"]) == 2


def test_injection_attempts_never_reach_the_module():
    # names are identifiers by the grammar: anything else is a syntax error before code generation
    for text in [
        'model f(a: cyclic(3)) -> class(3)\nlaw x"); import os; ("": f(a) == f(a)\n',
        "law __import__('os'): f(a) == f(a)\n",
    ]:
        with pytest.raises(symspec.SpecError):
            symspec.loads(text)
    spec = symspec.loads(
        "domain Z = cyclic(3)\nmodel __import__(a: Z, b: Z) -> class(Z)\nlaw exec: __import__(a, b) == __import__(b, a)\n"
    )
    source = compile_source(spec)
    import re

    assert not re.search(r"^\s*(__import__|exec)\s*=", source, re.M)  # mangled or quoted, never bound
    mod = symspec.compile(spec)
    assert "exec" in mod.LAWS and "__import__" in mod.MODELS


def test_every_valid_spec_compiles_and_runs_on_an_exact_or_zero_model():
    from conftest import VALID

    from symspec.codegen import CompileError

    for path in VALID:
        try:
            mod = symspec.compile(symspec.load(path))
        except CompileError as err:  # never expected for the valid corpus
            raise AssertionError(f"{path.name}: {err}") from None
        assert isinstance(mod.LAWS, dict) and hasattr(mod, "SymmetryLoss") and hasattr(mod, "augment")


def test_difference_of_class_outputs_compiles_to_the_right_distribution():
    import torch

    spec = symspec.loads("domain D = range(2, 5)\nmodel f(a: D) -> class(D)\nlaw d: f(a) - f(b) == f(c)\n")
    source = compile_source(spec)
    assert ".flip(-1)" in source
    # X in {2, 3, 4} uniform, Y = 4 surely: X - Y in {-2, -1, 0}; compare with f(c) on {2, 3, 4} after alignment
    from symspec import runtime as rt

    lp = torch.log(torch.full((1, 3), 1 / 3, dtype=torch.float64))
    lq = torch.log(torch.tensor([[1e-300, 1e-300, 1.0]], dtype=torch.float64))
    diff = rt.sum_distribution(lp, lq.flip(-1)).exp()[0]
    assert torch.allclose(diff[:3], torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-9)  # values -2, -1, 0
