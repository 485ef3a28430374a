"""``symspec fmt``: a .sym file in its canonical layout, printed from the AST, comments kept (docs/tooling.md).

The layout: one statement per line, single spaces around binary operators,
``:``/``->``/``=`` and after commas, none inside brackets; ``law name: body``;
an action block with one entry per line, indented two spaces; options as
``[weight 0.5, tol 1e-3]``; numbers spelled as in the source.  Comments are
not in the AST (the lexer drops them): they are found in the text (the
language has no strings, so ``#`` always starts a comment) and placed by
line: a full-line comment stays on its own line, an end-of-line comment
stays after the statement (or action entry) it ends, two spaces before its
``#``; a comment inside a statement that spans several lines moves to its
own line just above that statement (or entry).  Blank lines between
statements and comments are kept, at most one in a row.  Lines are never
wrapped.

Formatting never changes meaning: the result is parsed again and its AST
(spans aside) must equal the source's, else :class:`FormatError`; a node
or field this module does not know is refused the same way before
anything is printed.
"""

from __future__ import annotations

import re
from dataclasses import fields

from ..errors import Diagnostic, Span, SpecError, SpecSyntaxError
from . import ast
from .parser import decode, parse
from .unparse import unparse

__all__ = ["FormatError", "format_source", "ast_key", "comments", "decode", "KNOWN_FIELDS"]

_BLANK = " \t\f\r"
_INT = re.compile(r"(-?)\s*([0-9]+)\s*$")
_EXPONENT = re.compile(r"\^\s*(-?)\s*([0-9]+)\s*$")

# Every node fmt prints, with the fields it prints (the span aside).  A node or field not listed is refused.
KNOWN_FIELDS: dict[type, tuple[str, ...]] = {
    ast.Ident: ("name",),
    ast.Int: ("value",),
    ast.Real: ("value", "text"),
    ast.Name: ("name",),
    ast.Call: ("func", "args"),
    ast.Index: ("func", "args"),
    ast.KwArg: ("name", "value"),
    ast.Tuple: ("items",),
    ast.BinOp: ("op", "left", "right"),
    ast.Neg: ("operand",),
    ast.Not: ("operand",),
    ast.Act: ("element", "operand"),
    ast.Compare: ("operands", "ops"),
    ast.Logic: ("op", "left", "right"),
    ast.Power: ("base", "exponent"),
    ast.Word: ("powers",),
    ast.Relator: ("lhs", "rhs"),
    ast.Presentation: ("generators", "relators"),
    ast.GroupProduct: ("factors",),
    ast.SpecDecl: ("name",),
    ast.ParamDecl: ("name", "value", "value_span"),
    ast.DomainDecl: ("name", "type"),
    ast.GraphDecl: ("name", "ctor"),
    ast.GroupDecl: ("name", "expr"),
    ast.GenMap: ("generator", "transform"),
    ast.ActionDecl: ("group", "domain", "maps", "by"),
    ast.ModelParam: ("name", "type"),
    ast.ModelDecl: ("name", "params", "output"),
    ast.Binder: ("var", "type"),
    ast.Option: ("name", "value"),
    ast.LawDecl: ("name", "binders", "body", "guard", "options"),
    ast.LayerDecl: ("name", "source", "target", "group", "options"),
    ast.PriorDecl: ("name", "kind", "args", "options"),
    ast.BreakDecl: ("name", "kind", "args", "options"),
    ast.SpecFile: ("file", "statements"),
}
_OPS = {ast.BinOp: {"+", "-", "*"}, ast.Logic: {"and", "or", "=>"}}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


class FormatError(SpecError):
    """fmt refuses a file: it holds syntax fmt does not know, or printing it would change its meaning."""


_KEY_FIELDS: dict = {}  # node type -> the fields its key holds


def _key_fields(kind: type) -> tuple:
    names = _KEY_FIELDS.get(kind)
    if names is None:
        names = _KEY_FIELDS[kind] = tuple(f.name for f in fields(kind) if f.name not in ("span", "value_span", "file"))
    return names


def ast_key(node):
    """``node`` as nested tuples without spans (and without the file name): equal keys, equal meaning.

    Built without recursion (a post-order walk), so any tree the parser builds has a key.
    """
    done: list = []
    stack: list = [(node, None)]
    while stack:
        current, names = stack.pop()
        if names is not None:  # every child is done: fold them
            count = len(names) if isinstance(current, ast.Node) else len(current)
            values = done[len(done) - count :]
            del done[len(done) - count :]
            done.append((type(current).__name__, *zip(names, values)) if isinstance(current, ast.Node) else tuple(values))
        elif isinstance(current, ast.Node):
            names = _key_fields(type(current))
            stack.append((current, names))
            stack.extend((getattr(current, n), None) for n in reversed(names))
        elif isinstance(current, tuple):
            stack.append((current, ()))
            stack.extend((c, None) for c in reversed(current))
        else:
            done.append(current)
    return done[0]


def comments(body: str) -> list[tuple[int, int, str, bool]]:
    """Every comment of the text: (line, column, text without trailing blanks, alone on its line), in order."""
    out = []
    for number, line in enumerate(body.split("\n"), 1):
        at = line.find("#")
        if at >= 0:
            out.append((number, at + 1, line[at:].rstrip(_BLANK), not line[:at].strip(_BLANK)))
    return out


def _refuse(message: str, span, sources: dict, hint: str) -> FormatError:
    return FormatError([Diagnostic(message, span, hint, kind="syntax")], sources)


def _check_known(tree: ast.SpecFile, sources: dict) -> None:
    """Refuse any node or field fmt does not print (new syntax must be taught to fmt, never dropped)."""
    hint = "fmt leaves the file unchanged; teach symspec/syntax/fmt.py the new syntax"
    seen: dict = {}  # node type -> its fields (the span aside)
    for node in ast.walk(tree):
        kind = type(node)
        names = seen.get(kind)
        if names is None:
            names = seen[kind] = tuple(f.name for f in fields(node) if f.name != "span")
        if kind not in KNOWN_FIELDS:
            raise _refuse(f"fmt cannot print {kind.__name__} nodes", node.span, sources, hint)
        if names != KNOWN_FIELDS[kind]:
            extra = ", ".join(sorted(set(names) ^ set(KNOWN_FIELDS[kind])))
            raise _refuse(f"fmt does not know the field(s) {extra} of {kind.__name__}", node.span, sources, hint)
        if kind in _OPS and node.op not in _OPS[kind]:
            raise _refuse(f"fmt cannot print the operator '{node.op}'", node.span, sources, hint)
        if kind is ast.Compare and not set(node.ops) <= _COMPARE:
            raise _refuse(f"fmt cannot print the comparison {node.ops}", node.span, sources, hint)


class _Printer:
    """Statements as text, numbers spelled as in ``body``."""

    def __init__(self, body: str):
        self.body = body
        self.offsets = [0]
        for i, ch in enumerate(body):
            if ch == "\n":
                self.offsets.append(i + 1)

    def source(self, span) -> str:
        start = self.offsets[span.line - 1] + span.column - 1
        return self.body[start : self.offsets[span.end_line - 1] + span.end_column - 1]

    def _spelled(self, span, value: int, pattern: re.Pattern) -> str:
        m = pattern.search(self.source(span))
        if m is None or int(m.group(2)) != abs(value):  # pragma: no cover - the span always ends with the number
            return str(value)
        return ("-" if value < 0 or m.group(1) else "") + m.group(2)

    def number(self, node) -> str:
        if isinstance(node, ast.Real):
            return node.text
        return self._spelled(node.span, node.value, _INT)

    def expr(self, e) -> str:
        if isinstance(e, ast.Presentation):
            return self.presentation(e)
        if isinstance(e, ast.GroupProduct):
            return " x ".join(f"({self.expr(f)})" if isinstance(f, ast.GroupProduct) else self.expr(f) for f in e.factors)
        return unparse(e, self.number, self.tight)

    def tight(self, act: ast.Act) -> bool:
        """``A.B . X``: the source wrote ``A.B`` with nothing around the ``.`` (a constant group element)."""
        a, b = act.element.span, act.operand.element.span
        end = self.offsets[a.end_line - 1] + a.end_column - 1
        return a.end_line == b.line and b.column == a.end_column + 1 and self.body[end : end + 1] == "."

    def graph(self, e) -> str:
        """A graph constructor; the edges of ``edges(0-1, 1-2)`` keep their tight dash (a subtraction elsewhere)."""
        if not (isinstance(e, ast.Call) and e.func.name == "edges"):
            return self.expr(e)
        simple = (ast.Int, ast.Name)
        args = [
            f"{self.expr(a.left)}-{self.expr(a.right)}"
            if isinstance(a, ast.BinOp) and a.op == "-" and isinstance(a.left, simple) and isinstance(a.right, simple)
            else self.expr(a)
            for a in e.args
        ]
        return f"edges({', '.join(args)})"

    def word(self, w: ast.Word) -> str:
        if not w.powers:
            return "1"
        return " ".join(self.power(p) for p in w.powers)

    def power(self, p) -> str:
        if isinstance(p, ast.Int):  # a word written as an integer other than 1 (refused by the analysis)
            return self.number(p)
        base = p.base.name if isinstance(p.base, ast.Ident) else f"({self.word(p.base)})"
        if p.exponent == 1 and not _EXPONENT.search(self.source(p.span)):
            return base
        return f"{base}^{self._spelled(p.span, p.exponent, _EXPONENT)}"

    def presentation(self, e: ast.Presentation) -> str:
        gens = ", ".join(g.name for g in e.generators)
        rels = ", ".join(self.word(r.lhs) + (f" = {self.word(r.rhs)}" if r.rhs is not None else "") for r in e.relators)
        return f"<{gens} | {rels}>" if rels else f"<{gens} |>"

    def options(self, options: tuple) -> str:
        if not options:
            return ""
        return " [" + ", ".join(f"{o.name.name} {self.expr(o.value)}" for o in options) + "]"

    def statement(self, s) -> str:
        """One statement on one line (an action block: its first line; the entries are printed by the caller)."""
        if isinstance(s, ast.SpecDecl):
            return f"spec {s.name.name}"
        if isinstance(s, ast.ParamDecl):
            return f"param {s.name.name} = {self._spelled(s.value_span, s.value, _INT)}"
        if isinstance(s, ast.DomainDecl):
            return f"domain {s.name.name} = {self.expr(s.type)}"
        if isinstance(s, ast.GraphDecl):
            return f"graph {s.name.name} = {self.graph(s.ctor)}"
        if isinstance(s, ast.GroupDecl):
            return f"group {s.name.name} = {self.expr(s.expr)}"
        if isinstance(s, ast.ActionDecl):
            head = f"action {s.group.name} on {s.domain.name}"
            return f"{head} by {self.expr(s.by)}" if s.maps is None else f"{head} {{"
        if isinstance(s, ast.GenMap):
            return f"{s.generator.name} -> {self.expr(s.transform)}"
        if isinstance(s, ast.ModelDecl):
            params = ", ".join(f"{p.name.name}: {self.expr(p.type)}" for p in s.params)
            return f"model {s.name.name}({params}) -> {self.expr(s.output)}"
        if isinstance(s, ast.LawDecl):
            binders = ""
            if s.binders:
                binders = "forall " + ", ".join(f"{b.var.name}: {self.expr(b.type)}" for b in s.binders) + ". "
            guard = f" when {self.expr(s.guard)}" if s.guard is not None else ""
            return f"law {s.name.name}: {binders}{self.expr(s.body)}{guard}{self.options(s.options)}"
        if isinstance(s, ast.LayerDecl):
            return f"layer {s.name.name}: {self.expr(s.source)} -> {self.expr(s.target)} under {self.expr(s.group)}{self.options(s.options)}"
        if isinstance(s, ast.PriorDecl):
            args = ", ".join(self.expr(a) for a in s.args)
            return f"prior {s.name.name}: {s.kind.name}({args}){self.options(s.options)}"
        if isinstance(s, ast.BreakDecl):
            args = ", ".join(self.expr(a) for a in s.args)
            return f"break {s.name.name}: {s.kind.name}({args}){self.options(s.options)}"
        raise TypeError(f"fmt cannot print {type(s).__name__}")  # pragma: no cover - _check_known refused it


class _Layout:
    """Statements and comments placed line by line (linear in the file's length)."""

    def __init__(self, body: str, printer: _Printer):
        self.lines = body.split("\n")
        self.printer = printer
        self.comments = {line: (text, alone) for line, _col, text, alone in comments(body)}  # one per line at most
        self.out: list[str] = []

    @staticmethod
    def _eol(text: str, comment: str | None) -> str:
        return f"{text}  {comment}" if comment is not None else text

    def _within(self, a: int, b: int) -> list:
        """(line, text, alone) of the comments on lines a..b."""
        if b - a + 1 > len(self.comments):
            return sorted((line, t, alone) for line, (t, alone) in self.comments.items() if a <= line <= b)
        return [(line, *self.comments[line]) for line in range(a, b + 1) if line in self.comments]

    def _print(self, events: list, indent: str, item) -> None:
        """Events (first line, last line, node or None, comment text) in line order, one blank line kept between."""
        events.sort(key=lambda e: (e[0], e[2] is not None))
        previous = None
        for start, end, node, text in events:
            if previous is not None and start > previous + 1:
                self.out.append("")
            previous = end
            if node is None:
                self.out.append(indent + text)
            else:
                item(node)

    def block(self, items: list, indent: str) -> None:
        """The file's statements, and the comments between them."""
        covered = set()
        for i in items:
            covered.update(range(i.span.line, i.span.end_line + 1))
        events = [(i.span.line, i.span.end_line, i, None) for i in items]
        events += [(line, line, None, t) for line, (t, _alone) in self.comments.items() if line not in covered]
        self._print(events, indent, lambda node: self.item(node, indent))

    def item(self, node, indent: str) -> None:
        a, b = node.span.line, node.span.end_line
        text = self.printer.statement(node)
        mine = self._within(a, b)
        trailing = next((t for line, t, _alone in mine if line == b), None)
        if not isinstance(node, ast.ActionDecl) or node.maps is None:
            self.out += [indent + t for line, t, _alone in mine if line != b]  # inside the statement: above it
            self.out.append(indent + self._eol(text, trailing))
            return
        # an action block: entries one per line, each with the comments of its lines
        entries = list(node.maps)
        ends_at: dict = {}  # line -> the last entry ending on it
        inside: dict = {}  # line -> the first entry spanning it
        going_on: dict = {}  # line -> the entry that goes on past it
        for e in entries:
            ends_at[e.span.end_line] = e
            for line in range(e.span.line, e.span.end_line + 1):
                inside.setdefault(line, e)
                if line < e.span.end_line:
                    going_on[line] = e
        on_open = None
        hoisted: dict = {id(e): [] for e in entries}
        ending: dict = {}
        placed = {b}
        for line, t, alone in mine:
            if line == b:
                continue
            if line in going_on:  # inside an entry that spans lines: above it
                hoisted[id(going_on[line])].append(t)
            elif not alone and line in ends_at:
                ending[id(ends_at[line])] = t
            elif not alone and line == a:
                on_open = t
            elif line in inside:
                hoisted[id(inside[line])].append(t)
            else:
                continue  # a comment of the block's own lines, printed in order among the entries
            placed.add(line)
        if not entries and on_open is None and not any(a < line < b for line, _t, _alone in mine):
            self.out.append(indent + self._eol(text[:-1] + "{}", trailing))
            return
        self.out.append(indent + self._eol(text, on_open))
        inner = indent + "  "

        def entry(e) -> None:
            self.out.extend(inner + h for h in hoisted[id(e)])
            self.out.append(inner + self._eol(self.printer.statement(e), ending.get(id(e))))

        events = [(e.span.line, e.span.end_line, e, None) for e in entries]
        events += [(line, line, None, t) for line, t, _alone in mine if line not in placed]
        self._print(events, inner, entry)
        self.out.append(indent + self._eol("}", trailing))


def format_source(text: str, file: str = "<string>") -> str:
    """``text`` in the canonical layout; a syntax error raises :class:`SpecSyntaxError`, unknown syntax :class:`FormatError`.

    The result parses to the same AST (spans aside) and holds every comment's text, in order.
    """
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    sources = {file: text}
    try:
        tree = parse(text, file)
    except RecursionError:
        raise SpecSyntaxError(
            [Diagnostic("the spec nests too deeply to parse", Span(file, 1, 1, 1, 2), kind="syntax")], sources
        ) from None
    _check_known(tree, sources)
    newline = "\r\n" if body.split("\n", 1)[0].endswith("\r") else "\n"  # the first line's ending
    layout = _Layout(body, _Printer(body))
    try:
        layout.block(list(tree.statements), "")
    except RecursionError:  # printing an expression recurses once per level of nesting
        raise _refuse(
            "the spec nests too deeply to format", Span(file, 1, 1, 1, 2), sources, "fmt leaves the file unchanged"
        ) from None
    out = [line.rstrip(_BLANK) for line in layout.out]
    result = bom + newline.join(out) + newline if out else bom
    _verify(text, result, tree, file, sources)
    return result


def _verify(text: str, result: str, tree: ast.SpecFile, file: str, sources: dict) -> None:
    """The formatted text must mean what the source meant and keep its comments; else nothing is written."""
    hint = "fmt leaves the file unchanged; please report this file"
    try:
        again = parse(result, file)
    except (SpecError, RecursionError):
        raise _refuse("fmt would print text that does not parse", tree.span, sources, hint) from None
    if ast_key(again) != ast_key(tree):
        raise _refuse("fmt would change the meaning of the file", tree.span, sources, hint)
    before = [c[2] for c in comments(text.removeprefix("\ufeff"))]
    after = [c[2] for c in comments(result.removeprefix("\ufeff"))]
    if sorted(before) != sorted(after):
        raise _refuse("fmt would lose or change a comment", tree.span, sources, hint)
