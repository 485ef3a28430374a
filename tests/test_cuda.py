"""Every backend on CUDA tensors equals the CPU (float64, tight tolerances): loss, augment, layers, validate, ECD, break.

Marked ``cuda`` and skipped without a CUDA device; ``benchmarks/gpu_check.sh``
runs them with ``-m cuda``. ``SYMSPEC_CUDA_TEST_DEVICE=cpu`` runs the same
comparisons against a second CPU copy (``gpu_check.sh --cpu-dry-run``): it
checks the tests themselves, not CUDA.
"""

from __future__ import annotations

import copy
import json
import os
import sys

import pytest
import torch
from conftest import ROOT
from test_layers_random_params import CASES, _randomize, _spec

import symspec
from symspec.nn import break_attention
from symspec.optim import ECD

DEVICE = os.environ.get("SYMSPEC_CUDA_TEST_DEVICE", "cuda")
D64 = torch.float64
P = 7

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(torch.device(DEVICE).type == "cuda" and not torch.cuda.is_available(), reason="no CUDA device here"),
]


def _pair_model(seed: int = 0) -> torch.nn.Module:
    sys.path.insert(0, str(ROOT / "examples"))
    from trainlib import PairMLP

    torch.manual_seed(seed)
    return PairMLP(P, P, d_embed=8, hidden=16).to(D64)


def _modular(laws=None):
    spec = symspec.load(ROOT / "examples" / "modular_addition.sym", params={"p": P})
    return symspec.compile(spec.select(laws) if laws else spec)


def _pairs() -> dict:
    a, b = torch.meshgrid(torch.arange(P), torch.arange(P), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    return {"a": a, "b": b, "target": (a + b) % P}


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


@pytest.mark.parametrize("fused", [True, False])
def test_loss_and_its_gradients_equal_the_cpu(fused):
    """Laws without draws on every pair: the loss and every gradient equal the CPU's."""
    mod = _modular(["commutes"])
    cpu = _pair_model()
    dev = copy.deepcopy(cpu).to(DEVICE)
    values = []
    for model, device in ((cpu, "cpu"), (dev, DEVICE)):
        loss = mod.SymmetryLoss(add=model, fused=fused)(_to(_pairs(), device))
        loss.backward()
        assert loss.device.type == torch.device(device).type
        values.append(loss.detach().cpu())
    torch.testing.assert_close(values[1], values[0], rtol=1e-10, atol=1e-12)
    for p, q in zip(cpu.parameters(), dev.parameters()):
        torch.testing.assert_close(q.grad.cpu(), p.grad, rtol=1e-9, atol=1e-12)


def test_loss_with_draws_runs_on_the_device_and_replays():
    mod = _modular()
    model = _pair_model().to(DEVICE)
    runs = []
    for _ in range(2):
        g = torch.Generator(device=DEVICE).manual_seed(5)
        loss = mod.SymmetryLoss(add=model, generator=g, fused=True)
        runs.append(loss(_to(_pairs(), DEVICE)).detach())
    assert torch.isfinite(runs[0]) and runs[0] > 0
    assert torch.equal(runs[0], runs[1])


def test_augment_on_the_device_keeps_the_law():
    """Each augmented pair is a symmetry of the task: the target follows the inputs; same seed, same draws."""
    mod = _modular()
    out = [mod.augment(_to(_pairs(), DEVICE), torch.Generator(device=DEVICE).manual_seed(3)) for _ in range(2)]
    assert out[0]["a"].device.type == torch.device(DEVICE).type
    assert torch.equal(((out[0]["a"] + out[0]["b"]) % P), out[0]["target"])
    assert not torch.equal(out[0]["a"], _pairs()["a"].to(DEVICE))
    for k in out[0]:
        assert torch.equal(out[0][k], out[1][k])


def test_image_augment_applies_one_of_the_eight_d4_moves():
    spec = symspec.load(ROOT / "examples" / "image_d4.sym", params={"size": 5})
    mod = symspec.compile(spec)
    x = torch.randn(16, 5, 5, dtype=D64, generator=torch.Generator().manual_seed(0))
    out = mod.augment({"x": x.to(DEVICE)}, torch.Generator(device=DEVICE).manual_seed(1))["x"].cpu()
    moves = [torch.rot90(x, k, (1, 2)) for k in range(4)]
    moves += [m.flip(2) for m in moves]
    gap = torch.stack([(out - m).abs().flatten(1).max(1).values for m in moves]).min(0).values
    assert torch.equal(gap, torch.zeros_like(gap))


LAYER_CASES = [(c[0], c[1], c[2], c[4]) for c in CASES] + [
    ("groupconv-lift4", ("image_d4", {"size": 5}), "lift4", (2, 5, 5)),
    ("groupconv-conv8", ("image_d4", {"size": 5}), "conv8", (2, 8, 5, 5)),
    ("steerable-edges", ("point_cloud_net", None), "edges", (2, 6, 3)),
    ("steerable-edge-mix", ("point_cloud_net", None), "edge_mix", (2, 6, 6, 3)),
    ("graph-message", ("graph_layers", None), "message", (2, 5, 16)),
]


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_every_layer_kind_equals_the_cpu(case):
    _, source, name, shape = case
    layer = symspec.compile(_spec(source)).LAYERS[name](shape[0], 3).to(D64)
    _randomize(layer, seed=7)
    x = torch.randn(4, *shape, dtype=D64, generator=torch.Generator().manual_seed(2))
    want = layer(x)
    got = copy.deepcopy(layer).to(DEVICE)(x.to(DEVICE))
    assert got.device.type == torch.device(DEVICE).type
    torch.testing.assert_close(got.cpu(), want, rtol=1e-9, atol=1e-10)


def _untimed(report) -> dict:
    d = json.loads(report.to_json())
    d.pop("device")
    for t in d["tabulated"].values():
        t.pop("seconds")
    for law in d["laws"]:
        law.pop("seconds")
    return d


@pytest.mark.parametrize("tabulate", [None, False])
def test_validate_on_the_device_equals_the_cpu(tabulate):
    mod = _modular()
    reports = [
        _untimed(symspec.validate(mod, add=_pair_model(3), device=device, tabulate=tabulate, batch_size=100))
        for device in ("cpu", DEVICE)
    ]
    for cpu, dev in zip(reports[0]["laws"], reports[1]["laws"]):
        assert cpu["mode"] == "exhaustive" and cpu["violations"] > 0
        for key in ("cases", "skipped", "violations", "nonfinite", "rate", "passed"):
            assert dev[key] == cpu[key], key
        assert dev["divergence"] == pytest.approx(cpu["divergence"], rel=1e-9)
        assert [e["values"] for e in dev["examples"]] == [e["values"] for e in cpu["examples"]]


def test_ecd_steps_equal_the_cpu():
    torch.manual_seed(0)
    cpu = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).to(D64)
    dev = copy.deepcopy(cpu).to(DEVICE)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 3, generator=g, dtype=D64), torch.randn(8, 2, generator=g, dtype=D64)
    for model, device in ((cpu, "cpu"), (dev, DEVICE)):
        opt = ECD(model.parameters(), lr=0.3, eta=4.0, F0=-1.0, weight_decay=0.01)
        xd, yd = x.to(device), y.to(device)

        def closure(model=model, opt=opt, xd=xd, yd=yd):
            opt.zero_grad()
            loss = ((model(xd) - yd) ** 2).mean()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
    for p, q in zip(cpu.parameters(), dev.parameters()):
        torch.testing.assert_close(q.detach().cpu(), p.detach(), rtol=1e-9, atol=1e-12)


def test_broken_attention_equals_the_cpu():
    torch.manual_seed(0)
    cpu = torch.nn.MultiheadAttention(8, 2, batch_first=True).to(D64)
    break_attention(cpu, generator=torch.Generator().manual_seed(4))
    dev = copy.deepcopy(cpu).to(DEVICE)
    x = torch.randn(3, 5, 8, dtype=D64, generator=torch.Generator().manual_seed(2))
    cpu.eval(), dev.eval()
    with torch.no_grad():
        want = cpu(x, x, x)[0]
        got = dev(*(x.to(DEVICE),) * 3)[0]
    torch.testing.assert_close(got.cpu(), want, rtol=1e-9, atol=1e-10)


def test_one_rank_process_group_equals_no_group(tmp_path):
    """A 1-rank group (nccl on CUDA, gloo in the dry run): DDP, the fused loss with draws, ECD's collectives, validate.

    What torchrun with one GPU runs (NCCL refuses two ranks on one GPU): DDP's gradient
    all_reduce and ECD's all_gather and all_reduce of device tensors, then ``symspec.validate``
    inside the group; everything equals the same steps without a group.
    """
    from symspec.distributed import generator

    cuda = torch.device(DEVICE).type == "cuda"
    mod = _modular()
    batch = _to(_pairs(), DEVICE)

    def run(wrap, distributed: bool):
        inner = _pair_model().to(DEVICE)
        model = wrap(inner)
        loss_fn = mod.SymmetryLoss(add=model, generator=torch.Generator(device=DEVICE).manual_seed(5), fused=True)
        opt = ECD(inner.parameters(), lr=0.3, eta=4.0, F0=0.0, nu=0.2, generator=generator(7, DEVICE, shared=True))
        opt.distributed = distributed

        def closure():
            opt.zero_grad()
            task = torch.nn.functional.cross_entropy(model(batch["a"], batch["b"]), batch["target"])
            loss = task + loss_fn(batch)
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        return inner

    def counts(model) -> list:
        report = _untimed(symspec.validate(mod, add=model, device=DEVICE, batch_size=100))
        return [(law["name"], law["cases"], law["violations"], law["divergence"]) for law in report["laws"]]

    alone = run(lambda m: m, distributed=False)
    torch.distributed.init_process_group(
        "nccl" if cuda else "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        if cuda:
            torch.cuda.set_device(torch.device(DEVICE))
        ids = [torch.cuda.current_device()] if cuda else None
        grouped = run(lambda m: torch.nn.parallel.DistributedDataParallel(m, device_ids=ids), distributed=True)
        in_group = counts(grouped)
        gathered = [None]
        torch.distributed.all_gather_object(gathered, in_group)  # what sharded validation's merge calls
    finally:
        torch.distributed.destroy_process_group()
    for p, q in zip(alone.parameters(), grouped.parameters()):
        torch.testing.assert_close(q.detach().cpu(), p.detach().cpu(), rtol=1e-10, atol=1e-12)
    assert not torch.allclose(alone.embed.weight.detach().cpu(), _pair_model().embed.weight.detach())  # ECD moved
    assert gathered == [in_group]
    for got, want in zip(in_group, counts(grouped)):  # validate in the group: the report without one
        assert got[:3] == want[:3] and got[3] == pytest.approx(want[3], rel=1e-9)
