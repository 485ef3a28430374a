"""Parse and check a generated 2,000-line spec; report milliseconds.

Goals: parse <= 100 ms, check end to end <= 300 ms, without torch.
`check` also runs the symmetry analysis (118 graphs, 354 models, 819 laws
here), reported as its own row.
Baselines in the same run: lark's bare LALR parse of the same text (the
floor for our parse, which adds post-lexing and the AST), and an empty
`python -c pass` (the floor for the CLI's wall time).

    python benchmarks/bench_parse.py [--lines 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(lines: int) -> str:
    """A realistic spec: blocks of a param, domains, a graph, models and laws."""
    out = ["spec generated", ""]
    i = 0
    while len(out) < lines:
        out += [
            f"# block {i}",
            f"param p{i} = {7 + i % 50}",
            f"domain Z{i} = cyclic(p{i})",
            f"domain R{i} = range(0, 2 * p{i} + 1)",
            f"graph G{i} = grid(3, {3 + i % 4})",
            f"domain N{i} = nodes(G{i})",
            f"model add{i}(a: Z{i}, b: Z{i}) -> class(Z{i})",
            f"model dist{i}(u: N{i}, v: N{i}) -> class(R{i})",
            f"model gt{i}(a: R{i}, b: R{i}) -> bool",
            f"law commutes{i}: add{i}(a, b) == add{i}(b, a)",
            f"law shift{i}: forall k: Z{i}. add{i}(a + k, b) == add{i}(a, b) + k  [weight 0.5]",
            f"law assoc{i}: add{i}(add{i}(a, b), c) == add{i}(a, add{i}(b, c))",
            f"law tri{i}: dist{i}(u, v) <= dist{i}(u, w) + dist{i}(w, v)",
            f"law geo{i}: dist{i}(u, v) == dist{i}(u, w) + dist{i}(w, v) when between(G{i}, u, w, v)",
            f"law bt{i}: gt{i}(a, c) == sigmoid(logit(gt{i}(a, b)) + logit(gt{i}(b, c))) when a > b > c",
            f"law trans{i}: gt{i}(a, b) and gt{i}(b, c) => gt{i}(a, c)",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def best_ms(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    import gc

    from symspec.pipeline import loads
    from symspec.pipeline import analyze
    from symspec.syntax import parse
    from symspec.syntax.parser import _parser

    text = generate(args.lines)
    lark, _ = _parser()
    lark.parse(text)  # warm: build the parser once, as a process does

    rows = []
    lark_min, lark_med = best_ms(lambda: lark.parse(text), args.repeat)
    parse_min, parse_med = best_ms(lambda: parse(text, "gen.sym"), args.repeat)
    tree = parse(text, "gen.sym")
    gc.disable()  # as loads() does
    types_min, types_med = best_ms(lambda: analyze(tree, text, symmetry=False), args.repeat)
    full_min, full_med = best_ms(lambda: analyze(tree, text), args.repeat)
    gc.enable()
    check_min, check_med = best_ms(lambda: loads(text, "gen.sym"), args.repeat)
    rows.append(("lark bare LALR parse (baseline)", lark_min, lark_med, 1.0))
    rows.append(("symspec parse (text -> AST)", parse_min, parse_med, parse_med / lark_med))
    rows.append(("names and types", types_min, types_med, None))
    rows.append(("names, types and symmetry analysis", full_min, full_med, None))
    rows.append(("symspec.loads: all of it, with teardown", check_min, check_med, None))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gen.sym"
        path.write_text(text)

        def cli():
            subprocess.run([sys.executable, "-m", "symspec", "check", "-q", str(path)], check=True)

        def empty():
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        empty_min, empty_med = best_ms(empty, args.repeat)
        cli_min, cli_med = best_ms(cli, args.repeat)
        imported = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from symspec.cli import main; main(['check', '-q', sys.argv[1]]); print('torch' in sys.modules)",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    rows.append(("python -c pass (process floor)", empty_min, empty_med, None))
    rows.append(("symspec check FILE (end to end, process)", cli_min, cli_med, None))

    print(
        f"spec: {args.lines} lines, {len(text)} bytes; best and median of {args.repeat} runs; torch imported by check: {imported}"
    )
    print(f"{'what':44s} {'best ms':>9s} {'median ms':>10s} {'x lark':>7s}")
    for name, lo, med, ratio in rows:
        r = f"{ratio:7.2f}" if ratio is not None else "       "
        print(f"{name:44s} {lo:9.1f} {med:10.1f} {r}")
    print(f"check end to end minus interpreter start: {cli_med - empty_med:.1f} ms (median)")


if __name__ == "__main__":
    main()
