"""Run every benchmark and the three paper trainers over seeds; write benchmarks/RESULTS.md.

    python benchmarks/run_all.py                      # everything, seeds 0,1,2 (about an hour on a 2-core CPU)
    python benchmarks/run_all.py --skip-benchmarks    # only the trainers
    python benchmarks/run_all.py --device cuda --transformer   # add the paper's p = 113 transformer row

The benchmarks' own output (each times its baseline in the same run) is
copied into RESULTS.md verbatim; the trainers' steps-to-100%-test-accuracy
are tabulated per task and law set: median and range over the seeds, and
the speed-up of the median against the baseline's (no laws) median.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = [
    "bench_parse.py",
    "bench_analysis.py",
    "bench_loss.py",
    "bench_augment.py",
    "bench_layers.py",
    "bench_conv.py",
    "bench_steerable.py",
    "bench_validate.py",
    "bench_data.py",
]
TRAINERS = [  # (script, extra flags, law sets, label)
    ("train_modular_addition.py", [], ["none", "commutes", "commutes,shift", "all"], "modular addition, p 59, 40% train, MLP"),
    ("train_graph_distance.py", [], ["none", "symmetric", "all"], "graph distance, 7x7 grid, 80% train, MLP"),
    ("train_graph_distance.py", ["--graph", "cycle64"], ["none", "symmetric", "all"], "graph distance, cycle 64, 80% train, MLP"),
    ("train_comparison.py", [], ["none", "antisymmetric", "all"], "comparison, m 40, 20% train, MLP"),
]
TRANSFORMER = (
    "train_modular_addition.py",
    ["--arch", "transformer", "--p", "113", "--frac", "0.3"],
    ["none", "commutes", "commutes,shift"],
    "modular addition, p 113, 30% train, 1-layer transformer (paper config)",
)


def machine(device: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}; device {device}"
    if device.startswith("cuda") and torch.cuda.is_available():
        text += f" ({torch.cuda.get_device_name()})"
    return text


def run_benchmark(name: str, device: str) -> tuple[str, float]:
    args = [sys.executable, str(ROOT / "benchmarks" / name)]
    if name in ("bench_loss.py", "bench_augment.py", "bench_validate.py"):
        args += ["--device", device]
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    out = proc.stdout + (f"\n[exit {proc.returncode}]\n{proc.stderr[-2000:]}" if proc.returncode else "")
    return out.strip(), time.perf_counter() - started


def _result_path(results: Path, script: str, extra: list, seed: int) -> Path:
    return results / f"{Path(script).stem}-{'-'.join(x.lstrip('-') for x in extra) or 'default'}-seed{seed}.json"


def run_trainer(script: str, extra: list, sets: list, seed: int, device: str, max_steps: int | None, results: Path) -> list:
    out = _result_path(results, script, extra, seed)
    args = [sys.executable, str(ROOT / "examples" / script), *extra, "--seed", str(seed), "--device", device, "--json", str(out)]
    args += [x for s in sets for x in ("--laws", s)] + ["--no-progress"]
    if max_steps:
        args += ["--max-steps", str(max_steps)]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{script} failed:\n{proc.stderr[-3000:]}")
    print(proc.stdout, flush=True)
    data = json.loads(out.read_text())
    return data["runs"] if "runs" in data else [data]


def _label(laws: list, all_laws: list) -> str:
    if not laws:
        return "none (baseline)"
    return "all" if laws == all_laws and len(laws) > 2 else ",".join(laws)


def _coverage(results: dict, seeds: list) -> dict:
    """Tasks run on fewer seeds than asked: their seeds, device and step caps."""
    out = {}
    for label, by_set in results.items():
        runs = [r for rs in by_set.values() for r in rs]
        found = sorted({r["config"]["seed"] for r in runs})
        if found != sorted(seeds):
            caps = ", ".join(f"{name} {rs[0]['config']['max_steps']}" for name, rs in by_set.items())
            out[label] = (found, runs[0]["config"]["device"], caps)
    return out


def trainer_table(results: dict) -> list:
    lines = [
        "| task | laws | steps to 100% test acc (median) | range over seeds | speed-up vs baseline (medians) "
        "| per-seed speed-ups | final test acc (median) |",
        "|---|---|---:|---|---:|---|---:|",
    ]
    for label, by_set in results.items():
        base = by_set.get("none (baseline)")
        for name, runs in by_set.items():
            steps = [r["steps_to_acc"]["1.0"] for r in runs]
            cap = runs[0]["config"]["max_steps"]
            reached = [s for s in steps if s is not None]
            shown = [str(s) if s is not None else f">{cap}" for s in steps]
            median = statistics.median([s if s is not None else float("inf") for s in steps])
            med = "never" if median == float("inf") else f"{median:g}"
            speed, per_seed = "-", "-"
            if base is not None and name != "none (baseline)":
                bsteps = [r["steps_to_acc"]["1.0"] for r in base]
                bcap = base[0]["config"]["max_steps"]  # a baseline that never got there: at least its cap
                bmed = statistics.median([s if s is not None else float("inf") for s in bsteps])
                if reached and median != float("inf"):
                    speed = f"{bmed / median:.1f}x" if bmed != float("inf") else f">{bcap / median:.1f}x"
                ratios = []
                for b, s in zip(bsteps, steps):
                    if s is None:
                        ratios.append("-")
                    else:
                        ratios.append(f"{b / s:.1f}x" if b is not None else f">{bcap / s:.1f}x")
                per_seed = ", ".join(ratios)
            final = statistics.median(r["final_test_acc"] for r in runs)
            lines.append(f"| {label} | {name} | {med} | {', '.join(shown)} | {speed} | {per_seed} | {final:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-steps", type=int, default=None, help="cap every training run (default: the trainers')")
    parser.add_argument("--skip-benchmarks", action="store_true")
    parser.add_argument("--skip-trainers", action="store_true")
    parser.add_argument("--transformer", action="store_true", help="add the paper's transformer config (GPU advised)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "results"), help="raw outputs kept here")
    parser.add_argument("--render-only", action="store_true", help="rebuild RESULTS.md from --results without running")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    store = Path(args.results)
    store.mkdir(parents=True, exist_ok=True)
    sections, bench = [], []
    if not args.skip_benchmarks:  # first: the timings want a quiet machine
        bench += ["## Benchmarks (each against its baseline in the same run)", ""]
        for name in BENCHMARKS:
            kept = store / f"{Path(name).stem}.txt"
            if args.render_only:
                if not kept.exists():
                    continue
                head, _, out = kept.read_text().partition("\n")
                seconds = float(head.split()[0])
            else:
                out, seconds = run_benchmark(name, args.device)
                kept.write_text(f"{seconds:.1f} s\n{out}\n")
                print(f"{name}: {seconds:.0f} s", flush=True)
            bench += [f"### `python benchmarks/{name}`  ({seconds:.0f} s)", "", "```", out.strip(), "```", ""]
    if not args.skip_trainers:
        trainers = TRAINERS + ([TRANSFORMER] if args.transformer else [])
        results: dict = {}
        implied: dict = {}
        for script, extra, sets, label in trainers:
            by_set: dict = {}
            for seed in seeds:
                if args.render_only:
                    path = _result_path(store, script, extra, seed)
                    if not path.exists():
                        continue
                    data = json.loads(path.read_text())
                    runs = data["runs"] if "runs" in data else [data]
                else:
                    runs = run_trainer(script, extra, sets, seed, args.device, args.max_steps, store)
                for run in runs:
                    all_laws = run["config"].get("all_laws", [])
                    by_set.setdefault(_label(run["config"]["laws"], all_laws), []).append(run)
                    if "implied_by_train" in run["config"]:
                        implied.setdefault(label, set()).add(run["config"]["implied_by_train"])
            if by_set:
                results[label] = by_set
        sections += [
            "## Steps to 100% test accuracy",
            "",
            f"Full-batch AdamW, seeds {args.seeds}; a run stops when test accuracy first reaches 1.0 (evaluated every",
            "100 steps). Speed-up: the baseline's median steps over the law set's. Commands:",
            "`python examples/train_*.py --seed S --laws ...` (see each script's --help).",
            "",
            *trainer_table(results),
            "",
            *[
                f"{label}: only seed(s) {', '.join(map(str, found))} run, on {device}; max steps per law set: {caps}."
                for label, (found, device, caps) in _coverage(results, seeds).items()
            ],
            *[
                f"{label}: the training pairs imply the answer of {min(v):.1%}-{max(v):.1%} of the test pairs "
                "(transitivity, antisymmetry); the rest need priors, so 100% is not reachable by deduction."
                for label, v in implied.items()
            ],
            "",
        ]
    sections += bench
    head = [
        "# symspec results",
        "",
        (
            f"Rendered by `python benchmarks/run_all.py --render-only` on {time.strftime('%Y-%m-%d')} from the raw "
            "outputs kept in `benchmarks/results/` (each run's JSON, each benchmark's output)."
            if args.render_only
            else f"Written by `python benchmarks/run_all.py` on {time.strftime('%Y-%m-%d')} in "
            f"{time.perf_counter() - started:.0f} s; raw outputs in `benchmarks/results/`."
        ),
        "",
        f"Machine: {machine(args.device)}.",
        "",
    ]
    Path(args.out).write_text("\n".join(head + sections).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
