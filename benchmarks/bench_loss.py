"""Compiled symmetry losses against handwritten PyTorch, forward + backward per step.

1. The compiled commutativity loss vs the same loss written by hand (two
   forwards, and one concatenated forward), goal: ratio <= 1.05.
2. commutes + shift + assoc with fused model calls vs one forward per call.

3. With ``--compile BACKEND`` (eager, aot_eager or inductor; off by default):
   the same steps under ``torch.compile(..., fullgraph=True)`` against eager,
   the compiled symspec loss against the compiled handwritten one, and the
   compiled symspec loss against the eager handwritten one (goal: <= 1.0).
   Compile time is excluded (the warm-up rounds compile).

Model: the issue-7 MLP on modular addition (embed 64, 128-128-p), p = 113,
batch 4096, float32.

    python benchmarks/bench_loss.py [--device cpu|cuda] [--batch 4096] [--compile inductor] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved_medians  # noqa: E402

import symspec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class MLP(torch.nn.Module):
    def __init__(self, p: int):
        super().__init__()
        self.embed = torch.nn.Embedding(p, 64)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Linear(128, p)
        )

    def forward(self, a, b):
        return self.net(torch.cat([self.embed(a), self.embed(b)], -1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--compile", choices=["eager", "aot_eager", "inductor"], help="also time torch.compile'd steps")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    args = ap.parse_args()
    if args.threads:  # one thread: figures a loaded machine does not distort by stalling thread handoffs
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    p = 113
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    model = MLP(p).to(device)
    a = torch.randint(0, p, (args.batch,), device=device)
    b = torch.randint(0, p, (args.batch,), device=device)
    batch = {"a": a, "b": b}

    only_commutes = symspec.loads(
        "domain Zp = cyclic(113)\nmodel add(a: Zp, b: Zp) -> class(Zp)\nlaw commutes: add(a, b) == add(b, a)\n", "c.sym"
    )
    compiled = symspec.compile(only_commutes).SymmetryLoss(add=model)  # default: fused on accelerators only

    def step_compiled():
        model.zero_grad(set_to_none=True)
        compiled(batch).backward()

    def handwritten_two():
        model.zero_grad(set_to_none=True)
        lp = torch.log_softmax(model(a, b), -1)
        lq = torch.log_softmax(model(b, a), -1)
        (0.5 * ((lp.exp() - lq.exp()) * (lp - lq)).sum(-1)).mean().backward()

    def handwritten_one():
        model.zero_grad(set_to_none=True)
        out = model(torch.cat([a, b]), torch.cat([b, a]))
        lp, lq = torch.log_softmax(out, -1).chunk(2)
        (0.5 * ((lp.exp() - lq.exp()) * (lp - lq)).sum(-1)).mean().backward()

    full = symspec.compile(symspec.load(ROOT / "examples" / "modular_addition.sym"))
    fused = full.SymmetryLoss(add=model, generator=torch.Generator(device=device).manual_seed(0), fused=True)
    unfused = full.SymmetryLoss(add=model, generator=torch.Generator(device=device).manual_seed(0), fused=False)

    def step(loss):
        def run():
            model.zero_grad(set_to_none=True)
            loss(batch).backward()

        return run

    fns = {
        "compiled": step_compiled,
        "two": handwritten_two,
        "one": handwritten_one,
        "fused": step(fused),
        "unfused": step(unfused),
    }
    if args.compile:
        # compiled code draws from the global stream (a torch.Generator is not traceable: docs/compile.md)
        def tc(fn):
            return torch.compile(fn, backend=args.compile, fullgraph=True)

        commutes_tc = tc(symspec.compile(only_commutes).SymmetryLoss(add=model))
        full_tc = tc(full.SymmetryLoss(add=model, fused=False))
        full_eager = full.SymmetryLoss(add=model, fused=False)

        def two_value(a, b):
            lp = torch.log_softmax(model(a, b), -1)
            lq = torch.log_softmax(model(b, a), -1)
            return (0.5 * ((lp.exp() - lq.exp()) * (lp - lq)).sum(-1)).mean()

        two_tc = tc(two_value)

        def handwritten_two_tc():
            model.zero_grad(set_to_none=True)
            two_tc(a, b).backward()

        fns.update(
            {
                "compiled_tc": step(commutes_tc),
                "two_tc": handwritten_two_tc,
                "full_tc": step(full_tc),
                "full_eager": step(full_eager),
            }
        )
    t = interleaved_medians(fns, args.repeat, sync=sync)
    rows = [
        ("commutativity, compiled (default fusing)", t["compiled"], None),
        ("commutativity, handwritten, two forwards", t["two"], t["compiled"] / t["two"]),
        ("commutativity, handwritten, one concatenated forward", t["one"], t["compiled"] / t["one"]),
        ("commutes + shift + assoc, fused calls", t["fused"], None),
        ("commutes + shift + assoc, one forward per call (ratio: fused / this)", t["unfused"], t["fused"] / t["unfused"]),
    ]
    if args.compile:
        c = f"torch.compile({args.compile})"
        rows += [
            (f"commutativity, symspec loss, {c} (ratio: / eager)", t["compiled_tc"], t["compiled_tc"] / t["compiled"]),
            (f"commutativity, handwritten two forwards, {c}", t["two_tc"], None),
            ("  symspec compiled / handwritten compiled", t["compiled_tc"], t["compiled_tc"] / t["two_tc"]),
            ("  symspec compiled / handwritten eager (two forwards)", t["compiled_tc"], t["compiled_tc"] / t["two"]),
            ("commutes + shift + assoc, one forward per call, eager, global stream", t["full_eager"], None),
            (f"  the same, {c} (ratio: / eager)", t["full_tc"], t["full_tc"] / t["full_eager"]),
        ]
    print(
        f"device {device}, {torch.get_num_threads()} thread(s), batch {args.batch}, p {p}, "
        f"median of {args.repeat} forward+backward steps"
    )
    print(f"{'what (ratio: the first row over this one, unless the row says)':70s} {'ms/step':>9s} {'ratio':>8s}")
    for name, t, ratio in rows:
        r = f"{ratio:8.3f}" if ratio is not None else ""
        print(f"{name:70s} {t * 1000:9.2f} {r}")


if __name__ == "__main__":
    main()
