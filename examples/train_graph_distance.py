"""Shortest-path distance on a graph, with and without the metric's laws (Hwang & Park, arXiv 2603.01968).

    python examples/train_graph_distance.py                   # 7x7 grid, 80% of the pairs for training
    python examples/train_graph_distance.py --graph cycle64 --laws symmetric,triangle
    python examples/train_graph_distance.py --graph hypercube7 --device cuda

A model reads two vertices and predicts their distance as a class. Laws from
examples/graph_distance.sym: symmetric, zero, triangle, geodesic,
automorphism. The spec states a 7x7 grid; for another ``--graph`` the
trainer rewrites its ``graph G = ...`` line and the output range
``class(range(0, D))`` (D = diameter + 1) before compiling, and says so.
"""

from __future__ import annotations

import os
import re
import sys

import networkx as nx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from trainlib import PairMLP, Task, build_task_or_exit, check_frac, common_parser, main_runs  # noqa: E402

import symspec  # noqa: E402

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph_distance.sym")
GRAPHS = {  # name -> (symspec constructor, networkx graph with nodes in symspec's order)
    "grid7": ("grid(n, n)", lambda: nx.convert_node_labels_to_integers(nx.grid_2d_graph(7, 7), ordering="sorted")),
    "cycle64": ("cycle(64)", lambda: nx.cycle_graph(64)),
    "path64": ("path(64)", lambda: nx.path_graph(64)),
    "hypercube7": ("hypercube(7)", lambda: nx.convert_node_labels_to_integers(nx.hypercube_graph(7), ordering="sorted")),
}


def load_spec(graph: str):
    """The example spec, for ``graph``: its graph line and output range rewritten when it is not the 7x7 grid."""
    text = open(SPEC, encoding="utf-8").read()
    constructor, build = GRAPHS[graph]
    g = build()
    diameter = nx.diameter(g)
    if graph != "grid7":
        text, k1 = re.subn(r"(?m)^graph G = .*$", f"graph G = {constructor}", text)
        text, k2 = re.subn(r"class\(range\(0, 2 \* n - 1\)\)", f"class(range(0, {diameter + 1}))", text)
        assert k1 == k2 == 1, "examples/graph_distance.sym changed: update the trainer's rewrite"
    spec = symspec.loads(text, SPEC, params={"n": 7})
    assert spec.ir.graphs["G"].num_nodes == g.number_of_nodes()
    return spec, g, diameter


def build_task(graph: str, frac: float, seed: int) -> Task:
    spec, g, diameter = load_spec(graph)
    nodes = g.number_of_nodes()
    dist = torch.tensor(nx.floyd_warshall_numpy(g, nodelist=range(nodes)), dtype=torch.long)
    u, v = torch.meshgrid(torch.arange(nodes), torch.arange(nodes), indexing="ij")
    u, v = u.reshape(-1), v.reshape(-1)
    order = torch.randperm(nodes * nodes, generator=torch.Generator().manual_seed(seed))
    cut = int(round(frac * nodes * nodes))
    data = {"u": u, "v": v, "target": dist[u, v]}
    return Task(
        name="graph_distance",
        spec=spec,
        train={k: x[order[:cut]] for k, x in data.items()},
        test={k: x[order[cut:]] for k, x in data.items()},
        make_model=lambda: PairMLP(nodes, diameter + 1),
        task_loss=nn.functional.cross_entropy,
        predict=lambda out: out.argmax(-1),
        call=lambda model, batch: model(batch["u"], batch["v"]),
        config={"graph": graph, "nodes": nodes, "classes": diameter + 1, "frac": frac, "arch": "mlp"},
        optim={"lr": 1e-3, "weight_decay": 3.0, "betas": (0.9, 0.98)},
    )


def main(argv=None) -> list:
    parser = common_parser(__doc__.splitlines()[0])
    parser.add_argument("--graph", choices=sorted(GRAPHS), default="grid7", help="the graph (default grid7)")
    parser.add_argument("--frac", type=float, default=0.8, help="fraction of vertex pairs used for training (default 0.8)")
    args = parser.parse_args(argv)
    check_frac(parser, args.frac)
    task = build_task_or_exit(parser, build_task, args.graph, args.frac, args.seed)
    return main_runs(task, args, parser, ["none", "all"], default_max_steps=20_000)


if __name__ == "__main__":
    main()
