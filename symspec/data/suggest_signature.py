"""``--signature "f(a: cyclic(59), b: cyclic(59)) -> class(cyclic(59))"``: a model signature read by the spec parser."""

from __future__ import annotations

import re

from ..errors import Diagnostic, Span, SpecError, UsageError, render_diagnostic

__all__ = ["SIGNATURE_FILE", "signature_spec"]

SIGNATURE_FILE = "--signature"  # the "file" a signature's errors name
_PREFIX = "model "


def signature_spec(signature: str):
    """``(spec, text)``: the checked spec ``model SIGNATURE`` and its text.

    The signature is parsed and checked by the project's own front end (inline
    domains are valid .sym: ``model f(a: cyclic(5)) -> class(5)``); a leading
    ``model`` is optional. A bad signature is a :class:`UsageError` whose
    message shows the signature with a caret under the offending column.
    """
    from ..pipeline import loads

    sig = signature.strip()
    if not sig:
        raise UsageError('--signature is empty: give the model, e.g. "f(a: cyclic(59), b: cyclic(59)) -> class(cyclic(59))"')
    if "\n" in sig or "\r" in sig:
        raise UsageError("--signature must be one line (a model's signature)")
    has_prefix = sig.startswith(_PREFIX)
    text = (sig if has_prefix else _PREFIX + sig) + "\n"
    shift = 0 if has_prefix else len(_PREFIX)
    try:
        spec = loads(text, SIGNATURE_FILE)
    except SpecError as err:
        raise UsageError(_render(err, sig, shift)) from None
    if len(spec.models) != 1:  # pragma: no cover - one model statement declares one model
        raise UsageError("--signature must declare exactly one model")
    return spec, text


def _shift_where(text: str, shift: int) -> str:
    """Positions ``1:COL`` inside a message, counted in the signature instead of ``model SIG``."""
    return re.sub(r"\b1:(\d+)\b", lambda m: f"1:{max(1, int(m.group(1)) - shift)}", text)


def _render(err: SpecError, sig: str, shift: int) -> str:
    """The errors of ``model SIG`` rendered on the signature itself (columns counted in the signature)."""
    out = []
    for d in err.diagnostics:
        if d.severity != "error":
            continue
        span = d.span
        if span is not None:
            col = max(1, span.column - shift)
            end = max(col + 1, span.end_column - shift) if span.end_line == span.line else len(sig) + 1
            span = Span(SIGNATURE_FILE, 1, col, 1, end)
        moved = Diagnostic(_shift_where(d.message, shift), span, d.hint and _shift_where(d.hint, shift), d.severity, d.kind)
        out.append(render_diagnostic(moved, {SIGNATURE_FILE: sig}))
    if any(d.message.startswith("unknown graph") for d in err.diagnostics):
        out.append(
            "a signature cannot declare a graph: write a spec with the graph, the domains and the model, and run 'symspec suggest SPEC --data FILE'"
        )
    return "bad signature:\n" + "\n".join(out)
