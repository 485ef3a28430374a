"""A tiny tree of emitted Python: expressions and statements, printed to text in one place.

Lowering builds these nodes; :class:`Printer` is the only code that turns them
into text (parenthesizing by precedence, wrapping lines over ``WIDTH``).
Constants are written by :func:`names.literal`; nothing else reaches the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .names import comment_text, identifier, literal

__all__ = [
    "Expr",
    "Name",
    "Const",
    "Attr",
    "Call",
    "Index",
    "Slice",
    "TupleE",
    "ListE",
    "DictE",
    "BinOp",
    "Unary",
    "Lambda",
    "Assign",
    "If",
    "Return",
    "Comment",
    "ExprStmt",
    "Blank",
    "Printer",
    "as_expr",
    "rt",
    "torch_",
    "method",
    "call",
    "free_names",
    "WIDTH",
]

WIDTH = 120


class Expr:
    """An emitted expression (frozen dataclasses: equal trees are equal values)."""


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class Const(Expr):
    value: object

    def __hash__(self):
        return hash(repr(self.value))

    def __eq__(self, other):
        return isinstance(other, Const) and type(other.value) is type(self.value) and repr(other.value) == repr(self.value)


@dataclass(frozen=True)
class Attr(Expr):
    obj: Expr
    name: str


@dataclass(frozen=True)
class Call(Expr):
    func: Expr
    args: tuple = ()
    kwargs: tuple = ()  # of (name, Expr)


@dataclass(frozen=True)
class Index(Expr):
    obj: Expr
    index: Expr


@dataclass(frozen=True)
class Slice(Expr):
    lo: Expr | None = None
    hi: Expr | None = None


@dataclass(frozen=True)
class TupleE(Expr):
    items: tuple


@dataclass(frozen=True)
class ListE(Expr):
    items: tuple


@dataclass(frozen=True)
class DictE(Expr):
    items: tuple  # of (Expr, Expr)


@dataclass(frozen=True)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # '-', '~', 'not', '*' (unpacking)
    operand: Expr


@dataclass(frozen=True)
class Lambda(Expr):
    params: tuple
    body: Expr


# ---- statements --------------------------------------------------------------------


@dataclass(frozen=True)
class Assign:
    targets: tuple  # of Expr (one, or several unpacked)
    value: Expr
    comment: str | None = None


@dataclass(frozen=True)
class If:
    cond: Expr
    body: tuple
    orelse: tuple = ()


@dataclass(frozen=True)
class Return:
    value: Expr


@dataclass(frozen=True)
class Comment:
    text: str


@dataclass(frozen=True)
class ExprStmt:
    value: Expr


@dataclass(frozen=True)
class Blank:
    pass


# ---- building ----------------------------------------------------------------------


def as_expr(x) -> Expr:
    """A node as is; a Python constant as a :class:`Const` (containers element by element)."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, dict):
        return DictE(tuple((as_expr(k), as_expr(v)) for k, v in x.items()))
    if isinstance(x, list):
        return ListE(_items(x))
    if isinstance(x, tuple):
        return TupleE(_items(x))
    return Const(x)


def _items(xs) -> tuple:
    """The elements of a list or tuple as nodes (scalars made constants without a call each: tables are long)."""
    return tuple([x if isinstance(x, Expr) else (as_expr(x) if isinstance(x, dict | list | tuple) else Const(x)) for x in xs])


def call(func, *args, **kwargs) -> Call:
    func = Name(func) if isinstance(func, str) else func
    return Call(func, _items(args), tuple([(k, v if isinstance(v, Expr) else as_expr(v)) for k, v in kwargs.items()]))


def rt(fn: str, *args, **kwargs) -> Call:
    """A call of a ``symspec.runtime`` kernel."""
    return call(Attr(Name("rt"), fn), *args, **kwargs)


def torch_(fn: str, *args, **kwargs) -> Call:
    return call(Attr(Name("torch"), fn), *args, **kwargs)


def method(obj: Expr, name: str, *args, **kwargs) -> Call:
    return call(Attr(obj, name), *args, **kwargs)


def free_names(node) -> set:
    """Every name an expression or statement list reads or binds (an analysis of the tree, not of text)."""
    out: set = set()
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, Name):
            out.add(x.id)
        elif isinstance(x, list | tuple):
            stack += list(x)
        elif isinstance(x, Lambda):
            stack.append(x.body)
        elif hasattr(x, "__dataclass_fields__") and not isinstance(x, Const):
            stack += [getattr(x, f) for f in x.__dataclass_fields__]
    return out


# ---- printing -----------------------------------------------------------------------

_PREC = {
    "or": 2,
    "and": 3,
    "in": 5,
    "==": 5,
    "!=": 5,
    "<": 5,
    "<=": 5,
    ">": 5,
    ">=": 5,
    "|": 6,
    "^": 7,
    "&": 8,
    "+": 10,
    "-": 10,
    "*": 11,
    "/": 11,
    "//": 11,
    "%": 11,
    "@": 11,
}
_ATOM = 16


def _binary(op: str) -> int:
    """An operator's precedence; anything but a known operator is refused (it would be printed verbatim)."""
    if op not in _PREC:
        raise ValueError(f"no binary operator {op!r}")
    return _PREC[op]


def _prec(e: Expr) -> int:
    if isinstance(e, BinOp):
        return _binary(e.op)
    if isinstance(e, Unary):
        return 4 if e.op == "not" else 12
    if isinstance(e, Lambda):
        return 0
    if isinstance(e, Const) and isinstance(e.value, int | float) and not isinstance(e.value, bool) and e.value < 0:
        return 12
    return _ATOM


def _short_constant(e: Expr) -> bool:
    """A number, or a tuple of numbers: table entries packed several to a line."""
    if isinstance(e, TupleE):
        return all(isinstance(i, Const) and isinstance(i.value, int | float) for i in e.items)
    return isinstance(e, Const) and isinstance(e.value, int | float | str | type(None))


class Printer:
    """Python text of expression and statement trees (the only place code becomes text)."""

    def __init__(self, width: int = WIDTH):
        self.width = width

    # ---- one line
    def expr(self, e: Expr, min_prec: int = 0) -> str:
        text = self._flat(e)
        return f"({text})" if _prec(e) < min_prec else text

    def _items(self, items) -> str:
        return ", ".join(self.expr(i, 1) for i in items)

    def _flat(self, e: Expr) -> str:
        if isinstance(e, Name):
            return identifier(e.id)
        if isinstance(e, Const):
            return literal(e.value)
        if isinstance(e, Attr):
            return f"{self.expr(e.obj, _ATOM)}.{identifier(e.name)}"
        if isinstance(e, Call):
            args = [self.expr(a) for a in e.args] + [f"{identifier(k)}={self.expr(v)}" for k, v in e.kwargs]
            return f"{self.expr(e.func, _ATOM)}({', '.join(args)})"
        if isinstance(e, Index):
            if isinstance(e.index, TupleE) and e.index.items:
                inner = ", ".join(self.expr(i, 1) for i in e.index.items)
            else:
                inner = self.expr(e.index, 1)
            return f"{self.expr(e.obj, _ATOM)}[{inner}]"
        if isinstance(e, Slice):
            lo = self.expr(e.lo, 1) if e.lo is not None else ""
            hi = self.expr(e.hi, 1) if e.hi is not None else ""
            return f"{lo}:{hi}"
        if isinstance(e, TupleE):
            return f"({self._items(e.items)},)" if len(e.items) == 1 else f"({self._items(e.items)})"
        if isinstance(e, ListE):
            return f"[{self._items(e.items)}]"
        if isinstance(e, DictE):
            return "{" + ", ".join(f"{self.expr(k, 1)}: {self.expr(v, 1)}" for k, v in e.items) + "}"
        if isinstance(e, BinOp):
            p = _binary(e.op)
            left_min = p + 1 if p == 5 else p  # comparisons do not chain here
            right = e.right
            if isinstance(right, BinOp) and right.op == e.op and e.op in ("&", "|"):  # associative on bools
                return f"{self.expr(e.left, left_min)} {e.op} {self.expr(right, p)}"
            return f"{self.expr(e.left, left_min)} {e.op} {self.expr(right, p + 1)}"
        if isinstance(e, Unary):
            if e.op == "not":
                return f"not {self.expr(e.operand, 4)}"
            if e.op not in ("-", "~", "*"):  # "*": unpacking in a call
                raise ValueError(f"no unary operator {e.op!r}")
            return f"{e.op}{self.expr(e.operand, 12)}"
        if isinstance(e, Lambda):
            return f"lambda {', '.join(identifier(x) for x in e.params)}: {self.expr(e.body, 0)}"
        raise TypeError(f"cannot print {type(e).__name__}")

    # ---- wrapped
    def wrap(self, e: Expr, indent: int, prefix: str = "", suffix: str = "", min_prec: int = 0) -> list:
        """Lines (with indentation) of ``prefix + e + suffix``, broken inside brackets when too long."""
        pad = " " * indent
        flat = pad + prefix + self.expr(e, min_prec) + suffix
        if len(flat) <= self.width:
            return [flat]
        if _prec(e) < min_prec and not isinstance(e, BinOp):  # a wrapped BinOp brings its own parentheses (below)
            # one expression in parentheses: no trailing comma, which would make it a 1-tuple
            return [pad + prefix + "("] + self.wrap(e, indent + 4) + [pad + ")" + suffix]
        if isinstance(e, Call) and not e.args and not e.kwargs:
            return self.wrap(e.func, indent, prefix, "()" + suffix, _ATOM)
        if isinstance(e, Call):
            items = list(e.args) + [("kw", k, v) for k, v in e.kwargs]
            head = pad + prefix + self.expr(e.func, _ATOM) + "("
            return self._block(head, items, indent, ")" + suffix, fill=False)
        if isinstance(e, ListE | TupleE):
            fill = bool(e.items) and all(_short_constant(i) for i in e.items)
            open_, close = ("[", "]") if isinstance(e, ListE) else ("(", ")")
            lines = self._block(pad + prefix + open_, list(e.items), indent, close + suffix, fill=fill)
            if isinstance(e, TupleE) and len(e.items) == 1 and not lines[-2].endswith(","):
                lines[-2] += ","  # a 1-tuple keeps its comma when its item fits on a line of its own
            return lines
        if isinstance(e, DictE):
            return self._block(pad + prefix + "{", [("kv", k, v) for k, v in e.items], indent, "}" + suffix, fill=False)
        if isinstance(e, Index):
            return self.wrap(e.obj, indent, prefix, f"[{self.expr(e.index, 1)}]" + suffix, _ATOM)
        if isinstance(e, Attr):
            return self.wrap(e.obj, indent, prefix, f".{e.name}" + suffix, _ATOM)
        if isinstance(e, BinOp):
            operands, ops = self._chain(e)
            lines = [pad + prefix + "("]
            for i, x in enumerate(operands):
                lead = "" if i == 0 else ops[i - 1] + " "
                lines += self.wrap(x, indent + 4, lead, "", _binary(e.op) + 1)
            return lines + [pad + ")" + suffix]
        if isinstance(e, Const) and isinstance(e.value, dict | list | tuple):
            return self.wrap(as_expr(e.value), indent, prefix, suffix, min_prec)
        return [flat]

    def _chain(self, e: BinOp):
        """A left-nested chain of one operator precedence as operands and operators."""
        p = _binary(e.op)
        if p == 5:
            return [e.left, e.right], [e.op]
        if isinstance(e.left, BinOp) and _binary(e.left.op) == p:
            operands, ops = self._chain(e.left)
            return operands + [e.right], ops + [e.op]
        return [e.left, e.right], [e.op]

    def _block(self, head: str, items: list, indent: int, tail: str, fill: bool) -> list:
        inner = indent + 4
        pad = " " * inner
        lines = [head]
        if fill:  # short constants (tables): as many per line as fit
            line = ""
            for item in items:
                text = self.expr(item, 1) + ","
                if line and len(pad) + len(line) + 1 + len(text) > self.width:
                    lines.append(pad + line)
                    line = text
                else:
                    line = f"{line} {text}" if line else text
            if line:
                lines.append(pad + line)
        else:
            flat = ", ".join(self._item(item) for item in items)
            if len(pad) + len(flat) <= self.width:  # the items fit on one line of their own
                return [head, pad + flat, " " * indent + tail]
            for item in items:
                if isinstance(item, tuple) and item[0] == "kw":
                    lines += self.wrap(item[2], inner, f"{item[1]}=", ",")
                elif isinstance(item, tuple) and item[0] == "kv":
                    lines += self.wrap(item[2], inner, f"{self.expr(item[1], 1)}: ", ",")
                else:
                    lines += self.wrap(item, inner, "", ",")
        lines.append(" " * indent + tail)
        return lines

    def _item(self, item) -> str:
        if isinstance(item, tuple) and item[0] == "kw":
            return f"{item[1]}={self.expr(item[2])}"
        if isinstance(item, tuple) and item[0] == "kv":
            return f"{self.expr(item[1], 1)}: {self.expr(item[2])}"
        return self.expr(item)

    def stmts(self, stmts, indent: int) -> list:
        lines = []
        for s in stmts:
            lines += self.stmt(s, indent)
        return lines

    def stmt(self, s, indent: int) -> list:
        pad = " " * indent
        if isinstance(s, Assign):
            targets = ", ".join(self.expr(t, 1) for t in s.targets)
            comment = f"  # {comment_text(s.comment)}" if s.comment else ""
            value = s.value
            if isinstance(value, TupleE) and len(value.items) > 1 and len(s.targets) == len(value.items):
                values = ", ".join(self.expr(i, 1) for i in value.items)  # unpacking: a, b = x, y
                lines = [f"{pad}{targets} = {values}"]
            else:
                lines = self.wrap(value, indent, f"{targets} = ", "")
            if comment and len(lines) == 1 and len(lines[0]) + len(comment) <= self.width:
                return [lines[0] + comment]
            return ([pad + comment.strip()] if comment else []) + lines
        if isinstance(s, If):
            lines = self.wrap(s.cond, indent, "if ", ":")
            lines += self.stmts(s.body, indent + 4)
            if s.orelse:
                lines.append(pad + "else:")
                lines += self.stmts(s.orelse, indent + 4)
            return lines
        if isinstance(s, Return):
            return self.wrap(s.value, indent, "return ", "")
        if isinstance(s, ExprStmt):
            return self.wrap(s.value, indent, "", "")
        if isinstance(s, Comment):
            return [pad + "# " + comment_text(s.text)]
        if isinstance(s, Blank):
            return [""]
        raise TypeError(f"cannot print {type(s).__name__}")
