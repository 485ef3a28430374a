"""check-data on a corrupted dataset: the 7x7 grid's distance table with 1% of its labels wrong.

Builds every (u, v, distance) row of examples/graph_distance.sym's graph, changes 1% of the labels
(seeded), writes the table to a .csv (nodes by name), runs ``symspec.data.check_data`` (and the
``symspec check-data`` command line) and prints how many corrupted rows the violations name.

    python examples/check_data_graph_distance.py [--n 7] [--rate 0.01] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from collections import Counter

import torch

from symspec.data import check_data
from symspec.pipeline import load

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "graph_distance.sym")


def corrupted_table(n: int, rate: float, seed: int) -> tuple[list, set]:
    """Every (u, v, d(u, v)) row of the n x n grid by node name, ``rate`` of the labels moved by +-1 (seeded)."""
    spec = load(SPEC, params={"n": n})
    graph = spec.ir.graphs["G"]
    dist = torch.as_tensor(graph.distances, dtype=torch.int64)
    nodes = graph.num_nodes
    u = torch.arange(nodes).repeat_interleave(nodes)
    v = torch.arange(nodes).repeat(nodes)
    target = dist[u, v].clone()
    gen = torch.Generator().manual_seed(seed)
    wrong = torch.randperm(u.shape[0], generator=gen)[: round(rate * u.shape[0])]
    step = torch.where(torch.rand(wrong.shape[0], generator=gen) < 0.5, -1, 1)
    step = torch.where(target[wrong] == 0, 1, step)  # stay inside 0 .. 2n-2
    step = torch.where(target[wrong] == 2 * n - 2, -1, step)
    target[wrong] += step
    names = [graph.label(i) for i in range(nodes)]
    rows = [(names[a], names[b], t) for a, b, t in zip(u.tolist(), v.tolist(), target.tolist())]
    return rows, set(wrong.tolist())


def named_rows(law) -> Counter:
    """How many of a law's reported violations name each data row."""
    out: Counter = Counter()
    for ex in law.examples:
        rows = ex["values"].get("rows")  # the row of each call, in the law's call order
        out.update(set([rows] if isinstance(rows, int) else rows or ()) - {-1})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for distances.csv (default: a temporary one)")
    parser.add_argument("--no-cli", action="store_true", help="skip running the command line too")
    args = parser.parse_args(argv)
    folder = args.out or tempfile.mkdtemp(prefix="symspec-check-data-")
    path = os.path.join(folder, "distances.csv")
    rows, wrong = corrupted_table(args.n, args.rate, args.seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["u", "v", "target"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path}; {len(wrong)} labels corrupted (seed {args.seed})")

    laws = ["symmetric", "zero", "triangle", "geodesic", "automorphism"]
    report = check_data(SPEC, path, params={"n": args.n}, laws=laws, examples=len(rows))
    found: set = set()
    votes: Counter = Counter()
    for law in report.laws:
        counts = named_rows(law)
        votes.update(counts)
        named = set(counts)
        found |= named & wrong
        print(
            f"  {law.name:13s} {law.cases:7d} cases checked, {law.violations:5d} violated; "
            f"{len(named & wrong)} corrupted rows named, {len(named - wrong)} correct rows named with them"
        )
    print(f"corrupted rows named by some violation: {len(found)} of {len(wrong)}")
    suspects = [r for r, _ in votes.most_common(len(wrong))]  # the rows in the most violations
    print(f"of the {len(wrong)} rows named by the most violations, {len(set(suspects) & wrong)} are the corrupted ones")
    missed = sorted(wrong - found)
    if missed:
        print("not named (a label changed consistently with the laws checked):", missed[:10])

    if not args.no_cli:  # the same check from the command line (exit 1: some law is violated)
        cmd = [
            sys.executable,
            "-m",
            "symspec",
            "check-data",
            SPEC,
            "--param",
            f"n={args.n}",
            "--data",
            path,
            "--laws",
            "symmetric,triangle",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        print(
            f"\n$ symspec check-data {os.path.relpath(SPEC)} --param n={args.n} --data {path} --laws symmetric,triangle  (exit {done.returncode})"
        )
        print("\n".join(done.stdout.splitlines()[:18]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
