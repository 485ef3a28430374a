"""Constraint laws on data, adversarial review (issue 17): each test pins a wrong answer or crash found in
``symspec/data/constraints*.py`` against an independent brute force (every assignment of the law's variables,
each call looked up with the first-row rule) and, where it runs, the generic check-data path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import symspec
import symspec.data.check as check_module
import symspec.data.constraints as constraints
from symspec.data import load_table
from symspec.data.constraints import check_constraint


def fast(spec, table, law: str, examples: int = 5):
    return check_constraint(spec.ir.laws[law], table, spec, examples=examples)


def generic(spec, cols: dict, law: str, monkeypatch) -> tuple[int, int]:
    """(cases, violations) by check-data's generic path (the constraint dispatch switched off)."""
    with monkeypatch.context() as m:
        m.setattr(check_module, "check_constraint", lambda *args, **kwargs: None)
        report = check_module.check_data(spec, cols, laws=[law])
    (law_report,) = report.laws
    return law_report.cases, law_report.violations


def brute(first: dict, domains: list, calls, guard, holds) -> tuple[int, int]:
    cases = bad = 0
    for values in itertools.product(*domains):
        keys = [call(*values) for call in calls]
        if not guard(*values) or not all(k in first for k in keys):
            continue
        cases += 1
        bad += not holds(*(first[k] for k in keys))
    return cases, bad


def columns(keys: list, labels: list, params: tuple) -> tuple[dict, dict]:
    cols = {p: [k[i] for k in keys] for i, p in enumerate(params)}
    cols["target"] = list(labels)
    first: dict = {}
    for key, label in zip(keys, labels):
        first.setdefault(tuple(key), label)
    return cols, first


CONSTANT_ARGS = """
spec constant_args
param k = 2
domain K = set(road, rail)
domain N = range(0, 4)
model d(c: K, a: N, b: N) -> class(range(0, 10))
law named_param: d(c, u, k) <= d(c, u, w) + d(c, w, k)
law named_label: d(rail, u, v) <= d(rail, u, w) + d(rail, w, v)
law label_diagonal: d(road, u, u) == 0
law param_cap: d(c, u, k) <= 5
"""


def test_a_constant_argument_by_name_is_not_a_variable(monkeypatch):
    """A param or a label as a call argument (``d(c, u, k)``, ``d(rail, u, v)``) crashed with KeyError: the
    recognizer took the name for a law variable. Those laws now go the generic way, with its counts."""
    spec = symspec.loads(CONSTANT_ARGS)
    rng = np.random.default_rng(5)
    keys = [(c, a, b) for c in range(2) for a in range(4) for b in range(4) if rng.random() < 0.8]
    labels = [int(rng.integers(0, 10)) for _ in keys]
    cols, first = columns(keys, labels, ("c", "a", "b"))
    table = load_table(spec, cols)
    n4, k = range(4), 2
    expected = {
        "named_param": brute(first, [range(2), n4, n4], [lambda c, u, w: (c, u, k), lambda c, u, w: (c, u, w),
                             lambda c, u, w: (c, w, k)], lambda *a: True, lambda x, y, z: x <= y + z),
        "named_label": brute(first, [n4, n4, n4], [lambda u, v, w: (1, u, v), lambda u, v, w: (1, u, w),
                             lambda u, v, w: (1, w, v)], lambda *a: True, lambda x, y, z: x <= y + z),
        "label_diagonal": brute(first, [n4], [lambda u: (0, u, u)], lambda u: True, lambda x: x == 0),
        "param_cap": brute(first, [range(2), n4], [lambda c, u: (c, u, k)], lambda *a: True, lambda x: x <= 5),
    }  # fmt: skip
    for law, counts in expected.items():
        assert fast(spec, table, law) is None, law  # not one of the forms: the generic path decides
        assert generic(spec, cols, law, monkeypatch) == counts, law
    report = symspec.check_data(spec, cols)  # the whole dispatch, no traceback
    assert {r.name: (r.cases, r.violations) for r in report.laws} == expected


WIDE = """
spec wide
domain N = range(0, 3)
model d(a: N, b: N) -> class(range(3000000000, 3000000006))
law zero: d(u, u) == 3000000000
law tri: d(u, v) <= d(u, w) + d(w, v)
law geo: d(u, v) == d(u, w) + d(w, v) when u < w and w < v
"""


def test_class_labels_beyond_int32_are_exact(monkeypatch):
    """Labels of class(range(3e9, ...)) wrapped around in the dense int32 table: wrong counts, silently."""
    spec = symspec.loads(WIDE)
    keys = [(a, b) for a in range(3) for b in range(3)]
    low = 3_000_000_000
    labels = [low + (a + 2 * b) % 6 for a, b in keys]
    cols, first = columns(keys, labels, ("a", "b"))
    table = load_table(spec, cols)
    n3 = range(3)
    tri = [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)]
    expected = {
        "zero": brute(first, [n3], [lambda u: (u, u)], lambda u: True, lambda x: x == low),
        "tri": brute(first, [n3] * 3, tri, lambda *a: True, lambda x, y, z: x <= y + z),
        "geo": brute(first, [n3] * 3, tri, lambda u, v, w: u < w < v, lambda x, y, z: x == y + z),
    }
    assert expected["zero"] == (3, 1) and expected["tri"] == (27, 0) and expected["geo"] == (1, 1)
    for law, counts in expected.items():
        report = fast(spec, table, law)
        assert (report.cases, report.violations) == counts, law
        if law != "geo":  # the compiled check of geo pads the sum's support to 3 x 10^9 classes (reported)
            assert generic(spec, cols, law, monkeypatch) == counts, law
    assert fast(spec, table, "zero").examples[0]["sides"] == {"d(u, u)": low + 3, "3000000000": low}


CONTEXT_FIRST = """
spec context_first
domain K = set(p, q)
domain N = range(0, 5)
model gt(k: K, a: N, b: N) -> bool
law trans: gt(k, a, b) and gt(k, b, c) => gt(k, a, c) when a != c
law tri_guarded: gt(k, a, b) or gt(k, b, a) when a != b
"""


def test_generic_chunks_stay_bounded_when_a_small_variable_leads(monkeypatch):
    """Chunks were taken along the FIRST variable only: with a 2-valued context first, one chunk held all
    n^3 triples (n = 1000: 10^9 entries per temporary). Every evaluated block now holds at most CHUNK entries."""
    spec = symspec.loads(CONTEXT_FIRST)
    rng = np.random.default_rng(2)
    keys = [(k, a, b) for k in range(2) for a in range(5) for b in range(5) if rng.random() < 0.8]
    labels = [bool(rng.random() < 0.5) for _ in keys]
    cols, first = columns(keys, labels, ("k", "a", "b"))
    table = load_table(spec, cols)
    n5 = range(5)
    expected = {
        "trans": brute(first, [range(2), n5, n5, n5],
                       [lambda k, a, b, c: (k, a, b), lambda k, a, b, c: (k, b, c), lambda k, a, b, c: (k, a, c)],
                       lambda k, a, b, c: a != c, lambda x, y, z: not (x and y) or z),
        "tri_guarded": brute(first, [range(2), n5, n5], [lambda k, a, b: (k, a, b), lambda k, a, b: (k, b, a)],
                             lambda k, a, b: a != b, lambda x, y: x or y),
    }  # fmt: skip
    seen: list = []
    inside = []
    original, generic_run = constraints.Evaluator.present, constraints._Run._generic

    def spy(self, term, env):  # the grid block of each evaluation of the generic chunked path
        if inside:
            seen.append(torch.broadcast_shapes(*(v.shape for v in env.values())).numel())
        return original(self, term, env)

    def run(self, order):
        inside.append(True)
        try:
            return generic_run(self, order)
        finally:
            inside.pop()

    monkeypatch.setattr(constraints, "CHUNK", 16)
    monkeypatch.setattr(constraints.Evaluator, "present", spy)
    monkeypatch.setattr(constraints._Run, "_generic", run)
    for law, counts in expected.items():
        seen.clear()
        report = fast(spec, table, law, examples=100)
        assert (report.cases, report.violations) == counts, law
        assert seen and max(seen) <= 16, (law, max(seen))
        assert len(report.examples) == min(100, counts[1])
        for ex in report.examples:  # each example is a real violation at the values it names
            k = ["p", "q"].index(ex["values"]["k"])
            if law == "trans":
                a, b, c = (ex["values"][v] for v in "abc")
                assert first[(k, a, b)] and first[(k, b, c)] and not first[(k, a, c)] and a != c
            else:
                a, b = ex["values"]["a"], ex["values"]["b"]
                assert not first[(k, a, b)] and not first[(k, b, a)] and a != b


REAL_EDGE = """
spec real_edge
graph G = path(3)
domain N = nodes(G)
model r(a: N, b: N) -> real
law tri: r(u, v) <= r(u, w) + r(w, v)
law tri_exact: r(u, v) <= r(u, w) + r(w, v) [tol 0]
law mirrored: r(u, w) + r(w, v) >= r(u, v) [tol 0]
law reverse: r(u, w) + r(w, v) <= r(u, v) [tol 0]
law geo_le: r(u, v) <= r(u, w) + r(w, v) when between(G, u, w, v)
law geo_ge: r(u, v) >= r(u, w) + r(w, v) when between(G, u, w, v) [tol 0]
law guarded: r(u, v) <= r(u, w) + r(w, v) when u != v
"""


@pytest.mark.parametrize("near", [0, 24])
@pytest.mark.parametrize(
    ("x", "left", "right"),
    [(1.00001, 0.5, 0.5), (0.30000000000000004, 0.1, 0.2), (0.3, 0.1, 0.2), (2.00001, 1.0, 1.0), (0.6, 0.1, 0.2)],
)
def test_real_sides_are_decided_as_the_validator_does(monkeypatch, near, x, left, right):
    """``lhs <= rhs + tol`` (docs/data.md, runtime ``at_most``), not ``(lhs - left) - right <= tol``: they differ
    by a rounding at the boundary (1.00001 against 0.5 + 0.5 with the default tol 1e-5 is no violation)."""
    import symspec.data.constraints_triangle as tri

    monkeypatch.setattr(tri, "NEAR_FACTOR", near)  # 0: the triples holding a label off the graph distance
    spec = symspec.loads(REAL_EDGE)
    keys = [(0, 2), (0, 1), (1, 2)]
    cols, first = columns(keys, [x, left, right], ("a", "b"))
    table = load_table(spec, cols)
    n3 = range(3)
    tri_calls = [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)]
    on_path = {(0, 1, 2), (2, 1, 0)} | {(u, u, v) for u in n3 for v in n3} | {(u, v, v) for u in n3 for v in n3}

    def at_most(a, b, tol):  # symspec.runtime.checks.at_most on float64 tensors
        return bool(torch.tensor(a, dtype=torch.float64) <= torch.tensor(b, dtype=torch.float64) + tol)

    expected = {
        "tri": brute(first, [n3] * 3, tri_calls, lambda *a: True, lambda a, b, c: at_most(a, b + c, 1e-5)),
        "tri_exact": brute(first, [n3] * 3, tri_calls, lambda *a: True, lambda a, b, c: at_most(a, b + c, 0.0)),
        "mirrored": brute(first, [n3] * 3, tri_calls, lambda *a: True, lambda a, b, c: at_most(a, b + c, 0.0)),
        "reverse": brute(first, [n3] * 3, tri_calls, lambda *a: True, lambda a, b, c: at_most(b + c, a, 0.0)),
        "geo_le": brute(first, [n3] * 3, tri_calls, lambda u, v, w: (u, w, v) in on_path,
                        lambda a, b, c: at_most(a, b + c, 1e-5)),
        "geo_ge": brute(first, [n3] * 3, tri_calls, lambda u, v, w: (u, w, v) in on_path,
                        lambda a, b, c: at_most(b + c, a, 0.0)),
        "guarded": brute(first, [n3] * 3, tri_calls, lambda u, v, w: u != v, lambda a, b, c: at_most(a, b + c, 1e-5)),
    }  # fmt: skip
    for law, counts in expected.items():
        report = fast(spec, table, law)
        assert (report.cases, report.violations) == counts, law
    if near == 24:  # the generic path agrees (one run is enough: it has no near path)
        for law in ("tri", "tri_exact", "reverse"):
            assert generic(spec, cols, law, monkeypatch) == expected[law], law


SPARSE = """
spec sparse
domain N = range(0, 60)
model d(a: N, b: N) -> class(range(0, 10))
law tri: d(u, v) <= d(u, w) + d(w, v)
law tri_mirror: d(w, u) + d(v, w) >= d(v, u)
"""
SPARSE_GRAPH = """
spec sparse_graph
graph G = cycle(60)
domain N = nodes(G)
model d(a: N, b: N) -> class(range(0, 40))
law geo: d(u, v) == d(u, w) + d(w, v) when between(G, u, w, v)
law geo_lt: d(u, v) < d(w, u) + d(v, w) when between(G, v, w, u)
"""


@pytest.mark.parametrize("text", [SPARSE, SPARSE_GRAPH])
def test_triangle_broadcasts_only_over_values_holding_a_case(monkeypatch, text):
    """Labels among 7 of 60 values: the triples were broadcast over all 60^3 (n = 2,000 with labels among
    200 nodes: 8 x 10^9 triples for 8 x 10^6 cases). Now over the u, w, v that hold a case, same counts."""
    import symspec.data.constraints_triangle as tri

    monkeypatch.setattr(tri, "NEAR_FACTOR", 10**9)  # no near path: the broadcast itself
    spec = symspec.loads(text)
    rng = np.random.default_rng(11)
    sub = sorted(rng.choice(60, 7, replace=False).tolist())
    keys = [(a, b) for a in sub for b in sub if rng.random() < 0.8] + [(sub[0], 59), (3, sub[1])]
    labels = [int(rng.integers(0, 10)) for _ in keys]
    cols, first = columns(keys, labels, ("a", "b"))
    table = load_table(spec, cols)
    shapes: list = []
    for name in ("_violations", "_geodesic"):
        original = getattr(tri, name)

        def spy(*args, original=original, **kwargs):
            shapes.append(tuple(args[0].shape) + tuple(args[2].shape))
            return original(*args, **kwargs)

        monkeypatch.setattr(tri, name, spy)
    n = range(60)
    if text is SPARSE:
        dist = None
        expected = {
            "tri": brute(first, [n] * 3, [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)],
                         lambda *a: True, lambda x, y, z: x <= y + z),
            "tri_mirror": brute(first, [n] * 3, [lambda u, v, w: (w, u), lambda u, v, w: (v, w),
                                lambda u, v, w: (v, u)], lambda *a: True, lambda y, z, x: y + z >= x),
        }  # fmt: skip
    else:
        dist = spec.ir.graphs["G"].distances

        def between(a, m, b):
            return dist[a][m] + dist[m][b] == dist[a][b]

        expected = {
            "geo": brute(first, [n] * 3, [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)],
                         lambda u, v, w: between(u, w, v), lambda x, y, z: x == y + z),
            "geo_lt": brute(first, [n] * 3, [lambda u, v, w: (u, v), lambda u, v, w: (w, u), lambda u, v, w: (v, w)],
                            lambda u, v, w: between(v, w, u), lambda x, y, z: x < y + z),
        }  # fmt: skip
    for law, counts in expected.items():
        shapes.clear()
        report = fast(spec, table, law, examples=1000)
        assert (report.cases, report.violations) == counts, law
        assert len(report.examples) == counts[1]
        assert shapes and max(max(s) for s in shapes) <= 8, (law, shapes)
        for ex in report.examples:  # the indices map back to the values
            u, v, w = (int(ex["values"][k]) for k in "uvw")  # nodes are shown as names
            assert {u, v, w} <= set(sub) | {59, 3}
            assert all(r >= 0 for r in ex["rows"].values())


BIG_GRAPH = """
spec big_graph
graph G = grid(65, 65)
domain N = nodes(G)
model d(a: N, b: N) -> class(range(0, 300))
law tri: d(u, v) <= d(u, w) + d(w, v)
"""


def test_triangle_on_a_graph_past_the_distance_limit_is_still_checked():
    """nodes(G) of 4,225 nodes (all-pairs distances are kept up to 4,096): the near-metric shortcut asked for
    the distances and the whole law fell to the generic path (7.5 x 10^10 cases: a usage error). Without
    distances the broadcast decides alone."""
    spec = symspec.loads(BIG_GRAPH)
    rng = np.random.default_rng(4)
    nodes = sorted(rng.choice(4225, 12, replace=False).tolist())
    keys = [(a, b) for a in nodes for b in nodes if rng.random() < 0.7]
    labels = [int(rng.integers(0, 300)) for _ in keys]
    cols, first = columns(keys, labels, ("a", "b"))
    table = load_table(spec, cols)
    expected = brute(first, [nodes] * 3, [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)],
                     lambda *a: True, lambda x, y, z: x <= y + z)  # fmt: skip
    report = fast(spec, table, "tri")
    assert report is not None and (report.cases, report.violations) == expected
    assert expected[1] > 0


ORACLE = """
spec oracle
domain N = range(-1, 4)
model d(a: N, b: N) -> class(range(-2, 40))
law tri: d(u, v) <= d(u, w) + d(w, v)
law strict_left: d(u, w) + d(w, v) > d(u, v)
law reverse: d(u, v) >= d(w, u) + d(v, w)
law lower_strict: d(v, u) < d(u, w) + d(v, w) when u != v
law eq_guard: d(u, v) == d(u, w) + d(w, v) when u < w and w < v
law eq_plain: d(u, v) == d(u, w) + d(w, v)
law zero: d(u, u) == -2
law cap: d(u, v) <= 20 when u != v
"""


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_form_agrees_with_the_generic_path_and_brute_force(monkeypatch, seed):
    """The second oracle: check-data with the constraint dispatch off gives the same counts on every law."""
    spec = symspec.loads(ORACLE)
    rng = np.random.default_rng(seed)
    n = range(-1, 4)
    keys = [(a, b) for a in n for b in n if rng.random() < 0.8]
    keys += [keys[i] for i in rng.integers(0, len(keys), 5)]  # duplicates, maybe conflicting: the first row counts
    labels = [int(rng.choice([-2, 0, 1, 2, 5, 20, 39])) for _ in keys]
    cols, first = columns(keys, labels, ("a", "b"))
    table = load_table(spec, cols)
    t = [lambda u, v, w: (u, v), lambda u, v, w: (u, w), lambda u, v, w: (w, v)]
    expected = {
        "tri": brute(first, [n] * 3, t, lambda *a: True, lambda x, y, z: x <= y + z),
        "strict_left": brute(first, [n] * 3, t, lambda *a: True, lambda x, y, z: y + z > x),
        "reverse": brute(first, [n] * 3, [lambda u, v, w: (u, v), lambda u, v, w: (w, u), lambda u, v, w: (v, w)],
                         lambda *a: True, lambda x, y, z: x >= y + z),
        "lower_strict": brute(first, [n] * 3, [lambda u, v, w: (v, u), lambda u, v, w: (u, w),
                              lambda u, v, w: (v, w)], lambda u, v, w: u != v, lambda x, y, z: x < y + z),
        "eq_guard": brute(first, [n] * 3, t, lambda u, v, w: u < w < v, lambda x, y, z: x == y + z),
        "eq_plain": brute(first, [n] * 3, t, lambda *a: True, lambda x, y, z: x == y + z),
        "zero": brute(first, [n], [lambda u: (u, u)], lambda u: True, lambda x: x == -2),
        "cap": brute(first, [n] * 2, [lambda u, v: (u, v)], lambda u, v: u != v, lambda x: x <= 20),
    }  # fmt: skip
    with monkeypatch.context() as m:
        m.setattr(check_module, "check_constraint", lambda *args, **kwargs: None)
        generic_report = check_module.check_data(spec, cols)
    generic_counts = {r.name: (r.cases, r.violations) for r in generic_report.laws}
    assert generic_counts == expected
    for law, counts in expected.items():
        report = fast(spec, table, law)
        assert report is not None and (report.cases, report.violations) == counts, law


NEGATIVE = """
spec negative
domain N = range(0, 5)
model c(a: N, b: N) -> class(range(-2, 3))
law trans: c(a, b) == -1 and c(b, e) == -1 => c(a, e) == -1
law anti: c(a, b) == -1 => c(b, a) == 1
"""


def test_negative_literal_constants_are_constants(monkeypatch):
    """``c(a, b) == -1`` (a negative literal is ``Neg(Int)``): recognized as a constant/atom; a transitive law
    over such atoms also reports the order graph's cycle (the atom's value read through the negation)."""
    spec = symspec.loads(NEGATIVE)
    rng = np.random.default_rng(8)
    keys = [(a, b) for a in range(5) for b in range(5) if rng.random() < 0.9]
    labels = [int(rng.choice([-2, -1, -1, 0, 1])) for _ in keys]
    cols, first = columns(keys, labels, ("a", "b"))
    table = load_table(spec, cols)
    n = range(5)
    expected = {
        "trans": brute(first, [n] * 3, [lambda a, b, e: (a, b), lambda a, b, e: (b, e), lambda a, b, e: (a, e)],
                       lambda *v: True, lambda x, y, z: not (x == -1 and y == -1) or z == -1),
        "anti": brute(first, [n] * 2, [lambda a, b: (a, b), lambda a, b: (b, a)], lambda *v: True,
                      lambda x, y: x != -1 or y == 1),
    }  # fmt: skip
    for law, counts in expected.items():
        report = fast(spec, table, law)
        assert report is not None and (report.cases, report.violations) == counts, law
        assert generic(spec, cols, law, monkeypatch) == counts, law
    cycle = fast(spec, table, "trans").cycle
    nodes = cycle["values"]
    assert all(first[(a, b)] == -1 for a, b in zip(nodes, nodes[1:] + nodes[:1]))
