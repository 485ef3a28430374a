"""A fast LALR(1) driver over the parse table that lark builds from the grammar.

lark compiles ``grammars/symspec.lark`` (strict, no conflicts) into states
and rules; this module runs them with a regex lexer and a tight shift/reduce
loop that builds the AST directly, with exact spans, and no parse tree in
between.  It reproduces lark's tree shaping (filtered anonymous tokens,
inlined ``_rules``, ``?rule`` single-child inlining, ``[x]`` placeholders).
It handles valid input only: on the first unexpected token it raises
:class:`Rejected`, and the caller asks lark itself for the diagnostic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Lark
from lark.parsers.lalr_analysis import Shift

from ..errors import Span
from .build import AstBuilder

__all__ = ["Rejected", "Tables", "compile_tables", "run"]


class Rejected(Exception):
    """The input is not in the language; lark will say why.

    ``statement`` is the (line, offset) where the top-level statement being
    parsed starts: everything before it parsed, so lark need only parse from there.
    """

    statement: tuple[int, int] = (1, 0)


class Tok(str):
    """A kept token: its text, terminal type and position (lark Token's interface)."""

    def __new__(cls, text, type_, line, column):
        self = str.__new__(cls, text)
        self.type = type_
        self.line = self.end_line = line
        self.column = column
        self.end_column = column + len(text)
        return self


class _Splice(list):
    """The children of an inlined ``_rule``, to be spliced into its parent."""


_SCAN = re.compile(
    r"""
    (?P<ws>[ \t\f]+)
    |(?P<comment>\#[^\n]*)
    |(?P<nl>(?:\r?\n[ \t\f]*)+)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<REAL>[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)
    |(?P<INT>[0-9]+)
    |(?P<op>==|!=|<=|>=|->|=>|[-+*.,:()\[\]{}<>=|^])
    """,
    re.X,
)


@dataclass
class _Rule:
    size: int
    origin: str
    name: str
    include: tuple  # (index, expand, nones_before)
    trailing_nones: int
    identity: bool  # children kept as they are: no filtering, expansion or placeholders
    expand1: bool
    inline: bool
    passthrough: bool = False  # A -> B with B's value and position unchanged: only the state moves


@dataclass
class Tables:
    table: list  # state -> {symbol: code}; code >= 0 shift/goto, code < 0 reduce rule ~code
    rules: list
    start: int
    end: int
    words: dict  # keyword text -> terminal
    ops: dict  # operator text -> terminal
    chains: dict = None  # (state below, top state, lookahead) -> top state after its unit reductions

    def chain(self, below: int, top: int, lookahead: str) -> int:
        """Run the unit reductions A -> B that ``lookahead`` triggers above ``below``; memoized."""
        key = (below, top, lookahead)
        found = self.chains.get(key)
        if found is None:
            found = top
            while True:
                code = self.table[found].get(lookahead)
                if code is None or code >= 0 or not self.rules[~code].passthrough:
                    break
                found = self.table[below][self.rules[~code].origin]
            self.chains[key] = found
        return found


def compile_tables(lark: Lark) -> Tables:
    """Flatten lark's LALR table and rules into plain dicts and tuples."""
    parse_table = lark.parser.parser.parser.parse_table
    rule_index: dict = {}
    rules: list[_Rule] = []
    for rule in lark.rules:
        rule_index[rule] = len(rules)
        expansion = rule.expansion
        empty = rule.options.empty_indices
        if empty:
            bits = "".join(str(int(b)) for b in empty)
            nones = [len(ones) for ones in bits.split("0")]
        else:
            nones = [0] * (len(expansion) + 1)
        include = []
        pending = 0
        for i, sym in enumerate(expansion):
            pending += nones[i]
            if not (sym.is_term and sym.filter_out):
                include.append((i, (not sym.is_term) and sym.name.startswith("_"), pending))
                pending = 0
        pending += nones[len(expansion)]
        identity = pending == 0 and len(include) == len(expansion) and not any(e or n for _, e, n in include)
        origin = rule.origin.name
        expand1 = bool(rule.options.expand1) and not rule.alias
        inline = origin.startswith("_")
        passthrough = len(expansion) == 1 and identity and expand1 and not inline
        rules.append(
            _Rule(len(expansion), origin, rule.alias or origin, tuple(include), pending, identity, expand1, inline, passthrough)
        )
    table: list = [None] * (max(parse_table.states) + 1)
    for state, actions in parse_table.states.items():
        row = {}
        for symbol, (action, arg) in actions.items():
            row[symbol] = arg if action is Shift else ~rule_index[arg]
        table[state] = row
    words, ops = {}, {}
    for term in lark.terminals:
        if term.pattern.type == "str":
            (words if term.pattern.value[0].isalpha() else ops)[term.pattern.value] = term.name
    return Tables(table, rules, parse_table.start_states["start"], parse_table.end_states["start"], words, ops, {})


_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())


def run(tables: Tables, text: str, builder: AstBuilder):
    """Parse ``text`` (ending in a newline) into the AST; raise Rejected if it is not valid."""
    statement = [1, 0]
    try:
        return _run(tables, text, builder, statement)
    except Rejected as err:
        err.statement = (statement[0], statement[1])
        raise


def _run(tables: Tables, text: str, builder: AstBuilder, statement: list):
    table = tables.table
    rules = tables.rules
    words = tables.words
    ops = tables.ops
    file = builder.file
    states = [tables.start]
    values: list = []
    poss: list = []  # (line, col, end_line, end_col) per symbol, None when empty
    brackets: list = []
    line, line_start = 1, 0

    def reduce(rule: _Rule) -> None:
        if rule.passthrough:
            del states[-1]
            states.append(table[states[-1]][rule.origin])
            return
        n = rule.size
        if n == 1:
            kids = values[-1:]
            span_pos = poss[-1]
            del values[-1], poss[-1], states[-1]
        elif n:
            kids = values[-n:]
            kpos = poss[-n:]
            del values[-n:], poss[-n:], states[-n:]
            span_pos = None
            for p in kpos:
                if p is not None:
                    for q in reversed(kpos):
                        if q is not None:
                            span_pos = (p[0], p[1], q[2], q[3])
                            break
                    break
        else:
            kids, span_pos = [], None
        if rule.identity:
            kept = kids
        else:
            include = rule.include
            if include and include[0][1] and not include[0][2]:
                # The first kept child is an inlined list (a repetition's left recursion,
                # ``_items: _items "," item``): it is this reduction's alone, so extend
                # it in place.  Copying it on every step made long lists quadratic.
                kept = kids[include[0][0]]
                include = include[1:]
            else:
                kept = _Splice()
            for i, expand, nones in include:
                if nones:
                    kept.extend([None] * nones)
                if expand:
                    kept.extend(kids[i])
                else:
                    kept.append(kids[i])
            if rule.trailing_nones:
                kept.extend([None] * rule.trailing_nones)
        if rule.inline:
            out = kept if type(kept) is _Splice else _Splice(kept)
        elif rule.expand1 and len(kept) == 1:
            out = kept[0]
        else:
            out = getattr(builder, rule.name)(Span(file, *span_pos) if span_pos is not None else None, kept)
        states.append(table[states[-1]][rule.origin])
        values.append(out)
        poss.append(span_pos)

    scanned = 0
    chain = tables.chain

    def feed(typ, value, pos) -> None:
        while True:
            code = table[states[-1]].get(typ)
            if code is None:
                raise Rejected
            if code >= 0:
                states.append(code)
                values.append(value)
                poss.append(pos)
                return
            rule = rules[~code]
            if rule.passthrough:  # chains of unit reductions (precedence levels): one memoized step
                states[-1] = chain(states[-2], states[-1], typ)
            else:
                reduce(rule)

    for m in _SCAN.finditer(text):
        start = m.start()
        if start != scanned:
            raise Rejected  # a character no token matches
        scanned = m.end()
        kind = m.lastgroup
        if kind == "ws" or kind == "comment":
            continue
        value = m.group()
        if kind == "nl":
            if brackets and brackets[-1] != "{":
                pass
            else:
                feed("_NL", None, None)
            line += value.count("\n")
            line_start = start + value.rfind("\n") + 1
            if not brackets:
                statement[0] = line
                statement[1] = line_start
            continue
        col = start - line_start + 1
        pos = (line, col, line, col + len(value))
        if kind == "word":
            typ = words.get(value)
            if typ is None or typ not in table[states[-1]]:
                typ = "NAME"
            token = Tok(value, typ, line, col) if typ == "NAME" else None
        elif kind == "op":
            if value in _OPENERS:
                brackets.append(value)
            elif value in _CLOSERS:
                if not brackets or _OPENERS[brackets[-1]] != value:
                    raise Rejected
                brackets.pop()
            typ = ops.get(value, "COMPARE")
            if typ == "LESSTHAN" or typ == "MORETHAN":
                if typ not in table[states[-1]]:
                    typ = "COMPARE"
            token = Tok(value, typ, line, col) if typ == "COMPARE" else None
        else:
            typ = kind
            token = Tok(value, typ, line, col)
        code = table[states[-1]].get(typ)
        if code is not None and code >= 0:  # a plain shift, inlined
            states.append(code)
            values.append(token)
            poss.append(pos)
        else:
            feed(typ, token, pos)
    if scanned != len(text):
        raise Rejected
    while True:  # end of input: reduce down to the start symbol
        code = table[states[-1]].get("$END")
        if code is None or code >= 0:
            raise Rejected
        reduce(rules[~code])
        if states[-1] == tables.end:
            return values[-1]
