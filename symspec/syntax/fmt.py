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
from .parser import parse
from .unparse import unparse

__all__ = ["FormatError", "format_source", "ast_key", "comments", "decode"]

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
    ast.LayerDecl: ("name", "source", "target", "group"),
    ast.PriorDecl: ("name", "kind", "args", "options"),
    ast.SpecFile: ("file", "statements"),
}
_OPS = {ast.BinOp: {"+", "-", "*"}, ast.Logic: {"and", "or", "=>"}}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


class FormatError(SpecError):
    """fmt refuses a file: it holds syntax fmt does not know, or printing it would change its meaning."""


def decode(data: bytes, file: str) -> str:
    """The text of a .sym file's bytes; not UTF-8 is a syntax error at the first bad byte (as ``check`` says)."""
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


def ast_key(node):
    """``node`` as nested tuples without spans (and without the file name): equal keys, equal meaning."""
    if isinstance(node, tuple):
        return tuple(ast_key(n) for n in node)
    if isinstance(node, ast.Node):
        return (type(node).__name__,) + tuple(
            (f.name, ast_key(getattr(node, f.name))) for f in fields(node) if f.name not in ("span", "value_span", "file")
        )
    return node


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
    for node in ast.walk(tree):
        kind = type(node)
        names = tuple(f.name for f in fields(node) if f.name != "span")
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
        return unparse(e, self.number)

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
            return f"layer {s.name.name}: {self.expr(s.source)} -> {self.expr(s.target)} under {self.expr(s.group)}"
        if isinstance(s, ast.PriorDecl):
            args = ", ".join(self.expr(a) for a in s.args)
            return f"prior {s.name.name}: {s.kind.name}({args}){self.options(s.options)}"
        raise TypeError(f"fmt cannot print {type(s).__name__}")  # pragma: no cover - _check_known refused it


class _Layout:
    """Statements and comments placed line by line."""

    def __init__(self, body: str, printer: _Printer):
        self.lines = body.split("\n")
        self.printer = printer
        self.comments = comments(body)
        self.out: list[str] = []

    @staticmethod
    def _eol(text: str, comment: str | None) -> str:
        return f"{text}  {comment}" if comment is not None else text

    def block(self, items: list, first: int, last: int, indent: str, placed: set) -> None:
        """Print ``items`` (nodes with spans) and the comments on lines ``first..last`` not ``placed`` elsewhere."""
        events = [(i.span.line, i.span.end_line, i, None) for i in items]
        for line, _col, text, _alone in self.comments:
            if first <= line <= last and line not in placed and not any(a <= line <= b for a, b, _i, _t in events[: len(items)]):
                events.append((line, line, None, text))
        events.sort(key=lambda e: (e[0], e[2] is not None))
        previous = None
        for start, end, item, text in events:
            if previous is not None and start > previous + 1:
                self.out.append("")
            previous = end
            if item is None:
                self.out.append(indent + text)
            else:
                self.item(item, indent)

    def item(self, node, indent: str) -> None:
        a, b = node.span.line, node.span.end_line
        text = self.printer.statement(node)
        mine = [(line, t, alone) for line, _col, t, alone in self.comments if a <= line <= b]
        trailing = next((t for line, t, _alone in mine if line == b), None)
        if not isinstance(node, ast.ActionDecl) or node.maps is None:
            self.out += [indent + t for line, t, _alone in mine if line != b]  # inside the statement: above it
            self.out.append(indent + self._eol(text, trailing))
            return
        # an action block: entries one per line, each with the comments of its lines
        entries = list(node.maps)
        on_open = None
        hoisted: dict = {id(e): [] for e in entries}
        ending: dict = {}
        placed = {b}
        for line, t, alone in mine:
            if line == b:
                continue
            ends_here = [e for e in entries if e.span.end_line == line]
            inside = [e for e in entries if e.span.line <= line <= e.span.end_line]
            if not alone and ends_here:
                ending[id(ends_here[-1])] = t
            elif not alone and line == a:
                on_open = t
            elif inside:
                hoisted[id(inside[0])].append(t)
            else:
                continue  # a comment of the block's own lines, printed in order among the entries
            placed.add(line)
        if not entries and len(placed) == 1 and not any(a < line < b for line, _t, _alone in mine):
            self.out.append(indent + self._eol(text[:-1] + "{}", trailing))
            return
        self.out.append(indent + self._eol(text, on_open))
        inner = indent + "  "
        events = [(e.span.line, e.span.end_line, e, None) for e in entries]
        for line, t, _alone in mine:
            if line not in placed:
                events.append((line, line, None, t))
        events.sort(key=lambda e: (e[0], e[2] is not None))
        previous = None
        for start, end, entry, t in events:
            if previous is not None and start > previous + 1:
                self.out.append("")
            previous = end
            if entry is None:
                self.out.append(inner + t)
                continue
            self.out += [inner + h for h in hoisted[id(entry)]]
            self.out.append(inner + self._eol(self.printer.statement(entry), ending.get(id(entry))))
        self.out.append(indent + self._eol("}", trailing))


def format_source(text: str, file: str = "<string>") -> str:
    """``text`` in the canonical layout; a syntax error raises :class:`SpecSyntaxError`, unknown syntax :class:`FormatError`.

    The result parses to the same AST (spans aside) and holds every comment's text, in order.
    """
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    tree = parse(text, file)
    sources = {file: text}
    _check_known(tree, sources)
    newline = "\r\n" if body.split("\n", 1)[0].endswith("\r") else "\n"  # the first line's ending
    layout = _Layout(body, _Printer(body))
    layout.block(list(tree.statements), 1, len(layout.lines), "", set())
    out = [line.rstrip(_BLANK) for line in layout.out]
    result = bom + newline.join(out) + newline if out else bom
    _verify(text, result, tree, file, sources)
    return result


def _verify(text: str, result: str, tree: ast.SpecFile, file: str, sources: dict) -> None:
    """The formatted text must mean what the source meant and keep its comments; else nothing is written."""
    hint = "fmt leaves the file unchanged; please report this file"
    try:
        again = parse(result, file)
    except SpecError:
        raise _refuse("fmt would print text that does not parse", tree.span, sources, hint) from None
    if ast_key(again) != ast_key(tree):
        raise _refuse("fmt would change the meaning of the file", tree.span, sources, hint)
    before = [c[2] for c in comments(text.removeprefix("\ufeff"))]
    after = [c[2] for c in comments(result.removeprefix("\ufeff"))]
    if sorted(before) != sorted(after):
        raise _refuse("fmt would lose or change a comment", tree.span, sources, hint)
