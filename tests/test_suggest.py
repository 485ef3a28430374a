"""symspec suggest: the laws a labelled dataset supports, recovered from the data and nothing false."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

import symspec
from symspec.data.suggest import suggest
from symspec.data.suggest_evidence import Element, group_elements

P = 59
SIG = f"f(a: cyclic({P}), b: cyclic({P})) -> class(cyclic({P}))"
TRUE_ADD = {"shift_a", "shift_b", "opposite_a_b", "negate_a_b", "scale_a_b", "swap_a_b"}  # a + b mod p obeys exactly these
GRAPH_SPEC = """spec graph_distance
param n = 7
graph G = grid(n, n)
domain Node = nodes(G)
model dist(u: Node, v: Node) -> class(range(0, 2 * n - 1))
"""


def modular_table(p: int, fraction: float, seed: int, labels=None) -> dict:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.flatten(), b.flatten()
    keep = torch.randperm(p * p, generator=g)[: int(fraction * p * p)]
    target = (a + b) % p if labels is None else labels(a, b, g)
    return {"a": a[keep], "b": b[keep], "target": target[keep]}


def kept(result) -> set:
    """The laws the data supports: accepted, or redundant (implied by accepted ones)."""
    return set(result.names("accepted")) | set(result.names("redundant"))


def assert_checks(text: str) -> None:
    symspec.check(symspec.loads(text))  # the printed spec passes symspec check as printed


def test_recovers_commutes_and_shift_from_40_percent_of_modular_addition():
    data = modular_table(P, 0.4, seed=0)
    result = suggest(data, signature=SIG)
    assert kept(result) == TRUE_ADD  # every true law, and nothing false
    assert {"swap_a_b", "shift_a"} <= set(result.names("accepted"))
    for false in ("shift_invariant_a", "shift_invariant_b", "shift_invariant_a_b", "negate_invariant_a_b", "scale_invariant_a_b"):
        assert result[false].status == "rejected"
        assert result[false].evidence.agreement < 0.1
    assert result.names("redundant")  # the analysis finds some of the six implied by the others
    for s in result.items:
        if s.status == "redundant":
            assert set(s.implied_by) <= set(result.names("accepted"))
    assert_checks(result.text)
    assert "law swap_a_b: f(a, b) == f(b, a)" in result.text
    assert "law shift_a: forall k: cyclic(59). f(a + k, b) == f(a, b) + k" in result.text


def test_swap_pairs_counted_against_brute_force():
    data = modular_table(P, 0.4, seed=3)
    present = set(zip(data["a"].tolist(), data["b"].tolist()))
    pairs = {(min(a, b), max(a, b)) for a, b in present if a != b and (b, a) in present}
    ev = suggest(data, signature=SIG)["swap_a_b"].evidence
    assert ev.tested == len(pairs) and ev.contradicted == 0
    absent = sum((b, a) not in present for a, b in present)
    assert ev.untestable == absent


def test_one_percent_label_noise_still_recovers_the_laws():
    def noisy(a, b, g):
        y = (a + b) % P
        flip = torch.rand(y.shape, generator=g) < 0.01
        return torch.where(flip, (y + 1 + torch.randint(0, P - 1, y.shape, generator=g)) % P, y)

    result = suggest(modular_table(P, 0.4, seed=1, labels=noisy), signature=SIG)
    assert {"swap_a_b", "shift_a", "shift_b"} <= kept(result)
    assert result["shift_a"].evidence.contradicted > 0  # the noise is seen, and tolerated
    assert not kept(result) - TRUE_ADD


def graph_data(labels=None) -> dict:
    spec = symspec.loads(GRAPH_SPEC)
    graph = spec.ir.graphs["G"].networkx()
    dist = dict(nx.all_pairs_shortest_path_length(graph))
    n = graph.number_of_nodes()
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    u, v = u.flatten(), v.flatten()
    target = torch.tensor([dist[i][j] for i, j in zip(u.tolist(), v.tolist())])
    if labels is not None:
        target = labels(target)
    return {"u": u, "v": v, "target": target}


def test_recovers_symmetry_automorphisms_and_zero_diagonal_from_graph_distances(tmp_path):
    path = tmp_path / "graph.sym"
    path.write_text(GRAPH_SPEC)
    result = suggest(graph_data(), spec=str(path))
    assert set(result.names("accepted")) == {"swap_u_v", "automorphism_u_v", "diagonal_u_v", "triangle_u_v"}
    assert result["automorphism_u_v"].evidence.elements == 7 and result["automorphism_u_v"].evidence.every_element
    assert "law diagonal_u_v: dist(u, u) == 0" in result.text
    assert "law automorphism_u_v: forall g: automorphisms(G). dist(g . u, g . v) == dist(u, v)" in result.text
    assert result.text.count("graph G = grid(n, n)") == 1
    assert_checks(result.text)


def test_recovers_permutation_invariance_of_a_multiset_sum():
    p = 13
    g = torch.Generator().manual_seed(4)
    grid = torch.cartesian_prod(torch.arange(p), torch.arange(p), torch.arange(p))
    rows = grid[torch.randperm(len(grid), generator=g)[: len(grid) // 2]]
    data = {"a": rows[:, 0], "b": rows[:, 1], "c": rows[:, 2], "target": rows.sum(1) % p}
    result = suggest(data, signature=f"f(a: cyclic({p}), b: cyclic({p}), c: cyclic({p})) -> class(cyclic({p}))")
    perms = {"swap_a_b", "swap_a_c", "swap_b_c", "cycle_a_b_c"}
    assert perms <= kept(result)
    assert perms & set(result.names("redundant"))  # the transpositions and the cycle imply one another
    for name in ("shift_invariant_a", "shift_invariant_a_b_c", "negate_invariant_a_b_c"):
        assert result[name].status == "rejected"
    assert_checks(result.text)


def test_recovers_permutation_invariance_of_a_tensor_sum_by_nearest_rows():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(300, 5, generator=g, dtype=torch.float64)
    x = torch.cat([base] + [base[:, torch.randperm(5, generator=g)] for _ in range(4)])
    result = suggest({"x": x, "target": x.sum(1)}, signature="s(x: tensor[5]) -> real")
    s = result["permute_invariant_x"]
    assert s.status == "accepted" and s.evidence.proxy and "nearest row" in s.evidence.proxy
    assert "nearest row" in result.text
    wrong = suggest({"x": x, "target": x[:, 0] - x[:, 1]}, signature="s(x: tensor[5]) -> real")
    assert wrong["permute_invariant_x"].status == "rejected"
    assert_checks(result.text)


def test_d4_on_a_square_tensor():
    g = torch.Generator().manual_seed(2)
    base = torch.randn(200, 4, 4, generator=g, dtype=torch.float64)
    x = torch.cat([base, torch.rot90(base, 1, (1, 2)), base.flip(2)])
    inv = suggest({"x": x, "target": x.abs().amax((1, 2))}, signature="s(x: tensor[4, 4]) -> real")
    assert inv["d4_invariant_x"].status == "accepted"
    eq = suggest({"x": x, "target": x.flip(1) * 0 + x}, signature="s(x: tensor[4, 4]) -> tensor[4, 4]")
    assert eq["d4_x"].status == "accepted" and eq["d4_invariant_x"].status == "rejected"


def test_bool_antisymmetry_and_irreflexivity():
    n = 40  # 40 diagonal rows: a Wilson lower bound of 40 / (40 + 1.96^2) = 0.912 >= 0.9
    a, b = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    data = {"a": a.flatten(), "b": b.flatten(), "target": (a < b).flatten().long()}
    result = suggest(data, signature=f"lt(a: range(0, {n}), b: range(0, {n})) -> bool")
    assert set(result.names("accepted")) == {"antisymmetric_a_b", "diagonal_a_b", "transitive_a_b"}
    assert "law antisymmetric_a_b: lt(a, b) == not lt(b, a) when a != b" in result.text
    assert "law diagonal_a_b: not lt(a, a)" in result.text
    assert result["swap_a_b"].status == "rejected"
    assert_checks(result.text)


@pytest.mark.parametrize("seed", range(5))
def test_nothing_suggested_on_random_labels(seed):
    def rand(a, b, g):
        return torch.randint(0, 23, a.shape, generator=g)

    result = suggest(modular_table(23, 1.0, seed, labels=rand), signature="f(a: cyclic(23), b: cyclic(23)) -> class(cyclic(23))")
    assert result.names("accepted") == [] and result.names("redundant") == []
    g = torch.Generator().manual_seed(seed)
    graph = suggest(graph_data(lambda t: torch.randint(0, 13, t.shape, generator=g)), spec=GRAPH_SPEC)
    assert graph.names("accepted") == []
    assert_checks(graph.text)


def test_large_groups_use_generators_and_random_words():
    shift = Element((0,), (np.roll(np.arange(113), -1),), None)
    elements, every = group_elements([shift], max_elements=64, seed=0)
    assert not every and len(elements) == 64
    small, every = group_elements([Element((0,), (np.roll(np.arange(59), -1),), None)], max_elements=64)
    assert every and len(small) == 58  # every element but the identity
    data = modular_table(113, 0.3, seed=5)
    result = suggest(data, signature="f(a: cyclic(113), b: cyclic(113)) -> class(cyclic(113))")
    assert not result["shift_a"].evidence.every_element
    assert {"swap_a_b", "shift_a"} <= kept(result) and not kept(result) - TRUE_ADD


def test_json_lists_every_candidate_with_evidence():
    import json

    result = suggest(modular_table(P, 0.4, seed=0), signature=SIG)
    doc = json.loads(result.to_json())
    assert doc["threshold"] == 0.9 and doc["min_tested"] == 20 and doc["rows"] == int(0.4 * P * P)
    by = {c["name"]: c for c in doc["candidates"]}
    assert by["swap_a_b"]["status"] == "accepted" and by["swap_a_b"]["contradicted"] == 0
    assert by["shift_invariant_a"]["status"] == "rejected" and by["shift_invariant_a"]["examples"]
    assert doc["spec"] == result.text


def test_names_avoid_declared_names_and_labels():
    spec = """domain Color = set(a, b, k)
model mix(a: Color, b: Color) -> class(Color)
"""
    labels = torch.tensor([[0, 1, 2], [1, 1, 0], [2, 0, 2]])  # mix(x, y) == mix(y, x); a label permutation breaks it
    x, y = torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij")
    data = {"a": x.flatten(), "b": y.flatten(), "target": labels.flatten()}
    result = suggest(data, spec=spec, min_tested=2, threshold=0.0)
    assert "a2" in result["swap_a_b"].law  # 'a' is a label of Color: the variables are renamed
    assert_checks(result.text)
