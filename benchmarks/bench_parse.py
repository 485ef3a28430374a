"""Parse and check a generated 2,000-line spec; report milliseconds.

Goals: parse <= 100 ms, check end to end <= 300 ms, without torch.
`check` also runs the symmetry analysis (118 graphs, 354 models, 819 laws
here), reported as its own row.
Baselines in the same run: lark's bare LALR parse of the same text (the
floor for our parse, which adds post-lexing and the AST), and an empty
`python -c pass` (the floor for the CLI's wall time).

`--edges-mb 20` measures instead a legitimate edge-list-heavy spec of about
that size (10 graphs of `edges(u-v, ...)`, 12 edges a line, each graph under
the 200,000-edge cap).  Its baseline, in the same run, is tokenizing the text
with the lexer's one compiled regex (the floor for any parse); each step runs
in a fresh process, so its peak memory (max RSS) is its own.  Goal: the 20 MB
spec checks (`symspec.loads` + `symspec.pipeline.check`) in well under a minute.

    python benchmarks/bench_parse.py [--lines 2000] [--repeat 7]
    python benchmarks/bench_parse.py --edges-mb 20
"""

from __future__ import annotations

import argparse
import re
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
            f"model add{i}(a{i}: Z{i}, b{i}: Z{i}) -> class(Z{i})",
            f"model dist{i}(u{i}: N{i}, v{i}: N{i}) -> class(R{i})",
            f"model gt{i}(r{i}: R{i}, s{i}: R{i}) -> bool",
            f"law commutes{i}: add{i}(a{i}, b{i}) == add{i}(b{i}, a{i})",
            f"law shift{i}: forall k: Z{i}. add{i}(a{i} + k, b{i}) == add{i}(a{i}, b{i}) + k  [weight 0.5]",
            f"law assoc{i}: add{i}(add{i}(a{i}, b{i}), c{i}) == add{i}(a{i}, add{i}(b{i}, c{i}))",
            f"law tri{i}: dist{i}(u{i}, v{i}) <= dist{i}(u{i}, w{i}) + dist{i}(w{i}, v{i})",
            f"law geo{i}: dist{i}(u{i}, v{i}) == dist{i}(u{i}, w{i}) + dist{i}(w{i}, v{i}) when between(G{i}, u{i}, w{i}, v{i})",
            f"law bt{i}: gt{i}(r{i}, t{i}) == sigmoid(logit(gt{i}(r{i}, s{i})) + logit(gt{i}(s{i}, t{i}))) when r{i} > s{i} > t{i}",
            f"law trans{i}: gt{i}(r{i}, s{i}) and gt{i}(s{i}, t{i}) => gt{i}(r{i}, t{i})",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def generate_edges(megabytes: float, graphs: int = 10, per_line: int = 12, seed: int = 0) -> str:
    """A valid spec of about ``megabytes`` MB: ``graphs`` random graphs given as edge lists, a law on each."""
    import random

    rnd = random.Random(seed)
    per_graph = max(1, int(megabytes * 1e6 / 13.2 / graphs))  # "12345-67890, " is about 13 bytes
    nodes = min(100_000, 2 * per_graph)
    out = ["spec edges", ""]
    for g in range(graphs):
        seen: set = set()
        items = []
        while len(items) < per_graph:
            u, v = rnd.randrange(nodes), rnd.randrange(nodes)
            if u != v and (min(u, v), max(u, v)) not in seen:
                seen.add((min(u, v), max(u, v)))
                items.append(f"{u}-{v}")
        rows = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        out.append(f"graph G{g} = edges(\n    " + ",\n    ".join(rows) + ")")
        out.append(f"domain N{g} = nodes(G{g})")
        out.append(f"model d{g}(u{g}: N{g}, v{g}: N{g}) -> class(3)")
        out.append(f"law s{g}: d{g}(u{g}, v{g}) == d{g}(v{g}, u{g})")
    return "\n".join(out) + "\n"


_STEP = """
import gc, resource, sys, time
from symspec.syntax.parser import _parser, _tables
_parser(); _tables()  # built once a process, as the CLI does
text = open(sys.argv[1], encoding="utf-8").read()
step = sys.argv[2]
gc.disable()
t = time.process_time()
if step == "tokenize":
    from symspec.syntax.lalr import _SCAN
    n = sum(1 for _ in _SCAN.finditer(text))
elif step == "parse":
    from symspec.syntax import parse
    tree = parse(text, "edges.sym")
else:
    import symspec
    from symspec.pipeline import check
    spec = check(symspec.loads(text, "edges.sym"))
print(time.process_time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def edges_main(megabytes: float) -> None:
    """Time tokenizing, parsing and checking an edge-list-heavy spec, each in its own process."""
    text = generate_edges(megabytes)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "edges.sym"
        path.write_text(text, encoding="utf-8")
        rows = []
        for step in ("tokenize", "parse", "check"):
            out = subprocess.run([sys.executable, "-c", _STEP, str(path), step], capture_output=True, text=True, check=True)
            seconds, rss = map(float, out.stdout.split())
            rows.append((step, seconds, rss))
    base = rows[0][1]
    edges = len(re.findall(r"[0-9]-[0-9]", text))
    print(f"spec: {len(text) / 1e6:.1f} MB, {edges} edges in 10 graphs; CPU seconds, one run each in its own process")
    print(f"{'what':44s} {'CPU s':>8s} {'s/MB':>6s} {'x tokenize':>10s} {'max RSS MB':>10s}")
    names = {
        "tokenize": "tokenize with the lexer's regex (baseline)",
        "parse": "symspec parse (text -> AST)",
        "check": "symspec.loads + check (all of it)",
    }
    for step, seconds, rss in rows:
        print(f"{names[step]:44s} {seconds:8.2f} {seconds / (len(text) / 1e6):6.2f} {seconds / base:10.2f} {rss:10.0f}")


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
    ap.add_argument("--edges-mb", type=float, default=None, help="measure an edge-list-heavy spec of about this many MB instead")
    args = ap.parse_args()
    if args.edges_mb is not None:
        edges_main(args.edges_mb)
        return

    import gc

    from symspec.pipeline import analyze, loads
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
