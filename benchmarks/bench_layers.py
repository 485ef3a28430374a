"""Building and running compiled equivariant layers.

Build time of the layer for symmetric(n) acting on tensor[n, n] -> tensor[n, n]
(both dims permuted), n = 8, 16, 32, 64, and for D4 on 64 x 64 images; against
a dense SVD null-space solve of the same constraints (what EMLP does; run in
the same process for the sizes where it finishes quickly). Forward time of a
compiled layer vs an nn.Linear of the same shape. Goal: n = 64 second order
under 50 ms. Second-order S_N graph layers with feature dims (symbolic N, run
at N = 12: pair -> pair and pair -> nodes, nodes -> pair), forward + backward
against an nn.Linear of the same shape, ratio in the same run, with torch's
default threads and with one (many small products suffer most when the cores
are shared). symmetric(16) x cyclic(3) on tensor[16, 16, 3] (features rolled):
the compiled pair layer with tied feature weights against the orbit layer of
the same group, build and forward + backward, ratio in the same run. With
``--compile BACKEND`` (eager, aot_eager or inductor; off by default): the graph
layers and a D4 orbit layer under ``torch.compile(..., fullgraph=True)`` against
eager, forward + backward (compile time excluded: the warm-up rounds compile).

    python benchmarks/bench_layers.py [--compile inductor]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved_medians  # noqa: E402

import symspec  # noqa: E402
from symspec import runtime as rt  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def dense_null_space(n: int) -> int:
    """EMLP-style: stack kron constraints for S_n's two generators on R^{n x n} -> R^{n x n}, SVD them."""
    gens = rt.action_table(
        {
            "t": [("permute_dims", {"perm": tuple([1, 0] + list(range(2, n))), "dims": (0, 1)})],
            "c": [("permute_dims", {"perm": tuple(list(range(1, n)) + [0]), "dims": (0, 1)})],
        },
        shape=(n, n),
    )
    basis = rt.equivariant_basis([("perm", gens)], [("perm", gens)], (n, n), (n, n))
    return basis.shape[0]


GRAPH_SPEC = """
domain Edges = tensor[N, N, 4]
domain Nodes = tensor[N, 8]
group P = symmetric(N)
layer edges: Edges -> Edges under P
layer to_nodes: Edges -> Nodes under P
layer to_edges: Nodes -> Edges under P
"""


def graph_rows(n: int = 12, batch: int = 32, channels: int = 4, threads: int | None = None) -> list:
    """Forward + backward of the graph layers with features vs an nn.Linear of the same shape (ratio, same run), with
    ``threads`` torch threads (None: torch's default)."""
    default = torch.get_num_threads()
    torch.set_num_threads(threads or default)
    try:
        return _graph_rows(n, batch, channels)
    finally:
        torch.set_num_threads(default)


def _graph_rows(n: int, batch: int, channels: int) -> list:
    layers = symspec.compile(symspec.loads(GRAPH_SPEC, "graph.sym")).LAYERS
    shapes = {"edges": (n, n, 4), "to_nodes": (n, 8)}
    cases = [("edges", "edges"), ("to_nodes", "edges"), ("to_edges", "to_nodes")]  # (layer, the end it reads)
    rows = []
    for name, reads in cases:
        layer = layers[name](channels, channels)
        x = torch.randn(batch, channels, *shapes[reads], requires_grad=True)
        out = layer(x).detach()
        dense = torch.nn.Linear(x[0].numel(), out[0].numel())
        flat = x.detach().reshape(batch, -1).requires_grad_()

        def step(module, inp):
            module(inp).sum().backward()

        fns = {"graph": lambda m=layer, i=x: step(m, i), "dense": lambda m=dense, i=flat: step(m, i)}
        t = interleaved_medians(fns, 9)
        kind = type(layer).__mro__[1].__name__
        what = (
            f"fwd+bwd {kind} {tuple(x.shape[2:])}->{tuple(out.shape[2:])} {channels} ch, b {batch}, {torch.get_num_threads()} thr"
        )
        note = f"nn.Linear {x[0].numel()} -> {out[0].numel()}: {t['dense'] * 1000:.1f} ms (ratio {t['graph'] / t['dense']:.2f})"
        rows.append((what, t["graph"] * 1000, note))
    return rows


def compile_rows(backend: str, n: int = 12, batch: int = 32, channels: int = 4) -> list:
    """Forward + backward of layers under ``torch.compile(backend, fullgraph=True)`` against eager (same run)."""
    graph = symspec.compile(symspec.loads(GRAPH_SPEC, "graph.sym")).LAYERS
    d4 = symspec.compile(
        symspec.loads(
            "domain I = tensor[16, 16]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\n"
            "action D4 on I { r -> rot90(dims=(0, 1)), s -> flip(dim=1) }\nlayer conv: I -> I under D4\n",
            "d4c.sym",
        )
    ).LAYERS
    shapes = {"edges": (n, n, 4), "to_nodes": (n, 8), "image": (16, 16)}
    cases = [(graph, "edges", "edges"), (graph, "to_nodes", "edges"), (graph, "to_edges", "to_nodes"), (d4, "conv", "image")]
    rows = []
    for layers, name, reads in cases:
        layer = layers[name](channels, channels)
        compiled = torch.compile(layer, backend=backend, fullgraph=True)
        x = torch.randn(batch, channels, *shapes[reads], requires_grad=True)

        def step(module, inp=x):
            module(inp).sum().backward()

        t = interleaved_medians({"eager": lambda m=layer: step(m), "compiled": lambda m=compiled: step(m)}, 9)
        kind = next(c.__name__ for c in type(layer).__mro__ if c.__module__ == rt.layers.__name__)
        what = f"fwd+bwd {kind} {tuple(x.shape[2:])} {channels} ch, b {batch}, torch.compile({backend})"
        note = f"eager {t['eager'] * 1000:.2f} ms (compiled / eager {t['compiled'] / t['eager']:.2f})"
        rows.append((what, t["compiled"] * 1000, note))
    return rows


PRODUCT_SPEC = """
domain E = tensor[{n}, {n}, 3]
group C = cyclic(3)
group G = symmetric({n}) x C
action C on E by roll(dim=2)
layer edges: E -> E under G
"""


def product_rows(n: int = 16, batch: int = 32, channels: int = 4) -> list:
    """symmetric(n) x cyclic(3) rolling 3 features of tensor[n, n, 3]: the compiled layer (the pair layer with weights
    tied by the cyclic orbits) against the orbit layer of the same group (what a fixed-size product compiled to
    before), built from the same actions: build time, forward + backward, ratio in the same run, one thread."""
    default = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = symspec.loads(PRODUCT_SPEC.format(n=n), "product.sym")
        build = symspec.compile(spec).LAYERS["edges"]
        gir, src, _ = spec.ir.layers["edges"]
        table = rt.action_table({g: [(op, dict(args)) for op, args in src.ops[g]] for g in gir.generators}, shape=(n, n, 3))
        tied, t_tied = timed(lambda: build(channels, channels))
        orbit, t_orbit = timed(lambda: rt.OrbitLinear(channels, channels, table, table, (n, n, 3), (n, n, 3)))
        assert sum(p.numel() for p in tied.parameters()) == sum(p.numel() for p in orbit.parameters())
        x = torch.randn(batch, channels, n, n, 3, requires_grad=True)

        def step(module):
            module(x).sum().backward()

        t = interleaved_medians({"tied": lambda: step(tied), "orbit": lambda: step(orbit)}, 5)
    finally:
        torch.set_num_threads(default)
    what = f"symmetric({n}) x cyclic(3) on ({n}, {n}, 3), {channels} ch, b {batch}, 1 thr"
    return [
        (f"build {what}", t_tied * 1000, f"orbit layer: {t_orbit * 1000:.1f} ms"),
        (
            f"fwd+bwd {what}",
            t["tied"] * 1000,
            f"orbit layer: {t['orbit'] * 1000:.1f} ms (ratio {t['tied'] / t['orbit']:.3f})",
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile", choices=["eager", "aot_eager", "inductor"], help="also time torch.compile'd layers")
    args = ap.parse_args()
    rows = []
    for n in (8, 16, 32, 64):
        spec = symspec.loads(
            f"domain A = tensor[{n}, {n}]\ngroup P = symmetric({n})\naction P on A by permute(dims=(0, 1))\nlayer edge: A -> A under P\n",
            "b.sym",
        )
        mod = symspec.compile(spec)
        layer, seconds = timed(lambda mod=mod: mod.LAYERS["edge"](4, 4))
        rows.append((f"symmetric({n}) on tensor[{n}, {n}]: build (15 Bell maps)", seconds * 1000, ""))
    for n in (4, 5):
        dim, seconds = timed(lambda n=n: dense_null_space(n))
        rows.append((f"  dense SVD null space, n = {n} ({n**4} unknowns) -> {dim} maps", seconds * 1000, "baseline"))
    rows.append(("  dense SVD null space, n = 8 (4096 unknowns)", float("nan"), "not run: an 8192 x 4096 SVD"))
    spec = symspec.loads(
        "domain I = tensor[64, 64]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\naction D4 on I { r -> rot90(dims=(0, 1)), s -> flip(dim=1) }\n"
        "layer conv: I -> I under D4\n",
        "d4.sym",
    )
    mod = symspec.compile(spec)
    layer, seconds = timed(lambda: mod.LAYERS["conv"](1, 1))
    rows.append((f"D4 on 64 x 64: build (orbits of 4096^2 position pairs -> {layer.num_orbits})", seconds * 1000, ""))

    # forward: compiled layers vs nn.Linear of the same shape
    x = torch.randn(64, 8, 32, 32)
    spec = symspec.loads(
        "domain A = tensor[32, 32]\ngroup P = symmetric(32)\naction P on A by permute(dims=(0, 1))\nlayer edge: A -> A under P\n",
        "f.sym",
    )
    pair = symspec.compile(spec).LAYERS["edge"](8, 8)
    dense = torch.nn.Linear(8 * 32 * 32, 8 * 32 * 32)
    flat = x.reshape(64, -1)
    with torch.no_grad():
        t = interleaved_medians({"pair": lambda: pair(x), "dense": lambda: dense(flat)}, 11)
    rows.append(
        (
            "forward, symmetric(32) pair layer 8 -> 8 channels, batch 64",
            t["pair"] * 1000,
            f"nn.Linear same shape: {t['dense'] * 1000:.1f} ms",
        )
    )
    img = torch.randn(64, 4, 16, 16)
    spec = symspec.loads(
        "domain I = tensor[16, 16]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\naction D4 on I { r -> rot90(dims=(0, 1)), s -> flip(dim=1) }\n"
        "layer conv: I -> I under D4\n",
        "d4s.sym",
    )
    d4 = symspec.compile(spec).LAYERS["conv"](4, 4)
    dense = torch.nn.Linear(4 * 256, 4 * 256)
    with torch.no_grad():
        t = interleaved_medians({"d4": lambda: d4(img), "dense": lambda: dense(img.reshape(64, -1))}, 11)
    rows.append(
        (
            "forward, D4 layer on 16 x 16, 4 -> 4 channels, batch 64",
            t["d4"] * 1000,
            f"nn.Linear same shape: {t['dense'] * 1000:.1f} ms",
        )
    )
    rows += graph_rows() + graph_rows(threads=1) + product_rows()
    if args.compile:
        rows += compile_rows(args.compile)
    print(f"{'what':72s} {'ms':>9s}")
    for name, ms, note in rows:
        print(f"{name:72s} {ms:9.2f}  {note}")


if __name__ == "__main__":
    main()
