"""``symspec.optim.ECD`` under DDP: two gloo processes on the CPU, spawned once for the file (docs/distributed.md).

Each rank trains a DDP-wrapped model with ECD for a few steps (the compiled
``SymmetryLoss`` with each rank's draws, unequal shards, the bounce noise,
broken attention) and saves its parameters; the tests compare them with one
process that computes the loss the rule says ECD sees: the mean over the ranks
of their losses, with each rank's draws. The last tests check the nccl path's
device rules on the CPU (collectives on the parameters' device, each rank on
its own GPU), with the calls recorded instead of run.
"""

from __future__ import annotations

import os

import pytest
import torch
from spawn_ranks import leave_group, spawn_ranks
from test_ddp import SEED, WORLD, _attention, _global_batch, _local, _model, _module, _tokens

import symspec.nn
from symspec.distributed import generator, shard, shard_batch
from symspec.errors import UsageError
from symspec.optim import ECD

STEPS = 4
NOISE_SEED = 99
OPTIONS = dict(lr=0.3, eta=4.0, F0=0.0, weight_decay=0.01)
UNEVEN = 23  # a global batch that 2 ranks split 11 / 12
TIMEOUT = 90  # seconds for the two processes


def _task(model, batch: dict) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(batch["a"], batch["b"]), batch["target"])


def _uneven_batch() -> dict:
    g = torch.Generator().manual_seed(11)
    a, b = torch.randint(0, 7, (UNEVEN,), generator=g), torch.randint(0, 7, (UNEVEN,), generator=g)
    return {"a": a, "b": b, "target": (a + b) % 7}


def _train(opt: ECD, loss_of) -> list:
    """``STEPS`` ECD steps on ``loss_of()``; the losses the closures returned."""

    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    return [float(opt.step(closure).detach()) for _ in range(STEPS)]


def _params(model) -> list:
    return [p.detach().clone() for p in model.parameters()]


def _worker(rank: int, port: int, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    results: dict = {}
    local = shard_batch(_global_batch())
    for key, fused in (("symloss-fused", True), ("symloss-unfused", False)):
        model = _model()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        loss_fn = _module().SymmetryLoss(add=ddp, generator=generator(SEED), fused=fused)
        results[key + "-losses"] = _train(
            ECD(model.parameters(), **OPTIONS), lambda ddp=ddp, f=loss_fn: _task(ddp, local) + f(local)
        )
        results[key] = _params(model)
    # unequal shards (11 and 12): the local loss scaled by n_local * world / n, as examples/trainlib.py does
    model = _model()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    part = shard_batch(_uneven_batch())
    weight = part["a"].shape[0] * WORLD / UNEVEN
    loss_fn = _module(["commutes"]).SymmetryLoss(add=ddp)
    _train(ECD(model.parameters(), **OPTIONS), lambda: weight * (_task(ddp, part) + loss_fn(part)))
    results["uneven"] = _params(model)
    # the bounce: one stream shared by the ranks
    model = _model()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = ECD(model.parameters(), nu=0.5, generator=generator(NOISE_SEED, shared=True), **OPTIONS)
    _train(opt, lambda: _task(ddp, local))
    results["bounce"] = _params(model)
    for key, gen in (("bounce-rank-stream", generator(NOISE_SEED)), ("bounce-no-generator", None)):
        model = _model()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        try:
            _train(ECD(model.parameters(), nu=0.5, generator=gen, **OPTIONS), lambda ddp=ddp: _task(ddp, local))
            results[key] = "no error"
        except UsageError as err:
            results[key] = str(err)
    # broken attention: each rank draws its own biases; ECD sees the mean of the ranks' losses
    attention = _attention()
    symspec.nn.break_attention(attention, generator=generator(SEED))
    ddp = torch.nn.parallel.DistributedDataParallel(attention)
    x = _local({"x": _tokens()}, rank)["x"]
    _train(ECD(attention.parameters(), **{**OPTIONS, "F0": -1.0}), lambda: ddp(x).pow(2).mean())
    results["break"] = _params(attention)
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    leave_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list:
    """What each of the two ranks saved (one spawn for the whole file)."""
    out = str(tmp_path_factory.mktemp("ddp_ecd"))
    return spawn_ranks(_worker, WORLD, TIMEOUT, out)


def _same_on_every_rank(ranks: list, key: str) -> None:
    for a, b in zip(ranks[0][key], ranks[1][key]):
        assert torch.equal(a, b), key


def _close(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-11)


def _moved(params: list, other: torch.nn.Module) -> bool:
    """True when ``params`` differ from ``other``'s parameters (beyond the comparison's tolerance)."""
    return any(not torch.allclose(p, q.detach(), rtol=1e-6, atol=1e-8) for p, q in zip(params, other.parameters()))


@pytest.mark.parametrize("key,fused", [("symloss-fused", True), ("symloss-unfused", False)])
def test_ecd_with_the_symmetry_loss_equals_one_process_on_the_mean_loss(ranks, key, fused):
    """Every law of modular_addition, each rank's draws: one process on the mean of the ranks' losses, same draws."""
    _same_on_every_rank(ranks, key)
    model = _model()
    mod = _module()
    loss_fns = [mod.SymmetryLoss(add=model, generator=generator(SEED, rank=r), fused=fused) for r in range(WORLD)]
    locals_ = [_local(_global_batch(), r) for r in range(WORLD)]

    def mean_loss():
        return sum(_task(model, b) + f(b) for f, b in zip(loss_fns, locals_)) / WORLD

    losses = _train(ECD(model.parameters(), **OPTIONS), mean_loss)
    _close(ranks[0][key], _params(model))
    assert _moved(ranks[0][key], _model())  # the test can fail: ECD moved
    # the closures returned each rank's own loss; their mean is the loss ECD's V used
    for step in range(STEPS):
        mean = sum(r[key + "-losses"][step] for r in ranks) / WORLD
        assert mean == pytest.approx(losses[step], rel=1e-12)
    assert ranks[0][key + "-losses"] != ranks[1][key + "-losses"]


def test_unequal_shards_with_scaled_losses_equal_the_global_batch(ranks):
    """11 and 12 examples, each rank's loss times n_local * world / n: one process on the global batch of 23."""
    _same_on_every_rank(ranks, "uneven")
    assert [len(shard(UNEVEN, r, WORLD)) for r in range(WORLD)] == [11, 12]
    model = _model()
    loss_fn = _module(["commutes"]).SymmetryLoss(add=model)
    batch = _uneven_batch()
    _train(ECD(model.parameters(), **OPTIONS), lambda: _task(model, batch) + loss_fn(batch))
    _close(ranks[0]["uneven"], _params(model))


def test_bounce_noise_from_a_shared_stream_equals_one_process(ranks):
    _same_on_every_rank(ranks, "bounce")
    model = _model()
    batch = _global_batch()
    opt = ECD(model.parameters(), nu=0.5, generator=torch.Generator().manual_seed(NOISE_SEED), **OPTIONS)
    _train(opt, lambda: _task(model, batch))
    _close(ranks[0]["bounce"], _params(model))
    plain = _model()  # the noise changed the trajectory: the comparison sees it
    _train(ECD(plain.parameters(), **OPTIONS), lambda: _task(plain, batch))
    assert _moved(ranks[0]["bounce"], plain)


@pytest.mark.parametrize("key", ["bounce-rank-stream", "bounce-no-generator"])
def test_bounce_noise_that_could_differ_between_ranks_is_refused(ranks, key):
    for rank in ranks:
        assert "shared=True" in rank[key], rank[key]
    want = "generators differ" if key == "bounce-rank-stream" else "needs generator="
    assert want in ranks[0][key]


def test_ecd_with_broken_attention_equals_one_process_over_each_ranks_draws(ranks):
    """break_attention with each rank's stream: one process averaging the ranks' losses with their own draws."""
    _same_on_every_rank(ranks, "break")
    model = _attention()
    streams = [generator(SEED, rank=r) for r in range(WORLD)]
    xs = [_local({"x": _tokens()}, r)["x"] for r in range(WORLD)]

    def mean_loss():
        total = 0
        for stream, x in zip(streams, xs):
            symspec.nn.break_attention(model, generator=stream)  # the same options, this rank's stream
            total = total + model(x).pow(2).mean()
        return total / WORLD

    _train(ECD(model.parameters(), **{**OPTIONS, "F0": -1.0}), mean_loss)
    _close(ranks[0]["break"], _params(model))
    assert _moved(ranks[0]["break"], _attention())


class _FakeGroup:
    """``torch.distributed`` as WORLD identical ranks: records every collective's tensors, sums by multiplying."""

    def __init__(self, monkeypatch):
        self.calls: list = []
        dist = torch.distributed
        monkeypatch.setattr(dist, "is_initialized", lambda: True)
        monkeypatch.setattr(dist, "get_world_size", lambda group=None: WORLD)
        monkeypatch.setattr(dist, "all_reduce", self.all_reduce)
        monkeypatch.setattr(dist, "all_gather", self.all_gather)

    def all_reduce(self, t, group=None):
        self.calls.append(("all_reduce", t.device, t.dtype))
        t.mul_(WORLD)

    def all_gather(self, out, t, group=None):
        self.calls.append(("all_gather", t.device, t.dtype))
        for o in out:
            o.copy_(t)


def test_collectives_use_the_parameters_device_and_identical_ranks_change_nothing(monkeypatch):
    """One all_reduce per step of float64 on the parameters' device (nccl reduces device tensors only)."""
    batch = _global_batch()
    alone = _model()
    _train(ECD(alone.parameters(), nu=0.5, generator=torch.Generator().manual_seed(1), **OPTIONS), lambda: _task(alone, batch))
    fake = _FakeGroup(monkeypatch)
    model = _model()
    _train(ECD(model.parameters(), nu=0.5, generator=torch.Generator().manual_seed(1), **OPTIONS), lambda: _task(model, batch))
    device = next(model.parameters()).device
    assert fake.calls == [("all_gather", device, torch.int64)] + [("all_reduce", device, torch.float64)] * STEPS
    _close(_params(model), _params(alone))


def test_distributed_true_without_a_group_is_a_usage_error():
    model = _model()
    batch = _global_batch()
    with pytest.raises(UsageError, match=r"distributed=True\) needs an initialized process group"):
        _train(ECD(model.parameters(), distributed=True, **OPTIONS), lambda: _task(model, batch))


# ---------------------------------------------------------------- the nccl path, checked on the CPU


class _Joins:
    """``init_process_group`` and ``torch.cuda.set_device`` recorded instead of run (no group, no GPU needed)."""

    def __init__(self, monkeypatch, world: int, local_rank: int):
        self.calls: list = []
        monkeypatch.setenv("WORLD_SIZE", str(world))
        monkeypatch.setenv("LOCAL_RANK", str(local_rank))
        monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)
        monkeypatch.setattr(torch.distributed, "init_process_group", lambda backend: self.calls.append(("init", backend)))
        monkeypatch.setattr(torch.cuda, "set_device", lambda index: self.calls.append(("set_device", index)))


@pytest.mark.parametrize(
    "device,calls",
    [
        ("cuda", [("set_device", 1), ("init", "nccl")]),
        ("cuda:1", [("set_device", 1), ("init", "nccl")]),
        ("cpu", [("init", "gloo")]),
    ],
)
def test_init_from_env_joins_nccl_on_cuda_with_this_ranks_gpu(monkeypatch, device, calls):
    """torchrun with --device cuda: nccl, and the current GPU is LOCAL_RANK's (all_gather_object's tensors go there)."""
    from symspec.distributed import init_from_env

    joins = _Joins(monkeypatch, world=2, local_rank=1)
    assert init_from_env(device) is True
    assert joins.calls == calls


def test_init_from_env_does_nothing_in_one_process(monkeypatch):
    from symspec.distributed import init_from_env

    joins = _Joins(monkeypatch, world=1, local_rank=0)
    assert init_from_env("cuda") is False and joins.calls == []


def test_validate_cli_under_torchrun_puts_each_rank_on_its_gpu(monkeypatch):
    """``symspec validate --device cuda`` under torchrun: rank r validates on cuda:LOCAL_RANK in an nccl group."""
    from symspec.validation.cli import _join_torchrun

    joins = _Joins(monkeypatch, world=2, local_rank=1)
    assert _join_torchrun("cuda") == (True, "cuda:1")
    assert joins.calls == [("set_device", 1), ("init", "nccl")]
