"""A strict order on items, with and without its laws (Hwang & Park's comparison task).

    python examples/train_comparison.py                       # m = 40 items, 20% of the pairs for training
    python examples/train_comparison.py --laws transitive --json run.json

A model reads two items and returns one logit for "a > b". Laws from
examples/comparison.sym (``m`` set to ``--m``): irreflexive, antisymmetric,
transitive (soft-logic implication), bradley_terry (transitivity on logits).
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from trainlib import PairMLP, Task, build_task_or_exit, check_frac, common_parser, main_runs  # noqa: E402

import symspec  # noqa: E402

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "comparison.sym")


def implied_fraction(train_a, train_b, test_a, test_b) -> float:
    """Fraction of test pairs whose answer the training pairs imply (transitive closure, antisymmetry, a == b).

    The rest are consistent with either answer: a learner gets them right only
    through its priors (e.g. ranking items by how many they beat), so 100% test
    accuracy is out of reach of pure deduction when this is below 1.
    """
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from((int(x), int(y)) if x > y else (int(y), int(x)) for x, y in zip(train_a, train_b) if x != y)
    closure = nx.transitive_closure_dag(g)
    known = sum(1 for x, y in zip(test_a.tolist(), test_b.tolist()) if x == y or closure.has_edge(x, y) or closure.has_edge(y, x))
    return known / max(1, len(test_a))


def build_task(m: int, frac: float, seed: int) -> Task:
    spec = symspec.load(SPEC, params={"m": m})
    a, b = torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    order = torch.randperm(m * m, generator=torch.Generator().manual_seed(seed))
    cut = int(round(frac * m * m))
    data = {"a": a, "b": b, "target": (a > b).float()}
    implied = implied_fraction(a[order[:cut]], b[order[:cut]], a[order[cut:]], b[order[cut:]])
    return Task(
        name="comparison",
        spec=spec,
        train={k: x[order[:cut]] for k, x in data.items()},
        test={k: x[order[cut:]] for k, x in data.items()},
        make_model=lambda: PairMLP(m, 1),
        task_loss=nn.functional.binary_cross_entropy_with_logits,
        predict=lambda out: (out > 0).float(),
        call=lambda model, batch: model(batch["a"], batch["b"]),
        config={"m": m, "frac": frac, "arch": "mlp", "implied_by_train": round(implied, 4)},
        optim={"lr": 1e-3, "weight_decay": 1.0, "betas": (0.9, 0.98)},
    )


def main(argv=None) -> list:
    parser = common_parser(__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=40, help="number of items (default 40)")
    parser.add_argument("--frac", type=float, default=0.2, help="fraction of item pairs used for training (default 0.2)")
    args = parser.parse_args(argv)
    check_frac(parser, args.frac)
    task = build_task_or_exit(parser, build_task, args.m, args.frac, args.seed)
    return main_runs(task, args, parser, ["none", "all"], default_max_steps=20_000)


if __name__ == "__main__":
    main()
