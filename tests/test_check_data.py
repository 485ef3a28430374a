"""symspec.check_data: exact violation counts against a plain-Python brute force over random tables."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symspec.data.check as check_module
from symspec.data.check import DataReport, check_data
from symspec.errors import UsageError
from symspec.pipeline import load, loads


@pytest.fixture(autouse=True)
def _strict(monkeypatch):
    """The one-hot fast path must run (not fall back) wherever class outputs are checked here."""
    monkeypatch.setattr(check_module, "STRICT", True)


P = 5
MOD = loads(
    f"""spec mod
domain Z = cyclic({P})
model add(a: Z, b: Z) -> class(Z)
law commutes: add(a, b) == add(b, a)
law shift: forall k: Z. add(a + k, b) == add(a, b) + k
law assoc: add(add(a, b), c) == add(a, add(b, c))
law offdiag: add(a, b) == add(b, a) when a != b
"""
)
GRAPH = load("examples/graph_distance.sym", params={"n": 3})


def _first(rows) -> dict:
    """input -> the first row's (target, row number): what a lookup answers."""
    out: dict = {}
    for i, (*x, y) in enumerate(rows):
        out.setdefault(tuple(x), (y, i))
    return out


def _mod_brute(rows) -> dict:
    d = {k: v[0] for k, v in _first(rows).items()}
    counts = {"commutes": [0, 0], "shift": [0, 0], "assoc": [0, 0], "offdiag": [0, 0]}
    r = range(P)
    for a, b in itertools.product(r, r):
        if (a, b) in d and (b, a) in d:
            counts["commutes"][0] += 1
            counts["commutes"][1] += d[a, b] != d[b, a]
            if a != b:
                counts["offdiag"][0] += 1
                counts["offdiag"][1] += d[a, b] != d[b, a]
        for k in r:
            if ((a + k) % P, b) in d and (a, b) in d:
                counts["shift"][0] += 1
                counts["shift"][1] += d[(a + k) % P, b] != (d[a, b] + k) % P
        for c in r:
            if (a, b) in d and (b, c) in d:
                x, y = d[a, b], d[b, c]
                if (x, c) in d and (a, y) in d:
                    counts["assoc"][0] += 1
                    counts["assoc"][1] += d[x, c] != d[a, y]
    return counts


def _conflicting(rows) -> int:
    seen: dict = {}
    for *x, y in rows:
        seen.setdefault(tuple(x), set()).add(y)
    return sum(len(v) > 1 for v in seen.values())


@st.composite
def mod_tables(draw):
    """A random part of the modular-addition table (some rows repeated), with some labels corrupted."""
    keep = draw(st.lists(st.booleans(), min_size=P * P, max_size=P * P))
    rows = [(a, b, (a + b) % P) for (a, b), k in zip(itertools.product(range(P), range(P)), keep) if k]
    wrong = draw(st.lists(st.tuples(st.integers(0, max(0, len(rows) - 1)), st.integers(1, P - 1)), max_size=6))
    for i, delta in wrong:
        if rows:
            a, b, y = rows[i]
            rows[i] = (a, b, (y + delta) % P)
    extra = draw(st.lists(st.tuples(st.integers(0, P - 1), st.integers(0, P - 1), st.integers(0, P - 1)), max_size=4))
    order = draw(st.permutations(range(len(rows) + len(extra))))
    everything = rows + extra
    return [everything[i] for i in order]


def _columns(rows, names) -> dict:
    if not rows:
        return {n: torch.zeros(0, dtype=torch.int64) for n in names}
    return {n: torch.tensor(c) for n, c in zip(names, zip(*rows))}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mod_tables())
def test_modular_addition_counts_match_brute_force(rows):
    report = check_data(MOD, _columns(rows, ("a", "b", "target")))
    want = _mod_brute(rows)
    for name, (cases, violations) in want.items():
        law = report[name]
        assert (law.cases, law.violations) == (cases, violations), name
        assert law.passed == (None if cases == 0 else violations == 0)  # no case in the data: not checked
    assert report.conflict_count == _conflicting(rows)
    checked = [v for c, v in want.values() if c > 0]  # a law with no case in the data is not checked, not failed
    assert report.passed == (bool(checked) and all(v == 0 for v in checked) and not _conflicting(rows))


def _group(perms: list, n: int) -> list:
    """Every element of the group the permutations generate (closure)."""
    identity = tuple(range(n))
    seen, frontier = {identity}, [identity]
    while frontier:
        new = []
        for g in frontier:
            for s in perms:
                h = tuple(int(s[i]) for i in g)
                if h not in seen:
                    seen.add(h)
                    new.append(h)
        frontier = new
    return sorted(seen)


GRAPH_IR = GRAPH.ir.graphs["G"]
ELEMENTS = _group([np.asarray(p) for p in GRAPH_IR.automorphisms], GRAPH_IR.num_nodes)


@st.composite
def graph_tables(draw):
    n = GRAPH_IR.num_nodes
    dist = GRAPH_IR.distances
    pairs = list(itertools.product(range(n), range(n)))
    keep = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    rows = [(u, v, int(dist[u, v])) for (u, v), k in zip(pairs, keep) if k]
    wrong = draw(st.lists(st.tuples(st.integers(0, max(0, len(rows) - 1)), st.integers(1, 4)), max_size=5))
    for i, delta in wrong:
        if rows:
            u, v, y = rows[i]
            rows[i] = (u, v, (y + delta) % 5)
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_tables())
def test_graph_distance_counts_match_brute_force(rows):
    report = check_data(GRAPH, _columns(rows, ("u", "v", "target")), laws=["symmetric", "zero", "automorphism"])
    d = {k: v[0] for k, v in _first(rows).items()}
    n = GRAPH_IR.num_nodes
    sym = [(d[u, v] != d[v, u]) for u in range(n) for v in range(n) if (u, v) in d and (v, u) in d]
    zero = [d[u, u] != 0 for u in range(n) if (u, u) in d]
    moving = [g for g in ELEMENTS if g != tuple(range(n))]  # the identity is not a case (docs/validation.md)
    aut = [d[g[u], g[v]] != d[u, v] for g in moving for u in range(n) for v in range(n) if (u, v) in d and (g[u], g[v]) in d]
    for name, found in (("symmetric", sym), ("zero", zero), ("automorphism", aut)):
        assert (report[name].cases, report[name].violations) == (len(found), sum(found)), name


def test_examples_name_the_rows():
    p = 7
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    y = (a + b) % p
    y[3] = (y[3] + 1) % p  # row 3 is (0, 3)
    spec = loads(MOD.source.replace(f"cyclic({P})", f"cyclic({p})"))
    report = check_data(spec, {"a": a, "b": b, "target": y}, laws=["commutes"])
    law = report["commutes"]
    assert law.violations == 2 and law.cases == 49 and law.mode == "data"
    rows = sorted(tuple(ex["values"]["rows"]) for ex in law.examples)
    assert rows == [(3, 21), (21, 3)]  # (0, 3) is row 3, (3, 0) is row 21
    assert "a=0 b=3 rows=[3, 21]" in report.render()


def test_conflicts_are_reported_first():
    rows = [(0, 1, 1), (1, 0, 1), (0, 1, 2), (2, 2, 4), (2, 2, 4)]
    report = check_data(MOD, _columns(rows, ("a", "b", "target")), laws=["commutes"])
    assert isinstance(report, DataReport)
    assert report.conflict_count == 1
    assert report.conflicts == [{"inputs": {"a": "0", "b": "1"}, "rows": [0, 2], "targets": ["1", "2"]}]
    assert report["commutes"].violations == 0 and report["commutes"].passed
    assert not report.passed  # a conflict fails the report
    text = report.render()
    assert text.index("conflicting labels: 1 input(s)") < text.index("commutes")
    assert "a=0 b=1:  row 0: 1, row 2: 2" in text
    keys = list(json.loads(report.to_json()))
    assert keys.index("conflicts") < keys.index("laws")


def test_laws_the_data_cannot_check():
    spec = loads(
        "spec two\ndomain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nmodel g(a: Z) -> class(Z)\n"
        "law both: f(a) == g(a)\nlaw other: g(a + 1) == g(a) + 1\nlaw mine: f(a + 1) == f(a) + 1\n"
    )
    report = check_data(spec, {"a": [0, 1, 2], "target": [0, 1, 2]}, model="f")
    assert report["both"].mode == "not checked" and report["both"].note == "it calls the model(s) g; the data labels only f"
    assert report["other"].mode == "not checked"
    assert report["other"].note == "it calls the model(s) g; the data labels only f"
    assert report["mine"].cases == 3 and report["mine"].violations == 0 and report.passed


def test_nothing_checkable_is_not_a_pass():
    report = check_data(MOD, {"a": [0], "b": [1], "target": [1]}, laws=["commutes"])
    law = report["commutes"]
    assert law.cases == 0 and not law.passed and not report.passed
    assert law.note == "none of its 25 cases has all its calls in the data (with its guard true): nothing was checked"


def test_bool_and_real_outputs():
    spec = loads(
        "spec s\ndomain Z = cyclic(4)\nmodel lt(a: Z, b: Z) -> bool\nmodel r(a: Z) -> real\n"
        "law flip: lt(a, b) == lt(b + 1, a + 1)\nlaw per: r(a + 2) == r(a)\n"
    )
    rows = [(a, b, int((b + 1 - a) % 4 == 1)) for a in range(4) for b in range(4)]
    report = check_data(spec, _columns(rows, ("a", "b", "target")), model="lt", laws=["flip"])
    d = {(a, b): y for a, b, y in rows}
    want = sum(d[a, b] != d[(b + 1) % 4, (a + 1) % 4] for a in range(4) for b in range(4))
    assert report["flip"].cases == 16 and report["flip"].violations == want
    real = check_data(spec, {"a": [0, 1, 2, 3], "target": [0.5, 1.0, 0.5, 1.25]}, model="r", laws=["per"])
    assert real["per"].cases == 4 and real["per"].violations == 2


def test_case_limit_is_a_usage_error():
    with pytest.raises(UsageError, match=r"law shift has 125 cases on this data, more than the 100 check-data enumerates"):
        check_data(MOD, _columns([(a, b, (a + b) % P) for a in range(P) for b in range(P)], ("a", "b", "target")), max_cases=100)


def test_unknown_law():
    with pytest.raises(UsageError, match=r"unknown law\(s\) nope; the spec's laws: commutes, shift, assoc"):
        check_data(MOD, {"a": [0], "b": [0], "target": [0]}, laws=["nope"])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mod_tables())
def test_one_hot_path_agrees_with_written_out_logits(rows):
    columns = _columns(rows, ("a", "b", "target"))
    fast = check_data(MOD, columns)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(check_module, "FAST", False)
        slow = check_data(MOD, columns)
    for a, b in zip(fast.laws, slow.laws):
        assert (a.cases, a.violations, a.skipped) == (b.cases, b.violations, b.skipped)
        assert a.divergence == pytest.approx(b.divergence) if b.divergence is not None else a.divergence is None
        assert [e["values"] for e in a.examples] == [e["values"] for e in b.examples]


def test_row_driven_enumeration_counts_as_the_full_one(monkeypatch):
    gen = torch.Generator().manual_seed(1)
    a = torch.randint(0, P, (9,), generator=gen)
    b = torch.randint(0, P, (9,), generator=gen)
    y = torch.randint(0, P, (9,), generator=gen)
    columns = {"a": a, "b": b, "target": y}
    driven = check_data(MOD, columns)
    totals = []
    real_plan = check_module._Plan

    def plan(*args):
        p = real_plan(*args)
        totals.append((args[3] is not None, p.total))
        return p

    monkeypatch.setattr(check_module, "_Plan", plan)
    check_data(MOD, columns, laws=["shift"])
    assert (False, P**3) in totals and any(anchored and total < P**3 for anchored, total in totals)
    monkeypatch.setattr(check_module, "_anchors", lambda *args: [])
    full = check_data(MOD, columns)
    for x, z in zip(driven.laws, full.laws):
        assert (x.cases, x.violations, x.skipped) == (z.cases, z.violations, z.skipped), x.name


def test_real_inputs_match_exactly():
    src = "spec s\nmodel f(x: real, c: cyclic(3)) -> real\nlaw odd: f(-x, c) == -f(x, c)\nlaw cyc: f(x, c + 1) == f(x, c)\n"
    x = [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 1.0, -1.0]
    c = [0, 0, 0, 0, 0, 0, 1, 1]
    y = [-8.0, -1.0, 0.0, 1.0, 8.5, 27.0, 1.0, -1.0]  # row 4 breaks oddness
    report = check_data(src, {"x": x, "c": c, "target": y})
    odd, cyc = report["odd"], report["cyc"]
    assert (odd.cases, odd.violations) == (7, 2)  # every row whose -x is a row with the same c (x = 3 is not)
    assert sorted(tuple(e["values"]["rows"]) for e in odd.examples) == [(0, 4), (4, 0)]
    assert (cyc.cases, cyc.violations) == (2, 0)  # (1, 0) -> (1, 1) and (-1, 0) -> (-1, 1)
    again = check_data(src, {"x": [*x, 2.0], "c": [*c, 0], "target": [*y, 8.0]}, laws=["cyc"])
    assert again.conflicts == [{"inputs": {"x": 2.0, "c": 0}, "rows": [4, 8], "targets": [8.5, 8.0]}]


def test_tensor_inputs_under_a_permutation_group():
    src = "spec s\ngroup P = symmetric(4)\nmodel e(x: tensor[4, 2]) -> real\nlaw inv: forall g: P. e(g . x) == e(x)\n"
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64)
    perms = list(itertools.permutations(range(4)))
    clouds = torch.stack([b[list(p)] for b in base for p in perms])  # every permutation of each cloud
    target = clouds.pow(2).sum((1, 2))
    target[30] += 1.0
    report = check_data(src, {"x": clouds, "target": target})
    law = report["inv"]
    assert law.mode == "data" and law.cases == 72 * 23  # the identity is not a case (docs/validation.md)
    assert law.violations == 2 * 23  # (row 30, g != 1) and (g . x = row 30, x != row 30)
    assert all(30 in e["values"]["rows"] for e in law.examples)
    report = check_data(src, {"x": clouds[:5], "target": target[:5]})
    moving = perms[1:]  # the identity (perms[0]) is not a case
    present = sum(any(torch.equal(clouds[i][list(g)], clouds[j]) for j in range(5)) for i in range(5) for g in moving)
    assert report["inv"].cases == present < 5 * 23  # only the permutations among the first 5 rows are answered


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(graph_tables())
def test_generic_path_on_constraints_matches_brute_force(rows):
    """zero (cross-entropy to a class), triangle (expectations) through the compiled checks, both label paths."""
    columns = _columns(rows, ("u", "v", "target"))
    d = {k: v[0] for k, v in _first(rows).items()}
    n = GRAPH_IR.num_nodes
    zero = [d[u, u] != 0 for u in range(n) if (u, u) in d]
    triangle = [
        d[u, v] > d[u, w] + d[w, v]
        for u in range(n)
        for v in range(n)
        for w in range(n)
        if (u, v) in d and (u, w) in d and (w, v) in d
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(check_module, "check_constraint", lambda *args, **kwargs: None)
        for fast in (True, False):
            mp.setattr(check_module, "FAST", fast)
            report = check_data(GRAPH, columns, laws=["zero", "triangle"])
            for name, found in (("zero", zero), ("triangle", triangle)):
                assert report[name].mode == ("data" if found else "not checked")  # no case in the data: not checked
                assert (report[name].cases, report[name].violations) == (len(found), sum(found)), (name, fast)
