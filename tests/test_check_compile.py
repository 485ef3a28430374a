"""`symspec check` accepts exactly what `symspec compile` builds.

``pipeline.check`` lowers every law, layer and prior without torch; a spec
that passes it must render and import, and a spec that fails it must fail
``compile`` with the same error.  Checked on every example, every spec of the
corpus (valid and invalid), and mutations of the corpus.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import EXAMPLES, INVALID, VALID
from hypothesis import HealthCheck, given, settings
from test_fuzz import mutated

import symspec
from symspec.errors import SpecError
from symspec.pipeline import check, compile_source


def _outcomes(text: str, file: str = "spec.sym", *, import_module: bool = False) -> tuple:
    """(check's verdict, compile's verdict): None when it succeeded, else the first error's message."""
    try:
        spec = symspec.loads(text, file)
    except SpecError as err:
        return ("load", err.errors[0].message), ("load", err.errors[0].message)
    try:
        check(spec)
        checked = None
    except SpecError as err:
        checked = err.errors[0].message
    try:
        if import_module:
            symspec.compile(spec)
        else:
            compile_source(spec)
        compiled = None
    except SpecError as err:
        compiled = err.errors[0].message
    return checked, compiled


@pytest.mark.parametrize("path", [*EXAMPLES, *VALID, *INVALID], ids=lambda p: p.name)
def test_check_passes_iff_compile_succeeds_on_the_corpus(path):
    checked, compiled = _outcomes(path.read_text(encoding="utf-8"), str(path), import_module=True)
    assert checked == compiled


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_check_passes_iff_compile_succeeds_on_mutations(text):
    checked, compiled = _outcomes(text)
    assert checked == compiled


def test_check_cli_runs_the_lowering_without_torch(tmp_path):
    """`symspec check` decides compilability with the lowering, and still imports no torch."""
    code = (
        "import sys; from symspec.cli import main; rc = main(['check', '-q', sys.argv[1]]); "
        "print(rc, 'torch' in sys.modules, 'symspec.codegen.module' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(EXAMPLES[0])], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "True"]
