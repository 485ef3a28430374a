"""Parse-tree shaping into the AST: one builder shared by both parse engines."""

from __future__ import annotations

import math
import sys

from ..errors import Diagnostic, Span
from . import ast

__all__ = ["AstBuilder", "Args", "MAX_INT_LITERAL", "literal_text"]

MAX_INT_LITERAL = 2**63 - 1
"""The largest integer literal: every integer of a spec fits in a signed 64-bit integer."""
_MAX_INT_DIGITS = len(str(MAX_INT_LITERAL))
_SHOWN_DIGITS = 40
_tuple_new = tuple.__new__  # Span(...) without the named tuple's Python-level __new__


def literal_text(text: str, unit: str = "characters") -> str:
    """A literal as messages quote it: whole when short, else its ends and its length in ``unit``."""
    if len(text) <= _SHOWN_DIGITS:
        return text
    return f"{text[:20]}...{text[-10:]} ({len(text)} {unit})"


class Args(list):
    """Marker for an argument list inside a call's children."""


class AstBuilder:
    """Builds AST nodes from a rule's kept children and its span.

    One method per grammar rule or alias; ``span`` covers all of the rule's
    tokens (punctuation included), or is None for an empty rule.
    """

    def __init__(self, file: str):
        self.file = file
        self.diagnostics: list[Diagnostic] = []  # literals that do not fit, found while building

    def _int(self, tok) -> int:
        """The value of an INT token; one over 2^63 - 1 is an error at its span (the value is then 0)."""
        text = str(tok)
        digits = text.lstrip("0") or "0"
        if len(digits) <= _MAX_INT_DIGITS:  # never int() of a long string: Python refuses over 4,300 digits
            value = int(digits)
            if value <= MAX_INT_LITERAL:
                return value
        self.diagnostics.append(
            Diagnostic(
                f"integer literal {literal_text(text, 'digits')} is too large (limit 2^63 - 1)",
                self._tokspan(tok),
                f"integers in a spec fit in 64 bits: at most {MAX_INT_LITERAL}",
                kind="syntax",
            )
        )
        return 0

    def _real(self, tok) -> float:
        """The value of a REAL token; one that overflows to infinity is an error at its span (the value is then 0)."""
        value = float(tok)
        if math.isfinite(value):
            return value
        self.diagnostics.append(
            Diagnostic(
                f"number {literal_text(str(tok))} is too large: it is infinite as a 64-bit float",
                self._tokspan(tok),
                f"numbers in a spec are finite: at most {sys.float_info.max:.6g}",
                kind="syntax",
            )
        )
        return 0.0

    def _ident(self, tok) -> ast.Ident:
        return ast.Ident(_tuple_new(Span, (self.file, tok.line, tok.column, tok.end_line, tok.end_column)), str(tok))

    def _tokspan(self, tok) -> Span:
        return _tuple_new(Span, (self.file, tok.line, tok.column, tok.end_line, tok.end_column))

    # statements
    def start(self, span, children):
        span = span or Span(self.file, 1, 1, 1, 1)
        return ast.SpecFile(span, self.file, tuple(children))

    def spec_decl(self, span, c):
        return ast.SpecDecl(span, self._ident(c[0]))

    def param_decl(self, span, c):
        return ast.ParamDecl(span, self._ident(c[0]), c[1].value, c[1].span)

    def domain_decl(self, span, c):
        return ast.DomainDecl(span, self._ident(c[0]), c[1])

    def graph_decl(self, span, c):
        return ast.GraphDecl(span, self._ident(c[0]), c[1])

    def group_decl(self, span, c):
        return ast.GroupDecl(span, self._ident(c[0]), c[1])

    def action_by(self, span, c):
        return ast.ActionDecl(span, self._ident(c[0]), self._ident(c[1]), None, c[2])

    def action_block(self, span, c):
        maps = tuple(c[2]) if c[2] is not None else ()
        return ast.ActionDecl(span, self._ident(c[0]), self._ident(c[1]), maps, None)

    def gen_maps(self, span, c):
        return [m for m in c if m is not None]

    def gen_map(self, span, c):
        return ast.GenMap(span, self._ident(c[0]), c[1])

    def model_decl(self, span, c):
        params = tuple(p for p in c[1:-1] if p is not None)
        return ast.ModelDecl(span, self._ident(c[0]), params, c[-1])

    def model_param(self, span, c):
        return ast.ModelParam(span, self._ident(c[0]), c[1])

    def law_decl(self, span, c):
        name, binders, body, guard, options = c
        return ast.LawDecl(span, self._ident(name), binders or (), body, guard, options or ())

    def binders(self, span, c):
        return tuple(c)

    def binder(self, span, c):
        return ast.Binder(span, self._ident(c[0]), c[1])

    def guard(self, span, c):
        return c[0]

    def options(self, span, c):
        return tuple(o for o in c if o is not None)

    def option(self, span, c):
        return ast.Option(span, self._ident(c[0]), c[1])

    def layer_decl(self, span, c):
        return ast.LayerDecl(span, self._ident(c[0]), c[1], c[2], c[3], c[4] or ())

    def prior_decl(self, span, c):
        args = tuple(c[2]) if c[2] is not None else ()
        return ast.PriorDecl(span, self._ident(c[0]), self._ident(c[1]), args, c[3] or ())

    def break_decl(self, span, c):
        args = tuple(c[2]) if c[2] is not None else ()
        return ast.BreakDecl(span, self._ident(c[0]), self._ident(c[1]), args, c[3] or ())

    # groups
    def group_product(self, span, c):
        left, right = c
        factors = left.factors if isinstance(left, ast.GroupProduct) else (left,)
        return ast.GroupProduct(span, (*factors, right))

    def presentation(self, span, c):
        gens = tuple(self._ident(t) for t in c if t is not None and not isinstance(t, ast.Relator))
        rels = tuple(r for r in c if isinstance(r, ast.Relator))
        return ast.Presentation(span, gens, rels)

    def relator(self, span, c):
        return ast.Relator(span, c[0], c[1])

    def word(self, span, c):
        return ast.Word(span, tuple(c))

    def identity_word(self, span, c):
        value = self._int(c[0])
        powers = () if value == 1 else (ast.Int(self._tokspan(c[0]), value),)
        return ast.Word(span, powers)

    def power(self, span, c):
        base, exponent = c
        return ast.Power(span, base, 1 if exponent is None else exponent.value)

    def generator(self, span, c):
        return self._ident(c[0])

    # expressions
    def name(self, span, c):
        return ast.Name(span, str(c[0]))

    def call(self, span, c):
        args: list = []
        for a in c[1:]:
            if isinstance(a, Args):
                args.extend(a)
            elif a is not None:
                args.append(a)
        return ast.Call(span, self._ident(c[0]), tuple(args))

    def index(self, span, c):
        return ast.Index(span, self._ident(c[0]), tuple(c[1]) if c[1] is not None else ())

    def cargs(self, span, c):
        return Args(a for a in c if a is not None)

    def kwarg(self, span, c):
        return ast.KwArg(span, self._ident(c[0]), c[1])

    def tuple(self, span, c):
        return ast.Tuple(span, tuple(a for a in c if a is not None))

    def int(self, span, c):
        return ast.Int(span, self._int(c[0]))

    def neg_int(self, span, c):
        return ast.Int(span, -self._int(c[0]))

    def real(self, span, c):
        return ast.Real(span, self._real(c[0]), str(c[0]))

    def neg_real(self, span, c):
        return ast.Real(span, -self._real(c[0]), "-" + str(c[0]))

    def _binary(node, op):  # noqa: N805 - a factory used in the class body
        def method(self, span, c):
            return node(span, op, c[0], c[1])

        return method

    add = _binary(ast.BinOp, "+")
    sub = _binary(ast.BinOp, "-")
    mul = _binary(ast.BinOp, "*")
    and_ = _binary(ast.Logic, "and")
    or_ = _binary(ast.Logic, "or")
    implies = _binary(ast.Logic, "=>")

    def neg(self, span, c):
        return ast.Neg(span, c[0])

    def not_(self, span, c):
        return ast.Not(span, c[0])

    def act(self, span, c):
        return ast.Act(span, c[0], c[1])

    def compare(self, span, c):
        return ast.Compare(span, tuple(c[0::2]), tuple(str(t) for t in c[1::2]))
