"""Parser: AST shapes, spans, precedence, the grammar file and its build."""

from __future__ import annotations

import pytest
from lark import Lark

from symspec.errors import SpecSyntaxError
from symspec.syntax import ast, grammar_text, parse


def law_body(text: str):
    tree = parse(text)
    return next(s for s in tree.statements if isinstance(s, ast.LawDecl))


def test_grammar_builds_strict_lalr_without_conflicts():
    Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True)


def test_grammar_is_the_repository_file():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1] / "grammars" / "symspec.lark"
    assert grammar_text() == repo.read_text(encoding="utf-8")


def test_spans_are_one_based_and_end_exclusive():
    tree = parse("domain Zp = cyclic(113)\n", "f.sym")
    decl = tree.statements[0]
    assert isinstance(decl, ast.DomainDecl)
    assert (decl.span.file, decl.span.line, decl.span.column) == ("f.sym", 1, 1)
    assert (decl.name.span.column, decl.name.span.end_column) == (8, 10)
    assert isinstance(decl.type, ast.Call) and decl.type.func.name == "cyclic"
    assert decl.type.span.end_column == 24


def test_every_node_has_a_span():
    text = open(__file__.replace("test_parser.py", "specs/valid/presentations.sym"), encoding="utf-8").read()
    for node in ast.walk(parse(text, "p.sym")):
        assert node.span.line >= 1 and node.span.column >= 1


def test_not_binds_tighter_than_comparison():
    law = law_body("law a: gt(a, b) == not gt(b, a)")
    assert isinstance(law.body, ast.Compare)
    assert isinstance(law.body.operands[1], ast.Not)


def test_implication_is_right_associative_and_loosest():
    law = law_body("law t: p(a) and p(b) => p(c) => p(d)")
    assert isinstance(law.body, ast.Logic) and law.body.op == "=>"
    assert isinstance(law.body.left, ast.Logic) and law.body.left.op == "and"
    assert isinstance(law.body.right, ast.Logic) and law.body.right.op == "=>"


def test_or_is_looser_than_and():
    law = law_body("law t: p(a) or p(b) and p(c)")
    assert law.body.op == "or" and law.body.right.op == "and"


def test_action_is_right_associative_and_tighter_than_arithmetic():
    law = law_body("law e: forall p: P, r: R. f(p . r . x) == p . f(x) + k")
    inner = law.body.operands[0].args[0]
    assert isinstance(inner, ast.Act) and isinstance(inner.operand, ast.Act)
    rhs = law.body.operands[1]
    assert isinstance(rhs, ast.BinOp) and isinstance(rhs.left, ast.Act)


def test_arithmetic_precedence():
    law = law_body("law m: f(a + b * c - d) == f(-a)")
    arg = law.body.operands[0].args[0]
    assert arg.op == "-" and arg.left.op == "+" and arg.left.right.op == "*"
    assert isinstance(law.body.operands[1].args[0], ast.Neg)


def test_chained_comparison_in_guard():
    law = law_body("law bt: g(a, c) == sigmoid(logit(g(a, b)) + logit(g(b, c))) when a > b > c")
    assert isinstance(law.guard, ast.Compare)
    assert law.guard.ops == (">", ">") and len(law.guard.operands) == 3


def test_binders_options_and_reals():
    law = law_body("law q: forall g: E, k: Zp. f(g . x) == g . f(x) [weight 0.1, tol 1e-4, samples 3]")
    assert [b.var.name for b in law.binders] == ["g", "k"]
    opts = {o.name.name: o.value for o in law.options}
    assert opts["weight"].value == pytest.approx(0.1) and opts["tol"].text == "1e-4" and opts["samples"].value == 3


def test_presentation_structure():
    tree = parse("group D = <r, s | r^4, s^2, (s r)^2, r s = s r^-1, 1 = r^4>")
    pres = tree.statements[0].expr
    assert [g.name for g in pres.generators] == ["r", "s"]
    r4, s2, sr2, eq, ident = pres.relators
    assert r4.lhs.powers[0].exponent == 4 and r4.rhs is None
    assert isinstance(sr2.lhs.powers[0].base, ast.Word) and sr2.lhs.powers[0].exponent == 2
    assert eq.rhs.powers[1].exponent == -1
    assert ident.lhs.powers == ()


def test_direct_product_flattens():
    tree = parse("group E = A x B x cyclic(3)")
    prod = tree.statements[0].expr
    assert isinstance(prod, ast.GroupProduct) and len(prod.factors) == 3


def test_x_is_a_name_outside_products():
    tree = parse("group x = x x y\nlaw l: f(x) == f(x)\n")
    assert tree.statements[0].name.name == "x"
    assert [f.name for f in tree.statements[0].expr.factors] == ["x", "y"]


def test_newlines_inside_brackets_are_joined():
    tree = parse("model f(a: Zp,\n  b: Zp) -> class(Zp)\n")
    assert len(tree.statements[0].params) == 2


def test_action_block_accepts_commas_and_newlines():
    tree = parse("action D on I { r -> rot90(dims=(-2, -1)), s -> flip(dim=-1)\n t -> negate\n}\n")
    assert [m.generator.name for m in tree.statements[0].maps] == ["r", "s", "t"]
    assert isinstance(tree.statements[0].maps[2].transform, ast.Name)


def test_several_syntax_errors_are_collected_in_order():
    text = "domain A = cyclic(3\nlwa x: f(a)\nlaw y: f(a) = f(b)\n"
    with pytest.raises(SpecSyntaxError) as info:
        parse(text, "s.sym")
    lines = [d.span.line for d in info.value.diagnostics]
    assert lines == sorted(lines) and lines == [1, 2, 3]


def test_lark_messages_never_reach_the_user():
    with pytest.raises(SpecSyntaxError) as info:
        parse("law l: f(a) == == f(b)\n")
    text = str(info.value)
    assert "Token(" not in text and "Unexpected token" not in text and "$END" not in text


def test_empty_and_comment_only_files_parse():
    assert parse("").statements == ()
    assert parse("# only a comment").statements == ()


# ---- the fast engine against lark's own parser ------------------------------------

from conftest import EXAMPLES, VALID  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.extra.lark import from_lark  # noqa: E402

_REFERENCE = Lark(grammar_text(), parser="lalr", lexer="contextual")


def _outcome(text: str, engine: str):
    try:
        return parse(text, "d.sym", engine=engine)
    except SpecSyntaxError as err:
        return [(d.span, d.message) for d in err.diagnostics]


@pytest.mark.parametrize("path", [*EXAMPLES, *VALID], ids=lambda p: p.name)
def test_fast_engine_builds_the_same_ast_as_lark(path):
    text = path.read_text(encoding="utf-8")
    fast = parse(text, path.name, engine="fast")
    reference = parse(text, path.name, engine="lark")
    assert fast == reference  # every node and every span


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(from_lark(_REFERENCE, explicit={"_NL": __import__("hypothesis").strategies.just("\n")}))
def test_fast_engine_agrees_with_lark_on_generated_text(text):
    assert _outcome(text, "fast") == _outcome(text, "lark")


# Long runs of edges u-v take a shortcut past the parser loop; lists mixing them with
# other items, line breaks, comments, CRLF and errors must still parse as lark does.
_EDGE_ITEMS = [
    "1-2",
    "30 - 4",
    "5 -6",
    "07-008",
    "12345678901234567890-1",
    "3",
    "x",
    "x-1",
    "1.5-2",
    "2-1e3",
    "-4-5",
    "1-2-3",
    "(1-2)",
    "f(1-2, 3-4, 5-6)",
    "$",
    "",
    "9-",
]
_EDGE_SEPS = [", ", ",", " ,", ",\n  ", ", # note\n", ",\r\n", ",\t", ",\n\n", ",\f", ", \r", "\n, "]
_EDGE_CONTEXTS = [
    "graph F = edges({})\n",
    "domain D = tensor[{}]\n",
    "law l: f({}) == g(a)\n",
    "action G on D {{\n  r -> shift({})\n}}\n",
    "prior p: smooth({}) [weight 1]\n",
    "graph F = edges({}\nlaw x: f(a) == f(a)\n",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(__import__("hypothesis").strategies.data())
def test_fast_engine_agrees_with_lark_on_runs_of_edges(data):
    st = __import__("hypothesis").strategies
    n = data.draw(st.integers(0, 40))
    items = [
        data.draw(st.sampled_from(_EDGE_ITEMS[:5]) if data.draw(st.integers(0, 5)) else st.sampled_from(_EDGE_ITEMS))
        for _ in range(n)
    ]
    seps = [
        data.draw(st.sampled_from(_EDGE_SEPS[:2]) if data.draw(st.integers(0, 4)) else st.sampled_from(_EDGE_SEPS))
        for _ in range(n)
    ]
    inner = "".join(i + s for i, s in zip(items, seps))
    if data.draw(st.booleans()):
        inner = inner + "7-8"
    text = data.draw(st.sampled_from(_EDGE_CONTEXTS)).format(inner)
    assert _outcome(text, "fast") == _outcome(text, "lark")


@pytest.mark.parametrize("sep", [", ", ",\n    ", ", # comment\n", ",\r\n\t"])
def test_fast_engine_builds_the_same_ast_as_lark_for_long_edge_lists(sep):
    edges = sep.join(f"{i}-{(7 * i) % 1000}" for i in range(1, 3000))
    text = f"graph F = edges({edges}{sep})\nlaw l: f(1-2, 3-4, 5-6, 7-8, 9-10) == f(a)\n"
    assert parse(text, "e.sym", engine="fast") == parse(text, "e.sym", engine="lark")


@pytest.mark.parametrize("rows", [",\n    ", ", ", ",\r\n  # c\n"], ids=["lines", "one line", "crlf and comments"])
@pytest.mark.parametrize(
    "layout", ["{items}, {bad}", "{items},\n    {bad}", "{items},\n\n{bad}", "{items}, # c\n  # d\n{bad}", "{items}\n{bad}"]
)
@pytest.mark.parametrize("bad", ["3-$", "3 4", "-", ",", "]", "law x: f(a)", "3-4\nlaw", "7-8)\n)", "1-2, 3-4 5-6", "x-"])
def test_errors_after_long_edge_runs_are_described_as_lark_does_from_a_short_window(monkeypatch, rows, layout, bad):
    """Lark describes the error; the edges before it are blanked in what it parses (19 s at 130,000 edges)."""
    from symspec.syntax import parser

    items = rows.join(", ".join(f"{i}-{i + 1}" for i in range(r, r + 10)) for r in range(0, 600, 10))
    text = "spec s\ngraph F = edges(\n    " + layout.format(items=items, bad=bad) + ")\nlaw l: f(a) == f(a)\n"
    lark, _ = parser._parser()
    seen = []
    original = type(lark).parse
    monkeypatch.setattr(type(lark), "parse", lambda self, t, *a, **k: seen.append(t) or original(self, t, *a, **k))
    fast = _outcome(text, "fast")
    assert all(len("".join(t.split())) < 200 for t in seen), [len("".join(t.split())) for t in seen]
    monkeypatch.undo()
    assert fast == _outcome(text, "lark")


def test_unknown_engine_is_rejected():
    with pytest.raises(ValueError):
        parse("", engine="yacc")


def test_unparse_round_trips_every_law_of_the_corpus():
    from symspec.syntax import unparse

    for path in [*EXAMPLES, *VALID]:
        for st in parse(path.read_text(encoding="utf-8"), path.name).statements:
            if not isinstance(st, ast.LawDecl):
                continue
            for expr in filter(None, (st.body, st.guard)):
                text = unparse(expr)
                again = law_body(f"law x: {text}").body
                assert unparse(again) == text, (path.name, text)


def test_unparse_brackets_only_where_needed():
    from symspec.syntax import unparse

    body = law_body("law x: f((a + b) * c, -(a - b)) == not (p(a) and q(b)) => r(a - (b - c))").body
    assert unparse(body) == "f((a + b) * c, -(a - b)) == not (p(a) and q(b)) => r(a - (b - c))"


def test_an_action_on_an_inline_group_hints_at_declaring_it():
    with pytest.raises(SpecSyntaxError) as info:
        parse("domain Mat = tensor[3, 3]\naction O(3) on Mat by matrix(dims=(0, 1))\n", "a.sym")
    hint = info.value.diagnostics[0].hint
    assert hint == "an action names a declared group: declare 'group G = O(...)' first, then 'action G on ...'"
