"""Diagnostics collection and the symbol table of a spec."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import Diagnostic, Span

__all__ = ["Reporter", "Symbol", "SymbolTable", "Candidates", "suggest", "did_you_mean"]


def _edits(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]


MAX_FUZZY_CANDIDATES = 1000
"""Past this many candidates a suggestion is only a match ignoring case: fuzzy matching
costs time per candidate for every unknown name, quadratic in a large file."""


class Candidates:
    """A fixed set of names to suggest from, sorted and indexed by lower case once: pass one where many unknown
    names are looked up among the same names (building and hashing the list for each was quadratic)."""

    __slots__ = ("pool", "lowered")

    def __init__(self, names) -> None:
        self.pool = sorted(set(names))
        self.lowered = {c.lower(): c for c in self.pool}


@lru_cache(maxsize=8)
def _pool(candidates: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The sorted candidates and a lower-case index, built once per set of candidates."""
    pool = sorted(set(candidates))
    return pool, {c.lower(): c for c in pool}


def suggest(word: str, candidates) -> str | None:
    """The closest candidate to ``word``, if one is close enough."""
    if isinstance(candidates, Candidates):
        pool, lowered = candidates.pool, candidates.lowered
    else:
        pool, lowered = _pool(tuple(candidates))
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]
    if len(pool) > MAX_FUZZY_CANDIDATES:
        return None
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if close:
        return close[0]
    budget = 1 if len(word) <= 4 else 2
    scored = sorted((_edits(word.lower(), c.lower()), c) for c in pool)
    return scored[0][1] if scored and scored[0][0] <= budget and len(scored[0][1]) > 1 else None


def did_you_mean(word: str, candidates, otherwise: str | None = None) -> str | None:
    best = suggest(word, candidates)
    return f"did you mean '{best}'?" if best else otherwise


class Reporter:
    """Collects errors and warnings; analysis goes on after an error."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._errors: list[Diagnostic] = []

    def error(self, message: str, span: Span | None, hint: str | None = None, *, kind: str = "type", notes=()) -> None:
        diag = Diagnostic(message, span, hint, "error", kind, tuple(notes))
        self.diagnostics.append(diag)
        self._errors.append(diag)

    def warning(self, message: str, span: Span | None, hint: str | None = None, *, notes=()) -> None:
        self.diagnostics.append(Diagnostic(message, span, hint, "warning", "warning", tuple(notes)))

    @property
    def has_errors(self) -> bool:
        """Whether any error was reported (no copy: asked after each law)."""
        return bool(self._errors)

    @property
    def errors(self) -> list[Diagnostic]:
        """The errors so far, in order (kept apart: the analysis asks after each law)."""
        return list(self._errors)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


@dataclass
class Symbol:
    """A declared name: what kind of thing it is and the statement declaring it."""

    name: str
    kind: str  # 'param', 'domain', 'graph', 'group', 'model'
    decl: object
    span: Span
    used: bool = False


# article + noun for messages: "'Zp' is a domain"
KIND_WORDS = {
    "param": "a parameter",
    "domain": "a domain",
    "graph": "a graph",
    "group": "a group",
    "model": "a model",
    "law": "a law",
    "layer": "a layer",
    "prior": "a prior",
    "break": "a break",
    "dim": "a symbolic dimension",
}


@dataclass
class SymbolTable:
    """Declared names.  Values (params, domains, graphs, groups, models) share
    one namespace; laws, layers, priors and breaks, which name results, share another."""

    values: dict[str, Symbol] = field(default_factory=dict)
    results: dict[str, Symbol] = field(default_factory=dict)
    dims: dict[str, Span] = field(default_factory=dict)
    by_kind: dict[str, list[str]] = field(default_factory=dict)  # value names per kind, for names_of

    def declare(self, reporter: Reporter, name: str, kind: str, decl, span: Span) -> bool:
        table = self.results if kind in ("law", "layer", "prior", "break") else self.values
        if name in table:
            first = table[name]
            reporter.error(
                f"'{name}' is declared twice: it is already {KIND_WORDS[first.kind]}",
                span,
                "rename one of them",
                kind="name",
                notes=[(first.span, f"'{name}' first declared here")],
            )
            return False
        table[name] = Symbol(name, kind, decl, span)
        if table is self.values:
            self.by_kind.setdefault(kind, []).append(name)
        return True

    def lookup(self, name: str) -> Symbol | None:
        sym = self.values.get(name)
        if sym is not None:
            sym.used = True
        return sym

    def names_of(self, *kinds: str) -> list[str]:
        """The value names of these kinds (kind by kind): read from an index, not by scanning
        every symbol, which made one unknown name per line quadratic in the file's length."""
        return [n for kind in kinds for n in self.by_kind.get(kind, ())]
