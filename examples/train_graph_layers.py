"""Message passing built from compiled graph layers vs an MLP on the flattened adjacency (with and without augmentation).

Task: for each node of a random graph, the number of other nodes within
distance 2 (its neighbours and their neighbours). Graphs are Erdos-Renyi on
``--nodes`` nodes with an edge probability drawn per graph from
[0.05, 0.35]. Relabelling the nodes permutes the counts the same way: the
spec's law ``equivariant`` (``examples/graph_layers.sym``).

Three networks, about the same parameter count, the same steps, batches and data:

- message passing: ``embed`` (Adj -> Hidden, pair to nodes) -> ReLU, then per
  round ``message`` (Hidden -> Message, nodes to pair), multiplied elementwise
  by the adjacency, ``aggregate`` (Message -> Hidden, pair to nodes) plus
  ``update`` (Hidden -> Hidden) -> ReLU; ``readout`` (Hidden -> Count). Every
  layer is compiled from the spec (``hidden`` features per node on a trailing
  dim, one channel); the network commutes with every relabelling exactly;
- MLP: the flattened adjacency (N^2 inputs) -> two ReLU layers -> N counts,
  its width picked to match the message-passing network's parameter count;
- MLP + augmentation: the same MLP trained on batches with a uniformly random
  relabelling per graph (the compiled ``augment``, driven by the law).

Reported per model and seed on ``--test`` fresh graphs: mean absolute error,
exact-count accuracy (rounded prediction == count), and the equivariance
error ``max |f(g . a) - g . f(a)|`` over one random relabelling per graph.
One line per model and seed as soon as it is trained (flushed), then a
summary (mean ± sample standard deviation over the seeds).

    python examples/train_graph_layers.py [--steps 3000] [--rounds 3] [--seeds 0 1 2] [--nodes 12] [--threads 1] [--json OUT]
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

__all__ = ["random_graphs", "within_two", "MessagePassing", "MLP", "main"]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainlib import seed_statistics  # noqa: E402

HERE = Path(__file__).resolve().parent
P_LOW, P_HIGH = 0.05, 0.35


def random_graphs(count: int, nodes: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` Erdos-Renyi adjacency tensors [count, nodes, nodes] (symmetric, 0/1, empty diagonal), each with its
    own edge probability, uniform in [P_LOW, P_HIGH]."""
    p = P_LOW + (P_HIGH - P_LOW) * torch.rand(count, 1, 1, generator=generator)
    upper = (torch.rand(count, nodes, nodes, generator=generator) < p).triu(1)
    return (upper | upper.transpose(1, 2)).float()


def within_two(a: torch.Tensor) -> torch.Tensor:
    """Per node, how many other nodes lie within distance 2: ``[..., N, N] -> [..., N]``."""
    reach = (a + a @ a) > 0
    reach = reach & ~torch.eye(a.shape[-1], dtype=torch.bool, device=a.device)
    return reach.sum(-1).to(a.dtype)


class MessagePassing(torch.nn.Module):
    """``embed`` -> ReLU, ``rounds`` x (``message`` * adjacency -> ``aggregate``, + ``update``, ReLU), ``readout``.

    ``layers`` are the compiled classes of examples/graph_layers.sym (one channel each: the node and message
    features are the layers' trailing feature dims). Input ``[batch, N, N]``, output ``[batch, N]``; any N.
    """

    def __init__(self, layers: dict, rounds: int = 3):
        super().__init__()
        self.embed = layers["embed"](1, 1)
        self.message = torch.nn.ModuleList(layers["message"](1, 1) for _ in range(rounds))
        self.aggregate = torch.nn.ModuleList(layers["aggregate"](1, 1) for _ in range(rounds))
        self.update = torch.nn.ModuleList(layers["update"](1, 1) for _ in range(rounds))
        self.readout = layers["readout"](1, 1)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        adj = a.unsqueeze(1)  # [b, 1, N, N]: one channel
        h = torch.relu(self.embed(adj))  # [b, 1, N, hidden]
        for message, aggregate, update in zip(self.message, self.aggregate, self.update):
            m = message(h) * adj.unsqueeze(-1)  # [b, 1, N, N, hidden]: only along edges
            h = torch.relu(aggregate(m) + update(h))
        return self.readout(h)[:, 0]


class MLP(torch.nn.Module):
    """The flattened adjacency -> Linear -> ReLU -> Linear -> ReLU -> Linear -> one count per node."""

    def __init__(self, nodes: int, width: int):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(nodes * nodes, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, nodes),
        )

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.net(a.flatten(1))


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train(model, a, y, steps: int, batch: int, lr: float, generator: torch.Generator, augment=None) -> None:
    """Adam on the mean squared error over random minibatches (drawn with ``generator``); ``augment(a, y)``
    transforms each batch."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, a.shape[0], (batch,), generator=generator)
        ab, yb = (a[idx], y[idx]) if augment is None else augment(a[idx], y[idx])
        opt.zero_grad()
        F.mse_loss(model(ab), yb).backward()
        opt.step()


def evaluate(model, a, y, generator: torch.Generator) -> dict:
    """Test MAE, exact-count accuracy, and the largest ``|f(g . a) - g . f(a)|`` (one random relabelling per graph)."""
    with torch.no_grad():
        pred = model(a)
        perm = torch.argsort(torch.rand(a.shape[0], a.shape[1], generator=generator), dim=1)  # [b, N], uniform
        rows = torch.arange(a.shape[0])[:, None]
        moved = a[rows[:, :, None], perm[:, :, None], perm[:, None, :]]  # (g . a)_ij = a_{perm_i, perm_j}
        err = (model(moved) - pred[rows, perm]).abs().max()
    return {
        "mae": float((pred - y).abs().mean()),
        "exact": float((pred.round() == y).float().mean()),
        "equivariance_error": float(err),
    }


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--nodes", type=int, default=12, help="nodes per graph")
    ap.add_argument("--train", type=int, default=1024, help="training graphs")
    ap.add_argument("--test", type=int, default=2048, help="test graphs")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--hidden", type=int, default=16, help="features per node of the message-passing network")
    ap.add_argument("--rounds", type=int, default=3, help="message-passing rounds")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (small models: one avoids contention)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    for name in ("steps", "nodes", "train", "test", "batch", "hidden", "rounds", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be positive, got {getattr(args, name)}")
    if not args.lr > 0:
        ap.error(f"--lr must be positive, got {args.lr}")
    if args.json is not None and (args.json.is_dir() or not args.json.resolve().parent.is_dir()):
        ap.error(f"--json {args.json}: cannot write there (a directory, or its folder does not exist)")
    return args


def main(argv=None) -> dict:
    """Train the three networks for each seed, one flushed line per (model, seed); return (and write) the results."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    mod = symspec.compile(symspec.load(HERE / "graph_layers.sym", params={"hidden": args.hidden}))

    def relabel(a: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple:
        """A uniformly random relabelling per graph: the spec's augment (its law ``equivariant``)."""
        out = mod.augment({"a": a, "target": y}, generator=generator)
        return out["a"], out["target"]

    def mpnn():
        return MessagePassing(mod.LAYERS, args.rounds)

    n_mpnn = count(mpnn())
    width = min(range(4, 1025), key=lambda w: abs(count(MLP(args.nodes, w)) - n_mpnn))
    models = {
        "mpnn": ("message passing (compiled layers)", mpnn, False),
        "mlp": ("MLP on the flat adjacency", lambda: MLP(args.nodes, width), False),
        "mlp_aug": ("MLP + relabelling augmentation", lambda: MLP(args.nodes, width), True),
    }
    result = {
        "config": {
            "steps": args.steps,
            "seeds": args.seeds,
            "nodes": args.nodes,
            "train": args.train,
            "test": args.test,
            "batch": args.batch,
            "lr": args.lr,
            "hidden": args.hidden,
            "rounds": args.rounds,
            "mlp_width": width,
            "threads": torch.get_num_threads(),
        },
        "models": {key: {"label": label, "runs": {}} for key, (label, _, _) in models.items()},
    }
    for seed in args.seeds:
        data = torch.Generator().manual_seed(seed)
        a_train = random_graphs(args.train, args.nodes, data)
        a_test = random_graphs(args.test, args.nodes, data)
        y_train, y_test = within_two(a_train), within_two(a_test)
        for key, (label, make, augmented) in models.items():
            torch.manual_seed(seed)
            model = make()
            gen = torch.Generator().manual_seed(seed + 1000)
            start = time.perf_counter()
            train(
                model,
                a_train,
                y_train,
                args.steps,
                args.batch,
                args.lr,
                gen,
                (lambda a, y, g=gen: relabel(a, y, g)) if augmented else None,
            )
            seconds = time.perf_counter() - start
            run = {**evaluate(model, a_test, y_test, torch.Generator().manual_seed(seed + 2000)), "seconds": seconds}
            entry = result["models"][key]
            entry["parameters"] = count(model)
            entry["runs"][str(seed)] = run
            print(
                f"{key:8s} seed {seed}  {label:34s} {entry['parameters']:6d} parameters  MAE {run['mae']:.3f}  "
                f"exact {run['exact']:.3f}  equivariance error {run['equivariance_error']:.2g}  {seconds:6.1f} s",
                flush=True,
            )
    print(f"test MAE and exact-count accuracy over seeds {args.seeds} (mean ± sample std), {args.steps} steps:")
    seed_statistics(result["models"], ("mae", "exact", "equivariance_error", "seconds"))
    for entry in result["models"].values():
        print(
            f"  {entry['label']:34s} {entry['parameters']:6d} parameters  MAE {entry['mae_mean']:.3f} ± {entry['mae_std']:.3f}  "
            f"exact {entry['exact_mean']:.3f} ± {entry['exact_std']:.3f}  {entry['seconds_mean']:.1f} s per model",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
