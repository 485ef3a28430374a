"""The language as a corpus: every example and valid spec checks clean; every
invalid spec fails with the exact file:line:col and message it declares."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, INVALID, VALID, expectation

import symspec
from symspec.cli import main


def test_corpus_sizes():
    assert len(EXAMPLES) >= 5
    assert len(VALID) >= 25
    assert len(INVALID) >= 30


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_check_clean_without_warnings(path):
    spec = symspec.load(path)
    assert spec.warnings == [], spec.render_warnings()
    assert spec.laws, "every example states laws"


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_specs_check(path):
    spec = symspec.load(path)
    assert spec.file == str(path)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_spec_reports_exact_position(path, capsys):
    line, column, fragment = expectation(path)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    located = [chunk for chunk in err.split(f"{path}:")[1:] if chunk.startswith(f"{line}:{column}: error: ")]
    assert located, f"no error at {line}:{column} in:\n{err}"
    assert any(fragment in chunk for chunk in located), f"'{fragment}' not in:\n{err}"


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_spec_error_shows_line_and_caret(path):
    line, column, _ = expectation(path)
    with pytest.raises(symspec.SpecError) as info:
        symspec.load(path)
    diag = next(d for d in info.value.errors if (d.span.line, d.span.column) == (line, column))
    rendered = info.value.render()
    source_line = path.read_text(encoding="utf-8").splitlines()[line - 1].replace("\t", " ")
    assert f" {line} | {source_line}" in rendered
    caret_line = " " * (column - 1) + "^"
    assert any(r.split("| ", 1)[-1].startswith(caret_line) for r in rendered.splitlines() if r.lstrip().startswith("|")), rendered
    assert diag.message


def test_readme_example_checks_clean():
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = "param p = 113" + readme.split("\n```\nparam p = 113", 1)[1].split("```", 1)[0]
    spec = symspec.loads(block, "README.md")
    assert set(spec.laws) == {"commutes", "shift", "assoc", "equivariant"} and spec.warnings == []
