"""Parse .sym text into the AST, with human error messages and recovery.

The grammar lives in ``grammars/symspec.lark`` (shipped in the wheel as
``symspec/grammars/symspec.lark``).  One LALR parser is built per process,
lazily, with lark's on-disk cache.  On a syntax error we record a
diagnostic, blank out the offending statement (keeping line numbers) and
parse again, so one run reports every broken statement.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import Diagnostic, Span, SpecSyntaxError
from . import ast

__all__ = ["parse", "grammar_text", "STATEMENT_KEYWORDS"]

STATEMENT_KEYWORDS = ("spec", "param", "domain", "graph", "group", "action", "model", "law", "layer", "prior")
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


# ---- parse tree -> AST ----------------------------------------------------------


class _Args(list):
    """Marker for an argument list inside a call's children."""


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _span(self, meta) -> Span:
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _ident(self, tok: Token) -> ast.Ident:
        return ast.Ident(Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column), str(tok))

    def _tokspan(self, tok: Token) -> Span:
        return Span(self.file, tok.line, tok.column, tok.end_line, tok.end_column)

    # statements
    def start(self, meta, children):
        span = self._span(meta) if not meta.empty else Span(self.file, 1, 1, 1, 1)
        return ast.SpecFile(span, self.file, tuple(children))

    def spec_decl(self, meta, c):
        return ast.SpecDecl(self._span(meta), self._ident(c[0]))

    def param_decl(self, meta, c):
        return ast.ParamDecl(self._span(meta), self._ident(c[0]), c[1].value, c[1].span)

    def domain_decl(self, meta, c):
        return ast.DomainDecl(self._span(meta), self._ident(c[0]), c[1])

    def graph_decl(self, meta, c):
        return ast.GraphDecl(self._span(meta), self._ident(c[0]), c[1])

    def group_decl(self, meta, c):
        return ast.GroupDecl(self._span(meta), self._ident(c[0]), c[1])

    def action_by(self, meta, c):
        return ast.ActionDecl(self._span(meta), self._ident(c[0]), self._ident(c[1]), None, c[2])

    def action_block(self, meta, c):
        maps = tuple(c[2]) if c[2] is not None else ()
        return ast.ActionDecl(self._span(meta), self._ident(c[0]), self._ident(c[1]), maps, None)

    def gen_maps(self, meta, c):
        return [m for m in c if m is not None]

    def gen_map(self, meta, c):
        return ast.GenMap(self._span(meta), self._ident(c[0]), c[1])

    def model_decl(self, meta, c):
        params = tuple(p for p in c[1:-1] if p is not None)
        return ast.ModelDecl(self._span(meta), self._ident(c[0]), params, c[-1])

    def model_param(self, meta, c):
        return ast.ModelParam(self._span(meta), self._ident(c[0]), c[1])

    def law_decl(self, meta, c):
        name, binders, body, guard, options = c
        return ast.LawDecl(self._span(meta), self._ident(name), binders or (), body, guard, options or ())

    def binders(self, meta, c):
        return tuple(c)

    def binder(self, meta, c):
        return ast.Binder(self._span(meta), self._ident(c[0]), c[1])

    def guard(self, meta, c):
        return c[0]

    def options(self, meta, c):
        return tuple(o for o in c if o is not None)

    def option(self, meta, c):
        return ast.Option(self._span(meta), self._ident(c[0]), c[1])

    def layer_decl(self, meta, c):
        return ast.LayerDecl(self._span(meta), self._ident(c[0]), c[1], c[2], c[3])

    def prior_decl(self, meta, c):
        args = tuple(c[2]) if c[2] is not None else ()
        return ast.PriorDecl(self._span(meta), self._ident(c[0]), self._ident(c[1]), args, c[3] or ())

    # groups
    def group_product(self, meta, c):
        left, right = c
        factors = left.factors if isinstance(left, ast.GroupProduct) else (left,)
        return ast.GroupProduct(self._span(meta), (*factors, right))

    def presentation(self, meta, c):
        gens = tuple(self._ident(t) for t in c if isinstance(t, Token))
        rels = tuple(r for r in c if isinstance(r, ast.Relator))
        return ast.Presentation(self._span(meta), gens, rels)

    def relator(self, meta, c):
        return ast.Relator(self._span(meta), c[0], c[1])

    def word(self, meta, c):
        return ast.Word(self._span(meta), tuple(c))

    def identity_word(self, meta, c):
        value = int(c[0])
        powers = () if value == 1 else (ast.Int(self._tokspan(c[0]), value),)
        return ast.Word(self._span(meta), powers)

    def power(self, meta, c):
        base, exponent = c
        return ast.Power(self._span(meta), base, 1 if exponent is None else exponent.value)

    def generator(self, meta, c):
        return self._ident(c[0])

    # expressions
    def name(self, meta, c):
        return ast.Name(self._span(meta), str(c[0]))

    def call(self, meta, c):
        args: list = []
        for a in c[1:]:
            if isinstance(a, _Args):
                args.extend(a)
            elif a is not None:
                args.append(a)
        return ast.Call(self._span(meta), self._ident(c[0]), tuple(args))

    def index(self, meta, c):
        return ast.Index(self._span(meta), self._ident(c[0]), tuple(c[1]) if c[1] is not None else ())

    def cargs(self, meta, c):
        return _Args(a for a in c if a is not None)

    def kwarg(self, meta, c):
        return ast.KwArg(self._span(meta), self._ident(c[0]), c[1])

    def tuple(self, meta, c):
        return ast.Tuple(self._span(meta), tuple(a for a in c if a is not None))

    def int(self, meta, c):
        return ast.Int(self._span(meta), int(c[0]))

    def neg_int(self, meta, c):
        return ast.Int(self._span(meta), -int(c[0]))

    def real(self, meta, c):
        return ast.Real(self._span(meta), float(c[0]), str(c[0]))

    def neg_real(self, meta, c):
        return ast.Real(self._span(meta), -float(c[0]), "-" + str(c[0]))

    def _binop(op):  # noqa: N805 - a factory used in the class body
        def method(self, meta, c):
            return ast.BinOp(self._span(meta), op, c[0], c[1])

        return method

    add = _binop("+")
    sub = _binop("-")
    mul = _binop("*")

    def neg(self, meta, c):
        return ast.Neg(self._span(meta), c[0])

    def not_(self, meta, c):
        return ast.Not(self._span(meta), c[0])

    def act(self, meta, c):
        return ast.Act(self._span(meta), c[0], c[1])

    def compare(self, meta, c):
        return ast.Compare(self._span(meta), tuple(c[0::2]), tuple(str(t) for t in c[1::2]))

    def _logic(op):  # noqa: N805
        def method(self, meta, c):
            return ast.Logic(self._span(meta), op, c[0], c[1])

        return method

    and_ = _logic("and")
    or_ = _logic("or")
    implies = _logic("=>")


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


def _first_on_line(tok: Token, lines: list[str]) -> bool:
    line = lines[tok.line - 1] if 0 < tok.line <= len(lines) else ""
    return not line[: tok.column - 1].strip()


def _syntax_diagnostic(
    err: UnexpectedInput, text: str, file: str, lark: Lark, joiner: _LineJoiner
) -> tuple[Diagnostic, int, int]:
    """The diagnostic for one lark error, and the lines to blank before parsing again."""
    lines = text.split("\n")
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
    opened = joiner.open[-1] if joiner.open else None
    if opened is not None and opened.type in ("LPAR", "LSQB"):  # LALR merges ( ) and [ ] states
        expected = set(expected) - {"RSQB" if opened.type == "LPAR" else "RPAR"}
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
        while last > 1 and not lines[last - 1].strip():
            last -= 1
        line = lines[last - 1] if lines else ""
        span = Span(file, last, len(line) + 1, last, len(line) + 2)
        found = "end of file"
    else:
        span = Span(file, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + 1)
        found = _found_text(tok)

    hint = None
    if tok.type == "NAME" and {"SPEC", "LAW"} <= set(expected):
        hint = _keyword_hint(str(tok))
    elif str(tok) == "=" and "COMPARE" in expected:
        hint = "use '==' to compare"
    elif str(tok) in STATEMENT_KEYWORDS and starts_line and "_NL" not in expected:
        hint = "the statement before this line is incomplete"
    diag = Diagnostic(f"unexpected {found}; expected {_expected_text(lark, expected)}", span, hint, kind="syntax")
    if at_end:
        return diag, len(lines), len(lines)
    first = tok.line if starts_line and str(tok) in STATEMENT_KEYWORDS else _statement_start(lines, tok.line)
    return diag, first, _next_statement(lines, tok.line) - 1


def _statement_start(lines: list[str], line: int) -> int:
    for i in range(min(line, len(lines)), 0, -1):
        words = lines[i - 1].split(None, 1)
        if words and words[0] in STATEMENT_KEYWORDS:
            return i
    return line


def _next_statement(lines: list[str], line: int) -> int:
    for i in range(line + 1, len(lines) + 1):
        words = lines[i - 1].split(None, 1)
        if words and words[0] in STATEMENT_KEYWORDS:
            return i
    return len(lines) + 1


def _blank(text: str, first: int, last: int) -> str:
    lines = text.split("\n")
    for i in range(first - 1, min(last, len(lines))):
        lines[i] = " " * len(lines[i])
    return "\n".join(lines)


def parse(text: str, file: str = "<string>") -> ast.SpecFile:
    """Parse .sym text; raise :class:`SpecSyntaxError` with every syntax error found."""
    lark, joiner = _parser()
    diagnostics: list[Diagnostic] = []
    source = text if text.endswith("\n") else text + "\n"
    current = source
    while True:
        try:
            tree = lark.parse(current)
            break
        except UnexpectedInput as err:
            diag, first, last = _syntax_diagnostic(err, current, file, lark, joiner)
            diagnostics.append(diag)
            if len(diagnostics) >= _MAX_SYNTAX_ERRORS:
                break
            blanked = _blank(current, first, last)
            if blanked == current:
                break
            current = blanked
        except LarkError as err:  # pragma: no cover - lark internals; still never a traceback
            span = Span(file, 1, 1, 1, 2)
            diagnostics.append(Diagnostic(f"could not parse: {err}", span, kind="syntax"))
            break
    if diagnostics:
        raise SpecSyntaxError(_dedupe(diagnostics), {file: text})
    try:
        return _ToAst(file).transform(tree)
    except VisitError as err:  # pragma: no cover - a bug in the transformer
        raise err.orig_exc from None


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diags:
        key = (d.span, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
