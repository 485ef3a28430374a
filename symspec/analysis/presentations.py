"""Orders of finite presentations, bounded in time and memory (no sympy).

A presentation ``<g1, ..., gk | r1, ..., rm>`` is read as relator words over
the letters ``2i`` (``gi``) and ``2i + 1`` (``gi^-1``).  Three steps, each
bounded before it starts:

1. the **abelianization** ``Z^k / <exponent sums of the relators>`` by integer
   Smith normal form: a rank below ``k`` means the group is infinite; its order
   divides the group's, so an abelianization larger than the coset cap means
   the group is too;
2. a presentation whose relators make every pair of generators commute is
   abelian: its order *is* the abelianization's (no enumeration);
3. otherwise Todd-Coxeter coset enumeration (HLT with coincidences) of the
   trivial subgroup, stopped past ``max_cosets`` live cosets, a table of
   ``max_entries`` entries, or ``max_work`` scan steps.
"""

from __future__ import annotations

import math

__all__ = [
    "PresentationTooLarge",
    "PresentationInfinite",
    "relator_letters",
    "exponent_sums",
    "abelian_invariants",
    "commuting_pairs",
    "presentation_order",
    "MAX_RELATOR_LETTERS",
    "MAX_COSET_WORK",
    "MAX_TABLE_ENTRIES",
]

MAX_RELATOR_LETTERS = 100_000  # letters of all relators together, powers written out
MAX_COSET_WORK = 20_000_000  # scan and coincidence steps of one coset enumeration (counted generously: about a second of Python)
MAX_TABLE_ENTRIES = 2_000_000  # entries of the coset table (cosets defined x 2 x generators)


class PresentationTooLarge(Exception):
    """The enumeration would pass one of its bounds; the message says which."""


class PresentationInfinite(Exception):
    """The abelianization is infinite, so the group is."""


def _letters(word, index: dict) -> list:
    out: list = []
    for p in word.powers:
        base = _letters(p.base, index) if hasattr(p.base, "powers") else [2 * index[p.base.name]]
        if p.exponent < 0:
            base = [x ^ 1 for x in reversed(base)]
        out += base * abs(p.exponent)
    return out


def _length(word) -> int:
    return sum(abs(p.exponent) * (_length(p.base) if hasattr(p.base, "powers") else 1) for p in word.powers)


def _reduce(word: list) -> list:
    """Free and cyclic reduction (a relator is a cyclic word)."""
    out: list = []
    for x in word:
        if out and out[-1] == x ^ 1:
            out.pop()
        else:
            out.append(x)
    i, j = 0, len(out) - 1
    while i < j and out[i] == out[j] ^ 1:
        i, j = i + 1, j - 1
    return out[i : j + 1]


def _sums(word, index: dict, k: int) -> list:
    """The exponent sum of each generator in a word, without writing its powers out."""
    out = [0] * k
    for p in word.powers:
        if hasattr(p.base, "powers"):
            inner = _sums(p.base, index, k)
        else:
            inner = [0] * k
            inner[index[p.base.name]] = 1
        out = [a + p.exponent * b for a, b in zip(out, inner)]
    return out


def exponent_sums(generators: tuple, relators) -> list:
    """Each relator's exponent-sum vector (``lhs = rhs`` as ``lhs rhs^-1``)."""
    index = {g: i for i, g in enumerate(generators)}
    k = len(generators)
    out = []
    for r in relators:
        v = _sums(r.lhs, index, k)
        if r.rhs is not None:
            v = [a - b for a, b in zip(v, _sums(r.rhs, index, k))]
        out.append(v)
    return out


def relator_letters(generators: tuple, relators, limit: int = MAX_RELATOR_LETTERS) -> list:
    """Each relator (``lhs`` or ``lhs = rhs``) as a reduced list of letters; PresentationTooLarge past ``limit`` letters."""
    total = sum(_length(r.lhs) + (_length(r.rhs) if r.rhs is not None else 0) for r in relators)
    if total > limit:
        raise PresentationTooLarge(f"its relators have {total} letters written out (the limit is {limit})")
    index = {g: i for i, g in enumerate(generators)}
    out = []
    for r in relators:
        word = _letters(r.lhs, index)
        if r.rhs is not None:
            word += [x ^ 1 for x in reversed(_letters(r.rhs, index))]
        word = _reduce(word)
        if word:
            out.append(word)
    return out


def abelian_invariants(k: int, sums: list) -> list:
    """The diagonal of a Smith form of ``Z^k / <exponent-sum vectors>`` (0 for each free Z): its product is the order."""
    m = [list(v) for v in sums if any(v)]
    invariants = []
    col0 = 0
    while col0 < k:
        entries = [(abs(m[i][j]), i, j) for i in range(len(m)) for j in range(col0, k) if m[i][j]]
        if not entries:
            break
        _, pi, pj = min(entries)
        m[0], m[pi] = m[pi], m[0]
        for row in m:
            row[col0], row[pj] = row[pj], row[col0]
        while True:  # clear the pivot's column and row with integer steps
            p = m[0][col0]
            done = True
            for i in range(1, len(m)):
                q = m[i][col0] // p
                if q:
                    m[i] = [a - q * b for a, b in zip(m[i], m[0])]
                if m[i][col0]:
                    done = False
            for j in range(col0 + 1, k):
                q = m[0][j] // p
                if q:
                    for row in m:
                        row[j] -= q * row[col0]
                if m[0][j]:
                    done = False
            if done:
                break
            entries = [(abs(m[i][col0]), i, col0) for i in range(len(m)) if m[i][col0]]
            entries += [(abs(m[0][j]), 0, j) for j in range(col0, k) if m[0][j]]
            _, pi, pj = min(entries)
            m[0], m[pi] = m[pi], m[0]
            for row in m:
                row[col0], row[pj] = row[pj], row[col0]
        invariants.append(abs(m[0][col0]))
        m = m[1:]
        col0 += 1
    invariants += [0] * (k - len(invariants))
    # the diagonal's product is the order; divisibility (true invariant factors) does not matter for it
    return invariants


def commuting_pairs(k: int, relators: list) -> bool:
    """Whether the relators include, for every pair of generators, one saying they commute (``a b = b a``)."""
    pairs = set()
    for word in relators:
        if len(word) == 4 and word[0] ^ 1 == word[2] and word[1] ^ 1 == word[3] and word[0] >> 1 != word[1] >> 1:
            pairs.add(frozenset((word[0] >> 1, word[1] >> 1)))
    return all(frozenset((a, b)) in pairs for a in range(k) for b in range(a + 1, k))


def presentation_order(generators: tuple, relators, max_cosets: int) -> tuple:
    """(order, abelian, how) of a finite presentation.

    Raises PresentationInfinite, or PresentationTooLarge with the bound it would pass.
    """
    k = len(generators)
    invariants = abelian_invariants(k, exponent_sums(generators, relators))
    if 0 in invariants:
        free = invariants.count(0)
        raise PresentationInfinite(
            f"its abelianization is infinite (Z^{free} x a finite group: the relators' exponent sums "
            f"have rank {k - free} < {k} generators)"
        )
    ab_order = math.prod(invariants)
    short = [r for r in relators if _length(r.lhs) + (_length(r.rhs) if r.rhs is not None else 0) <= 4]
    if commuting_pairs(k, relator_letters(generators, short)):
        return ab_order, True, "Smith normal form (its generators commute)"
    if ab_order > max_cosets:
        raise PresentationTooLarge(f"its abelianization alone has {ab_order} elements (the limit is {max_cosets})")
    order, abelian = _todd_coxeter(k, relator_letters(generators, relators), max_cosets)
    return order, abelian, "Todd-Coxeter on the presentation"


def _todd_coxeter(k: int, relators: list, max_cosets: int) -> tuple:
    """(order, abelian) by HLT coset enumeration of the trivial subgroup, bounded in cosets, entries and steps."""
    width = 2 * k
    max_defined = max(1, MAX_TABLE_ENTRIES // max(width, 1))
    table = [[-1] * width]
    parent = [0]
    live = 1
    work = 0

    def rep(c: int) -> int:
        root = c
        while parent[root] != root:
            root = parent[root]
        while parent[c] != root:
            parent[c], c = root, parent[c]
        return root

    def define(c: int, x: int) -> None:
        nonlocal live
        if live >= max_cosets:
            raise PresentationTooLarge(f"coset enumeration stopped at {max_cosets} cosets")
        if len(table) >= max_defined:
            raise PresentationTooLarge(f"coset enumeration stopped at {len(table)} cosets defined (the table's limit)")
        d = len(table)
        table.append([-1] * width)
        parent.append(d)
        live += 1
        table[c][x] = d
        table[d][x ^ 1] = c

    def merge(a: int, b: int, queue: list) -> None:
        nonlocal live
        a, b = rep(a), rep(b)
        if a != b:
            lo, hi = min(a, b), max(a, b)
            parent[hi] = lo
            live -= 1
            queue.append(hi)

    def coincidence(a: int, b: int) -> None:
        nonlocal work
        queue: list = []
        merge(a, b, queue)
        i = 0
        while i < len(queue):
            e = queue[i]
            i += 1
            for x in range(width):
                work += 1
                f = table[e][x]
                if f < 0:
                    continue
                table[f][x ^ 1] = -1
                e1, f1 = rep(e), rep(f)
                if table[e1][x] >= 0:
                    merge(f1, table[e1][x], queue)
                elif table[f1][x ^ 1] >= 0:
                    merge(e1, table[f1][x ^ 1], queue)
                else:
                    table[e1][x] = f1
                    table[f1][x ^ 1] = e1
        if work > MAX_COSET_WORK:
            raise PresentationTooLarge(f"coset enumeration stopped after {MAX_COSET_WORK} steps")

    def scan_and_fill(c: int, word: list) -> None:
        nonlocal work
        f = b = c
        i, j = 0, len(word) - 1
        while True:
            while i <= j and table[f][word[i]] >= 0:
                f = table[f][word[i]]
                i += 1
            work += i + 1
            if i > j:
                if f != b:
                    coincidence(f, b)
                return
            while j >= i and table[b][word[j] ^ 1] >= 0:
                b = table[b][word[j] ^ 1]
                j -= 1
            work += len(word) - j
            if work > MAX_COSET_WORK:
                raise PresentationTooLarge(f"coset enumeration stopped after {MAX_COSET_WORK} steps")
            if j < i:
                coincidence(f, b)
                return
            if i == j:
                table[f][word[i]] = b
                table[b][word[i] ^ 1] = f
                return
            define(f, word[i])

    c = 0
    while c < len(table):
        for word in relators:
            if parent[c] != c:
                break
            scan_and_fill(c, word)
        if parent[c] == c:
            for x in range(width):
                if table[c][x] < 0:
                    define(c, x)
        c += 1
    alive = [c for c in range(len(table)) if parent[c] == c]
    number = {c: i for i, c in enumerate(alive)}
    perms = [[number[rep(table[c][2 * g])] for c in alive] for g in range(k)]
    abelian = all(all(p[q[i]] == q[p[i]] for i in range(len(alive))) for a, p in enumerate(perms) for q in perms[a + 1 :])
    return len(alive), abelian
