"""`symspec check` time, this tree against another checkout, in the same run.

Times `symspec.loads` + `symspec.pipeline.check` on each example spec and on
the generated 2,000-line spec of ``bench_parse.py``, alternating between the
two trees (each measurement in a fresh process, so imports are counted the
same way on both sides), and reports the median milliseconds and the ratio.
Use it to show a change does not slow `check` down beyond noise:

    git worktree add /tmp/base <commit>
    python benchmarks/bench_check_compare.py --base /tmp/base [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PROBE = """
import sys, time
sys.path.insert(0, sys.argv[1])
t = time.perf_counter()
import symspec
from symspec import pipeline
text = open(sys.argv[2], encoding="utf-8").read()
spec = symspec.loads(text, sys.argv[2])
pipeline.check(spec)
print((time.perf_counter() - t) * 1000)
"""


def measure(tree: Path, path: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tree), str(path)], capture_output=True, text=True, check=True, cwd=tempfile.gettempdir()
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="a checkout of the baseline commit")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_parse import generate

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "generated_2000.sym"
        big.write_text(generate(2000), encoding="utf-8")
        specs = sorted((args.base / "examples").glob("*.sym"))
        cases = [(p.name, args.base / "examples" / p.name, ROOT / "examples" / p.name) for p in specs]
        cases.append(("generated 2,000 lines", big, big))
        print(f"{'spec':<26} {'base ms':>9} {'this ms':>9} {'ratio':>7}")
        for name, base_path, this_path in cases:
            if not this_path.exists():
                continue
            base, this = [], []
            for _ in range(args.repeat):
                base.append(measure(args.base, base_path))
                this.append(measure(ROOT, this_path))
            b, t = statistics.median(base), statistics.median(this)
            print(f"{name:<26} {b:9.1f} {t:9.1f} {t / b:7.2f}")


if __name__ == "__main__":
    main()
