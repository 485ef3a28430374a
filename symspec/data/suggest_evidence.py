"""A candidate law's evidence on a table: the pairs of rows its transforms connect, compared (docs/data.md).

For an equivariance law ``f(T x) == S f(x)`` the transforms are the analysis'
own (``LawIR.generators``: argument sources, push maps on argument values and
on output classes). Every element of the group they generate is listed when
there are at most ``max_elements``; past that, the generators and seeded random
words in them. For each element, every distinct input x of the table is moved
to T x in one batched lookup; a pair is tested when T x is present, supported
when label(T x) == S label(x).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch

from ..validation.report import wilson_interval

__all__ = [
    "Evidence",
    "Element",
    "Distinct",
    "group_elements",
    "law_evidence",
    "diagonal_evidence",
    "swap_element",
    "law_elements",
    "wilson_lower",
    "MAX_ELEMENTS",
    "MAX_EXAMPLES",
    "MAX_QUERIES",
    "REAL_RTOL",
]

MAX_ELEMENTS = 64  # groups of at most this many elements are listed whole; larger ones: generators + random words
MAX_EXAMPLES = 5  # contradicting pairs kept per candidate
MAX_QUERIES = 1 << 22  # (input, element) lookups per candidate; past it, a seeded random subset of the inputs
DENSE_LIMIT = 1 << 26  # input spaces up to this size may get a dense key -> distinct input map (as Table does) ...
DENSE_SMALL = 1 << 22  # ... when at most 16 times the distinct inputs, or this small (1,000 rows: 32 MB, not 512)
REAL_RTOL = 1e-6  # real outputs of finite inputs agree when |y' - y| <= REAL_RTOL * max(1, |y|)
_WORD_ROUNDS = 3  # random words: this many rounds of a random power of each generator
ELEMENT_ENTRIES = 1 << 25  # map entries of the elements held at once (256 MB of int64): fewer elements of huge domains
WORD_ENTRIES = 1 << 28  # map entries composed to build the random words of one candidate (a few seconds)


@dataclass
class Evidence:
    """What the data says about one candidate: tested pairs, supported, contradicted, untestable."""

    tested: int = 0
    supported: int = 0
    contradicted: int = 0
    untestable: int = 0  # (input, element) pairs whose moved input T x is not in the data
    elements: int = 0  # group elements used (identity excluded)
    every_element: bool = True  # the whole group was listed (else generators + random words)
    sampling: str = ""  # how the elements were chosen: "all", "generators + random words", "random, drawn per row"
    proxy: str | None = None  # None: exact lookups; else how T x was matched (nearest neighbour)
    examples: list = field(default_factory=list)  # contradicting pairs: {"row", "moved_row", "label", "expected", "found"}
    note: str = ""
    witnessed: list = field(default_factory=list, repr=False)  # indices of the elements that connected a tested pair
    subgroup: str = ""  # tensors: why the tested pairs cover only a subgroup ("" when they cover the group)
    cycle: dict | None = None  # transitivity: a shortest cycle of the order graph (check_data's, rows of this data)
    premise: tuple | None = None  # transitivity: (present triples whose premise holds, of which violated)
    own: int = 0  # tensors: moved inputs whose nearest row is the row they came from (counted in ``untestable``)
    degenerate: int = 0  # constraints: present triples with the middle variable equal to an end (left out)

    @property
    def agreement(self) -> float:
        return self.supported / self.tested if self.tested else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of the agreement rate ((0, 1) with nothing tested)."""
        lo, hi = wilson_interval(self.contradicted, self.tested)
        return (1.0 - hi, 1.0 - lo) if self.tested else (0.0, 1.0)

    def add(self, other: Evidence) -> None:
        self.tested += other.tested
        self.supported += other.supported
        self.contradicted += other.contradicted
        self.untestable += other.untestable
        self.examples += other.examples[: max(0, MAX_EXAMPLES - len(self.examples))]


@dataclass(frozen=True)
class Element:
    """One group element on a model's arguments: argument i of f(T x) is ``perms[i][x[sources[i]]]``; output ``out``."""

    sources: tuple
    perms: tuple  # of np.ndarray (push maps on value indices), one per argument
    out: np.ndarray | None  # push map on output class indices; None: the output is left as it is

    def key(self) -> bytes:
        """A digest of the element (its maps can hold millions of entries: only 32 bytes are kept)."""
        h = hashlib.blake2b(np.asarray(self.sources, dtype=np.int64).tobytes(), digest_size=32)
        for p in self.perms:
            h.update(b"|")
            h.update(p.tobytes())
        h.update(b"|-" if self.out is None else b"|" + self.out.tobytes())
        return h.digest()

    def size(self) -> int:
        """Entries of its maps (the cost of one composition)."""
        return sum(len(p) for p in self.perms) + (0 if self.out is None else len(self.out))

    def after(self, first: Element) -> Element:
        """This element acting after ``first``."""
        sources = tuple(first.sources[s] for s in self.sources)
        perms = tuple(self.perms[i][first.perms[s]] for i, s in enumerate(self.sources))
        if self.out is None:
            out = first.out
        elif first.out is None:
            out = self.out
        else:
            out = self.out[first.out]
            if np.array_equal(out, np.arange(len(out))):
                out = None
        return Element(sources, perms, out)

    def is_identity(self) -> bool:
        return (
            all(s == i for i, s in enumerate(self.sources))
            and all(np.array_equal(p, np.arange(len(p))) for p in self.perms)
            and (self.out is None or np.array_equal(self.out, np.arange(len(self.out))))
        )


def _from_pair(pair, sizes: list, classes: int | None) -> Element | None:
    """A TransformPair as an Element; None when a map is not finite (tensors) or the output map is missing."""
    if any(p is None for p in pair.arg_perms):
        return None
    perms = tuple(np.array(p, dtype=np.int64) for p in pair.arg_perms)  # copies: the IR's arrays are read-only
    if any(len(p) != n for p, n in zip(perms, sizes)):
        return None
    if pair.out_perm is not None:
        out = np.array(pair.out_perm, dtype=np.int64)
        if classes is not None and len(out) != classes:
            return None
        if np.array_equal(out, np.arange(len(out))):
            out = None
    elif pair.out_identity:
        out = None
    else:
        return None
    return Element(tuple(pair.sources), perms, out)


def law_elements(law_ir, table) -> list | None:
    """The law's generators (``LawIR.generators``) as Elements on the table's value indices; None when one is not finite."""
    sizes = [table.sizes[p] for p in table.params]
    classes = table.classes if table.output == "class" else (2 if table.output == "bool" else None)
    out = [_from_pair(pair, sizes, classes) for pair in law_ir.generators]
    return None if any(e is None for e in out) else out


def swap_element(sizes: list, i: int, j: int, out: np.ndarray | None) -> Element:
    """Arguments i and j exchanged, the output pushed by ``out``."""
    sources = list(range(len(sizes)))
    sources[i], sources[j] = j, i
    return Element(tuple(sources), tuple(np.arange(n, dtype=np.int64) for n in sizes), out)


def group_elements(generators: list, max_elements: int = MAX_ELEMENTS, seed: int = 0) -> tuple[list, bool]:
    """``(elements, every)``: every non-identity element of the group the generators generate when there are at
    most ``max_elements``; else the generators and seeded random words in them, ``max_elements`` in all."""
    gens = [e for e in generators if not e.is_identity()]
    if not gens:
        return [], True
    size = max(1, max(e.size() for e in gens))
    max_elements = max(len(gens), min(max_elements, ELEMENT_ENTRIES // size))  # huge domains: fewer elements held
    ident = Element(tuple(range(len(gens[0].perms))), tuple(np.arange(len(p), dtype=np.int64) for p in gens[0].perms), None)
    seen = {ident.key(): ident}
    frontier = [ident]
    while frontier:
        nxt = []
        for e in frontier:
            for s in gens:
                m = s.after(e)
                k = m.key()
                if k not in seen:
                    seen[k] = m
                    nxt.append(m)
                    if len(seen) > max_elements + 1:
                        return _random_words(gens, ident, max_elements, seed), False
        frontier = nxt
    return [e for k, e in seen.items() if k != ident.key()], True


def _power(e: Element, k: int, ident: Element) -> Element:
    """``e`` to the power ``k`` (by squaring)."""
    out, base = ident, e
    while k:
        if k & 1:
            out = base.after(out)
        base = base.after(base)
        k >>= 1
    return out


def _random_words(gens: list, ident: Element, count: int, seed: int) -> list:
    """The generators, then seeded random words: products of random powers (below 2^16) of every generator, three
    rounds, so a generator of large order is reached at every power, not only short ones."""
    rng = np.random.default_rng(seed)
    out = {g.key(): g for g in gens}
    size = max(1, max(g.size() for g in gens))
    per_word = _WORD_ROUNDS * len(gens) * 34 * size  # about 2 x 16 compositions per random power, and one to join it
    count = min(count, len(out) + WORD_ENTRIES // per_word)  # huge domains: the generators and what the budget allows
    tries = 0
    while len(out) < count and tries < 20 * count:
        tries += 1
        e = ident
        for _ in range(_WORD_ROUNDS):
            for i in rng.permutation(len(gens)):
                e = _power(gens[int(i)], int(rng.integers(0, 1 << 16)), ident).after(e)
        if not e.is_identity():
            out.setdefault(e.key(), e)
    return list(out.values())[:count]


class Distinct:
    """The table's distinct inputs (the first row of each key), as value indices per argument, with their labels,
    and a map from any input's key to its distinct input (built once per table, shared by every candidate)."""

    def __init__(self, table) -> None:
        key = table.key()
        order = torch.sort(key, stable=True)
        first = torch.ones_like(order.values, dtype=torch.bool)
        first[1:] = order.values[1:] != order.values[:-1]
        idx = order.indices[first]
        self.key = order.values[first]  # sorted distinct keys
        self.index = [table.inputs[p][idx].to(torch.int64) - table.lows[p] for p in table.params]  # value - low
        self.target = table.target[idx]
        self.rows = table.rows[idx]
        self.weights = []  # mixed-radix weight of each argument (first argument most significant)
        w = 1
        for p in reversed(table.params):
            self.weights.insert(0, w)
            w *= table.sizes[p]
        space = w
        self.dense = None
        if space <= max(DENSE_SMALL, min(DENSE_LIMIT, 16 * self.key.numel())):  # 8 bytes per input of the space
            self.dense = torch.full((space,), -1, dtype=torch.int64, device=key.device)
            self.dense[self.key] = torch.arange(self.key.numel(), device=key.device)

    def find(self, key: torch.Tensor) -> torch.Tensor:
        """The distinct input of each key (-1 when absent)."""
        if self.dense is not None:
            return self.dense[key]
        if self.key.numel() == 0:
            return torch.full_like(key, -1)
        at = torch.searchsorted(self.key, key).clamp_(max=self.key.numel() - 1)
        return torch.where(self.key[at] == key, at, torch.full_like(at, -1))


def _labels_agree(found: torch.Tensor, expected: torch.Tensor, output: str) -> torch.Tensor:
    if output == "real":
        return (found - expected).abs() <= REAL_RTOL * expected.abs().clamp(min=1.0)
    return found == expected


def law_evidence(table, elements: list, moved_only: bool = False, distinct: Distinct | None = None, seed: int = 0) -> Evidence:
    """The pairs ``(x, T x)`` of ``table`` over ``elements``, each unordered pair once (T x's key >= x's key).

    A pair two elements connect (an input with a non-trivial stabilizer: ``g . (u, v)`` for several ``g``) is
    counted once, per expected label. A pair with ``T x == x`` tests ``label(x) == S label(x)``; it is counted
    only when S is not the identity (else it is a tautology), and never when ``moved_only`` (a law guarded by
    ``a != b``). Push maps keep every value in its domain, so T x's key is computed directly from the moved
    value indices.
    """
    d = distinct or Distinct(table)
    ev = Evidence(elements=len(elements))
    n_in = d.key.numel()
    if n_in == 0 or not elements:
        return ev
    key, index, target, rows = d.key, d.index, d.target, d.rows
    xpos = torch.arange(n_in, device=key.device)
    if n_in * len(elements) > MAX_QUERIES:  # a seeded random subset of the inputs x (T x is still looked up in all)
        keep = torch.randperm(n_in, generator=torch.Generator().manual_seed(seed))[: max(1, MAX_QUERIES // len(elements))]
        keep = keep.sort().values.to(key.device)
        key, index, target, rows, xpos = key[keep], [ix[keep] for ix in index], target[keep], rows[keep], keep
        ev.note = f"on a seeded random {keep.numel():,} of the {n_in:,} distinct inputs (at most {MAX_QUERIES:,} queries)"
    low = table.class_low
    device = key.device
    classes = 1
    if table.output in ("class", "bool") and any(e.out is not None for e in elements):
        classes = table.classes if table.output == "class" else 2
    parts: list = []  # per element: (x's distinct index, T x's distinct index, expected class index, agrees)
    for n_el, e in enumerate(elements):
        mkey = None
        for i, s in enumerate(e.sources):
            part = torch.from_numpy(e.perms[i]).to(device)[index[s]] * d.weights[i]
            mkey = part if mkey is None else mkey + part
        pos = d.find(mkey)
        present = pos >= 0
        ev.untestable += int(present.numel() - present.sum())
        fixed_counts = e.out is not None and not moved_only
        use = present & (mkey > key) if not fixed_counts else present & (mkey >= key)
        if not bool(use.any()):
            continue
        ev.witnessed.append(n_el)
        y = target[use]
        if e.out is not None and table.output in ("class", "bool"):
            expected = torch.from_numpy(e.out).to(device)[y.to(torch.int64) - low] + low
        else:
            expected = y
        at = pos[use]
        found = d.target[at]
        ok = _labels_agree(found, expected.to(found.dtype), table.output)
        exp_idx = (expected.to(torch.int64) - low) if classes > 1 else torch.zeros_like(at)
        parts.append((xpos[use], at, exp_idx, ok))
        n, good = int(use.sum()), int(ok.sum())
        if good < n and len(ev.examples) < MAX_EXAMPLES:
            bad = (~ok).nonzero().flatten()[: MAX_EXAMPLES - len(ev.examples)]
            rows_bad, mrows = rows[use][bad], d.rows[at[bad]]
            for r, m, lab, exp, got in zip(
                rows_bad.tolist(), mrows.tolist(), y[bad].tolist(), expected[bad].tolist(), found[bad].tolist()
            ):
                ev.examples.append({"row": r, "moved_row": m, "label": lab, "expected": exp, "found": got})
    if parts:
        ev.tested, ev.supported = _distinct_pairs(parts, n_in, classes)
        ev.contradicted = ev.tested - ev.supported
    return ev


def _distinct_pairs(parts: list, n_in: int, classes: int) -> tuple[int, int]:
    """(tested, supported) over the distinct (x, T x, expected label) triples of ``parts`` (one sort, no loop)."""
    x = torch.cat([p[0] for p in parts])
    y = torch.cat([p[1] for p in parts])
    e = torch.cat([p[2] for p in parts])
    ok = torch.cat([p[3] for p in parts])
    if n_in * n_in * classes < (1 << 62):
        code = (x * n_in + y) * classes + e
        uniq, inverse = torch.unique(code, return_inverse=True)
    else:  # pragma: no cover - past 2^31 distinct inputs
        uniq, inverse = torch.unique(torch.stack([x, y, e], dim=1), dim=0, return_inverse=True)
    first = torch.full((uniq.shape[0],), ok.numel(), dtype=torch.int64, device=ok.device)
    first.scatter_reduce_(0, inverse, torch.arange(ok.numel(), device=ok.device), reduce="amin")
    return int(uniq.shape[0]), int(ok[first].sum())


def diagonal_evidence(table, i: int, j: int, constant: int, distinct: Distinct | None = None) -> Evidence:
    """Rows with arguments i and j equal (each distinct input once), supported when their label is ``constant``."""
    d = distinct or Distinct(table)
    on = d.index[i] == d.index[j]
    y = d.target[on]
    ok = y == constant
    n, good = int(on.sum()), int(ok.sum())
    ev = Evidence(tested=n, supported=good, contradicted=n - good, elements=0)
    bad = (~ok).nonzero().flatten()[:MAX_EXAMPLES]
    for r, lab in zip(d.rows[on][bad].tolist(), y[bad].tolist()):
        ev.examples.append({"row": r, "moved_row": r, "label": lab, "expected": constant, "found": lab})
    return ev


def wilson_lower(ev: Evidence) -> float:
    """The lower end of the agreement's 95% Wilson interval (0 with nothing tested)."""
    return ev.interval[0] if ev.tested else 0.0
