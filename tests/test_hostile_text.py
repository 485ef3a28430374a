"""No text a user controls can change what a generated module does.

Every path by which user text reaches generated code is attacked with hostile
strings (newlines, quotes, triple quotes, backslashes, NUL, lone surrogates
from undecodable file names, Unicode line separators): the spec's file name
through ``loads``, ``load``, ``compile(out_hint=...)`` and ``symspec compile
FILE -o OUT``; and every string field of the lowered module, one kind at a
time.  The module must still parse, encode as UTF-8, import without side
effects, and have the same syntax tree as the benign module up to the values
of string constants (docstrings included).  A string in an identifier
position must be refused by the printer (``ValueError``), never printed.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import sys

import pytest
from conftest import EXAMPLES

import symspec
from symspec.cli.main import main
from symspec.codegen import compile_source, lower_module
from symspec.codegen import render as _render_module
from symspec.codegen.names import comment_text, doc_text, literal, user_text

SENTINEL = "symspec_hostile_sentinel"

HOSTILE = [
    f'x\n    __import__("os").system("touch {SENTINEL}")\n    def _f(self):\n        #.sym',
    'my"""spec.sym',
    "q'''\r\n\x85\u2028\u2029.sym",
    "back\\slash\\N{BULLET}\\x00\\\\.sym",
    "nul\x00and\x0bvt\x0cff\x1c\x1d\x1e.sym",
    "surrogate\udcff\udc80.sym",
    'end quote".sym"',
    "trailing backslash\\",
    '"""; import os; os.system("touch ' + SENTINEL + '"); """',
    "\x1b[31mred\x1b[0m\t\ttabs.sym",
]

ALL_AT_ONCE = "".join(HOSTILE)  # every attack in one string: any one getting through changes the tree
SPEC_TEXT = (EXAMPLES[0].parent / "modular_addition.sym").read_text(encoding="utf-8")


def _shape(source: str) -> str:
    """The module's syntax tree with every string constant emptied (comments are not in the tree)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def _safe(source: str, benign: str) -> None:
    source.encode("utf-8")  # no lone surrogate reaches the file
    assert "\x00" not in source
    assert _shape(source) == _shape(benign)


@pytest.fixture(scope="module")
def benign():
    spec = symspec.loads(SPEC_TEXT, "benign.sym")
    return spec, compile_source(spec, "generated/benign.py")


@pytest.mark.parametrize("text", HOSTILE + ["plain", "", "é∂ unicode ok"])
def test_the_escapes_keep_one_printable_line(text):
    for escaped in (user_text(text), comment_text(text), doc_text(text)):
        assert "\n" not in escaped and "\r" not in escaped and escaped.isprintable()
        escaped.encode("utf-8")
    body = doc_text(text)
    assert ast.literal_eval('"""' + body + '"""') == user_text(text)  # the docstring reads back as the text
    assert ast.literal_eval(literal(text)) == text and literal(text).isascii()


def test_non_finite_numbers_have_no_literal():
    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError, match="non-finite"):
            literal(value)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_name_through_loads_and_out_hint(name, benign, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = symspec.loads(SPEC_TEXT, name)
    source = compile_source(spec, out_hint=name)
    _safe(source, benign[1])
    module = symspec.compile(spec, out_hint=name)  # runs the module: no side effect
    assert module.SPEC == "modular_addition"
    assert not os.path.exists(SENTINEL)


@pytest.mark.parametrize("name", [n for n in HOSTILE if "\x00" not in n and "/" not in n])
def test_hostile_file_name_through_load_and_the_cli(name, benign, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    path.write_text(SPEC_TEXT, encoding="utf-8")
    _safe(compile_source(symspec.load(str(path))), benign[1])
    out = tmp_path / ("out " + name + ".py")
    assert main(["compile", str(path), "-o", str(out)]) == 0
    source = out.read_bytes().decode("utf-8")
    _safe(source, benign[1])
    exec(compile(source, "<hostile>", "exec"), {"__name__": "hostile"})
    assert not os.path.exists(SENTINEL)


def test_an_undecodable_byte_in_both_paths(benign, tmp_path, monkeypatch):
    """A 0xff byte in the spec's path and in ``-o`` (surrogate-escaped by Python): a complete module, exit 0."""
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("POSIX file names")
    monkeypatch.chdir(tmp_path)
    src = os.fsdecode(b"spec\xff.sym")
    out = os.fsdecode(b"out\xff.py")
    with open(src, "w", encoding="utf-8") as f:
        f.write(SPEC_TEXT)
    assert main(["compile", src, "-o", out]) == 0
    with open(out, "rb") as f:
        _safe(f.read().decode("utf-8"), benign[1])


# ---- every string field of the lowered module ----------------------------------------------------


def _string_sites(value, path=()):
    """(path, kind) of every string inside ``value``; kind names the field that holds it."""
    if isinstance(value, str):
        yield path, path[-1] if path else "root"
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _string_sites(getattr(value, f.name), (*path, (type(value).__name__, f.name)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _string_sites(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _string_sites(key, (*path, ("key", repr(key))))
            yield from _string_sites(item, (*path, ("value", repr(key))))


def _replace(value, path, new):
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        items = list(value)
        items[step] = _replace(items[step], rest, new)
        return type(value)(items) if isinstance(value, tuple) else items
    kind, name = step
    if kind == "key":
        return {(_replace(k, rest, new) if repr(k) == name else k): v for k, v in value.items()}
    if kind == "value":
        return {k: (_replace(v, rest, new) if repr(k) == name else v) for k, v in value.items()}
    return dataclasses.replace(value, **{name: _replace(getattr(value, name), rest, new)})


def _kind(path) -> tuple:
    """A site's kind: the chain of (class, field) steps without list indices or dict keys."""
    return tuple(step for step in path if isinstance(step, tuple) and step[0] not in ("key", "value"))


@pytest.mark.parametrize("example", ["modular_addition", "comparison", "image_d4"])
def test_every_string_field_of_the_lowered_module(example):
    """Each kind of string site, replaced by each hostile string: refused, or printed as data."""
    spec = symspec.load(str(EXAMPLES[0].parent / f"{example}.sym"))
    lowered = lower_module(spec)
    benign = _render_module(lowered, "generated/x.py")
    seen: dict = {}
    for path, _ in _string_sites(lowered):
        seen.setdefault(_kind(path), []).append(path)
    assert len(seen) > 10, "the walk reaches the lowered module's strings"
    printed = refused = 0
    for kind, paths in seen.items():
        for path in paths[:1]:
            changed = _replace(lowered, path, ALL_AT_ONCE)
            try:
                source = _render_module(changed, "generated/x.py")
            except ValueError as err:  # an identifier position: the printer's guard
                assert "identifier" in str(err) or "operator" in str(err), (kind, err)
                refused += 1
                continue
            _safe(source, benign)
            printed += 1
    assert printed and refused  # both outcomes happen: strings as data, and guarded identifiers
