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
import re

__all__ = ["RESERVED", "literal", "py", "Namespace", "doc_text", "comment_text", "call_hint"]

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
        "CHECKS",
        "AUGMENTERS",
        "SYMMETRIZERS",
        "SymmetryLoss",
        "Validator",
        "augment",
        "symmetrize",
    }
)


def literal(value) -> str:
    """Python source for a constant (dicts, lists, tuples, strings, numbers), strings double-quoted."""
    if isinstance(value, str):
        return json.dumps(value)
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


def comment_text(text: str) -> str:
    """User text (law bodies, file names) as one line of a ``#`` comment."""
    return " ".join(str(text).split())


def doc_text(text: str) -> str:
    """User text (file names, law bodies) inside a docstring: one line, no quote or backslash escapes it."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


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
