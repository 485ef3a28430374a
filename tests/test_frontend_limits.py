"""Front-end limits: linear-time parsing and rendering, exact source positions
after unusual line breaks, a UTF-8 byte-order mark, and integer and real
literals that do not fit."""

from __future__ import annotations

import pytest

import symspec
from symspec.errors import SpecError
from symspec.syntax import lalr, parse

# ---- linear time -------------------------------------------------------------------


class _CountingSplice(lalr._Splice):
    """A _Splice that counts every element copied into one."""

    copied = 0

    def __init__(self, items=()):
        items = list(items)
        type(self).copied += len(items)
        super().__init__(items)

    def extend(self, items):
        items = list(items)
        type(self).copied += len(items)
        super().extend(items)


def test_long_lists_are_built_in_linear_time(monkeypatch):
    """A call with n arguments copies O(n) list elements, not O(n^2) (an 80,000-edge line took 84 s)."""
    monkeypatch.setattr(lalr, "_Splice", _CountingSplice)
    _CountingSplice.copied = 0
    n = 4000
    edges = ", ".join(f"{i}-{i + 1}" for i in range(n))
    tree = parse(f"graph F = edges({edges})\n")
    assert len(tree.statements[0].ctor.args) == n
    assert _CountingSplice.copied < 10 * n, _CountingSplice.copied


def _edge_lines(n: int, per_line: int = 12, bad: tuple[int, str] | None = None) -> tuple[str, tuple[int, int]]:
    """``graph F = edges(...)`` with n edges, ``per_line`` a line; edge ``bad[0]`` (from 0) written ``bad[1]``.

    Also returns the line and column of that edge.
    """
    items = [f"{i}-{i + 1}" for i in range(n)]
    where = (0, 0)
    if bad is not None:
        items[bad[0]] = bad[1]
        line, k = divmod(bad[0], per_line)
        where = (2 + line, 5 + sum(len(x) + 2 for x in items[line * per_line : bad[0]]))
    rows = [", ".join(items[i : i + per_line]) for i in range(0, n, per_line)]
    return "graph F = edges(\n    " + ",\n    ".join(rows) + ")\n", where


def test_long_edge_lists_skip_the_parser_loop_and_build_the_same_ast(monkeypatch):
    """A run of edges u-v is appended without the shift-reduce loop once one item showed the pattern."""
    from symspec.syntax.build import AstBuilder

    calls = []
    original = AstBuilder.sub
    monkeypatch.setattr(AstBuilder, "sub", lambda self, span, c: calls.append(1) or original(self, span, c))
    text, _ = _edge_lines(10000)
    tree = parse(text, "e.sym")
    assert len(tree.statements[0].ctor.args) == 10000
    assert len(calls) < 10, len(calls)
    monkeypatch.undo()
    assert tree == parse(text, "e.sym", engine="lark")  # every node and span


def test_a_long_edge_list_costs_under_500_bytes_an_edge():
    """Three nodes and three spans an edge, slotted, node numbers shared (609 bytes an edge before)."""
    import gc
    import tracemalloc

    n = 20000
    items = [f"{(i * 7919) % 5000}-{(i * 104729) % 5000 + 5000}" for i in range(n)]
    text = "graph F = edges(\n    " + ",\n    ".join(", ".join(items[r : r + 12]) for r in range(0, n, 12)) + ")\n"
    parse("graph F = edges(0-1)\n")  # the parser is built before measuring
    gc.collect()
    tracemalloc.start()
    try:
        tree = parse(text, "m.sym")
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(tree.statements[0].ctor.args) == n
    assert kept / n < 500, kept / n


@pytest.mark.parametrize(
    ("bad", "offset", "message"),
    [
        ("7-7", 0, "edge 7-7 is a self-loop"),
        ("3-12345678901234567890", 2, "integer literal 12345678901234567890 is too large (limit 2^63 - 1)"),
        ("3-$", 2, "unexpected character '$'"),
        ("3-x", 2, "unknown name 'x' in an edge's node"),
    ],
)
def test_an_error_deep_in_a_long_edge_list_is_reported_at_its_line_and_column(bad, offset, message):
    """Edge 123,456 of 130,000 (12 a line): the error points at that edge, not at the list."""
    index = 123_455
    text, (line, column) = _edge_lines(130_000, bad=(index, bad))
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "big.sym")
    diag = info.value.errors[0]
    assert diag.message == message
    assert (diag.span.line, diag.span.column) == (line, column + offset)
    assert text.split("\n")[line - 1][column - 1 :].startswith(bad)


# ---- rendering many diagnostics ------------------------------------------------------


def _unknown_domains(n: int) -> str:
    return "domain Zp = cyclic(5)\n" + "".join(f"model m{i}(a: Zq{i}) -> class(Zp)\n" for i in range(n))


def test_a_source_is_split_into_lines_once_however_many_diagnostics():
    """Each diagnostic re-split the whole file when rendered (8,000 errors took 14 s to render)."""
    from symspec import errors

    with pytest.raises(SpecError) as info:
        symspec.loads(_unknown_domains(300), "many.sym")
    errors._line_starts.cache_clear()
    rendered = info.value.render(limit=None)
    assert rendered.count("error: unknown domain") == 300
    assert errors._line_starts.cache_info().misses == 1


def test_a_report_shows_the_first_hundred_diagnostics_and_counts_the_rest():
    with pytest.raises(SpecError) as info:
        symspec.loads(_unknown_domains(130), "many.sym")
    err = info.value
    assert len(err.diagnostics) == 130
    text = str(err)
    assert text.count("error: unknown domain") == 100
    assert "many.sym:101:14: error: unknown domain 'Zq99'" in text
    assert "Zq100'" not in text
    assert text.endswith("... and 30 more errors (not shown; the first 100 are)")
    assert err.render(limit=None).count("error: unknown domain") == 130


def test_a_long_line_is_shown_as_a_window_around_the_span():
    edges = ", ".join(f"{i}-{i + 1}" for i in range(20000))
    with pytest.raises(SpecError) as info:
        symspec.loads(f"graph F = edges({edges}, 5-$)\n", "long.sym")
    diag = info.value.diagnostics[0]
    rendered = info.value.render().split("\n")
    assert rendered[0] == f"long.sym:1:{diag.span.column}: error: unexpected character '$'"
    shown, caret = rendered[1], rendered[2]
    assert len(shown) < 200 and shown.startswith(" 1 | ...") and "5-$)" in shown
    assert shown[caret.index("^")] == "$"


# ---- source positions --------------------------------------------------------------

# Characters str.splitlines() breaks lines at, but the lexer does not: a line is
# ended by "\n" only ("\r\n" included).
_NOT_LINE_BREAKS = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("ch", _NOT_LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_positions_and_snippets_after_characters_that_splitlines_breaks_at(ch):
    text = f"# a {ch} comment {ch}{ch}\ndomain Zp = cyclic(5)\r\nmodel f(a: Zp) -> class(Zq)\n"
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "s.sym")
    (diag,) = info.value.errors
    assert (diag.span.line, diag.span.column) == (3, 25)
    lines = info.value.render().split("\n")
    assert lines[0] == "s.sym:3:25: error: unknown domain 'Zq'"
    assert lines[1] == " 3 | model f(a: Zp) -> class(Zq)"
    assert lines[2] == "   |                         ^^"


@pytest.mark.parametrize("ch", _NOT_LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_the_offending_line_is_shown_with_the_character_as_a_space(ch):
    """A form feed outside a comment is blank space; the others are syntax errors at their column."""
    text = f"domain Zp = cyclic(5)\ndomain A ={ch} cyclic(3)\nmodel f(a: Zp) -> class(Zq)\n"
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "s.sym")
    diag = info.value.errors[0]
    lines = info.value.render(warnings=False).split("\n")
    if ch == "\x0c":
        assert (diag.span.line, diag.span.column) == (3, 25)
    else:
        assert (diag.span.line, diag.span.column) == (2, 11)
        assert diag.message == f"unexpected character U+{ord(ch):04X}"
        assert lines[1] == " 2 | domain A =  cyclic(3)"
        assert lines[2] == "   |           ^"


def test_lexer_lines_count_newlines_only():
    tree = parse("# \u2028 \x0c \x85\r\ndomain\x0cA = cyclic(3)\n\n\x0cdomain B = cyclic(4)\n", "p.sym")
    a, b = tree.statements
    assert (a.span.line, a.span.column, a.name.span.column) == (2, 1, 8)
    assert (b.span.line, b.span.column) == (4, 2)


def test_source_line_counts_newlines_only():
    from symspec.errors import source_line

    text = "a\x0cb\r\nc\u2028d\n\ne"
    assert [source_line(text, i) for i in range(1, 6)] == ["a\x0cb", "c\u2028d", "", "e", None]
    assert source_line("x\n", 2) == "" and source_line("x\n", 3) is None


# ---- a UTF-8 byte-order mark -----------------------------------------------------------

_SPEC = "domain Zp = cyclic(5)\nmodel f(a: Zp) -> class(Zp)\nlaw l: f(a) == f(a)\n"


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.sym"
    path.write_bytes(b"\xef\xbb\xbf" + _SPEC.encode())
    assert set(symspec.load(path).laws) == {"l"}
    assert set(symspec.loads("\ufeff" + _SPEC).laws) == {"l"}
    assert parse("\ufeff" + _SPEC) == parse(_SPEC)


def test_positions_on_line_one_count_from_after_the_byte_order_mark(tmp_path):
    path = tmp_path / "bom.sym"
    path.write_bytes(b"\xef\xbb\xbfdomain Zp = cyclc(5)\n")
    with pytest.raises(SpecError) as info:
        symspec.load(path)
    lines = str(info.value).split("\n")
    assert lines[0] == f"{path}:1:13: error: unknown domain constructor 'cyclc'"
    assert lines[1:3] == [" 1 | domain Zp = cyclc(5)", "   |             ^^^^^"]


# ---- literals that do not fit ------------------------------------------------------------


@pytest.mark.parametrize(
    "literal",
    ["9223372036854775808", "18446744073709551616", "1267650600228229401496703205376", "00009223372036854775808"],
)
def test_integer_literals_beyond_int64_are_errors_at_their_span(literal):
    text = f"domain Zp = cyclic(5)\nparam p = {literal}\nparam q = -{literal}\n"
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "i.sym")
    first, second = info.value.errors
    assert (first.span.line, first.span.column, first.span.end_column) == (2, 11, 11 + len(literal))
    assert (second.span.line, second.span.column) == (3, 12)
    assert first.message == f"integer literal {literal} is too large (limit 2^63 - 1)"
    assert first.hint == "integers in a spec fit in 64 bits: at most 9223372036854775807"


@pytest.mark.parametrize("where", ["param p = {}", "domain D = cyclic({})", "group G = <r | r^{}>", "law l: f(a + {}) == f(a)"])
def test_an_integer_literal_over_4300_digits_is_an_error_with_its_digits_abbreviated(where):
    """Python refuses int() of over 4,300 digits: a ValueError escaped from the parser."""
    literal = "7" * 5000
    with pytest.raises(SpecError) as info:
        symspec.loads(where.format(literal) + "\n", "i.sym")
    (diag,) = [d for d in info.value.errors if "literal" in d.message]
    assert diag.message == f"integer literal {'7' * 20}...{'7' * 10} (5000 digits) is too large (limit 2^63 - 1)"
    assert diag.span.end_column - diag.span.column == 5000
    assert len(str(info.value)) < 2000


def test_the_largest_integer_literals_are_accepted():
    tree = parse("param p = 9223372036854775807\nparam q = -9223372036854775807\nparam r = 000000000000000000000000042\n")
    assert [s.value for s in tree.statements] == [2**63 - 1, -(2**63 - 1), 42]


@pytest.mark.parametrize(
    "literal",
    [
        "1e400",
        "1e99999999999999999999",
        "1" * 400 + ".0",
        "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792.0",
    ],
)
def test_a_real_literal_that_overflows_to_infinity_is_an_error_at_its_span(literal):
    text = f"domain Zp = cyclic(5)\nmodel f(a: Zp) -> class(Zp)\nlaw l: f(a) == f(a) [weight {literal}]\nlaw m: f(a) == f(a) [tol -{literal}]\n"
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "r.sym")
    first, second = info.value.errors
    assert (first.span.line, first.span.column, first.span.end_column) == (3, 29, 29 + len(literal))
    assert (second.span.line, second.span.column) == (4, 27)
    assert first.message.startswith("number ") and first.message.endswith(" is too large: it is infinite as a 64-bit float")


def test_tiny_and_largest_finite_reals_are_accepted():
    law = parse("law l: f(a) == f(a) [tol 1e-400, weight 1.7976931348623157e308]\n").statements[0]
    assert [o.value.value for o in law.options] == [0.0, 1.7976931348623157e308]


def test_literal_errors_are_reported_with_syntax_errors():
    text = "law l: f(a) == f(a)(\nparam p = 99999999999999999999\n"
    with pytest.raises(SpecError) as info:
        parse(text, "m.sym")
    assert [(d.span.line, d.span.column) for d in info.value.diagnostics] == [(1, 20), (2, 11)]


@pytest.mark.parametrize("engine", ["fast", "lark"])
def test_both_engines_reject_the_same_literals(engine):
    with pytest.raises(SpecError) as info:
        parse("param p = 9223372036854775808\nlaw l: f(a) == f(a) [weight 2e308]\n", "e.sym", engine=engine)
    assert [(d.span.line, d.span.column) for d in info.value.diagnostics] == [(1, 11), (2, 29)]


# ---- recovery from many syntax errors ------------------------------------------------------


def test_recovery_from_many_syntax_errors_parses_each_statement_a_bounded_number_of_times(monkeypatch):
    """After each syntax error the whole prefix was parsed again, by both engines (250 kB with 43 errors: 50 s)."""
    from symspec.syntax import parser

    _, joiner = parser._parser()
    seen = []
    real = joiner.process

    def counting(stream):
        for tok in real(stream):
            seen.append(tok)
            yield tok

    monkeypatch.setattr(joiner, "process", counting)
    block = "domain Z{i} = cyclic(7)\nmodel f{i}(a: Z{i}) -> class(Z{i})\nlaw c{i}: f{i}(a) == f{i}(a + 1){bad}\n"
    text = "".join(block.format(i=i, bad=" )" if i % 5 == 4 else "") for i in range(200))
    with pytest.raises(SpecError) as info:
        parse(text, "many.sym")
    assert [d.span.line for d in info.value.diagnostics] == [3 * i + 3 for i in range(4, 200, 5)]
    tokens = len(parser.lalr._SCAN.findall(text))
    assert len(seen) < tokens, (len(seen), tokens)  # lark lexes each statement in error, not the file 40 times


@pytest.mark.parametrize("engine", ["fast", "lark"])
def test_literal_errors_before_a_syntax_error_are_reported(engine):
    text = "param p = 99999999999999999999\nlaw m: f(a) == f(a) [tol 1e999]\nlaw l: f(a) == f(a)(\nparam r = 2\n"
    with pytest.raises(SpecError) as info:
        parse(text, "m.sym", engine=engine)
    assert [(d.span.line, d.span.column) for d in info.value.diagnostics] == [(1, 11), (2, 26), (3, 20)]


# ---- collecting many errors ----------------------------------------------------------------


def test_an_unknown_name_does_not_scan_every_declared_symbol(monkeypatch):
    """Each unknown domain listed every symbol to suggest a name: 8,000 such lines took 8 s (24 s profiled)."""
    from symspec.analysis import scope

    class CountingValues(dict):
        scans = 0

        def items(self):
            type(self).scans += 1
            return super().items()

    real_init = scope.SymbolTable.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.values = CountingValues(self.values)

    monkeypatch.setattr(scope.SymbolTable, "__init__", init)
    with pytest.raises(SpecError) as info:
        symspec.loads(_unknown_domains(300), "many.sym")
    assert len(info.value.errors) == 300
    assert CountingValues.scans < 10, CountingValues.scans


def test_asking_for_the_errors_so_far_does_not_scan_every_diagnostic():
    """The analysis asks after each law; the list of errors was rebuilt from all diagnostics each time."""
    from symspec.analysis.scope import Reporter

    class CountingList(list):
        scans = 0

        def __iter__(self):
            type(self).scans += 1
            return super().__iter__()

    reporter = Reporter()
    reporter.diagnostics = CountingList()
    for i in range(50):
        reporter.error(f"e{i}", None)
        reporter.warning(f"w{i}", None)
        assert len(reporter.errors) == i + 1
    assert [d.message for d in reporter.errors] == [f"e{i}" for i in range(50)]
    assert CountingList.scans == 0


def test_fuzzy_suggestions_stop_past_a_thousand_candidates(monkeypatch):
    """Each unknown name was compared with every candidate: 2,000 unknown calls among 2,000 models took 37 s."""
    import difflib

    from symspec.analysis import scope

    calls = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda *a, **k: calls.append(a) or real(*a, **k))
    many = [f"model{i}" for i in range(scope.MAX_FUZZY_CANDIDATES + 1)]
    assert scope.suggest("MODEL7", many) == "model7"  # a match ignoring case is still offered
    assert scope.suggest("modle7", many) is None and calls == []
    assert scope.suggest("modle7", many[:50]) == "model7" and len(calls) == 1


# ---- graphs from long edge lists ----------------------------------------------------------


def test_an_edge_list_graph_has_the_adjacency_networkx_gives_it():
    """edges(...) is built without networkx (3 s and 1 KB an edge at 150,000 edges): same nodes and neighbours."""
    import random

    import networkx as nx

    from symspec.analysis.graphs import build_graph
    from symspec.analysis.structures import GraphDef

    rnd = random.Random(5)
    edges = {tuple(sorted(rnd.sample(range(300), 2))) for _ in range(900)}
    edges = tuple((v, u) if rnd.random() < 0.5 else (u, v) for u, v in sorted(edges))
    definition = GraphDef("G", "edges", (), 302, edges, None)  # nodes 300 and 301: isolated
    built = build_graph(definition)
    g = nx.Graph()
    g.add_nodes_from(range(302))
    g.add_edges_from(edges)
    assert built.labels == sorted(g.nodes)
    assert built.adjacency == [sorted(g.adj[u]) for u in sorted(g.nodes)]
    assert built.num_edges == len(edges)
