"""Group CNNs (p4, p4m) built from compiled convolutional layers vs a plain CNN and a D4-augmented CNN.

Task: the 12 free pentominoes, one class each (a class does not change under
rotations and flips). An image is a pentomino drawn with 2x2-pixel cells at a
random position on a size x size canvas plus Gaussian noise. The training set
holds every pentomino in ONE fixed orientation (upright); the test set draws
fresh images and applies a uniformly random element of D4 to each (the spec's
``augment``, driven by its invariance law), so a network must generalize to
orientations it never saw. Upright test accuracy is reported too.

Four networks, about the same parameter count, the same steps, batches and data:

- p4 CNN: ``lift4`` (Image -> P4, C4, kernel 3) -> ReLU -> 2x2 max pool ->
  ``conv4`` -> ReLU -> ``conv4`` -> ReLU -> max over the fiber and the grid ->
  linear; invariant to C4 exactly, not to flips;
- p4m CNN: the same with ``lift8`` / ``conv8`` (D4, an 8-dim fiber): invariant to D4;
- plain CNN: ``nn.Conv2d`` layers of the same shape (1 -> w -> w -> w, 3x3,
  the same pooling); width w picked to match the p4 CNN's parameter count;
- augmented CNN: the plain CNN trained on batches with a random D4 element per
  image (the compiled ``augment``).

The layers come from ``examples/image_d4.sym`` compiled at ``--size`` (even,
so 2x2 pooling commutes with rot90 and flips). One line per model and seed as
soon as it is trained (flushed), then a summary: rotated-test accuracy mean
and sample standard deviation over the seeds, parameters, seconds per model.

    python examples/train_image_d4.py [--steps 600] [--seeds 0 1 2] [--size 16] [--threads 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import symspec

__all__ = ["PENTOMINOES", "make_images", "GroupCNN", "PlainCNN", "main"]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainlib import seed_statistics  # noqa: E402

HERE = Path(__file__).resolve().parent

# The 12 free pentominoes in one orientation each ("#" = a cell).
PENTOMINOES = {
    "F": (".##", "##.", ".#."),
    "I": ("#####",),
    "L": ("####", "#..."),
    "N": ("##..", ".###"),
    "P": ("##", "##", "#."),
    "T": ("###", ".#.", ".#."),
    "U": ("#.#", "###"),
    "V": ("#..", "#..", "###"),
    "W": ("#..", "##.", ".##"),
    "X": (".#.", "###", ".#."),
    "Y": ("####", ".#.."),
    "Z": ("##.", ".#.", ".##"),
}
CELL = 2  # pixels per cell side
NOISE = 0.2


def _templates() -> tuple:
    """Templates [12, 5*CELL, 5*CELL] (cells at the top left) and each one's height and width in pixels."""
    side = 5 * CELL
    out = torch.zeros(len(PENTOMINOES), side, side)
    hw = torch.zeros(len(PENTOMINOES), 2, dtype=torch.long)
    for i, rows in enumerate(PENTOMINOES.values()):
        cells = torch.tensor([[c == "#" for c in row] for row in rows], dtype=torch.float32)
        block = torch.kron(cells, torch.ones(CELL, CELL))
        out[i, : block.shape[0], : block.shape[1]] = block
        hw[i] = torch.tensor(block.shape)
    return out, hw


def make_images(n: int, size: int, generator: torch.Generator, noise: float = NOISE) -> tuple:
    """``n`` upright pentomino images [n, size, size] (uniform class and position, Gaussian noise) and labels [n]."""
    templates, hw = _templates()
    side = templates.shape[-1]
    y = torch.randint(0, len(PENTOMINOES), (n,), generator=generator)
    free = size - hw[y]  # how far each shape can move down / right and stay inside
    offset = (torch.rand(n, 2, generator=generator) * (free + 1)).long()
    rows = offset[:, 0, None] + torch.arange(side)  # [n, side]
    cols = offset[:, 1, None] + torch.arange(side)
    canvas = torch.zeros(n, size + side, size + side)  # room for the template's empty part, cropped below
    canvas[torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]] = templates[y]
    canvas = canvas[:, :size, :size]
    return canvas + noise * torch.randn(n, size, size, generator=generator), y


def _pool2(x: torch.Tensor) -> torch.Tensor:
    """2x2 max pool over the last two dims of [B, C, H, W] or [B, C, fiber, H, W]."""
    return F.max_pool2d(x.flatten(0, -4), 2).reshape(*x.shape[:-2], x.shape[-2] // 2, x.shape[-1] // 2)


class GroupCNN(torch.nn.Module):
    """lift -> ReLU -> 2x2 pool -> conv -> ReLU -> conv -> ReLU -> max over the fiber and the grid -> linear."""

    def __init__(self, lift: type, conv: type, fields: int, classes: int):
        super().__init__()
        self.lift = lift(1, fields)
        self.conv1 = conv(fields, fields)
        self.conv2 = conv(fields, fields)
        self.head = torch.nn.Linear(fields, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _pool2(torch.relu(self.lift(x.unsqueeze(1))))  # [B, fields, fiber, H/2, W/2]
        h = torch.relu(self.conv2(torch.relu(self.conv1(h))))
        return self.head(h.amax((-3, -2, -1)))  # max over fiber and grid: invariant


class PlainCNN(torch.nn.Module):
    """The same stack with ``nn.Conv2d`` (3x3, zero padding 1) and no fiber."""

    def __init__(self, width: int, classes: int):
        super().__init__()
        self.lift = torch.nn.Conv2d(1, width, 3, padding=1)
        self.conv1 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(width, width, 3, padding=1)
        self.head = torch.nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = _pool2(torch.relu(self.lift(x.unsqueeze(1))))
        h = torch.relu(self.conv2(torch.relu(self.conv1(h))))
        return self.head(h.amax((-2, -1)))


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def closest(make, target: int, widths: range):
    """The width in ``widths`` whose model's parameter count is closest to ``target``."""
    return min(widths, key=lambda w: abs(count(make(w)) - target))


def train(model, x, y, steps: int, batch: int, lr: float, generator: torch.Generator, augment=None) -> None:
    """Adam on random minibatches (drawn with ``generator``); ``augment(x_batch)`` transforms each batch."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=generator)
        xb = x[idx] if augment is None else augment(x[idx])
        opt.zero_grad()
        F.cross_entropy(model(xb), y[idx]).backward()
        opt.step()


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(-1) == y).float().mean())


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--size", type=int, default=16, help="image side in pixels (even, at least 10)")
    ap.add_argument("--train", type=int, default=2048, help="upright training images")
    ap.add_argument("--test", type=int, default=2048, help="test images (each upright and D4-transformed)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--fields", type=int, default=8, help="regular fields of the p4 CNN (the others match its size)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the figures are per core)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    for name in ("steps", "train", "test", "batch", "fields", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be positive, got {getattr(args, name)}")
    if args.size < 5 * CELL or args.size % 2:
        ap.error(f"--size must be even and at least {5 * CELL} (a pentomino spans {5 * CELL} pixels), got {args.size}")
    if len(set(args.seeds)) != len(args.seeds):
        ap.error(f"--seeds must be distinct, got {args.seeds}")
    if not args.lr > 0:
        ap.error(f"--lr must be positive, got {args.lr}")
    if args.json is not None and (args.json.is_dir() or not args.json.resolve().parent.is_dir()):
        ap.error(f"--json {args.json}: cannot write there (a directory, or its folder does not exist)")
    return args


def main(argv=None) -> dict:
    """Train the four networks for each seed, one flushed line per (model, seed); return (and write) the results."""
    args = parse_args(argv)
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(previous)


def run(args) -> dict:
    """The body of :func:`main` on parsed arguments."""
    mod = symspec.compile(symspec.load(HERE / "image_d4.sym", params={"size": args.size}))
    layers = mod.LAYERS
    classes = len(PENTOMINOES)

    def d4(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A uniformly random element of D4 per image: the spec's augment (its law `invariant`)."""
        return mod.augment({"x": x}, generator=generator)["x"]

    def p4m(fields: int) -> GroupCNN:
        return GroupCNN(layers["lift8"], layers["conv8"], fields, classes)

    n_p4 = count(GroupCNN(layers["lift4"], layers["conv4"], args.fields, classes))
    p4m_fields = closest(p4m, n_p4, range(1, 4 * args.fields + 1))
    width = closest(lambda w: PlainCNN(w, classes), n_p4, range(1, 16 * args.fields + 1))
    models = {  # key: (label, factory, trained with D4 augmentation)
        "p4": ("p4 CNN (compiled C4 convs)", lambda: GroupCNN(layers["lift4"], layers["conv4"], args.fields, classes), False),
        "p4m": ("p4m CNN (compiled D4 convs)", lambda: p4m(p4m_fields), False),
        "cnn": ("plain CNN", lambda: PlainCNN(width, classes), False),
        "cnn_aug": ("plain CNN + D4 augmentation", lambda: PlainCNN(width, classes), True),
    }
    result = {
        "config": {
            "steps": args.steps,
            "seeds": args.seeds,
            "size": args.size,
            "train": args.train,
            "test": args.test,
            "batch": args.batch,
            "lr": args.lr,
            "p4_fields": args.fields,
            "p4m_fields": p4m_fields,
            "cnn_width": width,
            "threads": torch.get_num_threads(),
        },
        "models": {key: {"label": label, "runs": {}} for key, (label, _, _) in models.items()},
    }
    for seed in args.seeds:
        data = torch.Generator().manual_seed(seed)
        x_train, y_train = make_images(args.train, args.size, data)
        x_test, y_test = make_images(args.test, args.size, data)
        x_rot = d4(x_test, data)
        for key, (label, make, augmented) in models.items():
            torch.manual_seed(seed)
            model = make()
            gen = torch.Generator().manual_seed(seed + 1000)
            start = time.perf_counter()
            train(
                model, x_train, y_train, args.steps, args.batch, args.lr, gen, (lambda x, g=gen: d4(x, g)) if augmented else None
            )
            seconds = time.perf_counter() - start
            scores = {"upright": accuracy(model, x_test, y_test), "rotated": accuracy(model, x_rot, y_test), "seconds": seconds}
            entry = result["models"][key]
            entry["parameters"] = count(model)
            entry["runs"][str(seed)] = scores
            print(
                f"{key:8s} seed {seed}  {label:30s} {entry['parameters']:6d} parameters  "
                f"upright {scores['upright']:.3f}  rotated {scores['rotated']:.3f}  {seconds:6.1f} s",
                flush=True,
            )
    print(f"rotated-test accuracy over seeds {args.seeds} (mean ± sample std), {args.steps} steps:")
    seed_statistics(result["models"], ("rotated", "upright", "seconds"))
    for entry in result["models"].values():
        print(
            f"  {entry['label']:30s} {entry['parameters']:6d} parameters  rotated {entry['rotated_mean']:.3f} ± "
            f"{entry['rotated_std']:.3f}  upright {entry['upright_mean']:.3f}  {entry['seconds_mean']:.1f} s per model",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
