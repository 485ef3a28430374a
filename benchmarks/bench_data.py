"""check-data throughput: symspec.data.check_data vs a per-row Python dict loop, in the same run.

1. Modular addition, p = 1000, the full table (10^6 rows, written to a .pt file, 2 labels corrupted):
   ``commutes`` and a fixed shift ``add(a + 1, b) == add(a, b) + 1`` (10^6 cases each). Timed: loading
   the file (``load_table``) and the whole ``check_data`` (load + every law).
2. Graph distances on grid(17, 17) (289 nodes, 83,521 rows, 1% of the labels corrupted): ``symmetric``
   (83,521 cases), ``zero`` and ``automorphism`` (8 x 83,521 cases).
3. Distinct rows of a real input (``Table.codes``, what the conflict count and the lookup index read): 10^6
   float64 rows, against ``torch.unique(dim=0, return_inverse=True)`` on the same rows.

A second baseline for 1: the same check_data with the labels written out as [cases, 1000] logits
(``symspec.data.check.FAST = False``: what the compiled checks would cost without check_fast.py),
on the loop's subset, scaled per row.

The baseline is what a hand-written script does: a dict from input to label, filled row by row, then
one Python check per case; it runs on a subset of the rows (``--loop-rows``) and its time is scaled
to the full table (per row for the dict, per case for the checks). Both count the same violations on
the subset (asserted). Figures: medians over ``--rounds`` interleaved rounds after one warm-up.

    python benchmarks/bench_data.py [--rounds 3] [--loop-rows 50000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import interleaved_medians  # noqa: E402

from symspec.data import check_data, load_table  # noqa: E402
from symspec.pipeline import load, loads  # noqa: E402

ODD = "spec odd\nmodel h(x: real) -> real\nlaw odd: h(-x) == -h(x)\n"
P = 1000
MOD = f"""spec bench_mod
domain Z = cyclic({P})
model add(a: Z, b: Z) -> class(Z)
law commutes: add(a, b) == add(b, a)
law shift1: add(a + 1, b) == add(a, b) + 1
"""
GRAPH = str(Path(__file__).resolve().parents[1] / "examples" / "graph_distance.sym")
SIDE = 17


def mod_table(folder: str) -> tuple[str, dict]:
    a = torch.arange(P).repeat_interleave(P)
    b = torch.arange(P).repeat(P)
    y = (a + b) % P
    y[5] = (y[5] + 1) % P
    y[123_456] = (y[123_456] + 7) % P
    path = os.path.join(folder, "mod.pt")
    torch.save({"a": a, "b": b, "target": y}, path)
    return path, {"a": a, "b": b, "target": y}


def mod_loop(columns: dict, rows: int) -> tuple[float, int]:
    """The baseline on the first ``rows`` rows: (seconds per row, violations among those rows' cases)."""
    a, b, y = (columns[k][:rows].tolist() for k in ("a", "b", "target"))
    started = time.perf_counter()
    table = {}
    for x1, x2, t in zip(a, b, y):
        table.setdefault((x1, x2), t)
    bad = 0
    for (x1, x2), t in table.items():
        swapped = table.get((x2, x1))
        if swapped is not None:
            bad += swapped != t
        shifted = table.get(((x1 + 1) % P, x2))
        if shifted is not None:
            bad += shifted != (t + 1) % P
    return (time.perf_counter() - started) / rows, bad


def graph_table(folder: str) -> tuple[str, dict, list]:
    spec = load(GRAPH, params={"n": SIDE})
    graph = spec.ir.graphs["G"]
    n = graph.num_nodes
    dist = torch.as_tensor(graph.distances, dtype=torch.int64)
    u = torch.arange(n).repeat_interleave(n)
    v = torch.arange(n).repeat(n)
    y = dist[u, v].clone()
    gen = torch.Generator().manual_seed(0)
    wrong = torch.randperm(n * n, generator=gen)[: n * n // 100]
    y[wrong] = torch.where(y[wrong] > 0, y[wrong] - 1, y[wrong] + 1)
    path = os.path.join(folder, "graph.pt")
    torch.save({"u": u, "v": v, "target": y}, path)
    perms = [tuple(int(i) for i in p) for p in graph.automorphisms]
    elements, frontier = {tuple(range(n))}, [tuple(range(n))]
    while frontier:  # every automorphism: the closure of the generators
        frontier = [h for g in frontier for s in perms if (h := tuple(s[i] for i in g)) not in elements]
        elements.update(frontier)
    elements = sorted(elements)
    return path, {"u": u, "v": v, "target": y}, elements


def graph_loop(columns: dict, rows: int, elements: list) -> tuple[float, int]:
    u, v, y = (columns[k][:rows].tolist() for k in ("u", "v", "target"))
    started = time.perf_counter()
    table = {}
    for x1, x2, t in zip(u, v, y):
        table.setdefault((x1, x2), t)
    bad = 0
    for (x1, x2), t in table.items():
        swapped = table.get((x2, x1))
        if swapped is not None:
            bad += swapped != t
        if x1 == x2:
            bad += t != 0
        for g in elements:
            moved = table.get((g[x1], g[x2]))
            if moved is not None:
                bad += moved != t
    return (time.perf_counter() - started) / rows, bad


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop-rows", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        mod_path, mod_cols = mod_table(folder)
        graph_path, graph_cols, elements = graph_table(folder)
        mod_spec = loads(MOD)
        graph_spec = load(GRAPH, params={"n": SIDE})
        graph_laws = ["symmetric", "zero", "automorphism"]
        out: dict = {}
        real_x = torch.randn(500_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        real_x = torch.cat([real_x, -real_x])

        def run_mod():
            out["mod"] = check_data(mod_spec, mod_path)

        def run_graph():
            out["graph"] = check_data(graph_spec, graph_path, laws=graph_laws)

        def run_load():
            load_table(mod_spec, mod_path)

        def run_written_out():  # the labels as [cases, 1000] logits written out (check_fast.py off), on the subset
            import symspec.data.check as check_module

            check_module.FAST = False
            try:
                check_data(mod_spec, {k: v[: args.loop_rows] for k, v in mod_cols.items()})
            finally:
                check_module.FAST = True

        real_table = load_table(loads(ODD), {"x": real_x, "target": real_x**3})

        def run_codes():
            object.__setattr__(real_table, "_codes", None)  # the cache Table keeps: time the computation
            real_table.codes()

        def run_unique():
            torch.unique(real_x[:, None], dim=0, return_inverse=True)

        def run_mod_loop():
            out["mod_loop"] = mod_loop(mod_cols, args.loop_rows)

        def run_graph_loop():
            out["graph_loop"] = graph_loop(graph_cols, min(args.loop_rows, len(graph_cols["u"])), elements)

        times = interleaved_medians(
            {
                "load": run_load,
                "mod": run_mod,
                "graph": run_graph,
                "mod_loop": run_mod_loop,
                "graph_loop": run_graph_loop,
                "written": run_written_out,
                "codes": run_codes,
                "unique": run_unique,
            },
            repeat=args.rounds,
            warmup=1,
        )
        rows_mod, rows_graph = P * P, len(graph_cols["u"])
        loop_mod = out["mod_loop"][0] * rows_mod
        loop_graph = out["graph_loop"][0] * rows_graph
        mod, graph = out["mod"], out["graph"]
        # the same violations on a subset: check_data on the loop's rows
        sub = {k: v[: args.loop_rows] for k, v in mod_cols.items()}
        sub_report = check_data(mod_spec, sub)
        assert sum(law.violations for law in sub_report.laws) == out["mod_loop"][1]
        gsub = {k: v[: min(args.loop_rows, rows_graph)] for k, v in graph_cols.items()}
        gsub_report = check_data(graph_spec, gsub, laws=graph_laws)
        assert sum(law.violations for law in gsub_report.laws) == out["graph_loop"][1]
    print(f"check-data benchmark ({torch.get_num_threads()} threads, medians of {args.rounds} rounds)")
    print(
        f"modular addition p={P}: {rows_mod:,} rows; laws "
        + ", ".join(f"{x.name} {x.cases:,} cases {x.violations} violations" for x in mod.laws)
    )
    print(f"  load_table(.pt)       {times['load']:7.2f} s")
    print(f"  check_data (all)      {times['mod']:7.2f} s   ({2 * rows_mod / times['mod'] / 1e6:.2f} M cases/s)")
    print(
        f"  per-row dict loop     {loop_mod:7.2f} s   (measured on {args.loop_rows:,} rows, scaled)  -> {loop_mod / times['mod']:.1f}x"
    )
    written = times["written"] * rows_mod / args.loop_rows
    print(
        f"  logits written out    {written:7.2f} s   (measured on {args.loop_rows:,} rows, scaled)  -> {written / times['mod']:.1f}x"
    )
    cases = sum(x.cases for x in graph.laws)
    print(
        f"graph distance grid({SIDE}, {SIDE}): {rows_graph:,} rows; laws "
        + ", ".join(f"{x.name} {x.cases:,} cases {x.violations} violations" for x in graph.laws)
    )
    print(f"  check_data (all)      {times['graph']:7.2f} s   ({cases / times['graph'] / 1e6:.2f} M cases/s)")
    print(
        f"  per-row dict loop     {loop_graph:7.2f} s   (measured on {min(args.loop_rows, rows_graph):,} rows, scaled)  -> {loop_graph / times['graph']:.1f}x"
    )
    print(f"distinct rows of {len(real_x):,} real inputs (Table.codes)")
    print(f"  one numpy lexsort     {times['codes']:7.2f} s")
    print(f"  torch.unique(dim=0)   {times['unique']:7.2f} s   -> {times['unique'] / times['codes']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
