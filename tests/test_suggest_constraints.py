"""Constraint candidates of ``symspec suggest``: transitivity, the triangle inequality, per-argument unit scaling."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
import torch

import symspec
from symspec.data import suggest_constraints
from symspec.data.suggest import suggest

GRID_SPEC = """spec graph_distance
param n = 7
graph G = grid(n, n)
domain Node = nodes(G)
model dist(u: Node, v: Node) -> class(range(0, 2 * n - 1))
"""


def order_data(n: int, noise: float, seed: int, keep: float = 1.0) -> dict:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    a, b = a.flatten(), b.flatten()
    y = (a > b).long()
    flip = torch.rand(y.shape, generator=g) < noise
    y = torch.where(flip, 1 - y, y)
    rows = torch.randperm(n * n, generator=g)[: int(keep * n * n)]
    return {"a": a[rows], "b": b[rows], "target": y[rows]}


def grid_data(noise: float, seed: int, random_labels: bool = False) -> dict:
    graph = symspec.loads(GRID_SPEC).ir.graphs["G"].networkx()
    dist = dict(nx.all_pairs_shortest_path_length(graph))
    n = graph.number_of_nodes()
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    u, v = u.flatten(), v.flatten()
    y = torch.tensor([dist[i][j] for i, j in zip(u.tolist(), v.tolist())])
    g = torch.Generator().manual_seed(seed)
    if random_labels:
        y = torch.randint(0, 13, y.shape, generator=g)
    moved = torch.rand(y.shape, generator=g) < noise
    y = torch.where(moved & (y < 12), y + 1, y)
    return {"u": u, "v": v, "target": y}


def dense(data: dict, x: str, y: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(present [n, n], label [n, n]) with each input's first row."""
    present, label = np.zeros((n, n), bool), np.zeros((n, n), np.int64)
    for i, j, t in zip(data[x].tolist(), data[y].tolist(), data["target"].tolist()):
        if not present[i, j]:
            present[i, j], label[i, j] = True, t
    return present, label


def assert_clean(text: str) -> None:
    spec = symspec.check(symspec.loads(text))  # the printed spec passes symspec check ...
    assert not spec.warnings, spec.render_warnings() if hasattr(spec, "render_warnings") else spec.warnings


def test_transitivity_of_a_noisy_strict_order_with_brute_force_counts():
    n = 24
    data = order_data(n, 0.01, seed=2, keep=0.8)
    result = suggest(data, signature=f"gt(a: range(0, {n}), b: range(0, {n})) -> bool")
    s = result["transitive_a_b"]
    assert s.status == "accepted" and s.candidate.law == "gt(a, b) and gt(b, c) => gt(a, c)"
    present, label = dense(data, "a", "b", n)
    cases = violated = premise = 0
    for x in range(n):
        for y in range(n):
            for z in range(n):  # y equal to x or z: a tautology, left out (docs/data.md)
                if present[x, y] and present[y, z] and present[x, z] and y not in (x, z):
                    cases += 1
                    if label[x, y] and label[y, z]:
                        premise += 1
                        violated += not label[x, z]
    ev = s.evidence
    assert (ev.tested, ev.contradicted, ev.premise) == (cases, violated, (premise, violated))
    assert violated > 0 and ev.cycle is not None  # the flips make cycles; a shortest one is reported with its rows
    for (x, y), row in zip(zip(ev.cycle["values"], ev.cycle["values"][1:] + ev.cycle["values"][:1]), ev.cycle["rows"]):
        assert (int(data["a"][row]), int(data["b"][row]), int(data["target"][row])) == (x, y, 1)
    entry = next(c for c in json.loads(result.to_json())["candidates"] if c["name"] == "transitive_a_b")
    assert entry["tested"] == cases and entry["cycle"]["length"] == ev.cycle["length"]
    assert entry["premise_cases"] == premise
    assert "a shortest cycle of the order graph has length" in result.text
    assert "law transitive_a_b: gt(a, b) and gt(b, c) => gt(a, c)" in result.text
    assert "antisymmetric_a_b" in result.names("accepted")
    assert result["diagonal_a_b"].law == "not gt(a, a)"  # irreflexivity: ~19 diagonal rows here, accepted from 35
    assert_clean(result.text)


def test_a_clean_order_says_its_graph_has_no_cycle():
    result = suggest(order_data(20, 0.0, seed=0), signature="gt(a: range(0, 20), b: range(0, 20)) -> bool")
    s = result["transitive_a_b"]
    assert s.status == "accepted" and s.evidence.contradicted == 0 and s.evidence.cycle is None
    assert "the order graph has no cycle" in s.evidence.note


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bias", [0.5, 0.25])
def test_random_bool_labels_get_no_transitivity(seed, bias):
    n = 30
    g = torch.Generator().manual_seed(seed)
    data = order_data(n, 0.0, seed)
    data["target"] = (torch.rand(data["target"].shape, generator=g) < bias).long()
    result = suggest(data, signature=f"r(a: range(0, {n}), b: range(0, {n})) -> bool")
    assert result["transitive_a_b"].status == "rejected"
    assert not result.names("accepted")


def test_triangle_of_noisy_grid_distances_with_brute_force_counts(tmp_path):
    path = tmp_path / "grid.sym"
    path.write_text(GRID_SPEC)
    data = grid_data(0.01, seed=0)
    result = suggest(data, spec=str(path))
    s = result["triangle_u_v"]
    assert s.status == "accepted" and s.candidate.law == "dist(u, v) <= dist(u, w) + dist(w, v)"
    present, d = dense(data, "u", "v", 49)
    lhs = d[:, None, :]  # [u, w, v]
    rhs = d[:, :, None] + d[None, :, :]
    ok = present[:, None, :] & present[:, :, None] & present[None, :, :]
    w, u, v = np.meshgrid(np.arange(49), np.arange(49), np.arange(49))  # [u, w, v] grids
    ok &= (w != u) & (w != v)  # the middle at an end relates no three distinct nodes: left out (docs/data.md)
    assert s.evidence.tested == int(ok.sum()) and s.evidence.contradicted == int((ok & (lhs > rhs)).sum()) > 0
    assert result["diagonal_u_v"].law == "dist(u, u) == 0"  # the zero diagonal (49 rows: one noisy label is too many)
    assert_clean(result.text)


@pytest.mark.parametrize("seed", range(3))
def test_random_integer_labels_get_no_triangle(seed, tmp_path):
    path = tmp_path / "grid.sym"
    path.write_text(GRID_SPEC)
    result = suggest(grid_data(0.0, seed, random_labels=True), spec=str(path))
    assert result["triangle_u_v"].status == "rejected"
    assert not result.names("accepted")


def test_triangle_on_real_distances_and_the_cap(monkeypatch):
    g = torch.Generator().manual_seed(5)
    n = 40
    points = torch.rand(n, 2, generator=g, dtype=torch.float64)
    a, b = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    a, b = a.flatten(), b.flatten()
    data = {"a": a, "b": b, "target": (points[a] - points[b]).norm(dim=1)}
    sig = f"d(a: range(0, {n}), b: range(0, {n})) -> real"
    full = suggest(data, signature=sig)["triangle_a_b"]
    distinct_middle = n * (n - 1) * (n - 2) + n * (n - 1)  # w differs from a and from b
    assert full.status == "accepted" and full.evidence.tested == distinct_middle and full.evidence.contradicted == 0
    assert full.evidence.degenerate == n**3 - distinct_middle
    monkeypatch.setattr(suggest_constraints, "MAX_ITEMS", 10)
    capped = suggest(data, signature=sig)["triangle_a_b"]
    assert (
        capped.evidence.tested == 10 * 9 * 8 + 10 * 9 and "capped: the 100 rows among a seeded random 10" in capped.evidence.note
    )
    data["target"] = torch.rand(n * n, generator=g, dtype=torch.float64)
    assert suggest(data, signature=sig)["triangle_a_b"].status != "accepted"


def test_per_argument_unit_scaling():
    p = 13
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.flatten(), b.flatten()
    sig = f"f(a: cyclic({p}), b: cyclic({p})) -> class(cyclic({p}))"
    mul = suggest({"a": a, "b": b, "target": (a * b) % p}, signature=sig)
    assert {"scale_a", "scale_b"} <= set(mul.names("accepted")) | set(mul.names("redundant"))
    assert mul["scale_a"].law == f"forall u: units({p}). f(u * a, b) == f(a, b) * u"
    assert mul["scale_a_b"].status == "rejected"  # joint scaling multiplies a product by u^2, not u
    assert_clean(mul.text)
    add = suggest({"a": a, "b": b, "target": (a + b) % p}, signature=sig)
    assert add["scale_a"].status == "rejected" and add["scale_b"].status == "rejected"
    assert add["scale_a_b"].status == "accepted"


def _false_positive_settings(seed: int):
    """The random-label settings measured for docs/data.md: (name, data, signature or spec text)."""
    g = torch.Generator().manual_seed(seed)
    n = 30
    for bias in (0.5, 0.25, 0.75):
        data = order_data(n, 0.0, seed)
        data["target"] = (torch.rand(data["target"].shape, generator=g) < bias).long()
        yield f"bool, p(true) = {bias}", data, f"r(a: range(0, {n}), b: range(0, {n})) -> bool", None
    data = order_data(n, 0.0, seed, keep=0.4)
    data["target"] = torch.randint(0, 2, data["target"].shape, generator=g)
    yield "bool, 40% of the table", data, f"r(a: range(0, {n}), b: range(0, {n})) -> bool", None
    yield "grid(7, 7) distances replaced by random classes 0..12", grid_data(0.0, seed, random_labels=True), None, GRID_SPEC
    data = order_data(n, 0.0, seed)
    data["target"] = torch.randint(0, 100, data["target"].shape, generator=g)
    yield "random classes 0..99", data, f"d(a: range(0, {n}), b: range(0, {n})) -> class(range(0, 100))", None
    data = order_data(n, 0.0, seed)
    data["target"] = torch.rand(data["target"].shape, generator=g, dtype=torch.float64)
    yield "random reals in [0, 1)", data, f"d(a: range(0, {n}), b: range(0, {n})) -> real", None


if __name__ == "__main__":  # python tests/test_suggest_constraints.py 50: the false-positive figure of docs/data.md
    import sys

    from symspec.data.suggest_evidence import Evidence, wilson_lower

    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    tested = accepted = 0
    highest: dict = {}
    premise: dict = {}
    for seed in range(seeds):
        for name, data, sig, spec in _false_positive_settings(seed):
            result = suggest(data, signature=sig, spec=spec)
            for s in result.items:
                if s.candidate.test != "constraint":
                    continue
                tested += 1
                accepted += s.status == "accepted"
                highest[name] = max(highest.get(name, 0.0), wilson_lower(s.evidence))
                if s.evidence.premise:
                    held = Evidence(tested=s.evidence.premise[0], contradicted=s.evidence.premise[1])
                    held.supported = held.tested - held.contradicted
                    premise[name] = max(premise.get(name, 0.0), wilson_lower(held) if held.tested else 0.0)
    print(f"{seeds} seeds: {tested} constraint candidates, {accepted} accepted")
    for name, lo in highest.items():
        extra = f"; of the premise cases {premise[name]:.4f}" if name in premise else ""
        print(f"  {name}: highest Wilson lower bound of the cases {lo:.4f}{extra}")
