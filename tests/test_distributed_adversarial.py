"""Adversarial checks of symspec under ``torch.distributed`` (docs/distributed.md): three gloo ranks on the CPU.

The ECD scenarios once made the ranks diverge silently or wait forever;
sharded validation with an odd world size (ranks without cases, guards met
by rejection, residuals) must print the single-process report. The ranks
run every scenario in one spawn (bounded in time, with a short collective
timeout so a hang fails the test instead of stalling it).
"""

from __future__ import annotations

import datetime
import json
import os

import pytest
import torch
from spawn_ranks import leave_group, spawn_ranks

import symspec
from symspec.distributed import generator, shard
from symspec.errors import UsageError
from symspec.optim import ECD

WORLD = 3
N = 13
TIMEOUT = 90  # seconds for the three processes
COLLECTIVE_TIMEOUT = 20  # a rank left waiting in a collective fails after this
OPTIONS = dict(lr=0.3, eta=4.0, F0=0.0, weight_decay=0.01)


COMPARISON = """
domain Item = range(0, 7)
model gt(a: Item, b: Item) -> bool
law irreflexive: not gt(a, a)
law antisymmetric: gt(a, b) == not gt(b, a) when a != b
law transitive: gt(a, b) and gt(b, c) => gt(a, c)
law ordered: gt(a, c) == sigmoid(logit(gt(a, b)) + logit(gt(b, c))) when a > b > c
"""
REAL = """
domain Zp = cyclic(11)
model f(a: Zp, b: Zp) -> real
law swap: f(a, b) == f(b, a) [tol 0.5]
law shift: forall k: Zp. f(a + k, b) == f(a, b) [tol 1.0]
"""
# (spec, model name, table size, options): 7 batches, 3 batches, 1 batch (two ranks without cases), tables off
REPORTS = {
    "comparison-5": (COMPARISON, "gt", 7, {"batch_size": 5, "examples": 3}),
    "comparison-17-untabulated": (COMPARISON, "gt", 7, {"batch_size": 17, "examples": 3, "tabulate": False}),
    "comparison-1000": (COMPARISON, "gt", 7, {"batch_size": 1000}),
    "real-13": (REAL, "f", 11, {"batch_size": 13}),
    "real-5000": (REAL, "f", 11, {"batch_size": 5000, "tabulate": False}),
}


class _Table(torch.nn.Module):
    """A random table of (a, b): laws fail on some cases, residuals spread out."""

    def __init__(self, n: int):
        super().__init__()
        self.t = torch.nn.Parameter(torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n)))

    def forward(self, a, b):
        return self.t[a, b]


def _report(key: str) -> dict:
    text, name, n, options = REPORTS[key]
    report = symspec.validate(symspec.loads(text, f"{key}.sym"), models={name: _Table(n)}, **options)
    d = json.loads(report.to_json())
    for t in d["tabulated"].values():
        t.pop("seconds")
    for law in d["laws"]:
        law.pop("seconds")
    return d


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).double()


def _data(rank: int) -> tuple:
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(N, 3, generator=g, dtype=torch.float64), torch.randn(N, 1, generator=g, dtype=torch.float64)
    part = shard(N, rank, WORLD)
    return x[part.start : part.stop], y[part.start : part.stop]


def _steps(model, opt: ECD, x, y, steps: int = 3, draws: tuple | None = None, average: bool = True) -> str:
    """ECD steps with the gradients averaged by hand over the ranks (a missing gradient counts as zeros).

    ``draws=(generator, k)``: the closure also draws ``k`` numbers from ``generator`` (as a loss would).
    """

    def closure():
        if draws is not None:
            torch.rand(draws[1], generator=draws[0])
        opt.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        if loss.requires_grad:
            loss.backward()
        for p in model.parameters() if average else ():
            torch.distributed.all_reduce(p.grad if p.grad is not None else torch.zeros_like(p))
            if p.grad is not None:
                p.grad /= WORLD
        return loss

    try:
        for _ in range(steps):
            opt.step(closure)
    except UsageError as err:
        return f"UsageError: {err}"
    except RuntimeError as err:  # a collective that timed out: a rank was left waiting
        return f"RuntimeError: {err}"
    return "no error"


class _RaisesOnRank(torch.nn.Module):
    """A table whose forward raises on one rank only (a model bug, an out-of-memory on one device)."""

    def __init__(self, bad: bool):
        super().__init__()
        self.bad = bad
        self.t = torch.nn.Parameter(torch.zeros(7, 7, 2, dtype=torch.float64))

    def forward(self, a, b):
        if self.bad:
            raise RuntimeError("boom on this rank")
        return self.t[a, b]


def _validate_raising_on(bad: int, rank: int, tabulate: bool = False) -> str:
    """What ``validate`` raises on this rank when rank ``bad``'s model raises (it used to leave the others waiting)."""
    spec = symspec.loads("domain I = range(0, 7)\nmodel f(a: I, b: I) -> class(range(0, 2))\nlaw s: f(a, b) == f(b, a)\n")
    try:
        symspec.validate(spec, models={"f": _RaisesOnRank(rank == bad)}, tabulate=tabulate, batch_size=5)
    except Exception as err:  # noqa: BLE001 - the test compares what each rank raised
        return f"{type(err).__name__}: {err}"
    return "no error"


def _worker(rank: int, port: int, out: str) -> None:
    torch.distributed.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT),
    )
    torch.set_num_threads(1)
    results: dict = {}
    x, y = _data(rank)
    for key, nu in (("frozen-on-one-rank", 0.0), ("frozen-on-one-rank-bounce", 0.5)):
        model = _net()
        if rank == 1:  # frozen here only: it would move on rank 0 alone, and D and |g| would differ
            model[2].bias.requires_grad_(False)
        opt = ECD(model.parameters(), nu=nu, generator=generator(9, shared=True), **OPTIONS)
        results[key] = _steps(model, opt, x, y)
        results[key + "-params"] = [p.detach().clone() for p in model.parameters()]
    model = _net()  # ranks 1, 2 step nothing (no gradient at all): they returned early, rank 0 waited in the all_reduce
    for p in model.parameters():
        p.requires_grad_(rank == 0)
    results["no-gradient-on-one-rank"] = _steps(model, ECD(model.parameters(), **OPTIONS), x, y)
    model = _net()  # not wrapped in DDP: each rank's gradient is its own shard's, the replicas drifted apart
    results["gradients-not-averaged"] = _steps(model, ECD(model.parameters(), **OPTIONS), x, y, average=False)
    model = _net()  # the noise stream also feeds draws of per-rank sizes (a loss on unequal shards)
    shared = generator(9, shared=True)
    opt = ECD(model.parameters(), nu=0.5, generator=shared, **OPTIONS)
    results["stream-shared-with-the-loss"] = _steps(model, opt, x, y, draws=(shared, rank + 1))
    results["stream-shared-with-the-loss-params"] = [p.detach().clone() for p in model.parameters()]
    model = _net()  # the same tensors on both ranks: no error, the replicas stay equal
    opt = ECD(model.parameters(), nu=0.5, generator=generator(9, shared=True), **OPTIONS)
    results["same"] = _steps(model, opt, x, y)
    results["same-params"] = [p.detach().clone() for p in model.parameters()]
    for key in REPORTS:
        results[key] = _report(key)
    results["validate-raises-on-one-rank"] = _validate_raising_on(1, rank)
    results["validate-raises-on-one-rank-tabulated"] = _validate_raising_on(1, rank, tabulate=True)
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    leave_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list:
    """What each rank saved (one spawn for the file)."""
    out = str(tmp_path_factory.mktemp("adversarial"))
    return spawn_ranks(_worker, WORLD, TIMEOUT, out)


@pytest.mark.parametrize("key", ["frozen-on-one-rank", "frozen-on-one-rank-bounce"])
def test_a_parameter_frozen_on_one_rank_only_is_refused_on_every_rank(ranks, key):
    """It moved on rank 0 alone (and the norms differed): the replicas drifted apart without an error."""
    for rank in ranks:
        assert rank[key].startswith("UsageError: ECD: rank(s) [1] step other tensors than rank 0"), rank[key]
    for rank in ranks:  # refused before anything moved
        assert all(torch.equal(a, b) for a, b in zip(rank[key + "-params"], _net().parameters()))


def test_a_rank_without_gradients_does_not_leave_the_others_waiting(ranks):
    for rank in ranks:
        assert rank["no-gradient-on-one-rank"].startswith("UsageError: ECD: rank(s) [1, 2]"), rank["no-gradient-on-one-rank"]


def test_gradients_that_differ_between_the_ranks_are_refused(ranks):
    """A model not wrapped in DDP under a process group: ECD averaged the loss but stepped each rank's own gradient."""
    for rank in ranks:
        assert rank["gradients-not-averaged"].startswith("UsageError: ECD: rank(s) [1, 2] have other gradients than rank 0")
        assert "distributed=False" in rank["gradients-not-averaged"]


def test_a_noise_stream_the_loss_also_draws_from_keeps_the_replicas_equal(ranks):
    """Rank r drew r + 1 numbers per step from ECD's stream: the bounce noise differed from step 2 on."""
    for rank in ranks:
        assert rank["stream-shared-with-the-loss"] == "no error"
    for rank in ranks[1:]:
        for a, b in zip(ranks[0]["stream-shared-with-the-loss-params"], rank["stream-shared-with-the-loss-params"]):
            assert torch.equal(a, b)


def test_identical_ranks_step_together(ranks):
    for rank in ranks:
        assert rank["same"] == "no error"
    for rank in ranks[1:]:
        for a, b in zip(ranks[0]["same-params"], rank["same-params"]):
            assert torch.equal(a, b)
    assert any(not torch.equal(a, s) for a, s in zip(ranks[0]["same-params"], _net().parameters()))


@pytest.mark.parametrize("key", sorted(REPORTS))
def test_sharded_validation_on_three_ranks_is_the_single_process_report(ranks, key):
    want = _report(key)
    assert any(law["violations"] for law in want["laws"])  # worst cases and magnitudes are merged too
    for rank in ranks:
        assert rank[key] == want


# ---------------------------------------------------------------- benchmarks/gpu_check.sh


def _gpu_check(tmp_path, stub_body: str, *options: str):
    """Run the GPU check's dry run with a stub ``PYTHON`` (the real one for ``-c`` and ``-``, ``stub_body`` otherwise)."""
    import subprocess
    import sys

    stub = tmp_path / "python"
    stub.write_text(f'#!/usr/bin/env bash\ncase "$1" in -c|-) exec "{sys.executable}" "$@" ;; esac\n{stub_body}\n')
    stub.chmod(0o755)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "out"
    cmd = ["bash", os.path.join(root, "benchmarks", "gpu_check.sh"), "--cpu-dry-run", "--out", str(out), *options]
    done = subprocess.run(cmd, env={**os.environ, "PYTHON": str(stub)}, capture_output=True, text=True, timeout=45)
    return done, (out / "summary.md").read_text()


def test_gpu_check_keeps_to_its_budget(tmp_path):
    """Every step hangs: the step limits (150 + 60 + 60 + 60 + 90 + 90 s, then training) overran the budget."""
    done, summary = _gpu_check(tmp_path, "exec sleep 60", "--budget", "20")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "| tests-cuda | timeout (" in summary
    assert "| train-seed0 | skipped (the 20s budget is spent) | 0 |" in summary, summary
    assert "transformer seeds run: 0 of 1" in summary


def test_gpu_check_records_failed_steps_and_exits_nonzero(tmp_path):
    done, summary = _gpu_check(tmp_path, "exit 3")
    assert done.returncode == 1, done.stdout + done.stderr
    for name in ("tests-cuda", "bench-loss", "bench-augment", "bench-conv", "nccl-smoke", "bench-validate", "train-seed0"):
        assert f"| {name} | FAILED (exit 3) |" in summary, summary
    assert "transformer seeds run: 1 of 1" in summary


@pytest.mark.parametrize("key", ["validate-raises-on-one-rank", "validate-raises-on-one-rank-tabulated"])
def test_a_rank_whose_model_raises_in_validate_stops_every_rank(ranks, key):
    seen = [r[key] for r in ranks]
    assert seen[1] == "ModelError: model f raised RuntimeError: boom on this rank"  # its own error, as in one process
    for other in (seen[0], seen[2]):
        assert other.startswith("ModelError: rank 1 failed while validating (so every rank stops): ")
        assert "boom on this rank" in other
