"""Symmetry analysis at scale; report seconds, with a baseline in the same run.

- orbits of a model on cyclic(1009) x cyclic(1009) (10^6 inputs) under
  commutativity + shift, vs networkx.connected_components on the same edges;
- the order of symmetric(30), vs sympy's SymmetricGroup(30).order();
- the order of the automorphism group of a 10x10 grid, vs enumerating it
  with networkx's VF2 (what symspec never does).

Goal: each symspec figure under 2 s on a 2-core machine.

    python benchmarks/bench_analysis.py
"""

from __future__ import annotations

import time


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def main() -> None:
    import numpy as np

    import symspec

    rows = []
    text = (
        "domain Z = cyclic(1009)\nmodel add(a: Z, b: Z) -> class(Z)\n"
        "law commutes: add(a, b) == add(b, a)\nlaw shift: forall k: Z. add(a + k, b) == add(a, b) + k\n"
    )
    spec, seconds = timed(lambda: symspec.loads(text, "bench.sym"))
    model = spec.ir.models["add"]
    rows.append((f"orbits of add on cyclic(1009)^2 ({model.inputs} inputs -> {model.orbits} orbit)", seconds))

    import networkx as nx

    def networkx_components():
        n = 1009
        a, b = np.divmod(np.arange(n * n), n)
        g = nx.Graph()
        g.add_nodes_from(range(n * n))
        g.add_edges_from(zip(range(n * n), (b * n + a).tolist()))
        g.add_edges_from(zip(range(n * n), (((a + 1) % n) * n + b).tolist()))
        return nx.number_connected_components(g)

    count, base = timed(networkx_components)
    assert count == model.orbits
    rows.append(("  baseline: networkx connected components, same edges", base))

    spec, seconds = timed(lambda: symspec.loads("group S = symmetric(30)\n", "s.sym"))
    order = spec.ir.groups["S"].order
    rows.append((f"order of symmetric(30) = {order}", seconds))
    from sympy.combinatorics.named_groups import SymmetricGroup

    ref, base = timed(lambda: SymmetricGroup(30).order())
    assert ref == order
    rows.append(("  baseline: sympy SymmetricGroup(30).order()", base))
    from sympy.combinatorics import Permutation, PermutationGroup

    from symspec.analysis.groups import family_generators

    gens = family_generators("symmetric", 30)
    ref, seconds = timed(lambda: PermutationGroup([Permutation([int(x) for x in p]) for p in gens.values()]).order())
    assert ref == order
    rows.append(("  check: Schreier-Sims on symspec's 2 generators of symmetric(30)", seconds))

    spec, seconds = timed(lambda: symspec.loads("graph G = grid(10, 10)\ngroup A = automorphisms(G)\n", "g.sym"))
    order = spec.ir.groups["A"].order
    rows.append((f"order of automorphisms(grid(10, 10)) = {order}", seconds))
    from networkx.algorithms.isomorphism import GraphMatcher

    g = nx.grid_2d_graph(10, 10)
    ref, base = timed(lambda: sum(1 for _ in GraphMatcher(g, g).isomorphisms_iter()))
    assert ref == order
    rows.append(("  baseline: enumerate them with networkx VF2", base))

    spec, seconds = timed(lambda: symspec.loads("graph G = torus(12, 12)\ngroup A = automorphisms(G)\n", "t.sym"))
    order = spec.ir.groups["A"].order
    rows.append((f"order of automorphisms(torus(12, 12)) = {order} (by search)", seconds))
    g = spec.ir.graphs["G"].networkx()
    ref, base = timed(lambda: sum(1 for _ in GraphMatcher(g, g).isomorphisms_iter()))
    assert ref == order
    rows.append(("  baseline: enumerate them with networkx VF2", base))

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  seconds")
    for name, s in rows:
        print(f"{name:<{width}}  {s:7.3f}")


if __name__ == "__main__":
    main()
