"""Train a small D4-equivariant network built from compiled layers, against a plain MLP.

Synthetic task, invariant under rotations and flips: an 8x8 image is noise
plus a bright 2x2 blob; the label says whether the blob touches the border
(class 1) or sits in the interior (class 0). Both networks train for the same
steps on 256 images; the test set is 2048 fresh images. The equivariant
network is built from `examples/image_d4.sym`'s layers: conv (D4-equivariant,
weights tied by orbits) -> ReLU (pointwise: it commutes with permutations of
pixels) -> readout (D4-invariant) -> logits.

    python examples/train_image_d4.py [--steps 300] [--seed 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import symspec

HERE = Path(__file__).resolve().parent


def make_data(n: int, size: int, generator: torch.Generator) -> tuple:
    x = 0.3 * torch.randn(n, size, size, generator=generator)
    rows = torch.randint(0, size - 1, (n,), generator=generator)
    cols = torch.randint(0, size - 1, (n,), generator=generator)
    idx = torch.arange(n)
    for dr in (0, 1):
        for dc in (0, 1):
            x[idx, rows + dr, cols + dc] += 2.0
    border = (rows == 0) | (cols == 0) | (rows == size - 2) | (cols == size - 2)
    return x, border.long()


def train(model: torch.nn.Module, x, y, steps: int, lr: float) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())


def main(argv=None) -> dict:
    """Train both networks, printing each one's line as soon as it is trained (flushed: a pipe sees it then)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error(f"--steps must be positive, got {args.steps}")
    if args.json is not None and (args.json.is_dir() or not args.json.resolve().parent.is_dir()):
        ap.error(f"--json {args.json}: cannot write there (a directory, or its folder does not exist)")
    size = 8
    g = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    x_train, y_train = make_data(256, size, g)
    x_test, y_test = make_data(2048, size, g)

    mod = symspec.compile(symspec.load(HERE / "image_d4.sym", params={"size": size}))
    hidden = 8

    class Equivariant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = mod.LAYERS["conv"](1, hidden)
            self.readout = mod.LAYERS["readout"](hidden, 2)

        def forward(self, x):
            return self.readout(torch.relu(self.conv(x.unsqueeze(1))))

    equivariant = Equivariant()
    n_eq = sum(p.numel() for p in equivariant.parameters())
    width = max(2, n_eq // (size * size + 2 + 1))  # a one-hidden-layer MLP of about the same size
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(size * size, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))
    n_mlp = sum(p.numel() for p in mlp.parameters())
    result = {"config": {"steps": args.steps, "seed": args.seed, "train": 256, "test": 2048, "size": size}}
    for key, label, model, n in (
        ("equivariant", "equivariant (compiled D4 layers):", equivariant, n_eq),
        ("mlp", "plain MLP:", mlp, n_mlp),
    ):
        train(model, x_train, y_train, args.steps, 1e-2)
        result[key] = {
            "parameters": n,
            "train_acc": accuracy(model, x_train, y_train),
            "test_acc": accuracy(model, x_test, y_test),
        }
        print(f"{label:<34}{n} parameters, test accuracy {result[key]['test_acc']:.3f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
