"""A labelled dataset of one model, as tensors: the inputs, the targets, and exact lookup by input.

Rows keep the file's order; :meth:`Table.lookup` answers a batch of queries
by one gather (a dense index when the input space is small enough, else a
binary search over the sorted keys): no Python loop per row or per query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Table", "DENSE_INDEX_LIMIT", "MAX_CONFLICTS", "MAX_CONFLICT_ROWS"]

DENSE_INDEX_LIMIT = 1 << 26  # input spaces up to this many inputs get a dense key -> row index (512 MB of int64 at most)
MAX_CONFLICTS = 100  # conflicting duplicate keys listed
MAX_CONFLICT_ROWS = 10  # rows listed per conflicting key (past that: the first row of each target)


@dataclass
class Table:
    """One model's labelled cases, encoded as tensors (rows in file order); see docs/data.md."""

    model: str
    params: tuple
    inputs: dict
    target: torch.Tensor
    rows: torch.Tensor
    sizes: dict
    lows: dict
    output: str
    classes: int | None = None
    class_low: int = 0
    names: dict = field(default_factory=dict)
    source: str = "<memory>"
    _index: tuple | None = field(default=None, init=False, repr=False, compare=False)
    _hashed: tuple | None = field(default=None, init=False, repr=False, compare=False)
    _codes: torch.Tensor | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    def finite(self) -> bool:
        """Every input has a finite domain (then :meth:`key` and :meth:`lookup` exist)."""
        return all(self.sizes[p] is not None for p in self.params)

    def space(self) -> int:
        """The number of distinct inputs (the product of the input domains' sizes)."""
        if not self.finite():
            raise ValueError(f"model {self.model} has real or tensor inputs: its inputs are not finitely many")
        return math.prod(self.sizes[p] for p in self.params)

    def encode(self, values: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(key [m] int64, inside [m] bool) of query values (param -> [m] ints); keys of outside queries are 0."""
        if not self.finite():
            raise ValueError(f"model {self.model} has real or tensor inputs: rows have no integer key")
        key = None
        inside = None
        for p in self.params:
            v = values[p].to(torch.int64) - self.lows[p]
            ok = (v >= 0) & (v < self.sizes[p])
            v = torch.where(ok, v, torch.zeros_like(v))
            key = v if key is None else key * self.sizes[p] + v
            inside = ok if inside is None else inside & ok
        return key, inside

    def key(self) -> torch.Tensor:
        """[rows] int64 mixed-radix code of the inputs (first parameter most significant, value - low per digit)."""
        return self.encode(self.inputs)[0]

    def codes(self) -> torch.Tensor:
        """[rows] int64: equal exactly when two rows' inputs are equal (:meth:`key` for finite inputs, else the
        rank of the row among the distinct rows of its inputs' values)."""
        if self._codes is None:
            self._codes = self.key() if self.finite() else _row_ranks(self._matrix(self.inputs) + 0.0)
        return self._codes

    def _matrix(self, values: dict) -> torch.Tensor:
        """[m, width] float64: each row's inputs side by side (tensors flattened): exact for every int64 below 2^53."""
        columns = []
        for p in self.params:
            v = values[p]
            m = v.shape[0]
            width = math.prod(v.shape[1:])  # not -1: 0 rows (or a 0-sized dim) leave -1 ambiguous
            columns.append(v.reshape(m, width).to(torch.float64) if v.dim() > 1 else v.to(torch.float64)[:, None])
        return torch.cat(columns, 1) if columns else torch.zeros(0, 0, dtype=torch.float64)

    def _first(self) -> tuple:
        """(sorted distinct codes, the first row of each, dense key -> row index or None), built once."""
        if self._index is None:
            key = self.codes()
            order = torch.sort(key, stable=True)
            skeys, srows = order.values, order.indices
            first = torch.ones_like(skeys, dtype=torch.bool)
            first[1:] = skeys[1:] != skeys[:-1]
            ukeys, urows = skeys[first], srows[first]
            dense = None
            if self.finite() and self.space() <= max(DENSE_INDEX_LIMIT, 4 * len(self)):
                dense = torch.full((self.space(),), -1, dtype=torch.int64, device=key.device)
                dense[ukeys] = urows
            self._index = (ukeys, urows, dense)
        return self._index

    def positions(self, **inputs: torch.Tensor) -> torch.Tensor:
        """Vectorized: each query's position in the table (its first row; -1 when absent or out of the domain).

        Real and tensor inputs match exactly (``==`` on every entry; ``-0.0`` equals ``0.0``)."""
        if not self.finite():
            return self._positions_exact(inputs)
        key, inside = self.encode(inputs)
        ukeys, urows, dense = self._first()
        if dense is not None:
            pos = dense[key]
        elif ukeys.shape[0] == 0:
            pos = torch.full_like(key, -1)
        else:
            at = torch.searchsorted(ukeys, key).clamp_(max=ukeys.shape[0] - 1)
            pos = torch.where(ukeys[at] == key, urows[at], torch.full_like(key, -1))
        return torch.where(inside, pos, torch.full_like(pos, -1))

    def _positions_exact(self, inputs: dict) -> torch.Tensor:
        """Real/tensor inputs: each query's row by a 64-bit hash of its entries (the rows hashed and sorted once),
        confirmed entry by entry; the rare query whose hash several distinct rows share goes to :meth:`_sorted_with`."""
        n = len(self)
        for p in self.params:  # a finite parameter's value outside its domain matches no row (no wrap-around)
            if self.sizes[p] is not None:
                v = inputs[p]
                inputs = {**inputs, p: torch.where((v >= self.lows[p]) & (v < self.lows[p] + self.sizes[p]), v, -(2**60))}
        queries = self._matrix(inputs) + 0.0  # -0.0 as 0.0, as in the rows
        m = queries.shape[0]
        if n == 0 or m == 0:
            return torch.full((m,), -1, dtype=torch.int64)
        hashes, order, rows = self._hash_index()
        wanted = _row_hash(queries)
        at = torch.searchsorted(hashes, wanted).clamp_(max=n - 1)
        candidate = order[at]  # the first row of its hash (a stable sort: the lowest row number)
        same_hash = hashes[at] == wanted
        same = same_hash & (rows[candidate] == queries).all(1)
        pos = torch.where(same, candidate, torch.full_like(candidate, -1))
        shared = same_hash & ~same & (hashes[(at + 1).clamp_(max=n - 1)] == wanted) & (at + 1 < n)
        if bool(shared.any()):  # another row of the same hash may hold the query: compare with every row
            pos[shared] = self._sorted_with(queries[shared])
        return pos

    def _hash_index(self) -> tuple:
        """(row hashes sorted, the rows in that order, the rows' entries as float64 [n, width]), built once."""
        if self._hashed is None:
            rows = self._matrix(self.inputs) + 0.0
            hashes = _row_hash(rows)
            order = torch.sort(hashes, stable=True)
            self._hashed = (order.values, order.indices, rows)
        return self._hashed

    def _sorted_with(self, queries: torch.Tensor) -> torch.Tensor:
        """Queries and rows sorted together (``unique``): a query's group names its first row, or -1."""
        n = len(self)
        rows = self._hash_index()[2]
        _, group = torch.unique(torch.cat([rows, queries]), dim=0, return_inverse=True)
        first = torch.full((int(group.max()) + 1,), n, dtype=torch.int64)
        first.scatter_reduce_(0, group[:n], torch.arange(n), "amin")
        pos = first[group[n:]]
        return torch.where(pos == n, torch.full_like(pos, -1), pos)

    def lookup(self, **inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(present [m] bool, target [m], row [m] int64, -1 when absent) for query values; a key with several
        rows answers with its FIRST row; out-of-domain queries are absent (their target is row 0's, unused)."""
        pos = self.positions(**inputs)
        present = pos >= 0
        safe = pos.clamp(min=0)
        if len(self) == 0:
            target = torch.zeros((pos.shape[0], *self.target.shape[1:]), dtype=self.target.dtype)
        else:
            target = self.target[safe]
        row = torch.where(present, self.rows[safe] if len(self) else pos, torch.full_like(pos, -1))
        return present, target, row

    def conflicts(self, with_counts: bool = False) -> list[tuple]:
        """Duplicate inputs with different targets: (key, row numbers, targets), at most 100, in key order
        (real/tensor inputs: :meth:`codes` in place of keys). A key with at most ``MAX_CONFLICT_ROWS`` rows lists
        them all; one with more lists the first row of each of its targets (at most ``MAX_CONFLICT_ROWS``), so a
        key repeated on 10^7 rows is not 10^7 row numbers. ``with_counts``: (key, rows, targets, the key's rows)."""
        if len(self) == 0:
            return []
        key = self.codes()
        order = torch.sort(key, stable=True).indices
        skeys = key[order]
        target = self.target[order].reshape(len(self), -1)
        same_key = skeys[1:] == skeys[:-1]
        differs = (target[1:] != target[:-1]).any(1)
        bad_keys = torch.unique(skeys[1:][same_key & differs])[:MAX_CONFLICTS]
        if bad_keys.numel() == 0:
            return []
        lo = torch.searchsorted(skeys, bad_keys)
        hi = torch.searchsorted(skeys, bad_keys, right=True)
        out = []
        for k, a, b in zip(bad_keys.tolist(), lo.tolist(), hi.tolist()):  # at most MAX_CONFLICTS keys
            idx = order[a:b]  # the key's rows, in row order (a stable sort)
            if b - a > MAX_CONFLICT_ROWS:  # the first row of each distinct target, in row order
                flat = self.target[idx].reshape(b - a, -1)
                _, which = torch.unique(flat, dim=0, return_inverse=True)
                first = torch.full((int(which.max()) + 1,), b - a, dtype=torch.int64)
                first.scatter_reduce_(0, which, torch.arange(b - a), "amin")
                idx = idx[torch.sort(first).values[:MAX_CONFLICT_ROWS]]
            values = self.target[idx]
            row = (k, self.rows[idx].tolist(), values.tolist())
            out.append((*row, b - a) if with_counts else row)
        return out

    def conflict_count(self) -> int:
        """How many distinct inputs have rows with different targets (all of them, not only the first 100)."""
        if len(self) < 2:
            return 0
        key = self.codes()
        order = torch.sort(key, stable=True).indices
        skeys = key[order]
        target = self.target[order].reshape(len(self), -1)
        differs = (skeys[1:] == skeys[:-1]) & (target[1:] != target[:-1]).any(1)
        return int(torch.unique(skeys[1:][differs]).numel())

    def decode(self, key: int) -> dict:
        """A key's input values (param -> int)."""
        out = {}
        for p in reversed(self.params):
            out[p] = key % self.sizes[p] + self.lows[p]
            key //= self.sizes[p]
        return {p: out[p] for p in self.params}

    def show(self, param: str, value: int) -> str:
        """A value as the user wrote it: its name when the domain has names, else the number."""
        names = self.names.get(param)
        low = self.class_low if param == "target" else self.lows.get(param, 0)
        if names is not None and 0 <= value - low < len(names):
            return names[value - low]
        return str(value)


def _row_ranks(matrix: torch.Tensor) -> torch.Tensor:
    """[m] int64: each row's rank among the distinct rows of ``matrix`` [m, width] (lexicographic, first column
    first): what ``torch.unique(matrix, dim=0, return_inverse=True)[1]`` gives, by one ``numpy.lexsort`` (unique
    over dim 0 took 5.7 s for 10^6 real rows, called twice per check; this takes a fraction of a second)."""
    m, width = matrix.shape
    if m == 0 or width == 0:
        return torch.zeros(m, dtype=torch.int64)
    arr = matrix.numpy()
    order = np.lexsort(arr.T[::-1])  # lexsort's last key is the primary one
    ranked = arr[order]
    new = np.ones(m, dtype=bool)
    new[1:] = (ranked[1:] != ranked[:-1]).any(1)
    ranks = np.empty(m, dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    return torch.from_numpy(ranks)


_HASH_SEED = 0x5DEECE66D


def _row_hash(matrix: torch.Tensor) -> torch.Tensor:
    """[m] int64 hash of each row's float64 bit patterns (equal rows, equal hashes; collisions are rare and
    checked by the caller): a random odd multiplier per column, summed with int64 wrap-around, then mixed."""
    width = matrix.shape[1]
    bits = matrix.contiguous().view(torch.int64)
    gen = torch.Generator().manual_seed(_HASH_SEED)
    mult = torch.randint(-(2**62), 2**62, (width,), generator=gen, dtype=torch.int64) * 2 + 1
    h = (bits * mult).sum(1)
    h = h ^ (h >> 31)  # arithmetic shift: the high bits reach the low ones (searchsorted needs only equality)
    return h * 0x2545F4914F6CDD1D
