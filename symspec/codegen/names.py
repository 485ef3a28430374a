"""Names and constants in generated code: the one place user text becomes Python text.

Every name the generator binds comes from a :class:`Namespace` (unique,
readable, never a keyword, builtin or a name the generated module relies on);
every constant is written by :func:`literal`; spec names used as identifiers
go through :func:`py`.
"""

from __future__ import annotations

import builtins
import functools
import json
import keyword
import math
import re

__all__ = ["RESERVED", "user_text", "literal", "py", "identifier", "Namespace", "doc_text", "comment_text", "call_hint"]

# names the generated module binds or reads itself: no generated local or constant may take them
RESERVED = frozenset(
    {
        "torch",
        "F",
        "rt",
        "self",
        "batch",
        "n",
        "m",
        "out",
        "device",
        "generator",
        "calls",
        "terms",
        "mask",
        "per",
        "bound",
        "values",
        "first",
        "SPEC",
        "PARAMS",
        "LAWS",
        "MODELS",
        "LAYERS",
        "PRIORS",
        "WEIGHTS",
        "INPUTS",
        "OUTPUTS",
        "FIELDS",
        "CHECKS",
        "AUGMENTERS",
        "SYMMETRIZERS",
        "SymmetryLoss",
        "Validator",
        "augment",
        "symmetrize",
        "BREAKS",
        "break_symmetries",
    }
)


def user_text(text: object) -> str:
    """The one escaping function: any text as one printable line (whitespace runs as one space).

    Characters that are not printable (controls, NUL, surrogates from
    undecodable file names, line and paragraph separators) are written as
    their Python escape (``\\x00``, ``\\udcff``), so the result holds no line
    break and encodes as UTF-8.  Comments (:func:`comment_text`) and
    docstrings (:func:`doc_text`) are written through it; string constants
    through :func:`literal` (ASCII JSON); identifiers through :func:`py` and
    :class:`Namespace`, and the printer refuses anything else (:func:`identifier`).
    """
    out = []
    for ch in " ".join(str(text).split()):
        if ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def literal(value) -> str:
    """Python source for a constant (dicts, lists, tuples, strings, finite numbers), strings double-quoted ASCII."""
    if isinstance(value, str):
        return json.dumps(value)  # ASCII only: every other character (surrogates too) as a \u escape
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"no literal for the non-finite number {value!r}")
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def comment_text(text: object) -> str:
    """User text (law bodies, file names) as the body of one ``#`` comment line."""
    return user_text(text)


def doc_text(text: object) -> str:
    """User text inside a triple-quoted docstring: one line in which no quote or backslash ends or escapes it."""
    return user_text(text).replace("\\", "\\\\").replace('"', '\\"')


def identifier(name: str) -> str:
    """``name`` unchanged when it is a plain identifier; otherwise an error (printer-side guard, never user-facing)."""
    if not (isinstance(name, str) and name.isidentifier() and name.isascii() and not keyword.iskeyword(name)):
        raise ValueError(f"not an identifier in generated code: {name!r}")
    return name


@functools.lru_cache(maxsize=4096)
def _unsafe(name: str) -> bool:
    return keyword.iskeyword(name) or keyword.issoftkeyword(name) or hasattr(builtins, name) or name in RESERVED


_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]")
_NUMBERED = re.compile(r"_\d+$")


@functools.lru_cache(maxsize=4096)
def _identifier(candidate: str) -> str:
    """A candidate name as a safe identifier: other characters as ``_``, no leading digit, ``_`` after unsafe names."""
    name = _NOT_IDENTIFIER.sub("_", candidate) or "value"
    if name[0].isdigit():
        name = "_" + name
    if _unsafe(name):
        name += "_"
    return name


def py(name: str) -> str:
    """A spec name as a safe Python identifier (names are already [A-Za-z_][A-Za-z0-9_]*)."""
    if _unsafe(name) or name.startswith("_"):
        return name + "_"
    return name


class Namespace:
    """Unique readable names in one scope (after torch.fx's ``_Namespace.create_name``).

    A candidate is made an identifier, suffixed with ``_`` when it would
    shadow a keyword, builtin or reserved name, then numbered (``x_1``,
    ``x_2``) while taken.
    """

    def __init__(self, taken=(), parent: Namespace | None = None, avoid=()):
        self.parent = parent
        self.used: set[str] = set(taken)
        self.avoid = set(avoid)  # never created here, but free for nested scopes (names their locals take)
        self.counts: dict[str, int] = {}

    def _taken(self, name: str) -> bool:
        return name in self.used or (self.parent is not None and self.parent._taken(name))

    def reserve(self, name: str) -> str:
        """Claim ``name`` exactly (a name the code relies on, such as a batch field's local)."""
        self.used.add(name)
        return name

    def create_name(self, candidate: str) -> str:
        name = _identifier(candidate)
        if self._taken(name) or name in self.avoid:
            base = _NUMBERED.sub("", name) or name
            i = self.counts.get(base, 0) + 1
            while self._taken(f"{base}_{i}") or f"{base}_{i}" in self.avoid:
                i += 1
            self.counts[base] = i
            name = f"{base}_{i}"
        self.used.add(name)
        return name


# ---- names of model-call locals ------------------------------------------------------

_WORDS = {"+": "plus", "-": "minus", "*": "times"}


def _arg_hint(e, local: dict) -> str:
    """An argument in a local's name: variables by the locals that hold them (``triangle_w``)."""
    kind = type(e).__name__
    if kind == "Name":
        return local.get(e.name, e.name)
    if kind == "Int":
        return str(e.value)
    if kind == "Neg":
        return "neg_" + _arg_hint(e.operand, local)
    if kind == "BinOp":
        return f"{_arg_hint(e.left, local)}_{_WORDS.get(e.op, 'op')}_{_arg_hint(e.right, local)}"
    if kind == "Act":  # the element by its own name: g . x -> gx
        element, operand = _arg_hint(e.element, {}), _arg_hint(e.operand, local)
        return element + operand if len(element) == len(operand) == 1 else f"{element}_{operand}"
    if kind == "Call":
        return call_hint(e, local)
    return "x"


def call_hint(e, local: dict) -> str:
    parts = [_arg_hint(a, local) for a in e.args]
    joined = "".join(parts) if all(len(p) == 1 for p in parts) else "_".join(parts)
    return f"{e.func.name}_{joined}" if joined else e.func.name
