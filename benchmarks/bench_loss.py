"""Compiled symmetry losses against handwritten PyTorch, forward + backward per step.

1. The compiled commutativity loss vs the same loss written by hand (two
   forwards, and one concatenated forward), goal: ratio <= 1.05.
2. commutes + shift + assoc with fused model calls vs one forward per call.

Model: the issue-7 MLP on modular addition (embed 64, 128-128-p), p = 113,
batch 4096, float32.

    python benchmarks/bench_loss.py [--device cpu|cuda] [--batch 4096]
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
    args = ap.parse_args()
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

    t = interleaved_medians(
        {
            "compiled": step_compiled,
            "two": handwritten_two,
            "one": handwritten_one,
            "fused": step(fused),
            "unfused": step(unfused),
        },
        args.repeat,
        sync=sync,
    )
    rows = [
        ("commutativity, compiled (default fusing)", t["compiled"], None),
        ("commutativity, handwritten, two forwards", t["two"], t["compiled"] / t["two"]),
        ("commutativity, handwritten, one concatenated forward", t["one"], t["compiled"] / t["one"]),
        ("commutes + shift + assoc, fused calls", t["fused"], None),
        ("commutes + shift + assoc, one forward per call", t["unfused"], t["fused"] / t["unfused"]),
    ]
    print(f"device {device}, batch {args.batch}, p {p}, median of {args.repeat} forward+backward steps")
    print(f"{'what':55s} {'ms/step':>9s} {'compiled/this':>14s}")
    for name, t, ratio in rows:
        r = f"{ratio:14.3f}" if ratio is not None else ""
        print(f"{name:55s} {t * 1000:9.2f} {r}")


if __name__ == "__main__":
    main()
