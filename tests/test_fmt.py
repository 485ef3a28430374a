"""`symspec fmt`: canonical layout from the AST, comments kept, idempotent, never a change of meaning."""

from __future__ import annotations

import dataclasses
import io

import pytest
from conftest import EXAMPLES, INVALID, VALID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from symspec.cli import main
from symspec.errors import Span, SpecError, SpecSyntaxError
from symspec.syntax import ast, grammar_text, parse
from symspec.syntax.fmt import FormatError, _check_known, ast_key, comments, format_source

CORPUS = [*EXAMPLES, *VALID]


def _text(path) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def _comment_texts(text: str) -> list:
    return [c[2] for c in comments(text.removeprefix("\ufeff"))]


def _round_trips(text: str, file: str = "t.sym") -> str:
    out = format_source(text, file)
    assert ast_key(parse(out, file)) == ast_key(parse(text, file))
    assert format_source(out, file) == out  # idempotent
    assert _comment_texts(out) == _comment_texts(text)  # every comment, in order
    return out


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_every_corpus_spec_round_trips_to_an_equal_ast_and_is_idempotent(path):
    _round_trips(_text(path), path.name)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_specs_are_refused_or_round_trip(path):
    text = _text(path)
    try:
        parse(text, path.name)
    except SpecSyntaxError:
        with pytest.raises(SpecSyntaxError):
            format_source(text, path.name)
        return
    _round_trips(text, path.name)


def test_the_examples_are_formatted():
    for path in EXAMPLES:
        assert format_source(_text(path), path.name) == _text(path), f"run: symspec fmt {path}"


_LAYOUT_IN = """\


# head comment



spec  t   # the spec
param p=007 # seven
param q = - 3
domain Zp=cyclic( p )
graph F = edges(0-1,1 - 2, 2-3)
group D4 = <r, s | r^4, s^02, (s r)^2, r^1, r^-1 = r^3>
action D4 on Sq {  # open
  # before r
  r -> rot90(dims=(-2, -1))   # r ends
  # between

  # after blank
  s -> flip(
     # inside s
     dim=-1)  # s ends
  # last in block
}  # close
action D4 on T { r -> flip(dim=0), s -> flip(dim=1) }   # one line
action D4 on U {
}
group G = (cyclic(3) x cyclic(4)) x (cyclic(5))
model add(a: Zp,  # first
          # full inside
          b: Zp) -> class(Zp)
law shift: forall k: Zp, j:Zp. add(a+k,b)==add(a,b)+k when a != b and not (a == k) => j<k [weight 0.5,tol 1e-3]
law neg:   -(a - b) * -c == (a-(b-c))*((a*b)) and (x or y) and not not z
prior smooth: lipschitz(f)[weight 1e-3]
layer conv: Image -> Image under D4 x cyclic(2)
# end
"""

_LAYOUT_OUT = """\
# head comment

spec t  # the spec
param p = 007  # seven
param q = -3
domain Zp = cyclic(p)
graph F = edges(0-1, 1-2, 2-3)
group D4 = <r, s | r^4, s^02, (s r)^2, r^1, r^-1 = r^3>
action D4 on Sq {  # open
  # before r
  r -> rot90(dims=(-2, -1))  # r ends
  # between

  # after blank
  # inside s
  s -> flip(dim=-1)  # s ends
  # last in block
}  # close
action D4 on T {
  r -> flip(dim=0)
  s -> flip(dim=1)
}  # one line
action D4 on U {}
group G = cyclic(3) x cyclic(4) x cyclic(5)
# first
# full inside
model add(a: Zp, b: Zp) -> class(Zp)
law shift: forall k: Zp, j: Zp. add(a + k, b) == add(a, b) + k when a != b and not (a == k) => j < k [weight 0.5, tol 1e-3]
law neg: -(a - b) * -c == (a - (b - c)) * (a * b) and (x or y) and not not z
prior smooth: lipschitz(f) [weight 1e-3]
layer conv: Image -> Image under D4 x cyclic(2)
# end
"""


def test_the_canonical_layout():
    assert _round_trips(_LAYOUT_IN) == _LAYOUT_OUT


def test_line_endings_bom_and_empty_files():
    assert _round_trips("spec a\r\nparam p  =  3\r\n") == "spec a\r\nparam p = 3\r\n"
    assert _round_trips("\ufeffspec a # c") == "\ufeffspec a  # c\n"
    assert _round_trips("") == ""
    assert _round_trips("\n\n  \n") == ""
    assert _round_trips("# only\n\n\n# comments") == "# only\n\n# comments\n"


def test_empty_action_blocks_keep_their_comments():
    assert _round_trips("action A on B {  # open\n}  # close\n") == "action A on B {  # open\n}  # close\n"
    assert _round_trips("action A on B {\n\n # in\n\n}\n") == "action A on B {\n  # in\n}\n"
    assert _round_trips("action A on B {} # c\n") == "action A on B {}  # c\n"


def test_a_constant_group_element_keeps_its_tight_dot():
    # `D4.r . x` parses as D4 . (r . x); fmt prints `A.B . X` where the source wrote that first `.` tight
    assert _round_trips("law l: f(D4.r . x) == D4.r.f(x)\n") == "law l: f(D4.r . x) == D4.r . f(x)\n"
    assert _round_trips("law w: f(D4.r.D4.s.x)==D4.r . D4.s . f(x)\n") == "law w: f(D4.r . D4.s . x) == D4.r . D4.s . f(x)\n"
    assert _round_trips("law n: -D4.r.x == x and not U.u3 . y\n") == "law n: -D4.r . x == x and not U.u3 . y\n"
    assert _round_trips("law p: f(D4.r . (a + b)) == D4.r.s.x\n") == "law p: f(D4.r . (a + b)) == D4.r . s . x\n"
    # a space (or a tab, a bracket, a line break) on either side of the `.`: an action of g on (h . x), spaced
    assert _round_trips("law s: g . h . x == g .h.x\n") == "law s: g . h . x == g . h . x\n"
    assert _round_trips("law t: f(D4\t.r . x) == D4.\tr . (D4).r.x\n") == "law t: f(D4 . r . x) == D4 . r . D4 . r . x\n"
    assert _round_trips("law u: D4.(r . x) == (D4.r) . x\n") == "law u: D4 . r . x == (D4 . r) . x\n"
    assert _round_trips("law v: f(D4.r . x) == D4.r . f(x)\r\n") == "law v: f(D4.r . x) == D4.r . f(x)\r\n"


def test_comments_in_every_position():
    # inside a multi-line call, inside options, after options, in a composed entry, with tabs and form feeds
    text = (
        "law l: f(a,  # c1\n  b) == f(b, # c2\n a)  # end\n"
        "law o: f(a) == f(a) [weight 0.5,  # w\n tol 1e-3]\t# after\n"
        "action U on Zp {\n u -> compose(shift(-1),  # a\n\tscale(3), # b\n shift(1))  # u\n}\n"
        "\t# tab own\n\f# form feed\n"
        "law q: f(a) == f(a)  ##  double # hash"
    )
    assert _round_trips(text) == (
        "# c1\n# c2\nlaw l: f(a, b) == f(b, a)  # end\n"
        "# w\nlaw o: f(a) == f(a) [weight 0.5, tol 1e-3]  # after\n"
        "action U on Zp {\n  # a\n  # b\n  u -> compose(shift(-1), scale(3), shift(1))  # u\n}\n"
        "# tab own\n# form feed\n"
        "law q: f(a) == f(a)  ##  double # hash\n"
    )
    # CRLF with a byte-order mark and a last line without its newline
    assert _round_trips("\ufeffspec a\r\naction G on D {  # o\r\n r -> flip(dim=0)}\r\n# last") == (
        "\ufeffspec a\r\naction G on D {  # o\r\n  r -> flip(dim=0)\r\n}\r\n# last\r\n"
    )


def test_a_comment_inside_an_entry_spanning_lines_goes_above_that_entry():
    # the end of r's line is inside s (and the `{` line inside r): it was kept after r (or after the `{`)
    text = "action G on D { r -> flip(  # in r\n dim=0), s -> flip(  # in s\n dim=1), t -> a  # t\n}\n"
    assert _round_trips(text) == (
        "action G on D {\n  # in r\n  r -> flip(dim=0)\n  # in s\n  s -> flip(dim=1)\n  t -> a  # t\n}\n"
    )


def test_the_new_language_forms_layout():
    text = (
        "group E=symmetric(N)x O(3)\ngroup L = SO(1,3)\naction E on Mat by matrix(dims=(-2,-1))\n"
        "action E on D by identity\naction S on Lab by relabel(2,0,1)\n"
        "law u: forall u:units(p). mul(a,b*u)==mul(a,b)*u\n"
        "law r: forall t:real(-1.5,2), k:real. f(x+t)==f(x) and f(k*x)==k*f(x)\n"
        "law t: cmp(i,a,j)==lt and cmp(j,a,k)==lt=>cmp(i,a,k)==lt\nlaw n: cmp(i,a,j)==-cmp(j,a,i)\n"
    )
    assert _round_trips(text) == (
        "group E = symmetric(N) x O(3)\ngroup L = SO(1, 3)\naction E on Mat by matrix(dims=(-2, -1))\n"
        "action E on D by identity\naction S on Lab by relabel(2, 0, 1)\n"
        "law u: forall u: units(p). mul(a, b * u) == mul(a, b) * u\n"
        "law r: forall t: real(-1.5, 2), k: real. f(x + t) == f(x) and f(k * x) == k * f(x)\n"
        "law t: cmp(i, a, j) == lt and cmp(j, a, k) == lt => cmp(i, a, k) == lt\nlaw n: cmp(i, a, j) == -cmp(j, a, i)\n"
    )


def test_deep_nesting_is_refused_not_a_traceback():
    deep = "law l: f(a) == " + "f(" * 3000 + "a" + ")" * 3000 + "\n"
    with pytest.raises(SpecError, match="nests too deeply"):
        format_source(deep, "deep.sym")
    nested = "law l: f(a) == " + "f(" * 200 + "a" + ")" * 200 + "\n"  # past check's 64 levels, yet syntax: formatted
    assert _round_trips(nested) == nested


def test_a_syntax_error_is_refused_with_its_position():
    with pytest.raises(SpecSyntaxError) as err:
        format_source("spec a\nlaw l: f(a == \n", "bad.sym")
    assert str(err.value.diagnostics[0].span).startswith("bad.sym:2:")


def test_unknown_syntax_is_refused_not_dropped():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Compose(ast.Node):  # syntax another change might add to the AST
        first: object
        second: object

    tree = parse("action G on D { r -> shift(1) }\n", "new.sym")
    action = tree.statements[0]
    gen = action.maps[0]
    span = Span("new.sym", 1, 22, 1, 30)
    odd = dataclasses.replace(gen, transform=Compose(span, gen.transform, gen.transform))
    tree = dataclasses.replace(tree, statements=(dataclasses.replace(action, maps=(odd,)),))
    with pytest.raises(FormatError, match="fmt cannot print Compose nodes") as err:
        _check_known(tree, {"new.sym": "action G on D { r -> shift(1) }\n"})
    assert err.value.diagnostics[0].span == span


_REFERENCE = Lark(grammar_text(), parser="lalr", lexer="contextual")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    from_lark(_REFERENCE, explicit={"_NL": st.sampled_from(["\n", "\n\n", "  # a note\n", "\n# own line\n\n"])}),
)
def test_fmt_round_trips_grammar_generated_text(text):
    try:
        parse(text, "g.sym")
    except SpecSyntaxError:  # a literal out of range: refused as check refuses it
        with pytest.raises(SpecError):
            format_source(text, "g.sym")
        return
    _round_trips(text, "g.sym")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CORPUS), st.data())
def test_comments_anywhere_in_corpus_specs_are_kept(path, data):
    # every line end of a valid file may take a comment, and every line break a full-line comment
    lines = _text(path).split("\n")
    out = []
    for i, line in enumerate(lines):
        if i and data.draw(st.booleans(), label=f"own line before {i + 1}"):
            out.append(data.draw(st.sampled_from(["# own", "  # indented own", "\t# tab"])) + f" {i}")
        if data.draw(st.booleans(), label=f"end of line {i + 1}"):
            line = line.removesuffix("\r") + f" # end {i}" + ("\r" if line.endswith("\r") else "")
        out.append(line)
    _round_trips("\n".join(out), path.name)


def test_fmt_round_trips_wellformed_specs():
    from wellformed import specs

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(specs())
    def run(text):
        _round_trips(text, "w.sym")

    run()


# ---- the command


def _fmt(argv, capsys, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8"))))
    code = main(["fmt", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_exit_codes_and_in_place_writes(tmp_path, capsys):
    messy = tmp_path / "messy.sym"
    tidy = tmp_path / "tidy.sym"
    messy.write_text("spec  m\nlaw l:f(a)==f(a)   # same\n", encoding="utf-8")
    tidy.write_text("spec t\n", encoding="utf-8")
    code, _, err = _fmt(["--check", str(messy), str(tidy)], capsys)
    assert code == 1 and f"would reformat {messy}" in err and str(tidy) not in err
    assert messy.read_text(encoding="utf-8") == "spec  m\nlaw l:f(a)==f(a)   # same\n"  # --check writes nothing
    code, out, _ = _fmt(["--diff", str(messy)], capsys)
    assert code == 0 and "-law l:f(a)==f(a)   # same" in out and "+law l: f(a) == f(a)  # same" in out
    assert messy.read_text(encoding="utf-8").startswith("spec  m")
    code, _, err = _fmt([str(messy), str(tidy)], capsys)
    assert code == 0 and f"reformatted {messy}" in err
    assert messy.read_text(encoding="utf-8") == "spec m\nlaw l: f(a) == f(a)  # same\n"
    assert _fmt(["--check", str(messy), str(tidy)], capsys)[0] == 0


def test_a_file_with_a_syntax_error_is_never_rewritten(tmp_path, capsys):
    bad = tmp_path / "bad.sym"
    original = "spec  b\nlaw l: f(a == \n"
    bad.write_text(original, encoding="utf-8")
    code, _, err = _fmt([str(bad)], capsys)
    assert code == 1 and f"{bad}:2:" in err
    assert bad.read_text(encoding="utf-8") == original
    assert _fmt(["--check", str(bad)], capsys)[0] == 1
    assert _fmt([str(tmp_path / "missing.sym")], capsys)[0] == 2


def test_standard_input_to_standard_output(capsys, monkeypatch):
    code, out, _ = _fmt(["-"], capsys, stdin="spec   s # c\n", monkeypatch=monkeypatch)
    assert code == 0 and out == "spec s  # c\n"
