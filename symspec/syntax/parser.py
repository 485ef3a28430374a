"""Parse .sym text into the AST, with human error messages and recovery.

The grammar lives in ``grammars/symspec.lark`` (shipped in the wheel as
``symspec/grammars/symspec.lark``).  One LALR parser is built per process,
lazily, with lark's on-disk cache.  On a syntax error we record a
diagnostic, blank out the offending statement (keeping line numbers) and
parse again, so one run reports every broken statement.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import Diagnostic, Span, SpecSyntaxError
from . import ast, lalr
from .build import AstBuilder

__all__ = ["parse", "decode", "grammar_text", "STATEMENT_KEYWORDS"]

STATEMENT_KEYWORDS = ("spec", "param", "domain", "graph", "group", "action", "model", "law", "layer", "prior", "break")
_MAX_SYNTAX_ERRORS = 50
_OPENERS = {"LPAR": ("RPAR", "("), "LSQB": ("RSQB", "["), "LBRACE": ("RBRACE", "{")}
_CLOSERS = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE"}


def grammar_text() -> str:
    """The text of the one grammar, read from the installed package."""
    try:
        return resources.files("symspec.grammars").joinpath("symspec.lark").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):  # a source tree that was never installed
        return (Path(__file__).resolve().parents[2] / "grammars" / "symspec.lark").read_text(encoding="utf-8")


class _LineJoiner:
    """Post-lexer: drops newlines inside ( ) and [ ], and remembers open brackets."""

    always_accept = ("_NL",)

    def __init__(self) -> None:
        self.open: list[Token] = []
        self.history: list[Token] = []

    def process(self, stream):
        self.open = []
        self.history = []
        for tok in stream:
            kind = tok.type
            if kind in _OPENERS:
                self.open.append(tok)
            elif kind in _CLOSERS:
                if self.open and self.open[-1].type == _CLOSERS[kind]:
                    self.open.pop()
            elif kind == "_NL" and self.open and self.open[-1].type != "LBRACE":
                continue
            self.history = [*self.history[-1:], tok]
            yield tok


class _ToAst(Transformer):
    """Adapter for the lark engine: lark's parse tree -> the shared AstBuilder."""

    def __init__(self, builder: AstBuilder):
        super().__init__()
        self.builder = builder

    def __default__(self, data, children, meta):
        span = None if meta.empty else Span(self.builder.file, meta.line, meta.column, meta.end_line, meta.end_column)
        return getattr(self.builder, data)(span, children)


@lru_cache(maxsize=1)
def _tables() -> lalr.Tables:
    return lalr.compile_tables(_parser()[0])


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _LineJoiner]:
    joiner = _LineJoiner()
    lark = Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        strict=True,
        propagate_positions=True,
        maybe_placeholders=True,
        postlex=joiner,
        cache=True,
    )
    return lark, joiner


# ---- syntax errors -----------------------------------------------------------------

_NAMED = {
    "NAME": "a name",
    "INT": "an integer",
    "REAL": "a number",
    "COMPARE": "a comparison",
    "_NL": "end of line",
    "$END": "end of file",
}


def _terminal_text(lark: Lark, name: str) -> str:
    if name in _NAMED:
        return _NAMED[name]
    try:
        pattern = lark.get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"'{pattern.value}'"
    return name.lower()


def _expected_text(lark: Lark, expected) -> str:
    names = set(expected)
    words = {_terminal_text(lark, n) for n in names}
    if {"'spec'", "'law'", "'model'"} <= words:
        words -= {f"'{k}'" for k in STATEMENT_KEYWORDS}
        words.add("a statement")
    if {"a name", "an integer", "'('"} <= words:
        words -= {"a name", "an integer", "'('", "a number", "'-'", "'not'"}
        words.add("an expression")
    if {"'+'", "'-'", "'*'"} <= words:
        words -= {"'+'", "'-'", "'*'", "'.'", "a comparison", "'and'", "'or'", "'=>'"}
        words.add("an operator")
    order = sorted(words, key=lambda w: (w.startswith("'"), w))
    if not order:
        return "something else"
    if len(order) > 6:
        order = order[:6] + ["..."]
    if len(order) == 1:
        return order[0]
    return ", ".join(order[:-1]) + " or " + order[-1]


def _found_text(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "NAME":
        return f"name '{tok}'"
    if tok.type == "INT":
        return f"integer {tok}"
    if tok.type == "REAL":
        return f"number {tok}"
    return f"'{tok}'"


def _keyword_hint(word: str) -> str:
    close = difflib.get_close_matches(word, STATEMENT_KEYWORDS, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "a statement starts with one of: " + ", ".join(STATEMENT_KEYWORDS)


def _end_of(tok: Token) -> tuple[int, int]:
    return tok.end_line, tok.end_column


def _first_on_line(tok: Token, lines: _Lines) -> bool:
    line = lines[tok.line - 1] if 0 < tok.line <= len(lines) else ""
    return not line[: tok.column - 1].strip()


def _syntax_diagnostic(
    err: UnexpectedInput, text: str, file: str, lark: Lark, joiner: _LineJoiner, lines: _Lines
) -> tuple[Diagnostic, int, int]:
    """The diagnostic for one lark error, and the lines of the statement in error to skip."""
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        span = Span(file, err.line, err.column, err.line, err.column + 1)
        hint = None
        if ch and not ch.isascii():
            hint = "names use ASCII letters, digits and '_' only"
        elif err.allowed:
            hint = "expected " + _expected_text(lark, err.allowed)
        shown = repr(ch) if ch and ch.isprintable() else f"U+{ord(ch):04X}" if ch else "end of file"
        diag = Diagnostic(f"unexpected character {shown}", span, hint, kind="syntax")
        return diag, _statement_start(lines, err.line), _next_statement(lines, err.line) - 1

    assert isinstance(err, UnexpectedToken)
    tok = err.token
    expected = err.expected or set()
    prev = joiner.history[-2] if len(joiner.history) >= 2 else None
    still_open = list(joiner.open)
    if still_open and getattr(still_open[-1], "start_pos", None) == getattr(tok, "start_pos", -1):
        still_open.pop()  # the unexpected token is itself an opening bracket
    opened = still_open[-1] if still_open else None
    if opened is not None and opened.type in ("LPAR", "LSQB"):  # LALR merges ( ) and [ ] states
        expected = (set(expected) - {"RSQB" if opened.type == "LPAR" else "RPAR"}) or set(expected)
    at_end = tok.type == "$END"
    starts_line = not at_end and _first_on_line(tok, lines)

    # a block left open: report it at its '{', resume at the statement that follows
    if opened is not None and opened.type == "LBRACE" and (at_end or (starts_line and str(tok) in STATEMENT_KEYWORDS)):
        span = Span(file, opened.line, opened.column, opened.line, opened.column + 1)
        where = "at the end of the file" if at_end else f"before line {tok.line}"
        diag = Diagnostic("unterminated block: this '{' is never closed", span, f"add '}}' {where}", kind="syntax")
        last = len(lines) if at_end else tok.line - 1
        return diag, _statement_start(lines, opened.line), last

    # a bracket left open: the line ended inside it
    if opened is not None and prev is not None and (at_end or tok.line > prev.end_line):
        line_no, col = prev.end_line, prev.end_column
        span = Span(file, line_no, col, line_no, col + 1)
        closer, opener = _OPENERS[opened.type]
        message = f"unexpected end of line; expected {_expected_text(lark, expected)}"
        hint = f"expected '{_terminal_text(lark, closer)[1:-1]}' to close the '{opener}' opened at {opened.line}:{opened.column}"
        diag = Diagnostic(message, span, hint, kind="syntax")
        last = (tok.line - 1 if starts_line else tok.line) if not at_end else len(lines)
        return diag, _statement_start(lines, opened.line), last

    if at_end:
        last = len(lines)
        while last > 1 and lines.blank_in_source(last):
            last -= 1
        line = lines.all[last - 1]
        span = Span(file, last, len(line) + 1, last, len(line) + 2)
        found = "end of file"
    else:
        span = Span(file, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + 1)
        found = _found_text(tok)

    hint = None
    closer = _OPENERS[opened.type][0] if opened is not None else None
    if closer is not None and closer in expected:
        hint = f"expected '{_terminal_text(lark, closer)[1:-1]}' to close the '{_OPENERS[opened.type][1]}' opened at {opened.line}:{opened.column}"
    elif tok.type == "NAME" and {"SPEC", "LAW"} <= set(expected):
        hint = _keyword_hint(str(tok))
    elif str(tok) == "=" and "COMPARE" in expected:
        hint = "use '==' to compare"
    elif not at_end and str(tok) == "(" and len(before := lines.all[tok.line - 1][: tok.column - 1].split()) == 2:
        if before[0] == "action":  # action O(3) on ...: an action names a declared group
            hint = f"an action names a declared group: declare 'group G = {before[1]}(...)' first, then 'action G on ...'"
    elif str(tok) in STATEMENT_KEYWORDS and starts_line and "_NL" not in expected:
        hint = "the statement before this line is incomplete"
    elif not at_end:
        hint = _law_hint(lines.all[tok.line - 1][: tok.column - 1], str(tok), lines[_statement_start(lines, tok.line) - 1])
    diag = Diagnostic(f"unexpected {found}; expected {_expected_text(lark, expected)}", span, hint, kind="syntax")
    if at_end:
        return diag, len(lines), len(lines)
    first = tok.line if starts_line and str(tok) in STATEMENT_KEYWORDS else _statement_start(lines, tok.line)
    return diag, first, _next_statement(lines, tok.line) - 1


def _law_hint(before: str, token: str, statement: str) -> str | None:
    """Hints for two slips inside a law: binders not closed by '.', and '->' written for the implication '=>'."""
    if statement.split(None, 1)[:1] != ["law"]:
        return None
    if token == ">" and before.rstrip().endswith("-"):
        return "an implication is written '=>': law l: premise => conclusion"
    binders = re.search(r"\bforall\b(.*)$", re.sub(r"\d+\.\d*|\.\d+", "0", before))
    if binders and "." not in binders.group(1) and ":" in binders.group(1):
        return f"end the binders with '.': '{(before.rstrip() + '.').lstrip()} {token} ...'"
    return None


def _statement_start(lines: _Lines, line: int) -> int:
    for i in range(min(line, len(lines)), lines.done, -1):
        words = lines[i - 1].split(None, 1)
        if words and words[0] in STATEMENT_KEYWORDS:
            return i
    return line


def _next_statement(lines: _Lines, line: int) -> int:
    for i in range(line + 1, len(lines) + 1):
        words = lines[i - 1].split(None, 1)
        if words and words[0] in STATEMENT_KEYWORDS:
            return i
    return len(lines) + 1


def _parse_once(text: str, file: str, engine: str) -> tuple[ast.SpecFile, list[Diagnostic]]:
    """Parse valid text, with the literals that do not fit; raise lark's UnexpectedInput for invalid text."""
    result = None
    lark, _ = _parser()
    if engine == "fast":
        builder = AstBuilder(file)
        try:
            result = lalr.run(_tables(), text, builder)
        except lalr.Rejected as rejected:
            # Let lark find and describe the error, parsing only from the statement in
            # error (earlier lines as empty lines: the same positions), and without the
            # lines of edges the fast engine took whole; parsing the whole prefix again made
            # recovery from many errors slow, and lark took 19 s over 130,000 edges.
            window = rejected.window(text)
            try:
                lark.parse(window)
            except UnexpectedInput as err:
                err.symspec_text = window
                raise
            # lark accepts what the fast engine rejected (a bug): the whole text decides
    if result is None:
        tree = lark.parse(text)
        builder = AstBuilder(file)
        try:
            result = _ToAst(builder).transform(tree)
        except VisitError as err:  # pragma: no cover - a bug in the builder
            raise err.orig_exc from None
    lines = text.count("\n") + 1
    whole = Span(file, 1, 1, lines, len(text) - text.rfind("\n"))  # the file's span is the whole text
    return ast.SpecFile(whole, file, result.statements), builder.diagnostics


def parse(text: str, file: str = "<string>", *, engine: str = "fast") -> ast.SpecFile:
    """Parse .sym text; raise :class:`SpecSyntaxError` with every syntax error found.

    ``engine="fast"`` runs lark's LALR table with symspec's own lexer and
    AST-building loop; ``engine="lark"`` uses lark's own parser and parse
    tree (slower; the reference the fast engine is tested against).  Errors
    are always described by lark's parser.
    """
    if engine not in ("fast", "lark"):
        raise ValueError(f"engine must be 'fast' or 'lark', not {engine!r}")
    lark, joiner = _parser()
    diagnostics: list[Diagnostic] = []
    body = text[1:] if text.startswith("\ufeff") else text  # a UTF-8 byte-order mark: not part of line 1
    body = body if body.endswith("\n") else body + "\n"
    current = body
    result = None
    lines: _Lines | None = None
    while True:
        try:
            result, literals = _parse_once(current, file, engine)
            diagnostics += literals  # integer and real literals that do not fit
            break
        except UnexpectedInput as err:
            if lines is None:
                lines = _Lines(body)
            parsed = getattr(err, "symspec_text", current)  # the text lark parsed
            diag, first, last = _syntax_diagnostic(err, parsed, file, lark, joiner, lines)
            diagnostics.append(diag)
            if len(diagnostics) >= _MAX_SYNTAX_ERRORS or last <= lines.done:
                break
            # Parse again after the statement in error.  What came before it parsed, and
            # no AST is built once there is an error, so the next parse starts after it
            # (lines kept as empty lines for the positions): recovery stays linear in the
            # file's length however many errors it has, not one full parse per error.
            diagnostics += _literal_diagnostics(lines, lines.done + 1, first - 1, file)
            lines.drop(first, last)
            current = "\n" * last + body[lines.offset(last + 1) :]
        except LarkError as err:  # pragma: no cover - lark internals; still never a traceback
            diagnostics.append(Diagnostic(f"could not parse: {err}", Span(file, 1, 1, 1, 2), kind="syntax"))
            break
    if diagnostics:
        raise SpecSyntaxError(_dedupe(diagnostics), {file: text})
    return result


class _Lines:
    """The lines of the text being parsed (split once) and the part already reported.

    Lines ``1 .. done`` are parsed already (valid statements, or statements in
    error, listed in ``dropped``); later parses see them as empty lines.
    """

    def __init__(self, text: str) -> None:
        self.all = text.split("\n")
        self.starts = [0]
        for line in self.all:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.done = 0
        self.dropped: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self.all)

    def __getitem__(self, index: int) -> str:
        """Line ``index + 1`` as the current parse sees it (a list's indexing)."""
        return "" if index < self.done else self.all[index]

    def offset(self, line: int) -> int:
        return self.starts[line - 1] if line <= len(self.all) else self.starts[-1]

    def drop(self, first: int, last: int) -> None:
        self.dropped.append((first, last))
        self.done = last

    def blank_in_source(self, line: int) -> bool:
        """Line ``line`` is blank or was blanked as part of a statement in error (not just parsed)."""
        if not self.all[line - 1].strip():
            return True
        return any(first <= line <= last for first, last in self.dropped)


def _literal_diagnostics(lines: _Lines, first: int, last: int, file: str) -> list[Diagnostic]:
    """Literals that do not fit in lines ``first .. last``, which parsed: lexed again, as the parser would."""
    if first > last:
        return []
    builder = AstBuilder(file)
    text = "\n".join(lines.all[first - 1 : last])
    line, line_start = first, 0
    for m in lalr._SCAN.finditer(text):
        kind = m.lastgroup
        if kind == "nl":
            value = m.group()
            line += value.count("\n")
            line_start = m.start() + value.rfind("\n") + 1
        elif kind == "INT" or kind == "REAL":
            tok = lalr.Tok(m.group(), kind, line, m.start() - line_start + 1)
            (builder._int if kind == "INT" else builder._real)(tok)
    return builder.diagnostics


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diags:
        key = (d.span, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def decode(data: bytes, file: str) -> str:
    """The text of a .sym file's bytes; not UTF-8 is a syntax error at the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        diag = Diagnostic(
            f"the file is not UTF-8: byte 0x{data[err.start]:02x} cannot be decoded",
            Span(file, line, col, line, col + 1),
            "save the file as UTF-8",
            kind="syntax",
        )
        raise SpecSyntaxError([diag], {file: data.decode("utf-8", "replace")}) from None
