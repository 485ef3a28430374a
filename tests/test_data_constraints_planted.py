"""Planted faults found on data (issue 17): cycles in an otherwise strict order, corrupted graph distances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import symspec
from symspec.data import load_table
from symspec.data.constraints import check_constraint

ORDER = """
spec order
param m = 20
domain Item = range(0, m)
model gt(a: Item, b: Item) -> bool
law transitive: gt(a, b) and gt(b, c) => gt(a, c)
law antisymmetric: gt(a, b) == not gt(b, a) when a != b
law irreflexive: not gt(a, a)
"""


def chain_with_cycle(m: int, start: int, length: int, seed: int):
    """A strict order's data (each item against its neighbours, plus consistent comparisons away from the
    planted window), with one planted row closing a cycle of ``length`` through start..start+length-1."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(m - 1):
        rows += [(i + 1, i, True), (i, i + 1, False)]
    window = set(range(start, start + length))
    for a, b in itertools.combinations(range(m), 2):
        if b - a > 1 and not ({a, b} & window) and rng.random() < 0.3:
            rows += [(b, a, True), (a, b, False)]
    order = rng.permutation(len(rows)).tolist()
    rows = [rows[i] for i in order]
    if length == 1:
        planted = (start, start)
        rows.append((start, start, True))
    elif length == 2:
        planted = (start, start + 1)
        rows.insert(0, (start, start + 1, True))  # before the consistent row of the same input: it counts
    else:
        planted = (start, start + length - 1)
        rows.append((start, start + length - 1, True))
    return rows, planted


def row_of(rows, a, b):
    return next(i for i, r in enumerate(rows) if r[:2] == (a, b))


@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_a_planted_cycle_is_the_shortest_one_reported(length):
    spec = symspec.loads(ORDER)
    rows, planted = chain_with_cycle(20, 7, length, seed=length)
    table = load_table(spec, {"a": [r[0] for r in rows], "b": [r[1] for r in rows], "target": [r[2] for r in rows]})
    report = check_constraint(spec.ir.laws["transitive"], table, spec)
    cycle = report.cycle
    assert cycle["length"] == length
    assert sorted(cycle["values"]) == list(range(7, 7 + length))
    nodes = cycle["values"]
    assert cycle["rows"] == [row_of(rows, a, b) for a, b in zip(nodes, nodes[1:] + nodes[:1])]
    assert row_of(rows, *planted) in cycle["rows"]
    assert f"length {length}" in report.note
    expected = brute_transitive(rows, 20)
    assert (report.cases, report.violations) == expected
    anti = check_constraint(spec.ir.laws["antisymmetric"], table, spec)
    assert anti.violations == (2 if length == 2 else 0)
    if length == 2:
        assert {(ex["values"]["a"], ex["values"]["b"]) for ex in anti.examples} == {(7, 8), (8, 7)}
    irr = check_constraint(spec.ir.laws["irreflexive"], table, spec)
    assert irr.violations == (1 if length == 1 else 0)


def brute_transitive(rows, m):
    first: dict = {}
    for a, b, t in rows:
        first.setdefault((a, b), t)
    cases = bad = 0
    for a, b, c in itertools.product(range(m), repeat=3):
        keys = [(a, b), (b, c), (a, c)]
        if all(k in first for k in keys):
            cases += 1
            bad += first[keys[0]] and first[keys[1]] and not first[keys[2]]
    return cases, bad


def test_a_strict_order_has_no_cycle():
    spec = symspec.loads(ORDER)
    items = range(20)
    rows = [(a, b, a > b) for a in items for b in items]
    table = load_table(spec, {"a": [r[0] for r in rows], "b": [r[1] for r in rows], "target": [r[2] for r in rows]})
    for law in ("transitive", "antisymmetric", "irreflexive"):
        report = check_constraint(spec.ir.laws[law], table, spec)
        assert report.passed and report.violations == 0, law
    report = check_constraint(spec.ir.laws["transitive"], table, spec)
    assert report.cases == 20**3 and "has no cycle" in report.note and report.cycle is None


def test_a_long_cycle_without_short_ones():
    """A 9-cycle alone (no shorter cycle anywhere): found by the networkx search, not the matrix tests."""
    spec = symspec.loads(ORDER)
    ring = [3, 11, 5, 17, 0, 9, 14, 2, 8]
    rows = [(a, b, True) for a, b in zip(ring, ring[1:] + ring[:1])] + [(1, 4, True), (4, 6, True), (6, 19, True)]
    table = load_table(spec, {"a": [r[0] for r in rows], "b": [r[1] for r in rows], "target": [r[2] for r in rows]})
    report = check_constraint(spec.ir.laws["transitive"], table, spec)
    assert report.cycle["length"] == 9 and report.cycle["rows"] == [
        rows.index((a, b, True)) for a, b in zip(report.cycle["values"], report.cycle["values"][1:] + report.cycle["values"][:1])
    ]
    assert set(report.cycle["values"]) == set(ring)


@pytest.fixture(scope="module")
def grid():
    spec = symspec.load("examples/graph_distance.sym")
    dist = torch.from_numpy(spec.ir.graphs["G"].distances).long()
    return spec, dist


@pytest.mark.parametrize("seed", [0, 1])
def test_corrupted_graph_distances_are_found(grid, seed):
    spec, dist = grid
    n = dist.shape[0]
    g = torch.Generator().manual_seed(seed)
    labels = dist.clone().reshape(-1)
    corrupted = torch.randperm(n * n, generator=g)[: n * n // 100]  # 1% of the 2,401 labels
    shift = torch.randint(1, 13, (corrupted.numel(),), generator=g)
    labels[corrupted] = (labels[corrupted] + shift) % 13  # another valid class
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    table = load_table(spec, {"u": u.reshape(-1), "v": v.reshape(-1), "target": labels})
    bad_rows = set(corrupted.tolist())
    d = labels.view(n, n).tolist()
    D = dist.tolist()
    cases = violations = geo_cases = geo_bad = 0
    involved = True
    for a in range(n):
        for b in range(n):
            for w in range(n):
                cases += 1
                if d[a][b] > d[a][w] + d[w][b]:
                    violations += 1
                    involved &= bool({a * n + b, a * n + w, w * n + b} & bad_rows)
                if D[a][w] + D[w][b] == D[a][b]:
                    geo_cases += 1
                    geo_bad += d[a][b] != d[a][w] + d[w][b]
    assert involved and violations > 0
    report = check_constraint(spec.ir.laws["triangle"], table, spec, examples=10**6)
    assert (report.cases, report.violations) == (cases, violations)
    assert len(report.examples) == violations
    for ex in report.examples:  # every reported violation names a corrupted row
        assert set(ex["rows"].values()) & bad_rows
    assert report.examples[0]["loss"] == max(ex["loss"] for ex in report.examples)
    geo = check_constraint(spec.ir.laws["geodesic"], table, spec)
    assert (geo.cases, geo.violations) == (geo_cases, geo_bad)
    zero = check_constraint(spec.ir.laws["zero"], table, spec)
    diagonal = {i * n + i for i in range(n)}
    assert zero.violations == len(diagonal & bad_rows)
