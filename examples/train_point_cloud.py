"""An O(3)- and permutation-invariant energy of point clouds: a steerable network vs an MLP and an augmented MLP.

Task: a cloud is N points ``z * (1.5, 1.0, 0.5)`` with ``z`` standard normal,
its points sorted by their first coordinate (one canonical orientation and
order); its energy is a pair potential,

    E(x) = mean over i != j of  2 exp(-r_ij^2 / 2) - exp(-r_ij^2 / 8),   r_ij = |x_i - x_j|,

invariant under permutations of the points and under O(3). Networks train on
canonical clouds and are tested on fresh canonical clouds and on the same
clouds under a random permutation and a random orthogonal matrix each (the
spec's ``augment``, driven by its invariance law), so a network must
generalize to orientations and orders it never saw. The error is the test
mean squared error divided by the variance of the test energies (0: exact,
1: as good as predicting the mean).

Three networks, the same steps, batches and data:

- steerable: ``edges`` (Cloud -> Edges: a vector per pair of points) ->
  ``rt.NormGate`` -> ``edge_mix`` (the 15 pair maps) -> ``rt.rep_norm`` (a
  scalar per pair and channel) -> ``dist_mix`` -> SiLU -> ``dist_mix`` -> SiLU
  -> ``readout`` (Dist -> real), all compiled from
  ``examples/point_cloud_net.sym``; invariant exactly;
- MLP: the flattened cloud (N x 3) -> 128 -> 128 -> 1, SiLU;
- MLP + augmentation: the same MLP trained on batches with a random
  permutation and orthogonal matrix per cloud (the compiled ``augment``).

One flushed line per model and seed, then a summary (mean and sample
standard deviation over the seeds).

    python examples/train_point_cloud.py [--steps 2000] [--channels 12] [--seeds 0 1 2] [--points 8] [--threads 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import symspec
from symspec import runtime as rt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainlib import seed_statistics  # noqa: E402

__all__ = ["make_clouds", "energy", "SteerableNet", "MLP", "main"]

HERE = Path(__file__).resolve().parent
SCALES = (1.5, 1.0, 0.5)


def energy(x: torch.Tensor) -> torch.Tensor:
    """``[b, N, 3] -> [b]``: the mean over ordered pairs i != j of ``2 exp(-r^2 / 2) - exp(-r^2 / 8)``."""
    n = x.shape[1]
    r2 = (x[:, :, None, :] - x[:, None, :, :]).square().sum(-1)
    pair = 2 * torch.exp(-r2 / 2) - torch.exp(-r2 / 8)
    off = ~torch.eye(n, dtype=torch.bool)
    return pair[:, off].mean(-1)


def make_clouds(count: int, points: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Canonical clouds ``[count, points, 3]`` (scaled axes, sorted by the first coordinate) and their energies."""
    x = torch.randn(count, points, 3, generator=generator) * torch.tensor(SCALES)
    order = x[:, :, 0].argsort(dim=1)
    x = torch.gather(x, 1, order[:, :, None].expand_as(x))
    return x, energy(x)


class SteerableNet(torch.nn.Module):
    """Invariant energy from compiled steerable layers; ``[b, N, 3] -> [b]``."""

    def __init__(self, layers: dict, channels: int):
        super().__init__()
        self.edges = layers["edges"](1, channels)
        self.gate = rt.NormGate(channels, rep_dims=(2,))  # Edges: [b, c, N, N, 3], the vector is event dim 2
        self.edge_mix = layers["edge_mix"](channels, channels)
        self.mix1 = layers["dist_mix"](channels, channels)
        self.mix2 = layers["dist_mix"](channels, channels)
        self.readout = layers["readout"](channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.edge_mix(self.gate(self.edges(x[:, None])))
        s = rt.rep_norm(h, (2,), eps=1e-6)  # [b, c, N, N]: invariant
        s = torch.nn.functional.silu(self.mix1(s))
        s = torch.nn.functional.silu(self.mix2(s))
        return self.readout(s)[:, 0]


class MLP(torch.nn.Module):
    """The flattened cloud -> hidden -> hidden -> 1 (SiLU)."""

    def __init__(self, points: int, hidden: int = 128):
        super().__init__()
        nn = torch.nn
        self.net = nn.Sequential(
            nn.Linear(3 * points, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))[:, 0]


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train(model, x, y, steps: int, batch: int, lr: float, generator: torch.Generator, augment=None) -> None:
    """Adam on the squared error of standardized energies, cosine-decayed learning rate."""
    mean, std = float(y.mean()), float(y.std())
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=generator)
        xb = x[idx] if augment is None else augment(x[idx])
        loss = (model(xb) - (y[idx] - mean) / std).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.stats = (mean, std)


def relative_error(model, x: torch.Tensor, y: torch.Tensor) -> float:
    """Test MSE / variance of the test energies."""
    model.eval()
    mean, std = model.stats
    with torch.no_grad():
        pred = model(x) * std + mean
    return float((pred - y).square().mean() / y.var())


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--train", type=int, default=1024)
    parser.add_argument("--test", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.points < 2 or args.steps < 1 or args.batch < 1 or args.channels < 1:
        parser.error("--points must be at least 2, --steps, --batch and --channels at least 1")
    return args


def main(argv=None) -> dict:
    """Train the three networks for each seed, one flushed line per (model, seed); return (and write) the results."""
    args = parse_args(argv)
    mod = symspec.compile(symspec.load(HERE / "point_cloud_net.sym"))

    def rotate(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A random permutation and orthogonal matrix per cloud: the spec's augment (its law `invariant`)."""
        return mod.augment({"x": x}, generator=generator)["x"]

    models = {
        "steerable": ("steerable net (compiled O(3) layers)", lambda: SteerableNet(mod.LAYERS, args.channels), False),
        "mlp": ("MLP", lambda: MLP(args.points), False),
        "mlp_aug": ("MLP + O(3) x S_N augmentation", lambda: MLP(args.points), True),
    }
    result = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        | {"threads": torch.get_num_threads()},
        "models": {key: {"label": label, "runs": {}} for key, (label, _, _) in models.items()},
    }
    for seed in args.seeds:
        data = torch.Generator().manual_seed(seed)
        x_train, y_train = make_clouds(args.train, args.points, data)
        x_test, y_test = make_clouds(args.test, args.points, data)
        x_rot = rotate(x_test, data)
        for key, (label, make, augmented) in models.items():
            torch.manual_seed(seed)
            model = make()
            gen = torch.Generator().manual_seed(seed + 1000)
            start = time.perf_counter()
            train(
                model,
                x_train,
                y_train,
                args.steps,
                args.batch,
                args.lr,
                gen,
                (lambda x, g=gen: rotate(x, g)) if augmented else None,
            )
            seconds = time.perf_counter() - start
            run = {
                "canonical": relative_error(model, x_test, y_test),
                "rotated": relative_error(model, x_rot, energy(x_rot)),
                "seconds": seconds,
            }
            entry = result["models"][key]
            entry["parameters"] = count(model)
            entry["runs"][str(seed)] = run
            print(
                f"{key:9s} seed {seed}  {label:36s} {entry['parameters']:6d} parameters  "
                f"canonical {run['canonical']:.4f}  rotated {run['rotated']:.4f}  {seconds:6.1f} s",
                flush=True,
            )
    print(f"test MSE / variance over seeds {args.seeds} (mean ± sample std), {args.steps} steps:")
    seed_statistics(result["models"], ("rotated", "canonical", "seconds"))
    for entry in result["models"].values():
        print(
            f"  {entry['label']:36s} {entry['parameters']:6d} parameters  rotated {entry['rotated_mean']:.4f} ± "
            f"{entry['rotated_std']:.4f}  canonical {entry['canonical_mean']:.4f}  {entry['seconds_mean']:.1f} s per model",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
