"""AST back to .sym text, with the brackets precedence needs (for messages, explain and fmt)."""

from __future__ import annotations

from collections.abc import Callable

from . import ast

__all__ = ["unparse"]

# loosest first, as in the grammar
_LEVEL = {"=>": 1, "or": 2, "and": 3, "compare": 4, "+": 5, "-": 5, "*": 6, "unary": 7, ".": 8, "atom": 9}


def _level(e) -> int:
    if isinstance(e, ast.Logic):
        return _LEVEL[e.op]
    if isinstance(e, ast.Compare):
        return _LEVEL["compare"]
    if isinstance(e, ast.BinOp):
        return _LEVEL[e.op]
    if isinstance(e, ast.Neg | ast.Not):
        return _LEVEL["unary"]
    if isinstance(e, ast.Act):
        return _LEVEL["."]
    return _LEVEL["atom"]


def _wrap(e, at_least: int, number, tight=None) -> str:
    text = unparse(e, number, tight)
    return f"({text})" if _level(e) < at_least else text


def unparse(e, number: Callable | None = None, tight: Callable | None = None) -> str:
    """The .sym text of an expression node.

    ``number``: how a number node (:class:`ast.Int`, :class:`ast.Real`) is spelled
    (``fmt`` keeps the source's spelling); by default its value (a real: its text).
    ``tight``: for ``A . (B . X)`` with names ``A`` and ``B``, whether to print ``A.B . X``
    (``fmt``: where the source wrote that first ``.`` tight, a constant group element); by default never.
    """
    if number is not None and isinstance(e, ast.Int | ast.Real):
        return number(e)
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Ident):
        return e.name
    if isinstance(e, ast.Int):
        return str(e.value)
    if isinstance(e, ast.Real):
        return e.text
    if isinstance(e, ast.Call | ast.Index):
        open_, close = ("(", ")") if isinstance(e, ast.Call) else ("[", "]")
        return e.func.name + open_ + ", ".join(unparse(a, number, tight) for a in e.args) + close
    if isinstance(e, ast.KwArg):
        return f"{e.name.name}={unparse(e.value, number, tight)}"
    if isinstance(e, ast.Tuple):
        return "(" + ", ".join(unparse(i, number, tight) for i in e.items) + ("," if len(e.items) == 1 else "") + ")"
    if isinstance(e, ast.Neg):
        return "-" + _wrap(e.operand, _LEVEL["unary"], number, tight)
    if isinstance(e, ast.Not):
        return "not " + _wrap(e.operand, _LEVEL["unary"], number, tight)
    if isinstance(e, ast.Act):
        inner = e.operand
        if tight is not None and isinstance(e.element, ast.Name) and isinstance(inner, ast.Act):
            if isinstance(inner.element, ast.Name) and tight(e):
                return f"{e.element.name}.{inner.element.name} . {_wrap(inner.operand, _LEVEL['.'], number, tight)}"
        return f"{_wrap(e.element, _LEVEL['atom'], number, tight)} . {_wrap(e.operand, _LEVEL['.'], number, tight)}"
    if isinstance(e, ast.BinOp):
        level = _LEVEL[e.op]
        return f"{_wrap(e.left, level, number, tight)} {e.op} {_wrap(e.right, level + 1, number, tight)}"
    if isinstance(e, ast.Logic):
        level = _LEVEL[e.op]
        if e.op == "=>":  # right-associative
            return f"{_wrap(e.left, level + 1, number, tight)} => {_wrap(e.right, level, number, tight)}"
        return f"{_wrap(e.left, level, number, tight)} {e.op} {_wrap(e.right, level + 1, number, tight)}"
    if isinstance(e, ast.Compare):
        parts = [_wrap(e.operands[0], _LEVEL["+"], number, tight)]
        for op, o in zip(e.ops, e.operands[1:]):
            parts.append(f"{op} {_wrap(o, _LEVEL['+'], number, tight)}")
        return " ".join(parts)
    raise TypeError(f"cannot unparse {type(e).__name__}")
