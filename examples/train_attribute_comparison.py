"""Comparisons of attribute triples on one attribute, with and without their laws (Hwang & Park's 3-attribute layout).

    python examples/train_attribute_comparison.py                  # m = 3: 27 entities, 20% of the (i, a, j) for training
    python examples/train_attribute_comparison.py --seeds 0,1,2    # one baseline and one run with the laws per seed
    python examples/train_attribute_comparison.py --laws transitive_lt,transitive_gt --json run.json

An entity is an attribute triple (age, height, weight) with values 0..m-1; an
example (i, a, j) asks whether entity i's attribute a is less than, equal to
or greater than entity j's: a 3-way class output. Laws from
examples/attribute_comparison.sym (``m`` set to ``--m``): reflexive,
antisymmetric, transitive, stated on the class outputs (``cmp(i, a, j) == lt``
is its probability inside ``=>``).
"""

from __future__ import annotations

import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from trainlib import Task, build_task_or_exit, check_frac, common_parser, is_main_process, main_runs  # noqa: E402

import symspec  # noqa: E402

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attribute_comparison.sym")
ATTRIBUTES = 3  # age, height, weight


class TripleMLP(nn.Module):
    """Embeddings of the two entities (one table, dim 64) and of the attribute (dim 64), concatenated,
    Linear(192,128)-ReLU-Linear(128,128)-ReLU-Linear(128,3): logits of lt, eq, gt."""

    def __init__(self, entities: int, d_embed: int = 64, hidden: int = 128):
        super().__init__()
        self.entity = nn.Embedding(entities, d_embed)
        self.attribute = nn.Embedding(ATTRIBUTES, d_embed)
        self.net = nn.Sequential(
            nn.Linear(3 * d_embed, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 3)
        )

    def forward(self, i, a, j):
        return self.net(torch.cat([self.entity(i), self.attribute(a), self.entity(j)], -1))


def attribute_values(e: torch.Tensor, a: torch.Tensor, m: int) -> torch.Tensor:
    """Attribute ``a`` of entity ``e``: its base-``m`` digit, age (a = 0) first."""
    return e // (m ** (ATTRIBUTES - 1 - a)) % m


def relation(i: torch.Tensor, a: torch.Tensor, j: torch.Tensor, m: int) -> torch.Tensor:
    """0 (lt), 1 (eq) or 2 (gt): entity i against entity j on attribute a."""
    return torch.sign(attribute_values(i, a, m) - attribute_values(j, a, m)) + 1


def implied_fraction(train: dict, test: dict) -> float:
    """Fraction of test triples whose answer the training triples imply, attribute by attribute.

    Per attribute, the training answers are edges of a preorder (``eq`` both
    ways, ``lt``/``gt`` one way); a test pair is implied when both entities
    are in one strongly connected component (``eq``) or one reaches the other
    (``lt``/``gt``: a path between components has a strict step). The rest
    are consistent with more than one answer under the laws, so the laws
    alone cannot decide them.
    """
    import networkx as nx

    known = 0
    for a in range(ATTRIBUTES):
        g = nx.DiGraph()
        seen = train["a"] == a
        for i, j, r in zip(train["i"][seen].tolist(), train["j"][seen].tolist(), train["target"][seen].tolist()):
            g.add_edges_from([(i, j)] if r == 0 else [(j, i)] if r == 2 else [(i, j), (j, i)])
        dag = nx.condensation(g)
        component = dag.graph["mapping"]
        below = {c: nx.descendants(dag, c) for c in dag.nodes}
        wanted = test["a"] == a
        for i, j in zip(test["i"][wanted].tolist(), test["j"][wanted].tolist()):
            if i == j:
                known += 1
            elif i in component and j in component:
                ci, cj = component[i], component[j]
                known += ci == cj or cj in below[ci] or ci in below[cj]
    return known / max(1, len(test["i"]))


def build_task(m: int, frac: float, seed: int) -> Task:
    spec = symspec.load(SPEC, params={"m": m})
    n = m**ATTRIBUTES
    i, a, j = torch.meshgrid(torch.arange(n), torch.arange(ATTRIBUTES), torch.arange(n), indexing="ij")
    i, a, j = i.reshape(-1), a.reshape(-1), j.reshape(-1)
    order = torch.randperm(len(i), generator=torch.Generator().manual_seed(seed))
    cut = int(round(frac * len(i)))
    data = {"i": i, "a": a, "j": j, "target": relation(i, a, j, m)}
    train = {k: x[order[:cut]] for k, x in data.items()}
    test = {k: x[order[cut:]] for k, x in data.items()}
    return Task(
        name="attribute_comparison",
        spec=spec,
        train=train,
        test=test,
        make_model=lambda: TripleMLP(n),
        task_loss=nn.functional.cross_entropy,
        predict=lambda out: out.argmax(-1),
        call=lambda model, batch: model(batch["i"], batch["a"], batch["j"]),
        config={"m": m, "frac": frac, "arch": "mlp", "entities": n, "implied_by_train": round(implied_fraction(train, test), 4)},
        optim={"lr": 1e-3, "weight_decay": 1.0, "betas": (0.9, 0.98)},
    )


def _summary(per_seed: dict) -> None:
    """Per law set over the seeds: steps to 100% test accuracy (each seed; '-' if never) and the final accuracy."""
    print("\nsummary over seeds " + ", ".join(map(str, per_seed)))
    print(f"{'laws':<28}{'steps to 1.0 per seed':>28}{'mean final acc':>16}")
    labels: dict = {}
    for records in per_seed.values():
        for r in records:
            labels.setdefault(",".join(r["config"]["laws"]) or "none (baseline)", []).append(r)
    for label, records in labels.items():
        steps = " ".join("-" if r["steps_to_acc"]["1.0"] is None else str(r["steps_to_acc"]["1.0"]) for r in records)
        mean = sum(r["final_test_acc"] for r in records) / len(records)
        print(f"{label:<28}{steps:>28}{mean:>16.4f}")


def main(argv=None) -> list:
    parser = common_parser(__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=3, help="values per attribute (default 3: 27 entities)")
    parser.add_argument(
        "--frac", type=float, default=0.2, help="fraction of the (i, a, j) examples used for training (default 0.2)"
    )
    parser.add_argument("--seeds", default=None, metavar="S[,S...]", help="run every law set once per seed (overrides --seed)")
    args = parser.parse_args(argv)
    check_frac(parser, args.frac)
    if args.m < 1:
        parser.error(f"--m must be positive, got {args.m}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    except ValueError:
        parser.error(f"--seeds takes integers separated by commas, got {args.seeds}")
    out, plot = args.json, args.plot
    if len(seeds) > 1:
        args.json = args.plot = None  # one file for all seeds, written below
    per_seed = {}
    for seed in seeds:
        args.seed = seed
        task = build_task_or_exit(parser, build_task, args.m, args.frac, seed)
        per_seed[seed] = main_runs(task, args, parser, ["none", "all"], default_max_steps=10_000)
    if len(seeds) > 1 and is_main_process():  # under torchrun, rank 0 alone prints and writes
        _summary(per_seed)
        if out:
            with open(out, "w", encoding="utf-8") as f:
                json.dump({"seeds": {str(s): {"runs": r} for s, r in per_seed.items()}}, f, indent=1)
        if plot:
            print(f"--plot is written for one seed only; skipped for {len(seeds)} seeds", file=sys.stderr)
    return [r for records in per_seed.values() for r in records]


if __name__ == "__main__":
    main()
