"""symspec under DDP: two gloo processes on the CPU, spawned once for the whole file (docs/distributed.md).

Each rank runs every scenario and saves what it saw; the tests compare it
with a single process here: gradients of the compiled loss through a
DDP-wrapped model, per-rank and shared augmentation streams, and sharded
``symspec.validate`` reports.
"""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch
from spawn_ranks import leave_group, spawn_ranks

import symspec
import symspec.nn
from symspec.distributed import generator, shard, shard_batch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "examples", "modular_addition.sym")
P = 7
N = 12  # examples per rank
SEED = 1234
WORLD = 2
TIMEOUT = 80  # seconds for the two processes


def _module(laws=None):
    spec = symspec.load(SPEC, params={"p": P})
    return symspec.compile(spec.select(laws) if laws else spec)


def _model(seed: int = 0) -> torch.nn.Module:
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    from trainlib import PairMLP

    torch.manual_seed(seed)
    return PairMLP(P, P, d_embed=8, hidden=16).double()


def _global_batch() -> dict:
    g = torch.Generator().manual_seed(7)
    a = torch.randint(0, P, (WORLD * N,), generator=g)
    b = torch.randint(0, P, (WORLD * N,), generator=g)
    return {"a": a, "b": b, "target": (a + b) % P}


def _local(batch: dict, rank: int) -> dict:
    part = shard(WORLD * N, rank, WORLD)
    return {k: v[part.start : part.stop] for k, v in batch.items()}


def _step(model, loss_fn, batch: dict) -> None:
    task = torch.nn.functional.cross_entropy(model(batch["a"], batch["b"]), batch["target"])
    (task + loss_fn(batch)).backward()


def _grads(model) -> list:
    return [p.grad.detach().clone() for p in model.parameters()]


def _validate(seed=0, **options):
    torch.manual_seed(1)
    model = _model(3)
    return symspec.validate(_module(), add=model, seed=seed, **options)


class _Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.att = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.att(x, x, x, need_weights=False)[0])


def _attention() -> torch.nn.Module:
    torch.manual_seed(5)
    return _Attention().double()


def _tokens() -> torch.Tensor:
    return torch.randn(WORLD * N, 3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(8))


REAL = """
domain Zp = cyclic(11)
model f(a: Zp, b: Zp) -> real
law swap: f(a, b) == f(b, a) [tol 0.5]
law shift: forall k: Zp. f(a + k, b) == f(a, b) [tol 1.0]
"""


class _Table(torch.nn.Module):
    """A real function of (a, b) in Z/11: a random table, so residuals are spread out."""

    def __init__(self):
        super().__init__()
        self.t = torch.nn.Parameter(torch.randn(11, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(4)))

    def forward(self, a, b):
        return self.t[a, b]


def _validate_real():
    return symspec.validate(symspec.loads(REAL, "real.sym"), f=_Table(), batch_size=97, tabulate=False)


def _untimed(report) -> dict:
    d = json.loads(report.to_json())
    for t in d["tabulated"].values():
        t.pop("seconds")
    for law in d["laws"]:
        law.pop("seconds")
    return d


def _worker(rank: int, port: int, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    results: dict = {}
    local = shard_batch(_global_batch())
    assert all(torch.equal(local[k], v) for k, v in _local(_global_batch(), rank).items())
    # gradients: commutes only (no draws), and every law with this rank's stream, fused and not
    for key, laws, fused, options in (
        ("commutes", ["commutes"], None, {}),
        ("all-fused", None, True, {}),
        ("all-unfused", None, False, {}),
        ("all-static", None, True, {"static_graph": True}),
    ):
        model = _model()
        ddp = torch.nn.parallel.DistributedDataParallel(model, **options)
        loss_fn = _module(laws).SymmetryLoss(add=ddp, generator=generator(SEED), fused=fused)
        _step(ddp, loss_fn, local)
        results[key] = _grads(model)
    model = _model()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    sym = _module().symmetrize("add", ddp)
    torch.nn.functional.cross_entropy(sym(local["a"], local["b"]), local["target"]).backward()
    results["symmetrize"] = _grads(model)
    attention = _attention()
    symspec.nn.break_attention(attention, generator=generator(SEED))  # then DDP: it broadcasts the bias buffers too
    ddp = torch.nn.parallel.DistributedDataParallel(attention)
    for _ in range(2):  # two steps: the second forward redraws the biases after DDP broadcast rank 0's buffers
        ddp(_local({"x": _tokens()}, rank)["x"]).pow(2).mean().backward()
    results["break"] = _grads(attention)
    mod = _module()
    results["augment-rank"] = mod.augment(local, generator(SEED))
    results["augment-shared"] = mod.augment(local, generator(SEED, shared=True))
    results["augment-rank-same-batch"] = mod.augment(_local(_global_batch(), 0), generator(SEED))
    for key, options in (("exhaustive", {"batch_size": 50}), ("exhaustive-1", {"batch_size": 1000})):
        results[key] = _untimed(_validate(**options))
    if rank == 0:  # a call on one rank only: shard=False, or it would wait for the others forever
        results["unsharded"] = _untimed(_validate(batch_size=50, shard=False))
    torch.distributed.barrier()
    results["residuals"] = _untimed(_validate_real())
    results["monte-carlo"] = _untimed(_validate(cap=0, samples=501, batch_size=64))
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    leave_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list:
    """What each of the two ranks saved (one spawn for the whole file)."""
    out = str(tmp_path_factory.mktemp("ddp"))
    return spawn_ranks(_worker, WORLD, TIMEOUT, out)


def _close(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def test_gradients_equal_the_single_process_global_batch(ranks):
    """No draws: the DDP gradients are the gradients of the loss on the global batch in one process."""
    model = _model()
    _step(model, _module(["commutes"]).SymmetryLoss(add=model), _global_batch())
    for rank in ranks:
        _close(rank["commutes"], _grads(model))


@pytest.mark.parametrize("key", ["all-fused", "all-unfused", "all-static"])
def test_gradients_with_draws_equal_one_process_with_each_ranks_draws(ranks, key):
    """Every law, draws from each rank's stream: the mean over the ranks' shards in one process, same draws."""
    model = _model()
    mod = _module()
    total = 0
    for rank in range(WORLD):
        loss_fn = mod.SymmetryLoss(add=model, generator=generator(SEED, rank=rank))
        local = _local(_global_batch(), rank)
        task = torch.nn.functional.cross_entropy(model(local["a"], local["b"]), local["target"])
        total = total + (task + loss_fn(local)) / WORLD
    total.backward()
    for rank in ranks:
        _close(rank[key], _grads(model))
    assert all(r["all-fused"][0].abs().sum() > 0 for r in ranks)  # the test can fail: gradients are not zero


def test_broken_attention_under_ddp_draws_per_rank_and_averages_gradients(ranks):
    """break_attention's training draws come from each rank's stream (DDP's buffer broadcast does not undo them)."""
    want = []
    for rank in range(WORLD):
        model = _attention()
        symspec.nn.break_attention(model, generator=generator(SEED, rank=rank))
        for _ in range(2):
            model(_local({"x": _tokens()}, rank)["x"]).pow(2).mean().backward()
        want.append(_grads(model))
    mean = [(g0 + g1) / WORLD for g0, g1 in zip(*want)]
    for rank in ranks:
        _close(rank["break"], mean)
    assert not torch.allclose(want[0][0], want[1][0])


def test_augmentation_streams_differ_per_rank_and_replay(ranks):
    mod = _module()
    same = [r["augment-rank-same-batch"] for r in ranks]
    assert not torch.equal(same[0]["a"], same[1]["a"]) or not torch.equal(same[0]["b"], same[1]["b"])
    for rank, saved in enumerate(ranks):
        local = _local(_global_batch(), rank)
        replay = mod.augment(local, generator(SEED, rank=rank))
        for k in replay:
            assert torch.equal(saved["augment-rank"][k], replay[k])
        shared = mod.augment(local, torch.Generator().manual_seed(SEED))
        for k in shared:
            assert torch.equal(saved["augment-shared"][k], shared[k])
        assert torch.equal((saved["augment-rank"]["a"] + saved["augment-rank"]["b"]) % P, saved["augment-rank"]["target"])


@pytest.mark.parametrize("key,options", [("exhaustive", {"batch_size": 50}), ("exhaustive-1", {"batch_size": 1000})])
def test_sharded_validation_report_is_the_single_process_report(ranks, key, options):
    """Exhaustive laws: every rank's merged report is the one-process report, field for field (timings aside)."""
    single = _untimed(_validate(**options))
    assert {law["mode"] for law in single["laws"]} == {"exhaustive"}
    assert any(law["violations"] for law in single["laws"])  # worst cases and divergences are compared too
    for rank in ranks:
        assert rank[key] == single
    if key == "exhaustive":
        assert ranks[0]["unsharded"] == single and "unsharded" not in ranks[1]


def test_sharded_residuals_and_worst_cases_are_the_single_process_ones(ranks):
    """Real laws: residual quantiles, maxima, worst cases and divergences merged across ranks, exactly."""
    single = _untimed(_validate_real())
    assert all(law["residual"] and law["violations"] for law in single["laws"])
    assert ranks[0]["residuals"] == single and ranks[1]["residuals"] == single


def test_symmetrized_ddp_model_gradients_equal_the_single_process_global_batch(ranks):
    model = _model()
    batch = _global_batch()
    sym = _module().symmetrize("add", model)
    torch.nn.functional.cross_entropy(sym(batch["a"], batch["b"]), batch["target"]).backward()
    for rank in ranks:
        _close(rank["symmetrize"], _grads(model))


def test_sharded_monte_carlo_checks_each_sample_once(ranks):
    single = _untimed(_validate(cap=0, samples=501, batch_size=64))
    for rank in ranks:
        got = rank["monte-carlo"]
        assert got == ranks[0]["monte-carlo"]  # every rank returns the merged report
        for law, one in zip(got["laws"], single["laws"]):
            assert law["mode"] == "monte carlo" and law["cases"] + law["skipped"] == 501
            lo, hi = law["interval"]
            assert lo <= one["interval"][1] and one["interval"][0] <= hi  # other draws, overlapping 95% intervals
            assert law["examples"] != one["examples"]  # the ranks drew their own cases


def test_shard_batch_without_a_group_is_the_whole_batch():
    batch = {**_global_batch(), "note": "kept"}
    out = shard_batch(batch)
    assert out.keys() == batch.keys() and all(out[k] is batch[k] or torch.equal(out[k], batch[k]) for k in batch)
    with pytest.raises(ValueError, match="different lengths"):
        shard_batch({"a": torch.zeros(3), "b": torch.zeros(4)})


def test_shard_splits_without_repeats():
    for count in range(0, 9):
        for world in range(1, 5):
            parts = [list(shard(count, r, world)) for r in range(world)]
            assert sum(parts, []) == list(range(count))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_torchrun_validate_prints_the_single_process_report(tmp_path):
    """``torchrun --nproc_per_node 2 -m symspec validate``: rank 0 writes the one-process JSON (timings aside)."""
    import subprocess

    sys.path.insert(0, os.path.join(ROOT, "examples"))
    from train_modular_addition import model

    torch.manual_seed(0)
    torch.save(model(11).state_dict(), tmp_path / "add.pt")
    args = ["-m", "symspec", "validate", SPEC, "--param", "p=11", "--model", "examples.train_modular_addition:model"]
    args += ["--checkpoint", str(tmp_path / "add.pt"), "--batch-size", "300"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    runs = {
        "one": [sys.executable, *args, "--json", str(tmp_path / "one.json")],
        "two": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
        + ["--json", str(tmp_path / "two.json")],
    }
    out = {}
    for key, cmd in runs.items():
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr[-2000:]  # the random model fails its laws: exit 1, not a crash
        out[key] = done.stdout
        with open(tmp_path / f"{key}.json", encoding="utf-8") as f:
            report = json.load(f)
        for t in report["tabulated"].values():
            t.pop("seconds")
        for law in report["laws"]:
            law.pop("seconds")
        out[key + ".json"] = report
    assert out["one.json"] == out["two.json"]
    assert out["two"].count("symspec validate") == 1  # one report, printed by rank 0
