"""Distinct real/tensor inputs found by one lexsort, computed once per table.

``Table.codes`` for real or tensor inputs used ``torch.unique(dim=0)`` (4.7 s for 10^6 rows of two reals) and was
recomputed by every caller (the conflict count and the lookup index): check-data of 10^6 real rows took 14 s, of
which 11.4 s were these two calls.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symspec.data.check import check_data
from symspec.data.load import load_table
from symspec.pipeline import loads

ODD = loads("spec r\nmodel h(x: real) -> real\nlaw odd: h(-x) == -h(x)\n")
PAIR = loads("spec p\ndomain C = range(0, 3)\nmodel g(x: real, c: C) -> real\nlaw same: g(x, c) == g(x, 0)\n")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 2.0]), st.integers(0, 2)), max_size=40))
def test_codes_equal_exactly_when_inputs_equal(rows):
    """The codes are the ranks ``unique(dim=0)`` gives: equal exactly when the rows are (``-0.0`` equal to ``0.0``)."""
    x = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    c = torch.tensor([r[1] for r in rows], dtype=torch.int64)
    table = load_table(PAIR, {"x": x, "c": c, "target": torch.zeros(len(rows), dtype=torch.float64)})
    codes = table.codes()
    keys = [(r[0] + 0.0, r[1]) for r in rows]
    rank = {k: i for i, k in enumerate(sorted(set(keys)))}
    assert codes.tolist() == [rank[k] for k in keys]
    assert table.codes() is codes  # computed once


def test_row_ranks_match_unique_dim():
    from symspec.data.table import _row_ranks

    gen = torch.Generator().manual_seed(1)
    for shape in [(500, 1), (500, 3), (0, 2), (7, 0)]:
        m = torch.randint(0, 3, shape, generator=gen).to(torch.float64)
        want = torch.unique(m, dim=0, return_inverse=True)[1] if m.numel() else torch.zeros(shape[0], dtype=torch.int64)
        assert torch.equal(_row_ranks(m), want)


def test_million_real_rows_give_the_unique_ranks():
    """10^6 rows of a real input (14 s before, about 4 s now: ``benchmarks/bench_data.py`` times it against
    ``unique(dim=0)``): the codes are exactly the ranks ``unique(dim=0)`` gives, and check-data counts right."""
    x = torch.randn(500_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = torch.cat([x, -x])
    report = check_data(ODD, {"x": x[::5], "target": x[::5] ** 3})  # every 5th row: 100,000 with their negations
    assert report["odd"].cases == 200_000 and report["odd"].violations == 0
    table = load_table(ODD, {"x": x, "target": x**3})
    assert torch.equal(table.codes(), torch.unique(x[:, None], dim=0, return_inverse=True)[1])
