"""Editor tooling: the pygments lexer (entry point `sym`) and the VS Code TextMate grammar."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT, VALID

pygments = pytest.importorskip("pygments")

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Comment, Error, Keyword, Name, Number, Operator  # noqa: E402

from symspec.pygments_lexer import BUILTIN_NAMES, STATEMENT_KEYWORDS, SymLexer  # noqa: E402

CORPUS = [*EXAMPLES, *VALID]
VSCODE = ROOT / "editors" / "vscode"


def _tokens(text: str) -> list:
    return [(t, v) for t, v in SymLexer().get_tokens(text) if v.strip()]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_the_lexer_tokenizes_every_corpus_file_without_errors(path):
    text = path.read_text(encoding="utf-8")
    tokens = list(SymLexer().get_tokens(text))
    assert [v for t, v in tokens if t in Error] == []
    normalized = text.removeprefix("\ufeff").replace("\r\n", "\n")
    assert "".join(v for _, v in tokens).rstrip("\n") == normalized.rstrip("\n")  # every character, once


def test_the_lexer_is_registered_through_the_entry_point():
    # needs `pip install -e .` after pyproject.toml gained the pygments.lexers entry point
    assert type(get_lexer_by_name("sym")).__name__ == "SymLexer"
    assert type(get_lexer_by_name("symspec")).__name__ == "SymLexer"
    assert type(get_lexer_for_filename("spec.sym")).__name__ == "SymLexer"


def test_pygmentize_highlights_a_file():
    path = ROOT / "examples" / "modular_addition.sym"
    out = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "sym", "-f", "html", str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert '<span class="k' in out.stdout and '<span class="c1">' in out.stdout


def test_keywords_are_contextual():
    tokens = _tokens(
        "model law(class: Zp, x: Zp) -> class(Zp)  # names\n"
        "group E = P x Rot\n"
        "action G on D by shift\n"
        "law on: forall g: G. law(g . x, x) == law(x, x) when not x == 1 and x != 2 [weight 0.5, tol 1e-3]\n"
        "layer mix: D -> D under P x Rot\n"
    )
    kinds = {}
    for t, v in tokens:
        kinds.setdefault(v, []).append(t)
    assert kinds["model"] == [Keyword.Declaration]
    assert kinds["law"][0] is Name.Function and Keyword.Declaration in kinds["law"]  # a model called law
    assert kinds["class"] == [Name.Builtin, Name.Builtin]
    assert Name in kinds["x"] and Operator.Word in kinds["x"]  # a variable in laws, the product in groups
    assert kinds["on"] == [Keyword, Name.Label]  # the action keyword; a law named on
    assert kinds["by"] == [Keyword] and kinds["under"] == [Keyword]
    assert kinds["forall"] == [Keyword] and kinds["when"] == [Keyword]
    assert kinds["not"] == [Operator.Word] and kinds["and"] == [Operator.Word]
    assert kinds["weight"] == [Name.Attribute] and kinds["tol"] == [Name.Attribute]
    assert kinds["0.5"] == [Number.Float] and kinds["1e-3"] == [Number.Float] and kinds["1"] == [Number.Integer]
    assert kinds["# names"] == [Comment.Single]
    assert kinds["shift"] == [Name.Builtin]


def test_the_builtin_names_cover_the_analysis():
    from symspec.analysis.domains import _DOMAIN_CTORS
    from symspec.analysis.resolve import PRIOR_KINDS
    from symspec.analysis.structures import BLOCK_TRANSFORMS, BY_TRANSFORMS, GRAPH_CTORS, GROUP_FAMILIES
    from symspec.analysis.typecheck import BUILTINS

    names = {*_DOMAIN_CTORS, *PRIOR_KINDS, *BLOCK_TRANSFORMS, *BY_TRANSFORMS, *GRAPH_CTORS, *GROUP_FAMILIES, *BUILTINS, "class"}
    assert names <= set(BUILTIN_NAMES), f"add to symspec/pygments_lexer.py and the TextMate grammar: {names - set(BUILTIN_NAMES)}"


def test_the_check_path_never_imports_pygments(tmp_path):
    spec = tmp_path / "s.sym"
    spec.write_text("domain Zp = cyclic(5)\nmodel f(a: Zp) -> class(Zp)\nlaw l: f(a) == f(a)\n", encoding="utf-8")
    code = f"import sys\nfrom symspec.cli import main\nmain(['check', '-q', {str(spec)!r}])\nprint('pygments' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "False", out.stderr


# ---- VS Code


def _patterns(node):
    """Every regex of a TextMate grammar."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end"):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def _scopes(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "name" and isinstance(value, str):
                yield value
            else:
                yield from _scopes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _scopes(value)


def test_the_textmate_grammar_is_valid_json_with_the_expected_scopes():
    grammar = json.loads((VSCODE / "syntaxes" / "sym.tmLanguage.json").read_text(encoding="utf-8"))
    assert grammar["scopeName"] == "source.sym" and grammar["fileTypes"] == ["sym"]
    scopes = set(_scopes(grammar["repository"]))
    for scope in (
        "comment.line.number-sign.sym",
        "keyword.other.declaration.sym",
        "keyword.control.sym",
        "keyword.operator.logical.sym",
        "keyword.operator.product.sym",
        "constant.numeric.integer.sym",
        "constant.numeric.float.sym",
        "support.function.builtin.sym",
        "support.type.sym",
        "entity.name.function.call.sym",
        "variable.parameter.option.sym",
    ):
        assert scope in scopes
    for include in re.findall(r'"include": "#([a-z]+)"', json.dumps(grammar)):
        assert include in grammar["repository"]
    for pattern in _patterns(grammar):
        re.compile(pattern)  # the grammar's regexes are in the common subset of Oniguruma and Python
    repo = grammar["repository"]
    declared = "|".join(
        repo[k].get("begin", repo[k].get("match", "")) for k in ("declaration", "law", "action", "group", "layer", "prior")
    )
    for keyword in STATEMENT_KEYWORDS:
        assert re.search(rf"\b{keyword}\b", declared), keyword
    text = json.dumps(grammar)
    for name in BUILTIN_NAMES:  # the same names as the pygments lexer
        assert re.search(rf"[|(]{name}[|)]", text), name


def test_the_vscode_extension_points_at_its_files():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    language = package["contributes"]["languages"][0]
    assert language["id"] == "sym" and language["extensions"] == [".sym"]
    assert (VSCODE / language["configuration"]).is_file()
    grammar = package["contributes"]["grammars"][0]
    assert grammar["scopeName"] == "source.sym" and (VSCODE / grammar["path"]).is_file()
    config = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["(", ")"] in config["brackets"] and ["[", "]"] in config["brackets"] and ["{", "}"] in config["brackets"]


def test_the_docs_use_the_sym_fence():
    language = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    first = re.search(r"^```(\w*)$", language, re.M)
    assert first is not None and first.group(1) == "sym"
