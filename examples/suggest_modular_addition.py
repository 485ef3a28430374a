"""symspec suggest on 40% of the modular-addition table (p = 59): the laws come back from the data alone.

    python examples/suggest_modular_addition.py [--p 59] [--fraction 0.4] [--seed 0] [--out DIR]

Writes the seeded 40% subset to DIR/modular_addition_40.pt (columns a, b,
target), runs ``symspec suggest`` on it with the signature only, prints the
suggested spec, and checks that it names commutativity and the shift law.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch

from symspec.cli import main as symspec_main


def subset(p: int, fraction: float, seed: int) -> dict:
    """A seeded ``fraction`` of every (a, b) with its label (a + b) mod p."""
    g = torch.Generator().manual_seed(seed)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.flatten(), b.flatten()
    keep = torch.randperm(p * p, generator=g)[: int(fraction * p * p)]
    return {"a": a[keep], "b": b[keep], "target": (a[keep] + b[keep]) % p}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=int, default=59)
    parser.add_argument("--fraction", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="where to write the data and the spec (default: a temporary folder)")
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="symspec_suggest_")
    os.makedirs(out, exist_ok=True)
    data = os.path.join(out, f"modular_addition_{round(100 * args.fraction)}.pt")
    torch.save(subset(args.p, args.fraction, args.seed), data)
    spec = os.path.join(out, "suggested.sym")
    p = args.p
    signature = f"add(a: cyclic({p}), b: cyclic({p})) -> class(cyclic({p}))"
    print(f'$ symspec suggest --data {data} --signature "{signature}" -o {spec}')
    code = symspec_main(["suggest", "--data", data, "--signature", signature, "-o", spec])
    if code:
        return code
    with open(spec, encoding="utf-8") as f:
        text = f.read()
    print(text)
    found = {
        "commutes": "law swap_a_b: add(a, b) == add(b, a)" in text,
        "shift": f"law shift_a: forall k: cyclic({p}). add(a + k, b) == add(a, b) + k" in text,
    }
    for name, ok in found.items():
        print(f"{name}: {'recovered' if ok else 'NOT recovered'}")
    print(f"$ symspec check {spec}")
    code = symspec_main(["check", spec])
    return 0 if code == 0 and all(found.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
