"""The one exceptions module: every error symspec raises on purpose is here.

A spec problem is a :class:`Diagnostic` (severity, message, span, hint,
notes).  The front end collects as many as it can and raises one
:class:`SpecError` carrying all of them, sorted by position; its ``str`` is
the rendered report: ``FILE:LINE:COL: error: MESSAGE``, the source line, a
caret under the span, then the hint and any notes.
"""

from __future__ import annotations

import os
import re
from array import array
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "Span",
    "Diagnostic",
    "SymspecError",
    "UsageError",
    "require_file",
    "ParamError",
    "ModelError",
    "BatchError",
    "BatchTypeError",
    "SpecError",
    "SpecSyntaxError",
    "SpecNameError",
    "SpecTypeError",
    "render_diagnostic",
    "raise_diagnostics",
    "source_line",
    "MAX_RENDERED",
    "MAX_SHOWN_LINE",
]


class Span(NamedTuple):
    """A region of a source file; lines and columns count from 1, the end is exclusive.

    A named tuple: immutable, ordered, hashable, and cheap to create (the
    parser makes one per AST node).
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def where(self) -> str:
        """``LINE:COL``, for messages that point elsewhere in the same file."""
        return f"{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning about a spec, with where it is and how to fix it."""

    message: str
    span: Span | None
    hint: str | None = None
    severity: str = "error"
    kind: str = "spec"
    notes: tuple[tuple[Span, str], ...] = field(default=())

    def sort_key(self) -> tuple:
        if self.span is None:
            return ("", 0, 0)
        return (self.span.file, self.span.line, self.span.column)


class SymspecError(Exception):
    """Base class of every error symspec raises on purpose."""


class UsageError(SymspecError):
    """The tool was called wrongly (missing file, malformed option)."""


def require_file(path: str) -> None:
    """A :class:`UsageError` unless ``path`` is a file: "no such file", or "is not a file" (a folder, a device)."""
    if not os.path.isfile(path):
        raise UsageError(f"cannot read '{path}': no such file" if not os.path.exists(path) else f"'{path}' is not a file")


class ParamError(UsageError):
    """A parameter override names no declared ``param`` or is not an integer."""


MAX_RENDERED = 100
"""How many diagnostics a report prints; the rest are counted (``SpecError.diagnostics`` has them all)."""


class SpecError(SymspecError):
    """A spec is invalid; ``diagnostics`` holds every problem found, sorted."""

    def __init__(self, diagnostics, sources: dict[str, str] | None = None):
        diags = sorted(diagnostics, key=Diagnostic.sort_key)
        self.diagnostics: list[Diagnostic] = diags
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__(self.render())

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def render(self, color: bool = False, warnings: bool = True, limit: int | None = MAX_RENDERED) -> str:
        """The report: the first ``limit`` diagnostics in source order (None: all), then how many more."""
        shown = [d for d in self.diagnostics if warnings or d.severity == "error"]
        rest = shown[limit:] if limit is not None else []
        out = [render_diagnostic(d, self.sources, color) for d in shown[: len(shown) - len(rest)]]
        if rest:
            errors = sum(d.severity == "error" for d in rest)
            counts = [
                f"{n} more {word}{'s' if n != 1 else ''}" for n, word in ((errors, "error"), (len(rest) - errors, "warning")) if n
            ]
            out.append(f"... and {' and '.join(counts)} (not shown; the first {limit} are)")
        return "\n".join(out)


class SpecSyntaxError(SpecError):
    """The text does not follow the grammar."""


class SpecNameError(SpecError):
    """A name is unknown, declared twice, or used as the wrong kind of thing."""


class SpecTypeError(SpecError):
    """Values, arities, options or relations do not fit together."""


_COLORS = {"error": "\033[1;31m", "warning": "\033[1;35m", "note": "\033[1;36m"}
_RESET = "\033[0m"


@lru_cache(maxsize=4)
def _line_starts(text: str) -> array:
    """Offsets where each line of ``text`` starts; only ``\n`` ends a line (``\r\n`` too).

    A source is split once, however many diagnostics point into it
    (re-splitting it for each made 8,000 diagnostics take seconds).  A
    leading byte-order mark is not part of line 1.
    """
    starts = array("q", [1 if text.startswith("\ufeff") else 0])
    starts.extend(m.end() for m in _NEWLINE.finditer(text))
    return starts


_NEWLINE = re.compile("\n")
MAX_SHOWN_LINE = 160
"""The most characters of a source line a snippet shows; a longer line is cut around the span."""


def source_line(text: str, line: int) -> str | None:
    """Line ``line`` (from 1) of ``text``, without its line break; None past the end.

    Lines are counted the way the lexer counts them: only ``\n`` breaks a line
    (form feeds, ``\x1c``-``\x1e``, U+0085, U+2028 and U+2029 do not, unlike
    :meth:`str.splitlines`), and a ``\r`` before it is dropped.
    """
    starts = _line_starts(text)
    if not 1 <= line <= len(starts):
        return None
    end = starts[line] - 1 if line < len(starts) else len(text)
    shown = text[starts[line - 1] : end]
    return shown[:-1] if shown.endswith("\r") else shown


def _printable(text: str) -> str:
    """``text`` with each tab, control or invisible character as one space, so the caret lines up."""
    return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)


def _snippet(span: Span, sources: dict[str, str], color: str) -> list[str]:
    text = sources.get(span.file)
    if text is None:
        return []
    line = source_line(text, span.line)
    if line is None:
        return []
    start = max(span.column - 1, 0)
    if span.end_line == span.line:
        width = max(span.end_column - span.column, 1)
    else:
        width = max(len(line) - start, 1)
    if len(line) > MAX_SHOWN_LINE:  # a long line: show a window around the span
        first = max(0, min(start - MAX_SHOWN_LINE // 4, len(line) - MAX_SHOWN_LINE))
        last = first + MAX_SHOWN_LINE
        width = max(1, min(width, last - start))
        head = "..." if first > 0 else ""
        line = head + line[first:last] + ("..." if last < len(line) else "")
        start = start - first + len(head)
    line = _printable(line)
    number = str(span.line)
    gutter = " " * len(number)
    marks = "^" * width
    if color:
        marks = f"{color}{marks}{_RESET}"
    return [f" {number} | {line}", f" {gutter} | {' ' * start}{marks}"]


def render_diagnostic(d: Diagnostic, sources: dict[str, str], color: bool = False) -> str:
    """Render one diagnostic the way ``symspec check`` prints it."""
    tint = _COLORS.get(d.severity, "") if color else ""
    label = f"{tint}{d.severity}{_RESET if color else ''}"
    where = f"{d.span}: " if d.span is not None else ""
    out = [f"{where}{label}: {d.message}"]
    if d.span is not None:
        out += _snippet(d.span, sources, tint)
    if d.hint:
        out.append(f"  hint: {d.hint}")
    for span, message in d.notes:
        ntint = _COLORS["note"] if color else ""
        out.append(f"{span}: {ntint}note{_RESET if color else ''}: {message}")
        out += _snippet(span, sources, ntint)
    return "\n".join(out)


class ModelError(UsageError):
    """A model handed to symspec misbehaves: wrong output shape, a forward that raises, a factory that fails."""


class BatchError(UsageError, ValueError):
    """A batch handed to a compiled loss has a field outside its domain: a value out of range, a float where
    integers go, a shape the laws would broadcast wrongly."""


class BatchTypeError(BatchError, TypeError):
    """A batch field of the wrong dtype: floats where a domain's integers go, integers where its reals go."""


_ERROR_CLASSES = {"syntax": SpecSyntaxError, "name": SpecNameError}


def raise_diagnostics(diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
    """Raise the SpecError subclass of the first error (by position), carrying every diagnostic."""
    errors = sorted((d for d in diagnostics if d.severity == "error"), key=Diagnostic.sort_key)
    cls = _ERROR_CLASSES.get(errors[0].kind, SpecTypeError)
    raise cls(diagnostics, sources)
