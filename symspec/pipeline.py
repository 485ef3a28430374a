"""The one place that knows the stage order: text -> AST -> checked Spec (+ IR) -> lowered module -> Python.

``loads``/``load`` parse and check (names, types, the symmetry analysis);
``check`` also lowers every law and layer (no torch), so a spec that passes
``check`` compiles; ``compile_source``/``compile`` render and import it.
"""

from __future__ import annotations

import gc
from pathlib import Path

from .analysis.ir import attach_ir
from .analysis.records import Spec
from .analysis.resolve import Analyzer
from .analysis.sealed import seal
from .errors import Diagnostic, ParamError, Span, SpecSyntaxError, UsageError, raise_diagnostics
from .syntax import ast, parse
from .syntax.parser import decode

__all__ = ["analyze", "loads", "load", "check", "compile_source", "compile", "parse_param_overrides"]


# The deepest a law's formula or guard may nest (a chain of k comparisons counts its k - 1 links). The
# generated code nests about as deep (up to two brackets per level: '((a + b) % n + c) % n'), and Python refuses
# more than 200 nested brackets and recurses per level when compiling; 64 keeps a margin under both.
MAX_LAW_DEPTH = 64


def nesting_depth(node) -> int:
    """Levels of nesting of ``node`` (iterative, so any depth is measured): a chain of k comparisons counts k - 1."""
    best = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, tuple):
            stack.extend((child, depth) for child in current)
            continue
        if not isinstance(current, ast.Node):
            continue
        best = max(best, depth)
        step = 1 + max(0, len(current.operands) - 2) if isinstance(current, ast.Compare) else 1
        stack.extend((getattr(current, f), depth + step) for f in current.__dataclass_fields__ if f != "span")
    return best


def _deepest_span(statements, file: str, floor: int = 0) -> Span:
    """The span of the most deeply nested statement (where a 'nests too deeply' error points).

    Only a statement nested deeper than ``floor`` is named; else the file's start (a recursion in the
    analysis with no statement past MAX_LAW_DEPTH, such as a long chain of aliases, has no one culprit).
    """
    best, span = floor, Span(file, 1, 1, 1, 2)
    for statement in statements:
        depth = nesting_depth(statement)
        if depth > best:
            best, span = depth, statement.span
    return span


def _too_deep(tree: ast.SpecFile) -> list:
    """An error at each law whose formula or guard nests deeper than MAX_LAW_DEPTH."""
    out = []
    for statement in tree.statements:
        if not isinstance(statement, ast.LawDecl):
            continue
        for part, what in ((statement.body, "formula"), (statement.guard, "guard")):
            depth = nesting_depth(part) if part is not None else 0
            if depth > MAX_LAW_DEPTH:
                out.append(
                    Diagnostic(
                        f"law {statement.name.name}'s {what} nests {depth} levels deep, more than the limit of {MAX_LAW_DEPTH}",
                        part.span,
                        "split it into several laws (a chain a < b < c counts one level per link)",
                    )
                )
    return out


def analyze(tree: ast.SpecFile, source: str, params: dict | None = None, *, symmetry: bool = True) -> Spec:
    """Check a parsed file; raise :class:`SpecError` with every problem found.

    Names and types come first; when they hold, the symmetry analysis
    (groups, actions, law classes, orbits, redundancy, contradictions) runs
    and its result is ``spec.ir``.  ``symmetry=False`` stops after types.
    A law nested deeper than ``MAX_LAW_DEPTH`` is an error at it before anything else is checked.
    """
    deep = _too_deep(tree)
    if deep:
        raise_diagnostics(deep, {tree.file: source})
    analyzer = Analyzer(tree, params)
    reporter = analyzer.reporter
    try:
        spec = analyzer.run(tree.file, source)
    except RecursionError:
        reporter.error("the spec nests too deeply to analyze", _deepest_span(tree.statements, tree.file, MAX_LAW_DEPTH))
        spec = None
    if reporter.has_errors:
        raise_diagnostics(reporter.diagnostics, {tree.file: source})
    if symmetry:
        attach_ir(spec, reporter)
        spec.warnings = reporter.warnings
    seal(spec)
    return spec


def loads(text: str, file: str = "<string>", params: dict | None = None) -> Spec:
    """Parse and check .sym text."""
    # The front end allocates many small objects that all stay alive: the cyclic
    # garbage collector would only re-scan them, so it pauses meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            tree = parse(text, file)
        except RecursionError:
            diag = Diagnostic("the spec nests too deeply to parse", Span(file, 1, 1, 1, 2), kind="syntax")
            raise SpecSyntaxError([diag], {file: text}) from None
        return analyze(tree, text, params)
    finally:
        if collecting:
            gc.enable()


def load(path, params: dict | None = None) -> Spec:
    """Read, parse and check a .sym file; ``params`` overrides its ``param`` values."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read '{file}': {err.strerror or err}") from None
    return loads(decode(data, file), file, params)


def parse_param_overrides(items) -> dict:
    """Turn ['p=59', 'n=3'] into {'p': 59, 'n': 3}; a malformed item is a ParamError."""
    out: dict[str, int] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise ParamError(f"--param expects NAME=INT, got '{item}'")
        digits = value.lstrip("+-").lstrip("0")
        if digits.isdigit() and digits.isascii() and len(digits) > 19:  # checked before int(): a 10^6-digit value is slow
            raise ParamError(f"--param {name} has {len(digits)} digits, beyond the 64-bit integer limit (2^63 - 1)")
        try:
            out[name] = int(value, 10)
        except ValueError:
            raise ParamError(f"--param {name} must be an integer, got '{value[:40]}{'...' if len(value) > 40 else ''}'") from None
    return out


def check(spec: Spec) -> Spec:
    """Lower every law, layer and prior of a loaded spec (no torch): a spec that passes compiles.

    An unsupported construct raises a SpecError at its span.
    """
    from .codegen import lower_module

    with _nesting_as_error(spec):
        lower_module(spec)
    return spec


def compile_source(spec: Spec, out_hint: str | None = None) -> str:
    """The generated module's text (deterministic: same spec, same text)."""
    from .codegen import compile_source as render

    with _nesting_as_error(spec):
        return render(spec, out_hint)


def compile(spec: Spec, out_hint: str | None = None):  # noqa: A001 - the public name
    """Render the spec's module and import it in memory (imports torch)."""
    from .codegen import compile as load_module

    with _nesting_as_error(spec):
        return load_module(spec, out_hint)


class _nesting_as_error:
    """A RecursionError while lowering or rendering is a SpecError at the most deeply nested law, not a traceback."""

    def __init__(self, spec: Spec):
        self.spec = spec

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is None or not issubclass(kind, RecursionError):
            return False
        from .codegen.core import CompileError

        spec = self.spec
        span = _deepest_span([law.decl for law in spec.laws.values()], spec.file)
        diag = Diagnostic("the spec nests too deeply to compile", span, kind="compile")
        raise CompileError([diag], {spec.file: spec.source}) from None
