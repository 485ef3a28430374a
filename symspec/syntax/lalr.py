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
from . import ast
from .build import AstBuilder

__all__ = ["Rejected", "Tables", "compile_tables", "run"]


class Rejected(Exception):
    """The input is not in the language; lark will say why.

    ``statement`` is the (line, offset) where the top-level statement being
    parsed starts: everything before it parsed, so lark need only parse from there.
    """

    statement: tuple[int, int] = (1, 0)
    runs: tuple = ()  # (start, end) offsets of complete edges the shortcut took, all of one list's loop

    def window(self, text: str) -> str:
        """The text from the statement in error on (earlier lines empty), with the runs of edges blanked.

        A run's edges leave the parser where it was (a list's loop), so lark parses
        the statement as it would the whole and says the same, at the same line and
        column, without re-reading thousands of edges.
        """
        line, offset = self.statement
        parts = ["\n" * (line - 1)]
        at = offset
        for start, end in self.runs:
            if start >= at:
                parts += [text[at:start], "\n".join(" " * len(piece) for piece in text[start:end].split("\n"))]
                at = end
        parts.append(text[at:])
        return "".join(parts)


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

# One edge of a long list, ``u-v,`` and what follows it up to the next item (blanks,
# comments and, inside brackets, line breaks).  Literals of at most 18 digits always
# fit in 64 bits, so no literal diagnostic can arise.  Groups: u, '-', v, ',', after.
_EDGE = re.compile(r"([0-9]{1,18})[ \t\f]*(-)[ \t\f]*([0-9]{1,18})[ \t\f]*(,)((?:[ \t\f]+|\#[^\n]*|\r?\n)*)")
_SHARED_NUMBERS = 1 << 18  # distinct edge literals whose int objects are shared (bounds that table)
_RUN_DEPTH = 64  # the fast path copies the parser's stack once a run: tried only where that stack is shallow
_RUN_TRIES = 4  # fast-path attempts that may fail in one parser state before it is not tried there again


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


def _edge(file: str, line: int, cu: int, eu: int, u: int, cv: int, ev: int, v: int) -> ast.BinOp:
    """The node the parser builds for the edge ``u-v`` on ``line`` (columns as spans count them)."""
    return ast.BinOp(
        Span(file, line, cu, line, ev),
        "-",
        ast.Int(Span(file, line, cu, line, eu), u),
        ast.Int(Span(file, line, cv, line, ev), v),
    )


def _grown_list(states, values, poss, before_states, before_values, before_poss, sizes) -> int | None:
    """The stack slot whose list alone grew by one item, all else as before but the top position; else None."""
    if states != before_states or len(values) != len(before_values) or len(poss) != len(before_poss):
        return None
    grown = None
    for i in range(len(values) - 1):
        if values[i] is not before_values[i]:
            return None
        if sizes[i] >= 0 and len(values[i]) != sizes[i]:
            if len(values[i]) != sizes[i] + 1 or grown is not None or before_poss[i] is None:
                return None
            grown = i
        elif poss[i] != before_poss[i]:
            return None
    if values[-1] is not None or before_values[-1] is not None:
        return None
    return grown


def run(tables: Tables, text: str, builder: AstBuilder):
    """Parse ``text`` (ending in a newline) into the AST; raise Rejected if it is not valid."""
    statement = [1, 0, []]  # statement line and offset, runs of edges taken whole
    try:
        return _run(tables, text, builder, statement)
    except Rejected as err:
        err.statement = (statement[0], statement[1])
        err.runs = tuple(run for run in statement[2] if run[0] >= statement[1])
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
    tnew = tuple.__new__  # Span(...) without the named tuple's Python-level __new__

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
            out = getattr(builder, rule.name)(tnew(Span, (file, *span_pos)) if span_pos is not None else None, kept)
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

    tries: dict = {}  # parser state -> fast-path attempts that failed there
    numbers: dict = {}  # node number as written -> its int, one object for each (a graph names each node many times)
    minus, comma = ops["-"], ops[","]

    def edge_run(item, line: int, line_start: int) -> tuple[int, int, int]:
        """Parse the list items ``u-v,`` from ``item`` on; return where to resume, and the line then.

        The first item goes through the parser.  When all it did was append one
        ``BinOp('-', Int, Int)`` to a list below the top of the stack and leave every
        state as it was (a repetition's loop: ``_items: _items "," item``), then each
        following item, the same tokens in the same states, does the same: those are
        appended directly, with the spans the parser would give them.
        """
        before_states = states[:]
        before_values = values[:]
        before_poss = poss[:]
        sizes = [len(v) if type(v) is _Splice else -1 for v in values]
        reported = len(builder.diagnostics)
        u, v = item.group(1, 3)
        cu = item.start() - line_start + 1
        cm = item.start(2) - line_start + 1
        cv = item.start(3) - line_start + 1
        cc = item.start(4) - line_start + 1
        feed("INT", Tok(u, "INT", line, cu), (line, cu, line, cu + len(u)))
        feed(minus, None, (line, cm, line, cm + 1))
        feed("INT", Tok(v, "INT", line, cv), (line, cv, line, cv + len(v)))
        feed(comma, None, (line, cc, line, cc + 1))
        end = item.end()
        after = item.group(5)
        item_line, ev = line, cv + len(v)
        if "\n" in after:
            line += after.count("\n")
            line_start = item.start(5) + after.rfind("\n") + 1
        grown = _grown_list(states, values, poss, before_states, before_values, before_poss, sizes)
        if grown is None or len(builder.diagnostics) != reported or poss[-1] != (item_line, cc, item_line, cc + 1):
            tries[before_states[-1]] = tries.get(before_states[-1], 0) + 1
            return end, line, line_start
        items = values[grown]
        first = before_poss[grown]
        expected = poss[grown] == (first[0], first[1], item_line, ev) and items[-1] == _edge(
            file, item_line, cu, cu + len(u), int(u), cv, ev, int(v)
        )
        if not expected:
            tries[before_states[-1]] = tries.get(before_states[-1], 0) + 1
            return end, line, line_start
        # the same step for every following item, without the parser
        run_start = last_start = end
        append = items.append
        match = _EDGE.match
        new, setattr_ = object.__new__, object.__setattr__
        BinOp, Int = ast.BinOp, ast.Int

        def leaf(digits: str, column: int) -> ast.Int:
            """An ``Int`` node for a node number (one shared int object per distinct number, up to a cap)."""
            node = new(Int)
            setattr_(node, "span", tnew(Span, (file, line, column, line, column + len(digits))))
            value = numbers.get(digits)
            if value is None:
                value = int(digits)
                if len(numbers) < _SHARED_NUMBERS:
                    numbers[digits] = value
            setattr_(node, "value", value)
            return node

        while True:
            item = match(text, end)
            if item is None:
                break
            u, v = item.group(1, 3)
            cu = item.start() - line_start + 1
            cv = item.start(3) - line_start + 1
            left, right = leaf(u, cu), leaf(v, cv)
            ev = cv + len(v)
            node = new(BinOp)
            setattr_(node, "span", tnew(Span, (file, line, cu, line, ev)))
            setattr_(node, "op", "-")
            setattr_(node, "left", left)
            setattr_(node, "right", right)
            append(node)
            item_line, cc, last_start = line, item.start(4) - line_start + 1, item.start()
            end = item.end()
            after = item.group(5)
            if after and "\n" in after:
                line += after.count("\n")
                line_start = item.start(5) + after.rfind("\n") + 1
        if last_start > run_start:  # complete edges before the last one: lark may skip them
            statement[2].append((run_start, last_start))
        poss[grown] = (first[0], first[1], item_line, ev)
        poss[-1] = (item_line, cc, item_line, cc + 1)
        return end, line, line_start

    resume = 0
    while resume is not None:
        scanned, resume = resume, None
        for m in _SCAN.finditer(text, scanned):
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
                if (
                    kind == "INT"
                    and brackets
                    and brackets[-1] != "{"
                    and len(states) < _RUN_DEPTH
                    and tries.get(states[-1], 0) < _RUN_TRIES
                ):
                    item = _EDGE.match(text, start)
                    if item is not None:
                        resume, line, line_start = edge_run(item, line, line_start)
                        break
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
