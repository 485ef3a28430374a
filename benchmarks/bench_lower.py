"""Lowering a generated 2,000-line spec (what `symspec check` adds to loading it); report milliseconds.

`symspec check` runs the whole lowering (`symspec.codegen.lower_module`,
pure Python, no torch) after parsing and analysis, so that a spec that
checks compiles.  Baseline in the same run and process: loading the same
text (`symspec.loads`: parse, names and types, symmetry analysis), timed in
turn with the lowering (load, lower, load, lower, ...) so that drift in the
machine hits both alike.  The spec is `bench_parse.generate` (118 graphs,
354 models, 819 laws at 2,000 lines).

Goal: lowering well under the load time (it was ~4x the load before the
lowering was made linear).

    python benchmarks/bench_lower.py [--lines 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parse import generate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from symspec.codegen import lower_module
    from symspec.pipeline import loads

    text = generate(args.lines)
    spec = loads(text, "gen.sym")  # warm: the parser is built once per process
    lower_module(spec)

    load_ms, lower_ms, both_ms = [], [], []
    for _ in range(args.repeat):
        del spec  # freed outside the timed regions (as is each lowered module, kept until its time is taken)
        t = time.perf_counter()
        spec = loads(text, "gen.sym")
        t1 = time.perf_counter()
        lowered = lower_module(spec)
        t2 = time.perf_counter()
        del lowered
        load_ms.append((t1 - t) * 1000)
        lower_ms.append((t2 - t1) * 1000)
        both_ms.append((t2 - t) * 1000)

    load_med = statistics.median(load_ms)
    rows = [
        ("symspec.loads: parse + analysis (baseline)", load_ms),
        ("lower_module: all lowering, no torch", lower_ms),
        ("check in process: loads + lower_module", both_ms),
    ]
    print(
        f"spec: {args.lines} lines, {len(text)} bytes, {len(spec.graphs)} graphs, {len(spec.models)} models, "
        f"{len(spec.laws)} laws; best and median of {args.repeat} runs, in turn"
    )
    print(f"{'what':44s} {'best ms':>9s} {'median ms':>10s} {'x load':>7s}")
    for name, ms in rows:
        med = statistics.median(ms)
        print(f"{name:44s} {min(ms):9.1f} {med:10.1f} {med / load_med:7.2f}")


if __name__ == "__main__":
    main()
