"""Validation throughput: symspec.validate vs a naive per-example Python loop, in the same run.

A 1-layer transformer (examples/train_modular_addition.py's, d_model 128,
4 heads, d_mlp 512, untrained: the timing does not depend on the weights) on
modular addition, p = 113: every one of the 12,769 inputs x every law
(commutes exhaustively; shift and assoc on every input with their k / c
drawn), at the decision level. The loop does the same checks one case at a
time, as a hand-written validation script would (batch of one per forward);
it runs on a subset of the cases and its rate is per case. Goal: >= 50x.

    python benchmarks/bench_validate.py [--device cpu|cuda] [--loop-cases 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from train_modular_addition import Transformer  # noqa: E402

import symspec  # noqa: E402


@torch.inference_mode()
def naive_loop(model, p: int, cases: int, generator) -> int:
    """Per case and law: batch-of-one forwards, argmax, compare (the baseline)."""
    violations = 0
    pairs = torch.randint(0, p, (cases, 2), generator=generator)
    draws = torch.randint(0, p, (cases, 2), generator=generator)
    for i in range(cases):
        a, b = int(pairs[i, 0]), int(pairs[i, 1])
        k, c = int(draws[i, 0]), int(draws[i, 1])

        def f(x, y):
            return int(model(torch.tensor([x]), torch.tensor([y])).argmax(-1))

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
    parser.add_argument("--json", default=None, help="write the figures as JSON")
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = Transformer(args.p).to(device)
    spec = symspec.load(ROOT / "examples" / "modular_addition.sym", params={"p": args.p})
    module = symspec.compile(spec)
    symspec.validate(module, add=model, cap=2000, samples=2000)  # warm-up
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    report = symspec.validate(module, add=model, cap=args.p**2, samples=args.p**2, batch_size=16384)
    sync()
    seconds = time.perf_counter() - t
    cases = sum(law.cases for law in report.laws)
    forwards = cases // 3 * (2 + 2 + 4)  # model evaluations: commutes 2, shift 2, assoc 4 per case
    t = time.perf_counter()
    naive_loop(model.cpu() if device.type == "cpu" else model, args.p, args.loop_cases, torch.Generator().manual_seed(0))
    loop_seconds = time.perf_counter() - t
    model.to(device)
    loop_rate = 3 * args.loop_cases / loop_seconds
    rate = cases / seconds
    result = {
        "device": str(device),
        "modes": {law.name: law.mode for law in report.laws},
        "cases": cases,
        "model_evaluations": forwards,
        "seconds": round(seconds, 3),
        "cases_per_s": round(rate),
        "evaluations_per_s": round(forwards / seconds),
        "loop_cases_per_s": round(loop_rate, 1),
        "speedup_vs_loop": round(rate / loop_rate, 1),
        "loop_extrapolated_s": round(cases / loop_rate, 1),
    }
    print(
        f"symspec.validate, 1-layer transformer, p = {args.p}, {device}: {cases} cases ({report.laws[0].cases} inputs x 3 laws)"
    )
    print(f"  modes: {result['modes']}")
    print(f"  batched: {seconds:.2f} s, {rate:,.0f} cases/s, {forwards / seconds:,.0f} model evaluations/s")
    print(f"  naive loop: {loop_rate:,.1f} cases/s (would take {cases / loop_rate:,.0f} s)")
    print(f"  speed-up: {rate / loop_rate:,.0f}x (goal >= 50x)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
