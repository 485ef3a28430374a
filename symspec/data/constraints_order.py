"""Transitivity on data: exact counts by boolean matrix products, and a shortest cycle of the order graph.

For ``A(x, y) and B(y, z) => C(x, z)`` with no guard, the present triples number
``sum((PA @ PB) * PC)`` and the violations ``sum(((PA & A) @ (PB & B)) * (PC & ~C))`` (``P``: the
call is present), per context value; the products are float32 matrix products, exact below 2^24 nodes.
"""

from __future__ import annotations

import networkx as nx
import torch

from ..syntax import ast
from .constraints_eval import Evaluator
from .constraints_forms import Form, const_value, model_calls

__all__ = ["order_counts", "shortest_cycle", "atom_matrix"]


def _edge(form: Form, atom) -> tuple:
    call = model_calls(atom)[0]
    p, q = form.slots
    return call.args[p].name, call.args[q].name


def atom_matrix(form: Form, ev: Evaluator, sizes: dict, atom) -> tuple[torch.Tensor, torch.Tensor]:
    """(present, truth) of one atom as [*context sizes, n, n] bool tensors, axes (its first, its second variable)."""
    s, t = _edge(form, atom)
    ctx = list(form.context.values())
    dims = len(ctx) + 2
    env = {}
    for k, v in enumerate([*ctx, s, t]):
        view = [1] * dims
        view[k] = -1
        env[v] = (torch.arange(sizes[v]) + ev.lows[v]).view(view)
    shape = tuple(sizes[v] for v in [*ctx, s, t])
    present = torch.broadcast_to(ev.present(atom, env), shape)
    truth = torch.broadcast_to(ev.truth(atom, env), shape)
    return present, truth


def order_counts(form: Form, ev: Evaluator, sizes: dict, keep: int) -> tuple[int, int, list]:
    """(cases, violations, up to ``keep`` violating cases as variable -> value) of an unguarded transitive law."""
    atoms = form.detail["atoms"]
    first, second = (atoms[i] for i in form.detail["path"])
    pf, tf = atom_matrix(form, ev, sizes, first)
    ps, ts = atom_matrix(form, ev, sizes, second)
    pc, tc = atom_matrix(form, ev, sizes, atoms[2])
    paths = torch.matmul(pf.float(), ps.float())
    cases = int((paths.double() * pc).sum())
    good = torch.matmul((pf & tf).float(), (ps & ts).float())
    bad = (good > 0) & pc & ~tc
    violations = int((good.double() * bad).sum())
    found = []
    if violations and keep:
        x, y = _edge(form, first)
        z = _edge(form, second)[1]
        ctx = list(form.context.values())
        for idx in bad.nonzero()[:keep].tolist():
            *c, i, k = idx
            j = int(((pf & tf)[(*c, i)] & (ps & ts)[(*c, slice(None), k)]).nonzero()[0])
            case = {v: value + ev.lows[v] for v, value in zip(ctx, c)}
            case.update({x: i + ev.lows[x], y: j + ev.lows[y], z: k + ev.lows[z]})
            found.append(case)
    return cases, violations, found


def _predicate(form: Form, atom) -> tuple:
    """What an atom asserts of its edge, independent of the variable names."""
    if isinstance(atom, ast.Call):
        return ("holds",)
    a, b = atom.operands
    const = b if isinstance(a, ast.Call) else a
    return ("equals", const_value(const))


def shortest_cycle(form: Form, ev: Evaluator, sizes: dict):
    """A shortest cycle of the order graph: (context {position: value}, nodes, rows), ``[]`` when it has none,
    ``"mixed"`` when the law's atoms assert different things (no single order graph)."""
    atoms = form.detail["atoms"]
    if len({_predicate(form, a) for a in atoms}) != 1:
        return "mixed"
    present, truth = atom_matrix(form, ev, sizes, atoms[0])
    edges = present & truth
    n = edges.shape[-1]
    flat = edges.reshape(-1, n, n)
    best = None
    for c in range(flat.shape[0]):
        cycle = _shortest(flat[c], best)
        if cycle is not None and (best is None or len(cycle) < len(best[1])):
            best = (c, cycle)
            if len(cycle) == 1:
                break
    if best is None:
        return []
    c, nodes = best
    ctx_positions = list(form.context)
    ctx_sizes = [sizes[form.context[p]] for p in ctx_positions]
    ctx_index = []
    for size in reversed(ctx_sizes):
        ctx_index.append(c % size)
        c //= size
    ctx_index = ctx_index[::-1]
    p, q = form.slots
    rows = []
    for a, b in zip(nodes, nodes[1:] + nodes[:1]):
        index = [0] * len(ev.dense.shape)
        for pos, i in zip(ctx_positions, ctx_index):
            index[pos] = i
        index[p], index[q] = a, b
        rows.append(ev.dense.row(tuple(index)))
    table = ev.dense.table
    context = {pos: i + table.lows[table.params[pos]] for pos, i in zip(ctx_positions, ctx_index)}
    return context, nodes, rows


def _shortest(edges: torch.Tensor, best) -> list | None:
    """A shortest directed cycle of one [n, n] adjacency matrix (None when acyclic or not shorter than ``best``)."""
    loops = edges.diagonal().nonzero()
    if loops.numel():
        return [int(loops[0])]
    limit = len(best[1]) if best is not None else None
    if limit is not None and limit <= 2:
        return None
    two = (edges & edges.T).nonzero()
    if two.numel():
        i, j = two[0].tolist()
        return [i, j]
    if limit is not None and limit <= 3:
        return None
    paths = torch.matmul(edges.float(), edges.float())
    three = ((paths > 0) & edges.T).nonzero()
    if three.numel():
        i, k = three[0].tolist()
        j = int((edges[i] & edges[:, k]).nonzero()[0])
        return [i, j, k]
    alive = _core(edges)
    if not bool(alive.any()):
        return None
    nodes = alive.nonzero().squeeze(1).tolist()
    sub = edges[alive][:, alive]
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(nodes)))
    graph.add_edges_from(sub.nonzero().tolist())
    found = None
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        h = graph.subgraph(component)
        for s in sorted(component):
            cutoff = (len(found) if found else (limit or len(component) + 1)) - 2
            if cutoff < 0:
                break
            lengths = nx.single_source_shortest_path_length(h, s, cutoff=cutoff)
            back = [(lengths[u], u) for u in h.predecessors(s) if u in lengths]
            if back:
                _, u = min(back)
                path = nx.shortest_path(h, s, u)
                if found is None or len(path) < len(found):
                    found = path
    if found is None:
        return None
    return [nodes[i] for i in found]


def _core(edges: torch.Tensor) -> torch.Tensor:
    """The nodes left after repeatedly removing those with no incoming or no outgoing edge (Kahn, vectorized):
    every cycle lies among them, and a graph is acyclic exactly when none are left."""
    e = edges.to(torch.int32)
    alive = torch.ones(e.shape[0], dtype=torch.bool)
    indeg, outdeg = e.sum(0), e.sum(1)
    while True:
        gone = alive & ((indeg == 0) | (outdeg == 0))
        if not bool(gone.any()):
            return alive
        alive &= ~gone
        indeg = indeg - e[gone].sum(0)
        outdeg = outdeg - e[:, gone].sum(1)
