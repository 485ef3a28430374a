"""Validation throughput: symspec.validate vs a naive per-example Python loop, in the same run.

A 1-layer transformer (examples/train_modular_addition.py's, d_model 128,
4 heads, d_mlp 512, untrained: the timing does not depend on the weights) on
modular addition, p = 113, at the decision level:

1. every one of the 12,769 inputs x every law (commutes exhaustively; shift
   and assoc on every input with their k / c drawn): 38,307 cases, with the
   model tabulated (evaluated once per input, then indexed: the default);
2. the same with ``tabulate=False`` (no table: each batch evaluates the distinct
   inputs its calls ask for, batched);
3. fully exhaustive: every (a, b), every (a, b, k), every (a, b, c): 2.9 M cases.

The loop does the checks one case at a time, as a hand-written validation
script would (batch of one per forward, each law's calls); it runs on a
subset and its rate is per case. Goal: >= 50x the loop. ``--rounds`` rounds
each time the loop and then every mode (interleaved, so that load drift hits
them alike); the figures are medians, and each mode's range is its per-round
ratio to the loop of the same round.

    python benchmarks/bench_validate.py [--device cpu|cuda] [--loop-cases 300] [--rounds 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from train_modular_addition import Transformer  # noqa: E402

import symspec  # noqa: E402


@torch.inference_mode()
def naive_loop(model, p: int, cases: int, generator, device) -> int:
    """Per input and law: batch-of-one forwards, argmax, compare (the baseline)."""
    violations = 0
    pairs = torch.randint(0, p, (cases, 2), generator=generator)
    draws = torch.randint(0, p, (cases, 2), generator=generator)
    for i in range(cases):
        a, b = int(pairs[i, 0]), int(pairs[i, 1])
        k, c = int(draws[i, 0]), int(draws[i, 1])

        def f(x, y):
            return int(model(torch.tensor([x], device=device), torch.tensor([y], device=device)).argmax(-1))

        ab = f(a, b)
        violations += ab != f(b, a)  # commutes
        violations += f((a + k) % p, b) != (ab + k) % p  # shift
        violations += f(ab, c) != f(a, f(b, c))  # assoc
    return violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--p", type=int, default=113)
    parser.add_argument("--loop-cases", type=int, default=300, help="inputs the naive loop checks (all three laws each)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each timing the loop and every mode in turn")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    parser.add_argument("--json", default=None, help="write the figures as JSON")
    args = parser.parse_args()
    if args.threads:  # one thread: a loaded machine does not stall the loop's and the batches' thread handoffs alike
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    p = args.p
    model = Transformer(p).to(device).eval()
    module = symspec.compile(symspec.load(ROOT / "examples" / "modular_addition.sym", params={"p": p}))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    symspec.validate(module, add=model, cap=2000, samples=2000)  # warm-up
    symspec.validate(module, add=model, cap=2000, samples=2000, tabulate=False)
    naive_loop(model, p, 20, torch.Generator().manual_seed(1), device)

    def timed(**kwargs):
        sync()
        t = time.perf_counter()
        report = symspec.validate(module, add=model, batch_size=16384, **kwargs)
        sync()
        return report, time.perf_counter() - t

    modes = {
        "every input x every law, tabulated": dict(cap=p * p, samples=p * p),
        "every input x every law, not tabulated": dict(cap=p * p, samples=p * p, tabulate=False),
        "fully exhaustive, tabulated": dict(cap=2 * p**3),
    }
    # rounds interleave the loop and the modes (loop, mode 1, 2, 3, loop, ...): load drift hits them alike
    loop_rates, seconds, reports = [], {name: [] for name in modes}, {}
    for _ in range(args.rounds):
        sync()
        t = time.perf_counter()
        naive_loop(model, p, args.loop_cases, torch.Generator().manual_seed(0), device)
        sync()
        loop_rates.append(3 * args.loop_cases / (time.perf_counter() - t))
        for name, kwargs in modes.items():
            reports[name], s = timed(**kwargs)
            seconds[name].append(s)
    loop_rate = statistics.median(loop_rates)
    threads = torch.get_num_threads()
    print(f"symspec.validate, 1-layer transformer (d_model 128, 4 heads, d_mlp 512), p = {p}, {device}, {threads} thread(s)")
    print(f"naive per-case loop: {loop_rate:,.0f} cases/s (median of {args.rounds} rounds)")
    print(
        f"{'what (medians; vs loop: per round, min-max)':50s} {'cases':>9s} {'seconds':>8s} {'cases/s':>11s} {'vs loop':>8s} {'range':>11s}"
    )
    result = {
        "device": str(device),
        "threads": threads,
        "rounds": args.rounds,
        "loop_cases_per_s": round(loop_rate, 1),
        "runs": {},
    }
    for name, report in reports.items():
        cases = sum(law.cases + law.skipped for law in report.laws)
        median = statistics.median(seconds[name])
        rate = cases / median
        ratios = sorted(cases / s / r for s, r in zip(seconds[name], loop_rates))
        spread = f"{ratios[0]:.0f}-{ratios[-1]:.0f}x"
        print(f"{name:50s} {cases:9d} {median:8.2f} {rate:11,.0f} {rate / loop_rate:7.0f}x {spread:>11s}")
        result["runs"][name] = {
            "modes": {law.name: law.mode for law in report.laws},
            "tabulated": report.tabulated,
            "cases": cases,
            "seconds": round(median, 3),
            "cases_per_s": round(rate),
            "speedup_vs_loop": round(rate / loop_rate, 1),
            "speedup_per_round": [round(r, 1) for r in ratios],
        }
    print("goal: >= 50x the loop")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
