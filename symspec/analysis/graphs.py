"""Concrete graphs: networkx graphs on nodes 0..n-1, distances, automorphisms.

Graphs come from networkx's generators (networkx is imported only for specs
that declare a graph).  Nodes are numbered in row-major order of their
coordinates (grid, cylinder, torus), by their bits (hypercube), or as
networkx numbers them (cycle, path, complete, edges, petersen).  Automorphism *generators* come from closed forms for
families whose groups are known (cycle -> dihedral, complete -> symmetric,
path -> Z2, grid -> flips and swaps of equal sides, hypercube -> the
hyperoctahedral group) and otherwise from a bounded
individualization-refinement search; the group is never enumerated.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .sealed import Sealed
from .structures import GraphDef

__all__ = [
    "GraphIR",
    "build_graph",
    "automorphism_generators",
    "closed_form_order",
    "SearchBudgetExceeded",
    "MAX_DISTANCE_NODES",
    "SEARCH_BUDGET",
]

MAX_DISTANCE_NODES = 4096
SEARCH_BUDGET = 20_000


class SearchBudgetExceeded(Exception):
    """The automorphism search needed more steps than its bound."""


@dataclass
class GraphIR(Sealed):
    """A built graph: adjacency, labels for display, distances, automorphism generators."""

    name: str
    definition: GraphDef
    adjacency: list  # node -> sorted list of neighbours
    labels: list  # node -> how it is shown (a coordinate tuple or an int)
    automorphisms: list = field(default_factory=list)  # push permutations (np arrays)
    automorphisms_by: str = ""  # 'closed form' or 'search'

    @property
    def num_nodes(self) -> int:
        return len(self.adjacency)

    @property
    def num_edges(self) -> int:
        return sum(len(a) for a in self.adjacency) // 2

    def networkx(self):
        """The graph as a networkx.Graph (imported on demand)."""
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(self.num_nodes))
        g.add_edges_from((u, v) for u, nbrs in enumerate(self.adjacency) for v in nbrs if u < v)
        return g

    @cached_property
    def distances(self) -> np.ndarray:
        """All-pairs shortest-path lengths (int32; -1 where unreachable), computed once."""
        n = self.num_nodes
        if n > MAX_DISTANCE_NODES:
            raise ValueError(f"graph {self.name} has {n} nodes; all-pairs distances are kept up to {MAX_DISTANCE_NODES}")
        dist = np.full((n, n), -1, dtype=np.int32)
        adj = self.adjacency
        for s in range(n):
            row = dist[s]
            row[s] = 0
            queue = deque([s])
            while queue:
                u = queue.popleft()
                du = row[u] + 1
                for v in adj[u]:
                    if row[v] < 0:
                        row[v] = du
                        queue.append(v)
        return dist

    @property
    def connected(self) -> bool:
        seen = {0}
        stack = [0]
        while stack:
            for v in self.adjacency[stack.pop()]:
                if v not in seen:
                    seen.add(v)
                    stack.append(v)
        return len(seen) == self.num_nodes

    def label(self, node: int) -> str:
        lab = self.labels[node]
        return str(lab) if not isinstance(lab, tuple) else "(" + ", ".join(map(str, lab)) + ")"


def _networkx_graph(definition: GraphDef):
    """The graph from networkx's generators, and a sort key putting its nodes in symspec's order."""
    import networkx as nx

    kind, args = definition.kind, definition.args
    if kind in ("grid", "cylinder", "torus"):
        wrap = {"grid": [False] * len(args), "cylinder": [False, True], "torus": [True, True]}[kind]
        # networkx lists dims last-first in its node tuples; reversed, a node is (x0, x1, ...)
        return nx.grid_graph(dim=list(reversed(args)), periodic=list(reversed(wrap)))
    if kind == "cycle":
        return nx.cycle_graph(args[0])
    if kind == "path":
        return nx.path_graph(args[0])
    if kind == "complete":
        return nx.complete_graph(args[0])
    if kind == "hypercube":
        return nx.hypercube_graph(args[0])
    if kind == "petersen":
        return nx.petersen_graph()
    g = nx.Graph()
    g.add_nodes_from(range(definition.num_nodes))
    g.add_edges_from(definition.edges)
    return g


def _edge_list_graph(definition: GraphDef) -> GraphIR:
    """``edges(...)``: the adjacency straight from the edge list (nodes 0..n-1, as networkx would give them).

    networkx's dict-of-dicts cost about 3 s and 1 KB an edge to build and read back for 150,000 edges.
    """
    neighbours: list[list[int]] = [[] for _ in range(definition.num_nodes)]
    for u, v in definition.edges:
        neighbours[u].append(v)
        neighbours[v].append(u)
    adjacency = [sorted(set(nbrs)) if len(nbrs) > 1 else nbrs for nbrs in neighbours]
    return GraphIR(definition.name, definition, adjacency, list(range(definition.num_nodes)))


def build_graph(definition: GraphDef) -> GraphIR:
    """Build a declared graph (networkx's generators); nodes become 0..n-1 in sorted (row-major) order."""
    if definition.kind == "edges":
        return _edge_list_graph(definition)
    g = _networkx_graph(definition)
    labels = sorted(g.nodes)
    index = {node: i for i, node in enumerate(labels)}
    adjacency = [sorted(index[v] for v in g.adj[u]) for u in labels]
    if definition.kind == "hypercube":  # bit tuples, shown as the integers they spell
        # (networkx numbers the nodes of the 1-cube plainly, not by bit tuples)
        labels = [int("".join(map(str, bits)), 2) if isinstance(bits, tuple) else int(bits) for bits in labels]
    return GraphIR(definition.name, definition, adjacency, labels)


# ---- automorphisms -------------------------------------------------------------------


def _perm_from(mapping) -> np.ndarray:
    return np.asarray(mapping, dtype=np.int64)


def _lattice_symmetries(sizes) -> list:
    """Flips of each side and swaps of equal sides of a lattice, as node permutations."""
    n = int(np.prod(sizes))
    grid = np.arange(n).reshape(sizes)
    gens = []
    for axis, size in enumerate(sizes):
        if size >= 2:
            gens.append(np.flip(grid, axis=axis))
    by_size: dict = {}
    for axis, size in enumerate(sizes):
        if size >= 2:
            by_size.setdefault(size, []).append(axis)
    for axes in by_size.values():
        for a, b in zip(axes, axes[1:]):
            gens.append(np.swapaxes(grid, a, b))
    # each array holds, at every position, the node that moves there: invert to a push map
    out = []
    for g in gens:
        gather = g.reshape(-1)
        push = np.empty(n, dtype=np.int64)
        push[gather] = np.arange(n)
        out.append(push)
    return out


def _closed_form(graph: GraphIR):
    kind, args = graph.definition.kind, graph.definition.args
    n = graph.num_nodes
    if kind == "cycle":
        idx = np.arange(n)
        return [_perm_from((idx + 1) % n), _perm_from((-idx) % n)]
    if kind == "path":
        return [_perm_from(np.arange(n)[::-1])] if n >= 2 else []
    if kind == "complete":
        if n < 2:
            return []
        swap = np.arange(n)
        swap[[0, 1]] = [1, 0]
        gens = [swap]
        if n > 2:
            gens.append(_perm_from((np.arange(n) + 1) % n))
        return gens
    if kind == "grid":
        return _lattice_symmetries(list(args))
    if kind == "hypercube":
        d = args[0]
        return _lattice_symmetries([2] * d)
    if kind in ("cylinder", "torus") and _wrapped_known(kind, args):
        return _wrapped_symmetries(kind, list(args))
    return None


def _wrapped_known(kind: str, args) -> bool:
    """Whether a cylinder's or torus's group is the product of its sides' groups (no side of 4: C4 = K2 x K2)."""
    return 4 not in args[1:] if kind == "cylinder" else 4 not in args


def _wrapped_symmetries(kind: str, sizes: list) -> list:
    """Generators of Aut(P_a x C_b) = Aut(P_a) x D_b and Aut(C_a x C_b) = D_a x D_b (wreathed by the swap when a = b),
    the sides' groups being prime factors of the Cartesian product (no side of 4)."""
    a, b = sizes
    grid = np.arange(a * b).reshape(a, b)
    gathers = []
    cyclic_axes = [1] if kind == "cylinder" else [0, 1]
    for axis, size in enumerate(sizes):
        if axis in cyclic_axes:
            idx = np.arange(size)
            gathers.append(np.take(grid, (idx - 1) % size, axis=axis))  # rotation
            gathers.append(np.take(grid, (-idx) % size, axis=axis))  # reflection
        elif size >= 2:
            gathers.append(np.flip(grid, axis=axis))
    if kind == "torus" and a == b:
        gathers.append(grid.T)
    out = []
    for g in gathers:
        gather = np.ascontiguousarray(g).reshape(-1)
        push = np.empty(a * b, dtype=np.int64)
        push[gather] = np.arange(a * b)
        out.append(push)
    return out


def closed_form_order(definition: GraphDef, max_factorial: int) -> tuple | None:
    """(order, abelian, text) of Aut(graph) for the constructors whose group is known, without building it.

    ``cycle(n)``: dihedral, 2n; ``path(n)``: 2 (n >= 2); ``complete(n)``: n!; ``grid(...)``: per side length s >= 2
    that m sides share, the m-dimensional hyperoctahedral group 2^m m!; ``hypercube(d)``: 2^d d!; with no side of 4,
    ``cylinder(a, b)``: Z2 x D_b (4b; 2b when a = 1) and ``torus(a, b)``: D_a x D_b (4ab; doubled when a = b).  A factorial of
    more than ``max_factorial`` is shown as a formula (order None).  None for the constructors found by search.
    """
    kind, args = definition.kind, list(definition.args)
    if kind == "cycle":
        return 2 * args[0], False, str(2 * args[0])
    if kind == "path":
        order = 2 if args[0] >= 2 else 1
        return order, True, str(order)
    if kind == "complete":
        n = args[0]
        if n > max_factorial:
            return None, False, f"{n}!"
        return math.factorial(n), n <= 2, str(math.factorial(n))
    if kind in ("cylinder", "torus") and _wrapped_known(kind, args):
        a, b = args
        if kind == "cylinder":
            order = (2 if a >= 2 else 1) * 2 * b
            return order, False, str(order)
        order = 4 * a * b * (2 if a == b else 1)
        return order, False, str(order)
    if kind in ("grid", "hypercube"):
        sides = [2] * args[0] if kind == "hypercube" else [a for a in args if a >= 2]
        shares = {s: sides.count(s) for s in set(sides)}
        if any(m > max_factorial for m in shares.values()):
            text = " * ".join(f"2^{m} * {m}!" for m in shares.values())
            return None, False, text
        order = math.prod(2**m * math.factorial(m) for m in shares.values())
        return order, all(m <= 1 for m in shares.values()), str(order)
    return None


def automorphism_generators(graph: GraphIR, budget: int = SEARCH_BUDGET) -> list:
    """Generators of Aut(graph) as push permutations; cached on the graph."""
    if graph.automorphisms_by:
        return graph.automorphisms
    gens = _closed_form(graph)
    if gens is not None:
        graph.automorphisms, graph.automorphisms_by = (
            [g for g in gens if not np.array_equal(g, np.arange(graph.num_nodes))],
            "closed form",
        )
        return graph.automorphisms
    graph.automorphisms = _search(graph.adjacency, budget)
    graph.automorphisms_by = "search"
    return graph.automorphisms


class _Search:
    """Individualization-refinement search for automorphism generators (a small nauty)."""

    def __init__(self, adjacency: list, budget: int):
        self.adj = adjacency
        self.n = len(adjacency)
        self.budget = budget
        self.steps = 0
        self.edges = {(u, v) for u, nbrs in enumerate(adjacency) for v in nbrs}

    def refine_pair(self, left: list, right: list):
        """Refine two colourings in lockstep; None if they stop being compatible."""
        adj = self.adj
        while True:
            self.steps += 1 + self.n // 4  # one refinement round costs time linear in the nodes: bounded in work, not rounds
            if self.steps > self.budget:
                raise SearchBudgetExceeded
            sl = [(left[v], tuple(sorted(left[u] for u in adj[v]))) for v in range(self.n)]
            sr = [(right[v], tuple(sorted(right[u] for u in adj[v]))) for v in range(self.n)]
            if sorted(sl) != sorted(sr):
                return None
            index = {s: i for i, s in enumerate(sorted(set(sl)))}
            new_left = [index[s] for s in sl]
            new_right = [index[s] for s in sr]
            if len(index) == len(set(left)):
                return new_left, new_right
            left, right = new_left, new_right

    @staticmethod
    def individualize(colors: list, v: int) -> list:
        out = list(colors)
        out[v] = max(colors) + 1
        return out

    @staticmethod
    def target_cell(colors: list):
        counts: dict = {}
        for c in colors:
            counts[c] = counts.get(c, 0) + 1
        cells = [(size, c) for c, size in counts.items() if size > 1]
        if not cells:
            return None
        return min(cells)[1]

    def extend(self, left: list, right: list):
        """An automorphism matching the two compatible colourings, or None."""
        cell = self.target_cell(left)
        if cell is None:
            where = {c: v for v, c in enumerate(right)}
            mapping = [where[c] for c in left]
            if all((mapping[u], mapping[v]) in self.edges for u, v in self.edges):
                return np.asarray(mapping, dtype=np.int64)
            return None
        v = left.index(cell)
        for w in (u for u, c in enumerate(right) if c == cell):
            pair = self.refine_pair(self.individualize(left, v), self.individualize(right, w))
            if pair is not None:
                found = self.extend(*pair)
                if found is not None:
                    return found
        return None

    @staticmethod
    def orbit(v: int, gens: list) -> set:
        seen = {v}
        stack = [v]
        while stack:
            x = stack.pop()
            for g in gens:
                y = int(g[x])
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        return seen

    def run(self) -> list:
        start = [len(a) for a in self.adj]
        colors, _ = self.refine_pair(start, start)
        base: list = []
        gens: list = []
        while True:
            cell = self.target_cell(colors)
            if cell is None:
                return gens
            v = colors.index(cell)
            fixing = [g for g in gens if all(g[b] == b for b in base)]
            orbit = self.orbit(v, fixing)
            for w in [u for u, c in enumerate(colors) if c == cell]:
                if w in orbit:
                    continue
                pair = self.refine_pair(self.individualize(colors, v), self.individualize(colors, w))
                if pair is None:
                    continue
                found = self.extend(*pair)
                if found is not None:
                    gens.append(found)
                    fixing.append(found)
                    orbit = self.orbit(v, fixing)
            base.append(v)
            colors, _ = self.refine_pair(self.individualize(colors, v), self.individualize(colors, v))


def _search(adjacency: list, budget: int) -> list:
    return _Search(adjacency, budget).run()
