"""What the example trainers share: flags, law selection, the full-batch AdamW loop, JSON and plots.

Each trainer (train_modular_addition.py, train_graph_distance.py,
train_comparison.py) builds its data and model and calls :func:`main_runs`;
every run trains from the same initialization (``--seed``) with the task loss
plus the chosen laws' losses compiled from the example spec, evaluates test
accuracy every ``--eval-every`` steps, and stops when it reaches 1.0 or at
``--max-steps``.

Under ``torchrun`` (``WORLD_SIZE`` above 1) the same code joins the process
group (gloo; nccl with ``--device cuda``), wraps the model in DDP, trains each
rank on its contiguous share of the full batch with its own draws, evaluates
the test set sharded (counts summed) and prints and writes on rank 0 only
(docs/distributed.md, "Trainers under torchrun").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

import torch

import symspec
from symspec.distributed import generator as rank_generator
from symspec.distributed import init_from_env, rank_and_world, shard, shard_batch
from symspec.errors import SymspecError

__all__ = [
    "Task",
    "PairMLP",
    "common_parser",
    "check_frac",
    "build_task_or_exit",
    "parse_law_sets",
    "train_one",
    "main_runs",
    "is_main_process",
]

THRESHOLDS = ("0.99", "1.0")


@dataclass
class Task:
    """One task: the spec, data (dicts of tensors), a model factory, the task loss and predictions."""

    name: str
    spec: object  # symspec.Spec
    train: dict  # batch fields + "target"
    test: dict
    make_model: object  # () -> nn.Module, called after seeding
    task_loss: object  # (output, target) -> scalar
    predict: object  # output -> predicted labels, compared with target
    call: object  # (model, batch) -> output
    config: dict = field(default_factory=dict)
    optim: dict = field(default_factory=dict)  # lr, weight_decay, betas


class PairMLP(torch.nn.Module):
    """The paper's MLP on a pair of tokens: one embedding table (dim 64) for both, concatenated,
    Linear(128,128)-ReLU-Linear(128,128)-ReLU-Linear(128,out); ``out == 1`` returns one logit per pair."""

    def __init__(self, vocab: int, out: int, d_embed: int = 64, hidden: int = 128):
        super().__init__()
        nn = torch.nn
        self.embed = nn.Embedding(vocab, d_embed)
        self.net = nn.Sequential(
            nn.Linear(2 * d_embed, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, out)
        )

    def forward(self, x, y):
        out = self.net(torch.cat([self.embed(x), self.embed(y)], -1))
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def check_frac(parser: argparse.ArgumentParser, frac: float) -> None:
    """A usage error (exit 2) unless ``0 < frac < 1``."""
    if not 0 < frac < 1:
        parser.error(f"--frac must be between 0 and 1, got {frac}")


def build_task_or_exit(parser: argparse.ArgumentParser, build, *args) -> Task:
    """``build(*args)``; a spec the options make invalid (``--p 0``) is a usage error (exit 2), not a traceback."""
    try:
        return build(*args)
    except SymspecError as err:
        parser.error(str(err).splitlines()[0])


def common_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--laws",
        action="append",
        default=None,
        metavar="none|all|NAME[,NAME...]",
        help="laws added to the task loss (repeat to compare several runs; default: the trainer's comparison)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data split, the initialization and the draws")
    parser.add_argument("--max-steps", type=int, default=None, help="stop a run here (default: the trainer's)")
    parser.add_argument("--eval-every", type=int, default=100, help="evaluate test accuracy every N steps (default 100)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    parser.add_argument("--lr", type=float, default=None, help="AdamW learning rate (default: the task's)")
    parser.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay (default: the task's)")
    parser.add_argument("--json", default=None, metavar="OUT", help="write the result(s) as JSON")
    parser.add_argument("--plot", default=None, metavar="OUT.png", help="plot test accuracy vs step per run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--save", default=None, metavar="PATH", help="save the last run's model (a state dict)")
    return parser


def parse_law_sets(parser: argparse.ArgumentParser, items: list, spec) -> list:
    """Each ``--laws`` value as a list of law names; unknown names are a usage error listing the valid ones."""
    sets = []
    for item in items:
        text = item.strip()
        if text == "none":
            sets.append([])
        elif text == "all":
            sets.append(list(spec.laws))
        else:
            names = [x.strip() for x in text.split(",") if x.strip()]
            unknown = [x for x in names if x not in spec.laws]
            if unknown or not names:
                parser.error(
                    f"unknown law {', '.join(repr(x) for x in unknown) or repr(text)} in --laws {item}; "
                    f"valid: none, all, or names among {', '.join(spec.laws)}"
                )
            sets.append(names)
    return sets


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr)


def is_main_process() -> bool:
    """True on rank 0 of an initialized process group, and in a single process: the one that prints and writes."""
    return rank_and_world()[0] == 0


_FINISHED = False  # set when main_runs returns: at exit, the ranks then wait for each other before leaving


def _leave_group() -> None:
    """Leave the group at exit, while the interpreter is whole: the ranks meet first, then every reference goes.

    A rank that destroyed its gloo group while its peer still used it, or whose
    group died during interpreter shutdown (a DDP reducer kept it alive past
    ``destroy_process_group``), could abort with "terminate called without an
    active exception". The meeting happens only after a normal finish: a rank
    that failed leaves at once, and ``torchrun`` stops the others.
    """
    import gc

    if not torch.distributed.is_initialized():
        return
    gc.collect()  # DDP wrappers in reference cycles release the group now, not at shutdown
    if _FINISHED:
        torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def _join_group(device: torch.device) -> torch.device:
    """Join the group ``torchrun`` describes (once per process; left at exit); this rank's device.

    Without ``torchrun`` nothing happens and ``device`` is returned. With
    ``--device cuda``, rank r uses ``cuda:LOCAL_RANK`` (nccl).
    """
    if init_from_env(device):
        import atexit

        atexit.register(_leave_group)
    _, world = rank_and_world()
    if world > 1 and device.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def _global_mean(values: list, weight: int, total: int, device: torch.device) -> list:
    """Per value, the mean over the ranks weighted by their local batch sizes (``weight`` here, ``total`` in all).

    The tensor lives on ``device``: nccl reduces CUDA tensors only.
    """
    t = torch.tensor([float(v) * weight for v in values], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return [float(x) / total for x in t]


@torch.no_grad()
def _accuracy(task: Task, model, batch: dict) -> float:
    model.eval()
    pred = task.predict(task.call(model, batch))
    model.train()
    _, world = rank_and_world()
    if world == 1:
        return float((pred == batch["target"]).float().mean())
    # every rank scores its share of the test set; the counts are summed, so every rank gets the same accuracy
    counts = torch.tensor([int((pred == batch["target"]).sum()), int(batch["target"].shape[0])], device=pred.device)
    torch.distributed.all_reduce(counts)
    return int(counts[0]) / int(counts[1])


def train_one(task: Task, laws: list, args, max_steps: int, progress: bool = True) -> dict:
    """One run: the task loss plus ``laws``; returns the JSON record (config, steps_to_acc, final_test_acc, history)."""
    device = _join_group(torch.device(args.device))
    rank, world = rank_and_world()
    torch.manual_seed(args.seed)
    model = task.make_model().to(device)
    inner = model  # evaluated and saved; under DDP ``model`` is the wrapper that trains
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    optim = dict(task.optim)
    if args.lr is not None:
        optim["lr"] = args.lr
    if args.weight_decay is not None:
        optim["weight_decay"] = args.weight_decay
    opt = torch.optim.AdamW(model.parameters(), **optim)
    n_train = int(task.train["target"].shape[0])
    train = {k: v.to(device) for k, v in shard_batch(task.train).items()}
    test = {k: v.to(device) for k, v in shard_batch(task.test).items()}
    n_local = int(train["target"].shape[0])
    # DDP averages gradients over ranks; scaling by n_local * world / n makes that the global batch's mean gradient
    scale = n_local * world / n_train
    law_loss = None
    if laws:
        module = symspec.compile(task.spec.select(laws))
        if world > 1:
            generator = rank_generator(args.seed, device)  # this rank's stream, from (seed, rank)
        else:
            generator = torch.Generator(device=device)
            generator.manual_seed(args.seed)
        law_loss = module.SymmetryLoss({name: model for name in module.MODELS}, generator=generator)
    fields = {k: v for k, v in train.items() if k != "target"}
    label = ",".join(laws) or "none"
    steps = {t: None for t in THRESHOLDS}
    history = []
    bar = _progress(max_steps, progress and rank == 0, f"{task.name} laws={label}")
    started = time.perf_counter()
    acc = 0.0
    for step in range(1, max_steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = task.task_loss(task.call(model, train), train["target"])
        total = loss + law_loss(fields) if law_loss is not None else loss
        (total * scale if world > 1 else total).backward()
        opt.step()
        if step % args.eval_every == 0 or step == max_steps:
            acc = _accuracy(task, inner, test)
            record = {"step": step, "train_loss": float(loss.detach()), "test_acc": acc}
            if law_loss is not None:
                record["laws"] = {k: float(v) for k, v in law_loss.terms.items()}
            if world > 1:  # the global batch's values: the ranks' local means weighted by their shares
                names = list(record.get("laws", {}))
                means = _global_mean([record["train_loss"], *record.get("laws", {}).values()], n_local, n_train, device)
                record["train_loss"] = means[0]
                if names:
                    record["laws"] = dict(zip(names, means[1:]))
            history.append(record)
            for t in THRESHOLDS:
                if steps[t] is None and acc >= float(t):
                    steps[t] = step
            if bar is not None:
                bar.set_postfix(test_acc=f"{acc:.3f}")
            if steps["1.0"] is not None:
                if bar is not None:
                    bar.update(step - bar.n)
                break
        if bar is not None and step % 50 == 0:
            bar.update(step - bar.n)
    if bar is not None:
        bar.close()
    config = {
        "task": task.name,
        **task.config,
        "laws": laws,
        "all_laws": list(task.spec.laws),
        "seed": args.seed,
        "max_steps": max_steps,
        "eval_every": args.eval_every,
        "device": str(device),
        "optimizer": {"name": "AdamW", **{k: list(v) if isinstance(v, tuple) else v for k, v in optim.items()}},
        "train_size": int(task.train["target"].shape[0]),
        "test_size": int(task.test["target"].shape[0]),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if world > 1:
        config["world_size"] = world
        config["local_train_sizes"] = [len(shard(n_train, r, world)) for r in range(world)]
    if getattr(args, "save", None) and rank == 0:
        torch.save(inner.state_dict(), args.save)
    return {"config": config, "steps_to_acc": steps, "final_test_acc": acc, "history": history}


def _plot(records: list, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in records:
        label = ",".join(r["config"]["laws"]) or "baseline (no laws)"
        ax.plot([h["step"] for h in r["history"]], [h["test_acc"] for h in r["history"]], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.set_ylim(0, 1.02)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _fmt_steps(s) -> str:
    return "-" if s is None else str(s)


def _row(record: dict, base: dict | None, max_steps: int) -> str:
    """One run's line of the table; the speed-up needs the baseline's run (``-`` before it has run)."""
    s1 = record["steps_to_acc"]["1.0"]
    speed = "-"
    if base is not None and record is not base and s1 is not None:
        b1 = base["steps_to_acc"]["1.0"]
        speed = f"{b1 / s1:.1f}x" if b1 is not None else f">{max_steps / s1:.1f}x"
    label = ",".join(record["config"]["laws"]) or "none (baseline)"
    return (
        f"{label:<28}{_fmt_steps(record['steps_to_acc']['0.99']):>14}{_fmt_steps(s1):>14}"
        f"{record['final_test_acc']:>11.4f}{record['config']['seconds']:>9.1f}{speed:>10}"
    )


def _silent(*args, **kwargs) -> None:
    """``print`` on ranks other than 0."""


def check_output_paths(parser: argparse.ArgumentParser, args) -> None:
    """Usage errors, before any training, for ``--json``/``--plot``/``--save`` paths that cannot be written."""
    for option in ("json", "plot", "save"):
        path = getattr(args, option, None)
        if not path:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            parser.error(f"--{option} {path}: is a directory")
        if not os.path.isdir(folder):
            parser.error(f"--{option} {path}: no such directory '{os.path.dirname(path)}'")


def main_runs(task: Task, args, parser, default_sets: list, default_max_steps: int) -> list:
    """Run every law set, printing each run's line as it finishes; then the JSON and the plot.

    Lines are flushed, so a pipe (CI log, notebook) sees each run when it
    ends. A run before the baseline has no speed-up yet; its line is printed
    again, with it, after the baseline.
    """
    try:
        device = torch.device(args.device)
    except RuntimeError as err:
        parser.error(f"--device {args.device}: {str(err).splitlines()[0]}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        parser.error(f"--device {args.device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    for option in ("max_steps", "eval_every"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be positive, got {value}")
    for option in ("lr", "weight_decay"):
        value = getattr(args, option)
        if value is not None and not value >= 0:
            parser.error(f"--{option.replace('_', '-')} must be non-negative, got {value}")
    check_output_paths(parser, args)
    n_train, n_test = (int(part["target"].shape[0]) for part in (task.train, task.test))
    if not n_train or not n_test:
        parser.error(f"--frac {task.config.get('frac')} leaves {n_train} training and {n_test} test examples; both need one")
    sets = parse_law_sets(parser, args.laws or default_sets, task.spec)
    max_steps = args.max_steps or default_max_steps
    global _FINISHED
    _FINISHED = False  # until this call returns: a rank failing in it leaves at exit without waiting for the others
    _join_group(device)  # under torchrun: every rank trains; rank 0 alone prints and writes
    world = rank_and_world()[1]
    if n_train < world:
        parser.error(f"{n_train} training examples cannot be shared by {world} ranks (each needs one)")
    main = is_main_process()
    say = print if main else _silent
    progress = not args.no_progress and sys.stderr.isatty() and not os.environ.get("CI")
    say(f"{task.name}: {task.config}  seed {args.seed}, max {max_steps} steps")
    say(f"{'laws':<28}{'steps to 0.99':>14}{'steps to 1.0':>14}{'final acc':>11}{'seconds':>9}{'speed-up':>10}", flush=True)
    records: list = []
    base = None
    before_base: list = []  # runs printed before the baseline finished: no speed-up on their line
    for laws in sets:
        record = train_one(task, laws, args, max_steps, progress)
        records.append(record)
        if not laws and base is None:
            base = record
        elif base is None:
            before_base.append(record)
        say(_row(record, base, max_steps), flush=True)
    if before_base and base is not None:
        say("speed-up over the baseline, which ran after them:")
        for record in before_base:
            say(_row(record, base, max_steps))
        sys.stdout.flush()
    if args.json and main:
        payload = records[0] if len(records) == 1 else {"runs": records}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1)
    if args.plot and main:
        _plot(records, args.plot, f"{task.name}: test accuracy")
    _FINISHED = True
    return records


def seed_statistics(models: dict, measures: tuple) -> None:
    """Add ``<measure>_mean`` and ``<measure>_std`` (sample std over the seeds; 0 for one seed) to each model entry,
    whose ``"runs"`` maps a seed to that run's measures."""
    for entry in models.values():
        runs = list(entry["runs"].values())
        for what in measures:
            values = [r[what] for r in runs]
            entry[f"{what}_mean"] = statistics.fmean(values)
            entry[f"{what}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
