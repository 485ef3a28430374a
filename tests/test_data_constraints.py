"""Constraint laws on data (issue 17): exact case and violation counts against brute-force triple loops."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symspec
from symspec.data import load_table
from symspec.data.constraints import check_constraint

METRIC = """
spec metric
param n = 5
domain Node = range(0, n)
model d(a: Node, b: Node) -> class(range(0, 10))
law tri: d(u, v) <= d(u, w) + d(w, v)
law tri_renamed: d(x, z) >= d(y, x) + d(z, y)
law tri_left: d(q, p) + d(r, q) >= d(r, p)
law tri_strict: d(u, v) < d(u, w) + d(w, v)
law geo: d(u, v) == d(u, w) + d(w, v) when u < w and w < v
law tri_guard: d(u, v) <= d(w, u) + d(v, w) when u != v
law zero: d(u, u) == 0
law cap: d(a, b) <= 5 when a != b
"""

ORDER = """
spec order
param n = 5
domain Item = range(3, 3 + n)
model gt(a: Item, b: Item) -> bool
law irr: not gt(a, a)
law false_diag: gt(a, a) == 0
law anti: gt(a, b) == not gt(b, a) when a != b
law asym: gt(b, a) => not gt(a, b)
law total: gt(a, b) or gt(b, a) when a != b
law trans: gt(a, b) and gt(b, c) => gt(a, c)
law trans_swapped: gt(q, r) and gt(p, q) => gt(p, r)
law trans_reversed: gt(b, a) and gt(c, b) => gt(c, a)
law trans_guard: gt(a, b) and gt(b, c) => gt(a, c) when a != c
law bradley_terry: gt(a, c) == sigmoid(logit(gt(a, b)) + logit(gt(b, c))) when a > b > c
"""

REAL = """
spec real_metric
param n = 5
domain Node = range(0, n)
model r(a: Node, b: Node) -> real
law tri: r(u, v) <= r(u, w) + r(w, v) [tol 0.05]
law geo: r(u, v) == r(u, w) + r(w, v) when u < w and w < v [tol 0.05]
law zero: r(u, u) == 0.5
"""


@functools.cache
def spec_of(text: str, n: int):
    return symspec.loads(text, params={"n": n})


def partial_table(spec, n: int, low: int, seed: int, density: float, labels, duplicates: bool = True):
    """Random rows over a random subset of the pairs (a few repeated with other labels: the first row counts)."""
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a in range(n) for b in range(n) if rng.random() < density]
    rows = [(a + low, b + low, labels(rng)) for a, b in pairs]
    if duplicates and rows:
        for i in rng.integers(0, len(rows), size=max(1, len(rows) // 5)):
            a, b, _ = rows[i]
            rows.append((a, b, labels(rng)))
    rng.shuffle(rows)
    cols = {"a": [r[0] for r in rows], "b": [r[1] for r in rows], "target": [r[2] for r in rows]}
    first: dict = {}
    for i, (a, b, t) in enumerate(rows):
        first.setdefault((a - low, b - low), (t, i))
    return load_table(spec, cols), first


def check(spec, table, law, examples=5):
    return check_constraint(spec.ir.laws[law], table, spec, examples=examples)


def brute(first: dict, n: int, arity: int, calls, guard, holds):
    """Cases and violations by a plain loop over every assignment of the variables."""
    cases = bad = 0
    for values in itertools.product(range(n), repeat=arity):
        keys = [call(*values) for call in calls]
        if not all(k in first for k in keys) or not guard(*values):
            continue
        cases += 1
        bad += not holds(*(first[k][0] for k in keys))
    return cases, bad


tables = given(n=st.integers(1, 8), seed=st.integers(0, 2**31), density=st.sampled_from([0.3, 0.7, 1.0]), dup=st.booleans())
quick = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@tables
@quick
def test_triangle_forms_match_brute_force(n, seed, density, dup):
    spec = spec_of(METRIC, n)
    table, first = partial_table(spec, n, 0, seed, density, lambda rng: int(rng.integers(0, 10)), dup)
    expected = {
        "tri": brute(first, n, 3, [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)],
                     lambda *a: True, lambda x, y, z: x <= y + z),
        "tri_renamed": brute(first, n, 3, [lambda x, y, z: (x, z), lambda x, y, z: (y, x), lambda x, y, z: (z, y)],
                             lambda *a: True, lambda s, a, b: s >= a + b),
        "tri_left": brute(first, n, 3, [lambda p, q, r: (q, p), lambda p, q, r: (r, q), lambda p, q, r: (r, p)],
                          lambda *a: True, lambda a, b, s: a + b >= s),
        "tri_strict": brute(first, n, 3, [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)],
                            lambda *a: True, lambda x, y, z: x < y + z),
        "geo": brute(first, n, 3, [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)],
                     lambda u, v, w: u < w < v, lambda x, y, z: x == y + z),
        "tri_guard": brute(first, n, 3, [lambda u, v, w: (u, v), lambda u, v, w: (w, u), lambda u, v, w: (v, w)],
                           lambda u, v, w: u != v, lambda x, y, z: x <= y + z),
        "zero": brute(first, n, 1, [lambda u: (u, u)], lambda u: True, lambda x: x == 0),
        "cap": brute(first, n, 2, [lambda a, b: (a, b)], lambda a, b: a != b, lambda x: x <= 5),
    }  # fmt: skip
    for law, (cases, bad) in expected.items():
        report = check(spec, table, law)
        assert report is not None, law
        assert (report.cases, report.violations) == (cases, bad), law
        assert report.passed == (cases > 0 and bad == 0)
        assert len(report.examples) == min(5, bad)


@tables
@quick
def test_order_forms_match_brute_force(n, seed, density, dup):
    spec = spec_of(ORDER, n)
    table, first = partial_table(spec, n, 3, seed, density, lambda rng: bool(rng.random() < 0.5), dup)
    trans = [lambda a, b, c: (a, b), lambda a, b, c: (b, c), lambda a, b, c: (a, c)]
    expected = {
        "irr": brute(first, n, 1, [lambda a: (a, a)], lambda a: True, lambda x: not x),
        "false_diag": brute(first, n, 1, [lambda a: (a, a)], lambda a: True, lambda x: not x),
        "anti": brute(first, n, 2, [lambda a, b: (a, b), lambda a, b: (b, a)], lambda a, b: a != b,
                      lambda x, y: x == (not y)),
        "asym": brute(first, n, 2, [lambda a, b: (b, a), lambda a, b: (a, b)], lambda a, b: True,
                      lambda x, y: not x or not y),
        "total": brute(first, n, 2, [lambda a, b: (a, b), lambda a, b: (b, a)], lambda a, b: a != b,
                       lambda x, y: x or y),
        "trans": brute(first, n, 3, trans, lambda *a: True, lambda x, y, z: not (x and y) or z),
        "trans_swapped": brute(first, n, 3, [lambda p, q, r: (q, r), lambda p, q, r: (p, q), lambda p, q, r: (p, r)],
                               lambda *a: True, lambda x, y, z: not (x and y) or z),
        "trans_reversed": brute(first, n, 3, [lambda a, b, c: (b, a), lambda a, b, c: (c, b), lambda a, b, c: (c, a)],
                                lambda *a: True, lambda x, y, z: not (x and y) or z),
        "trans_guard": brute(first, n, 3, trans, lambda a, b, c: a != c, lambda x, y, z: not (x and y) or z),
    }  # fmt: skip
    for law, (cases, bad) in expected.items():
        report = check(spec, table, law)
        assert report is not None, law
        assert (report.cases, report.violations) == (cases, bad), law
        for ex in report.examples:  # each example names its rows, and they hold the labels it shows
            for call, row in ex["rows"].items():
                assert row >= 0 and call in ex["sides"] or call in ex["rows"]
    assert check(spec, table, "bradley_terry") is None  # not one of the forms: the generic path


@tables
@quick
def test_real_outputs_use_the_law_tolerance(n, seed, density, dup):
    spec = spec_of(REAL, n)
    table, first = partial_table(spec, n, 0, seed, density, lambda rng: float(rng.choice([0.0, 0.5, 1.0, 1.04, 2.1])), dup)
    tri = [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)]
    expected = {
        "tri": brute(first, n, 3, tri, lambda *a: True, lambda x, y, z: x <= y + z + 0.05),
        "geo": brute(first, n, 3, tri, lambda u, v, w: u < w < v, lambda x, y, z: abs(x - (y + z)) <= 0.05),
        "zero": brute(first, n, 1, [lambda u: (u, u)], lambda u: True, lambda x: abs(x - 0.5) <= 1e-5 + 1e-4 * 0.5),
    }
    for law, (cases, bad) in expected.items():
        report = check(spec, table, law)
        assert (report.cases, report.violations) == (cases, bad), law
        assert report.tol == pytest.approx(0.05 if law != "zero" else 1e-5)


ATTRIBUTES = "examples/attribute_comparison.sym"


@given(seed=st.integers(0, 2**31), density=st.sampled_from([0.5, 1.0]))
@settings(max_examples=10, deadline=None)
def test_class_atoms_with_a_context_match_brute_force(seed, density):
    """cmp(i, a, j) == lt ...: the attribute a is a context shared by every call; labels by name."""
    spec = symspec.load(ATTRIBUTES, params={"m": 2})
    rng = np.random.default_rng(seed)
    keys = [(i, a, j) for i in range(8) for a in range(3) for j in range(8) if rng.random() < density]
    labels = ["lt", "eq", "gt"]
    target = [labels[int(rng.integers(0, 3))] for _ in keys]
    names = ["age", "height", "weight"]
    table = load_table(
        spec, {"i": [k[0] for k in keys], "a": [names[k[1]] for k in keys], "j": [k[2] for k in keys], "target": target}
    )
    value = {k: labels.index(t) for k, t in zip(keys, target)}
    lt, eq, gt = 0, 1, 2

    def count(arity, calls, holds):
        cases = bad = 0
        for a in range(3):
            for vs in itertools.product(range(8), repeat=arity):
                ks = [c(a, *vs) for c in calls]
                if all(k in value for k in ks):
                    cases += 1
                    bad += not holds(*(value[k] for k in ks))
        return cases, bad

    expected = {
        "reflexive": count(1, [lambda a, i: (i, a, i)], lambda x: x == eq),
        "antisymmetric_lt": count(2, [lambda a, i, j: (i, a, j), lambda a, i, j: (j, a, i)], lambda x, y: x != lt or y == gt),
        "transitive_lt": count(
            3, [lambda a, i, j, k: (i, a, j), lambda a, i, j, k: (j, a, k), lambda a, i, j, k: (i, a, k)],
            lambda x, y, z: not (x == lt and y == lt) or z == lt,
        ),
        "mixed_eq_gt": count(
            3, [lambda a, i, j, k: (i, a, j), lambda a, i, j, k: (j, a, k), lambda a, i, j, k: (i, a, k)],
            lambda x, y, z: not (x == eq and y == gt) or z == gt,
        ),
    }  # fmt: skip
    for law, (cases, bad) in expected.items():
        report = check(spec, table, law)
        assert (report.cases, report.violations) == (cases, bad), law
        for ex in report.examples:
            if "trans" in law or "mixed" in law:
                assert set(ex["values"]) == {"i", "a", "j", "k", "rows"} and len(ex["values"]["rows"]) == 3
            assert ex["values"]["a"] in names  # shown by name


def test_first_row_of_a_duplicated_input_counts():
    spec = spec_of(ORDER, 3)
    table = load_table(spec, {"a": [3, 3, 4], "b": [3, 3, 4], "target": [False, True, True]})
    report = check(spec, table, "irr")
    assert (report.cases, report.violations) == (2, 1)
    assert report.examples[0]["rows"] == {"gt(a, a)": 2}
    assert report.examples[0]["values"] == {"a": 4, "rows": [2]}


def test_laws_outside_the_forms_return_none():
    spec = symspec.loads(
        """
spec other
domain Z = cyclic(5)
model add(a: Z, b: Z) -> class(Z)
model d(a: Z, b: Z) -> class(range(0, 9))
law commutes: add(a, b) == add(b, a)
law wraps: add(a, b) <= add(a, c) + add(c, b)
law four: d(a, b) <= d(a, c) + d(c, e) + d(e, b)
law assoc: add(add(a, b), c) == add(a, add(b, c))
law mixed: d(a, b) <= d(a, c) + d(b, c) + 1
"""
    )
    table = load_table(spec, {"a": [0, 1], "b": [1, 0], "target": [1, 1]}, model="add")
    for law in ("commutes", "wraps", "assoc"):
        assert check(spec, table, law) is None, law
    assert check_constraint(None, table, spec) is None  # no analysis record: nothing to recognize
    dtable = load_table(spec, {"a": [0, 1], "b": [1, 0], "target": [1, 1]}, model="d")
    for law in ("four", "mixed"):
        assert check(spec, dtable, law) is None, law


def test_no_present_case_is_not_a_pass():
    spec = spec_of(METRIC, 4)
    table = load_table(spec, {"a": [0], "b": [1], "target": [3]})
    report = check(spec, table, "zero")
    assert (report.cases, report.skipped, report.violations, report.passed) == (0, 4, 0, False)
    assert report.mode == "data" and report.interval == (0.0, 1.0)
    assert "nothing was checked" in report.note


def test_examples_are_the_worst_triangle_violations():
    spec = spec_of(METRIC, 3)
    # d(0, 2) = 9 against d(0, 1) + d(1, 2) = 2 (excess 7) and d(0, 0) + d(0, 2)... every pair present
    target = {(a, b): 1 for a in range(3) for b in range(3) if a != b} | {(a, a): 0 for a in range(3)}
    target[(0, 2)] = 9
    target[(2, 1)] = 4
    keys = sorted(target)
    table = load_table(spec, {"a": [k[0] for k in keys], "b": [k[1] for k in keys], "target": [target[k] for k in keys]})
    report = check(spec, table, "tri", examples=2)
    worst = report.examples[0]
    rows = [keys.index((0, 2)), keys.index((0, 1)), keys.index((1, 2))]
    assert worst["values"] == {"u": 0, "v": 2, "w": 1, "rows": rows} and worst["loss"] == 7.0
    assert worst["sides"] == {"d(u, v)": 9, "d(u, w) + d(w, v)": 2}
    assert worst["rows"] == {"d(u, v)": keys.index((0, 2)), "d(u, w)": keys.index((0, 1)), "d(w, v)": keys.index((1, 2))}
    assert torch.tensor([ex["loss"] for ex in report.examples]).diff().le(0).all()


GEODESIC = """
spec geodesic
param n = 7
graph G = edges(0-1, 1-2, 2-3, 3-0, 1-4, 5-6)
domain Node = nodes(G)
model d(a: Node, b: Node) -> class(range(0, 6))
law geo: d(u, v) == d(u, w) + d(w, v) when between(G, u, w, v)
law geo_swapped: d(w, y) + d(x, w) == d(x, y) when between(G, y, w, x)
law geo_le: d(u, v) <= d(u, w) + d(w, v) when between(G, v, w, u)
law geo_strict: d(u, v) > d(w, u) + d(v, w) when between(G, u, w, v)
law geo_extra: d(u, v) == d(u, w) + d(w, v) when between(G, u, w, v) and u != v
law tri: d(u, v) <= d(u, w) + d(w, v)
law tri_mirror: d(w, u) + d(v, w) >= d(v, u)
"""


@given(
    seed=st.integers(0, 2**31),
    density=st.sampled_from([0.4, 0.8, 1.0]),
    noise=st.sampled_from([0.05, 1.0]),
    near=st.sampled_from([0, 24]),
)
@quick
def test_between_guards_match_brute_force(seed, density, noise, near):
    """Shortest-path guards on a graph with a cycle, a branch and an unreachable component; labels the graph's
    distances but a fraction ``noise`` (``near == 0``: only the triples holding a differing label examined)."""
    import networkx as nx

    import symspec.data.constraints_triangle as tri_module

    spec = spec_of(GEODESIC, 7)
    graph = nx.Graph([(0, 1), (1, 2), (2, 3), (3, 0), (1, 4), (5, 6)])
    dist = dict(nx.all_pairs_shortest_path_length(graph))
    rng = np.random.default_rng(seed)

    def label(a, b):
        true = dist[a].get(b)
        return true if true is not None and rng.random() >= noise else int(rng.integers(0, 6))

    keys = [(a, b) for a in range(7) for b in range(7) if rng.random() < density]
    rows = [(a, b, label(a, b)) for a, b in keys]
    table = load_table(spec, {"a": [r[0] for r in rows], "b": [r[1] for r in rows], "target": [r[2] for r in rows]})
    first = {(a, b): (t, i) for i, (a, b, t) in enumerate(rows)}

    def between(a, m, b):
        return b in dist[a] and m in dist[a] and b in dist[m] and dist[a][m] + dist[m][b] == dist[a][b]

    tri = [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)]
    expected = {
        "geo": brute(first, 7, 3, tri, lambda u, v, w: between(u, w, v), lambda x, y, z: x == y + z),
        "geo_swapped": brute(first, 7, 3, [lambda x, y, w: (w, y), lambda x, y, w: (x, w), lambda x, y, w: (x, y)],
                             lambda x, y, w: between(y, w, x), lambda a, b, s: a + b == s),
        "geo_le": brute(first, 7, 3, tri, lambda u, v, w: between(v, w, u), lambda x, y, z: x <= y + z),
        "geo_strict": brute(first, 7, 3, [lambda u, v, w: (u, v), lambda u, v, w: (w, u), lambda u, v, w: (v, w)],
                            lambda u, v, w: between(u, w, v), lambda x, y, z: x > y + z),
        "geo_extra": brute(first, 7, 3, tri, lambda u, v, w: between(u, w, v) and u != v, lambda x, y, z: x == y + z),
    }  # fmt: skip
    factor, tri_module.NEAR_FACTOR = tri_module.NEAR_FACTOR, near
    try:
        for law, (cases, bad) in expected.items():
            report = check(spec, table, law)
            assert (report.cases, report.violations) == (cases, bad), law
            assert len(report.examples) == min(5, bad)
    finally:
        tri_module.NEAR_FACTOR = factor


@given(
    seed=st.integers(0, 2**31),
    density=st.sampled_from([0.5, 0.9, 1.0]),
    noise=st.sampled_from([0.0, 0.05, 0.3]),
    near=st.sampled_from([0, 24]),
)
@quick
def test_triangle_near_a_graph_metric_matches_brute_force(seed, density, noise, near):
    """Labels that are mostly the graph's distances: only triples with a differing label are examined
    (``near == 0`` forces that path whatever the number of differing labels; 24 is the default choice)."""
    import networkx as nx

    import symspec.data.constraints_triangle as tri

    spec = spec_of(GEODESIC, 7)
    graph = nx.Graph([(0, 1), (1, 2), (2, 3), (3, 0), (1, 4), (5, 6)])
    dist = dict(nx.all_pairs_shortest_path_length(graph))
    rng = np.random.default_rng(seed)

    def label(a, b):
        true = dist[a].get(b)
        return true if true is not None and rng.random() >= noise else int(rng.integers(0, 6))

    keys = [(a, b) for a in range(7) for b in range(7) if rng.random() < density]
    rows = [(a, b, label(a, b)) for a, b in keys]
    table = load_table(spec, {"a": [r[0] for r in rows], "b": [r[1] for r in rows], "target": [r[2] for r in rows]})
    first = {(a, b): (t, i) for i, (a, b, t) in enumerate(rows)}
    calls = [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)]
    expected = brute(first, 7, 3, calls, lambda *a: True, lambda x, y, z: x <= y + z)
    mirror = brute(first, 7, 3, [lambda u, v, w: (w, u), lambda u, v, w: (v, w), lambda u, v, w: (v, u)],
                   lambda *a: True, lambda y, z, x: y + z >= x)  # fmt: skip
    used = []
    original = tri._violations_near

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        used.append(out is not None)
        return out

    tri._violations_near, factor, tri.NEAR_FACTOR = spy, tri.NEAR_FACTOR, near
    try:
        report = check(spec, table, "tri", examples=1000)
        mirrored = check(spec, table, "tri_mirror")
    finally:
        tri._violations_near, tri.NEAR_FACTOR = original, factor
    assert (report.cases, report.violations) == expected
    assert (mirrored.cases, mirrored.violations) == mirror
    assert len(report.examples) == expected[1]
    assert sorted(ex["loss"] for ex in report.examples) == sorted(
        float(first[(u, v)][0] - first[(u, w)][0] - first[(w, v)][0])
        for u, v, w in itertools.product(range(7), repeat=3)
        if all(k in first for k in [(u, v), (u, w), (w, v)]) and first[(u, v)][0] > first[(u, w)][0] + first[(w, v)][0]
    )
    if near == 0:
        assert used == [True, True]  # the near path ran, for both spellings


CONTEXT = """
spec per_graph
param n = 5
domain K = set(road, rail)
domain Node = range(0, n)
model d(k: K, a: Node, b: Node) -> class(range(0, 8))
law tri: d(k, u, v) <= d(k, u, w) + d(k, w, v)
law zero: d(k, u, u) == 0
law two_hops: d(k, u, v) <= d(k, u, w) + d(k, w, x) + d(k, x, v)
"""


@given(seed=st.integers(0, 2**31), density=st.sampled_from([0.5, 1.0]))
@settings(max_examples=10, deadline=None)
def test_a_context_argument_splits_the_relation(seed, density):
    """A variable in the same position of every call (k) is a context: each value its own label matrix."""
    spec = spec_of(CONTEXT, 5)
    rng = np.random.default_rng(seed)
    keys = [(k, a, b) for k in range(2) for a in range(5) for b in range(5) if rng.random() < density]
    value = {key: int(rng.integers(0, 8)) for key in keys}
    names = ["road", "rail"]
    table = load_table(
        spec,
        {"k": [names[k] for k, _, _ in keys], "a": [a for _, a, _ in keys], "b": [b for _, _, b in keys], "target": [value[k] for k in keys]},
    )  # fmt: skip

    def count(arity, calls, holds):
        cases = bad = 0
        for k in range(2):
            for vs in itertools.product(range(5), repeat=arity):
                ks = [c(k, *vs) for c in calls]
                if all(x in value for x in ks):
                    cases += 1
                    bad += not holds(*(value[x] for x in ks))
        return cases, bad

    expected = {
        "tri": count(3, [lambda k, u, v, w: (k, u, v), lambda k, u, v, w: (k, u, w), lambda k, u, v, w: (k, w, v)],
                     lambda x, y, z: x <= y + z),
        "zero": count(1, [lambda k, u: (k, u, u)], lambda x: x == 0),
    }  # fmt: skip
    for law, (cases, bad) in expected.items():
        report = check(spec, table, law)
        assert (report.cases, report.violations) == (cases, bad), law
        for ex in report.examples:
            assert ex["values"]["k"] in names
    assert check(spec, table, "two_hops") is None  # four calls: not one of the forms
