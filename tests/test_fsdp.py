"""symspec under FSDP on the CPU: two gloo processes, spawned once for the file (docs/distributed.md, "FSDP").

FSDP2 (``torch.distributed.fsdp.fully_shard``: the root alone, and each
``Linear`` as its own unit) and FSDP1 (``FullyShardedDataParallel``,
``use_orig_params=True``) wrap the pair MLP; each rank runs the compiled
``SymmetryLoss`` (fused and not, every law with its own draws), ``augment``
and ``symmetrize`` on its shard of the batch and saves the full (gathered)
gradients; ECD trains FSDP2 shards for a few steps. The tests compare them
with one process on the same draws.
"""

from __future__ import annotations

import os

import pytest
import torch
from spawn_ranks import leave_group, spawn_ranks
from test_ddp import SEED, WORLD, _global_batch, _grads, _local, _model, _module, _step

from symspec.distributed import generator, shard_batch
from symspec.errors import UsageError
from symspec.optim import ECD

TIMEOUT = 90  # seconds for the two processes
LAYOUTS = ("root", "layers")
ECD_STEPS = 4
ECD_OPTIONS = dict(lr=0.3, eta=4.0, F0=0.0, nu=0.5, weight_decay=0.01)
NOISE_SEED = 99


def _fsdp2(layout: str) -> torch.nn.Module:
    """The pair MLP sharded by FSDP2 (in place) over 2 ranks; ``layers`` makes each Linear a unit of its own."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    model = _model()
    mesh = init_device_mesh("cpu", (WORLD,))
    if layout == "layers":
        for layer in model.net:
            if isinstance(layer, torch.nn.Linear):
                fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def _task(model, batch: dict) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(batch["a"], batch["b"]), batch["target"])


def _ecd_steps(opt: ECD, loss_of) -> None:
    def closure():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        return loss

    for _ in range(ECD_STEPS):
        opt.step(closure)


def _full_grads(model) -> list:
    """FSDP2's sharded gradients gathered to full tensors (a collective: every rank calls it)."""
    return [p.grad.full_tensor().detach().clone() for p in model.parameters()]


def _worker(rank: int, port: int, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    results: dict = {}
    local = shard_batch(_global_batch())
    mod = _module()
    for layout in LAYOUTS:
        for fused in (True, False):
            model = _fsdp2(layout)
            _step(model, mod.SymmetryLoss(add=model, generator=generator(SEED), fused=fused), local)
            results[f"fsdp2-{layout}-{'fused' if fused else 'unfused'}"] = _full_grads(model)
    model = _fsdp2("layers")
    _step(model, _module(["commutes"]).SymmetryLoss(add=model), local)
    results["fsdp2-commutes"] = _full_grads(model)
    model = _fsdp2("layers")
    aug = mod.augment(local, generator(SEED))
    torch.nn.functional.cross_entropy(model(aug["a"], aug["b"]), aug["target"]).backward()
    results["fsdp2-augment"] = _full_grads(model)
    model = _fsdp2("layers")
    sym = mod.symmetrize("add", model)
    torch.nn.functional.cross_entropy(sym(local["a"], local["b"]), local["target"]).backward()
    results["fsdp2-symmetrize"] = _full_grads(model)
    for layout in LAYOUTS:  # ECD on the shards: every law with this rank's draws, the bounce from a shared stream
        model = _fsdp2(layout)
        loss_fn = mod.SymmetryLoss(add=model, generator=generator(SEED))
        opt = ECD(model.parameters(), generator=generator(NOISE_SEED, shared=True), **ECD_OPTIONS)
        _ecd_steps(opt, lambda model=model, loss_fn=loss_fn: _task(model, local) + loss_fn(local))
        results[f"ecd-{layout}"] = [p.full_tensor().detach().clone() for p in model.parameters()]
        results[f"ecd-{layout}-state"] = type(opt.state[next(iter(model.parameters()))]["velocity"]).__name__
    model = _fsdp2("root")
    try:
        _ecd_steps(ECD(model.parameters(), distributed=False, **ECD_OPTIONS), lambda: _task(model, local))
        results["fsdp2-ecd-not-distributed"] = "no error"
    except UsageError as err:
        results["fsdp2-ecd-not-distributed"] = str(err)
    from torch.distributed.fsdp import FullyShardedDataParallel

    model = FullyShardedDataParallel(_model(), device_id=torch.device("cpu"), use_orig_params=True)
    try:
        _ecd_steps(ECD(model.parameters(), **{**ECD_OPTIONS, "nu": 0.0}), lambda: _task(model, local))
        results["fsdp1-ecd"] = "no error"
    except UsageError as err:
        results["fsdp1-ecd"] = str(err)

    for fused in (True, False):
        model = FullyShardedDataParallel(_model(), device_id=torch.device("cpu"), use_orig_params=True)
        _step(model, mod.SymmetryLoss(add=model, generator=generator(SEED), fused=fused), local)
        with FullyShardedDataParallel.summon_full_params(model, with_grads=True):
            results[f"fsdp1-{'fused' if fused else 'unfused'}"] = _grads(model)
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    leave_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list:
    """What each of the two ranks saved (one spawn for the whole file)."""
    out = str(tmp_path_factory.mktemp("fsdp"))
    return spawn_ranks(_worker, WORLD, TIMEOUT, out)


def _close(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def _mean_over_ranks(loss_of) -> list:
    """Gradients of the mean over the ranks of ``loss_of(model, rank, local batch)``, in one process."""
    model = _model()
    total = sum(loss_of(model, rank, _local(_global_batch(), rank)) for rank in range(WORLD)) / WORLD
    total.backward()
    return _grads(model)


KEYS = [f"fsdp2-{layout}-{kind}" for layout in LAYOUTS for kind in ("fused", "unfused")] + ["fsdp1-fused", "fsdp1-unfused"]


@pytest.mark.parametrize("key", KEYS)
def test_gradients_with_draws_equal_one_process_with_each_ranks_draws(ranks, key):
    """Every law, each rank's stream: the full gradients are the mean over the ranks' shards in one process."""
    mod = _module()
    fused = key.endswith("-fused")

    def loss_of(model, rank, local):
        return _task(model, local) + mod.SymmetryLoss(add=model, generator=generator(SEED, rank=rank), fused=fused)(local)

    want = _mean_over_ranks(loss_of)
    for rank in ranks:
        _close(rank[key], want)
    assert ranks[0][key][0].abs().sum() > 0


def test_gradients_without_draws_equal_the_global_batch(ranks):
    model = _model()
    _step(model, _module(["commutes"]).SymmetryLoss(add=model), _global_batch())
    for rank in ranks:
        _close(rank["fsdp2-commutes"], _grads(model))


def test_augment_then_train_equals_one_process_with_each_ranks_draws(ranks):
    mod = _module()
    want = _mean_over_ranks(lambda model, rank, local: _task(model, mod.augment(local, generator(SEED, rank=rank))))
    for rank in ranks:
        _close(rank["fsdp2-augment"], want)


def test_symmetrize_equals_the_global_batch(ranks):
    mod = _module()
    model = _model()
    batch = _global_batch()
    sym = mod.symmetrize("add", model)
    torch.nn.functional.cross_entropy(sym(batch["a"], batch["b"]), batch["target"]).backward()
    for rank in ranks:
        _close(rank["fsdp2-symmetrize"], _grads(model))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_ecd_on_fsdp2_shards_equals_one_process_on_the_mean_loss(ranks, layout):
    """ECD on the ranks' shards (norms added over them, the bounce cut from one full draw): one process's trajectory."""
    mod = _module()
    model = _model()
    loss_fns = [mod.SymmetryLoss(add=model, generator=generator(SEED, rank=r)) for r in range(WORLD)]
    batches = [_local(_global_batch(), r) for r in range(WORLD)]
    opt = ECD(model.parameters(), generator=torch.Generator().manual_seed(NOISE_SEED), **ECD_OPTIONS)
    _ecd_steps(opt, lambda: sum(_task(model, b) + f(b) for f, b in zip(loss_fns, batches)) / WORLD)
    for rank in ranks:
        _close(rank[f"ecd-{layout}"], [p.detach() for p in model.parameters()])
        assert rank[f"ecd-{layout}-state"] == "DTensor"  # the velocity is sharded like its parameter
    start = _model()
    assert any(not torch.allclose(p, q) for p, q in zip(ranks[0][f"ecd-{layout}"], start.parameters()))


def test_ecd_refuses_fsdp1_and_unreduced_shards(ranks):
    for rank in ranks:
        assert "does not support FullyShardedDataParallel (FSDP1)" in rank["fsdp1-ecd"], rank["fsdp1-ecd"]
        assert "sharded over several ranks need distributed=None or True" in rank["fsdp2-ecd-not-distributed"]


def test_ecd_on_a_one_rank_mesh_is_plain_ecd(tmp_path):
    """FSDP2 over one rank (in this process): the shards are whole tensors, ECD steps as without FSDP."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    batch = _global_batch()
    plain = _model()
    _ecd_steps(ECD(plain.parameters(), generator=torch.Generator().manual_seed(1), **ECD_OPTIONS), lambda: _task(plain, batch))
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = _model()
        fully_shard(model, mesh=init_device_mesh("cpu", (1,)))
        opt = ECD(model.parameters(), generator=torch.Generator().manual_seed(1), **ECD_OPTIONS)
        _ecd_steps(opt, lambda: _task(model, batch))
        got = [p.full_tensor().detach() for p in model.parameters()]
    finally:
        torch.distributed.destroy_process_group()
    _close(got, [p.detach() for p in plain.parameters()])
