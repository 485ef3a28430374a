"""Steerable O(3) layers against e3nn's ``o3.Linear`` on the same representations.

Per point (64 clouds x 32 points = 2048 points), 16 channels:

- vectors: symspec ``tensor[N, 3] -> tensor[N, 3] under O(3)`` (pointwise,
  weights shared across points) vs ``o3.Linear("16x1o", "16x1o")``;
- V (x) V: symspec ``tensor[N, 3, 3] -> tensor[N, 3, 3] under O(3)`` (acting by
  ``R M R^T``: one map each on the 0e, 1e and 2e parts) vs
  ``o3.Linear("16x0e + 16x1e + 16x2e", same)``.

Each in its own layout (symspec ``[batch, c, N, 3(, 3)]``, e3nn ``[points,
features]``), forward + backward of ``y.square().sum()``, and eval forward
without gradients; interleaved medians, ratio symspec / e3nn in the same run
(goal: within 1.5x). Also the symmetric(N) x O(3) layer (identity + mean over
the points: twice the maps; no e3nn counterpart) and the cold build time.

    pip install --no-deps e3nn opt_einsum_fx opt_einsum   # keeps the installed torch
    python benchmarks/bench_steerable.py [--repeat 21] [--threads 1]
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
from symspec.runtime import steerable  # noqa: E402

SPEC = """
domain Cloud = tensor[N, 3]
domain Pts = tensor[N, 3, 3]
group R = O(3)
group E = symmetric(N) x R
action R on Pts by matrix(dims=(-2, -1))
layer vec: Cloud -> Cloud under R
layer mat: Pts -> Pts under R
layer vec_sets: Cloud -> Cloud under E
"""


def _step(module, x):
    def run():
        for p in module.parameters():
            p.grad = None
        module(x).square().sum().backward()

    return run


def _eval(module, x):
    def run():
        with torch.no_grad():
            module(x)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--clouds", type=int, default=64)
    parser.add_argument("--points", type=int, default=32)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        from e3nn import o3
    except ImportError:
        print("bench_steerable: e3nn is not installed (pip install --no-deps e3nn opt_einsum_fx opt_einsum); skipped")
        return
    torch.manual_seed(0)
    b, n, c = args.clouds, args.points, args.channels
    t = time.perf_counter()
    mod = symspec.compile(symspec.loads(SPEC, "bench.sym"))
    compile_ms = (time.perf_counter() - t) * 1000
    steerable._ROTATION_CACHE.clear()
    t = time.perf_counter()
    ours = {"vec": mod.LAYERS["vec"](c, c), "mat": mod.LAYERS["mat"](c, c)}
    build_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    theirs = {"vec": o3.Linear(f"{c}x1o", f"{c}x1o"), "mat": o3.Linear(f"{c}x0e+{c}x1e+{c}x2e", f"{c}x0e+{c}x1e+{c}x2e")}
    e3nn_build_ms = (time.perf_counter() - t) * 1000
    xs = {"vec": torch.randn(b, c, n, 3), "mat": torch.randn(b, c, n, 3, 3)}
    flat = {"vec": torch.randn(b * n, 3 * c), "mat": torch.randn(b * n, 9 * c)}
    sets = mod.LAYERS["vec_sets"](c, c)
    print(f"{b} clouds x {n} points, {c} channels, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"build: symspec 2 layers (cold basis) {build_ms:.1f} ms (compiling the spec: {compile_ms:.0f} ms); e3nn 2 layers {e3nn_build_ms:.1f} ms"
    )
    print(f"{'what':58s} {'symspec ms':>10s} {'e3nn ms':>9s} {'ratio':>6s}")
    for key, label in (("vec", f"{c}x1o -> {c}x1o"), ("mat", f"V(x)V = {c}x(0e+1e+2e) -> same")):
        for mode, make in (("fwd+bwd", _step), ("eval fwd", _eval)):
            fns = {"ours": make(ours[key], xs[key]), "e3nn": make(theirs[key], flat[key])}
            if key == "vec" and mode == "fwd+bwd":
                fns["sets"] = make(sets, xs[key])
            med = interleaved_medians(fns, repeat=args.repeat)
            ratio = med["ours"] / med["e3nn"]
            print(f"{label + ', ' + mode:58s} {med['ours'] * 1e3:10.3f} {med['e3nn'] * 1e3:9.3f} {ratio:6.2f}", flush=True)
            if "sets" in med:
                row = f"  symmetric(N) x O(3), {type(sets).__mro__[1].__name__} (identity + mean), {mode}"
                print(f"{row:58s} {med['sets'] * 1e3:10.3f} {'':>9s} {med['sets'] / med['e3nn']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
