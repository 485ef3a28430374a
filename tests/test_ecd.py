"""symspec.optim.ECD: the update against the formulas written out by hand, its invariants and its state."""

from __future__ import annotations

import math
import os
import sys
import tempfile
import warnings

import pytest
import torch
from torch import nn

from symspec.errors import UsageError
from symspec.optim import ECD

D64 = torch.float64


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(D64)


def _data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(8, 3, generator=g, dtype=D64), torch.randn(8, 2, generator=g, dtype=D64)


def _closure(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    return closure


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _loss_and_grad(model: nn.Module, x, y) -> tuple[torch.Tensor, torch.Tensor]:
    loss = ((model(x) - y) ** 2).mean()
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return loss.detach(), _flat(grads)


def test_first_and_second_step_equal_the_formula():
    model, (x, y) = _model(), _data()
    lr, eta, F0, wd = 0.3, 4.0, -1.0, 0.01
    params = list(model.parameters())
    opt = ECD(model.parameters(), lr=lr, eta=eta, F0=F0, weight_decay=wd)
    dt, D = lr / math.sqrt(eta), sum(p.numel() for p in params)

    theta0 = _flat(params).detach().clone()
    _, grad0 = _loss_and_grad(model, x, y)
    g0 = grad0 + wd * theta0
    p1 = -g0 / g0.norm()
    theta1 = theta0 + dt * p1
    opt.step(_closure(model, opt, x, y))
    torch.testing.assert_close(_flat(params).detach(), theta1, rtol=0, atol=1e-15)
    torch.testing.assert_close(_flat(opt.state[p]["velocity"] for p in params), p1, rtol=0, atol=1e-15)

    F1, grad1 = _loss_and_grad(model, x, y)
    g1 = grad1 + wd * theta1
    V = F1 + wd * theta1.dot(theta1) / 2 - F0
    p2 = p1 - (eta * dt / 2) * (D / (D - 1)) * (g1 - p1 * p1.dot(g1)) / V
    p2 = p2 / p2.norm()
    theta2 = theta1 + dt * p2
    opt.step(_closure(model, opt, x, y))
    torch.testing.assert_close(_flat(params).detach(), theta2, rtol=0, atol=1e-14)
    torch.testing.assert_close(_flat(opt.state[p]["velocity"] for p in params), p2, rtol=0, atol=1e-14)


def test_groups_with_their_own_lr_and_weight_decay_share_one_velocity():
    model, (x, y) = _model(), _data()
    eta, F0 = 9.0, -0.5
    first, second = list(model[0].parameters()), list(model[2].parameters())
    lrs, wds = (0.2, 0.05), (0.0, 0.1)
    opt = ECD(
        [dict(params=first, lr=lrs[0], weight_decay=wds[0]), dict(params=second, lr=lrs[1], weight_decay=wds[1])],
        eta=eta,
        F0=F0,
    )
    D = sum(p.numel() for p in first + second)
    n0 = sum(p.numel() for p in first)
    dts = torch.cat([torch.full((n0,), lrs[0] / 3, dtype=D64), torch.full((D - n0,), lrs[1] / 3, dtype=D64)])
    wdv = torch.cat([torch.full((n0,), wds[0], dtype=D64), torch.full((D - n0,), wds[1], dtype=D64)])
    for _ in range(2):
        opt.step(_closure(model, opt, x, y))
    theta = _flat(first + second).detach().clone()
    p = _flat(opt.state[q]["velocity"] for q in first + second)
    F, grad = _loss_and_grad(model, x, y)
    g = grad + wdv * theta
    V = F + (wdv * theta * theta).sum() / 2 - F0
    p_new = p - (eta * dts / 2) * (D / (D - 1)) * (g - p * p.dot(g)) / V
    p_new = p_new / p_new.norm()
    opt.step(_closure(model, opt, x, y))
    torch.testing.assert_close(_flat(first + second).detach(), theta + dts * p_new, rtol=0, atol=1e-14)


@pytest.mark.parametrize("nu", [0.0, 0.5])
def test_velocity_stays_unit(nu):
    model, (x, y) = _model(), _data()
    opt = ECD(model.parameters(), lr=0.5, eta=4.0, F0=-1.0, nu=nu, generator=torch.Generator().manual_seed(3))
    closure = _closure(model, opt, x, y)
    for _ in range(40):
        opt.step(closure)
        norm = _flat(opt.state[p]["velocity"] for p in model.parameters()).norm().item()
        assert abs(norm - 1) < 1e-12


def test_no_update_while_energy_not_positive():
    model, (x, y) = _model(), _data()
    opt = ECD(model.parameters(), lr=0.5, eta=4.0, F0=1e6)
    closure = _closure(model, opt, x, y)
    before = [p.detach().clone() for p in model.parameters()]
    loss = opt.step(closure)
    assert isinstance(loss, torch.Tensor) and loss.item() < 1e6
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert len(opt.state) == 0, "the first step waits for V > 0"
    # initialized, then the energy drops to <= 0: neither theta nor p moves (also with bounces on)
    for group in opt.param_groups:
        group.update(F0=-1.0, nu=0.3)
    opt.generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        opt.step(closure)
    for group in opt.param_groups:
        group["F0"] = 1e6
    theta = [p.detach().clone() for p in model.parameters()]
    vel = [opt.state[p]["velocity"].clone() for p in model.parameters()]
    opt.step(closure)
    assert all(torch.equal(a, b) for a, b in zip(theta, model.parameters()))
    assert all(torch.equal(a, opt.state[p]["velocity"]) for a, p in zip(vel, model.parameters()))


def test_state_is_one_velocity_tensor_per_parameter():
    model, (x, y) = _model(), _data()
    opt = ECD(model.parameters(), lr=0.5, eta=4.0, F0=-1.0, nu=0.1, weight_decay=0.01)
    for _ in range(3):
        opt.step(_closure(model, opt, x, y))
    params = list(model.parameters())
    assert len(opt.state) == len(params)
    for p in params:
        state = opt.state[p]
        assert list(state) == ["velocity"]
        assert state["velocity"].shape == p.shape and state["velocity"].data_ptr() != p.data_ptr()
    saved = opt.state_dict()["state"]
    assert len(saved) == len(params)
    assert all(sum(isinstance(v, torch.Tensor) for v in s.values()) == 1 for s in saved.values())


def test_state_dict_round_trip_continues_identically():
    x, y = _data()
    model = _model()
    gen = torch.Generator().manual_seed(5)
    opt = ECD(model.parameters(), lr=0.5, eta=4.0, F0=-1.0, nu=0.2, generator=gen)
    for _ in range(4):
        opt.step(_closure(model, opt, x, y))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), gen=gen.get_state()), path)
        ckpt = torch.load(path)
    fresh = _model(seed=99)
    fresh.load_state_dict(ckpt["model"])
    fresh_gen = torch.Generator()
    fresh_gen.set_state(ckpt["gen"])
    fresh_opt = ECD(fresh.parameters(), lr=1.0, eta=1.0, F0=0.0, generator=fresh_gen)
    fresh_opt.load_state_dict(ckpt["opt"])
    assert fresh_opt.param_groups[0]["nu"] == 0.2 and fresh_opt.param_groups[0]["eta"] == 4.0
    for _ in range(4):
        opt.step(_closure(model, opt, x, y))
        fresh_opt.step(_closure(fresh, fresh_opt, x, y))
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), fresh.parameters()))


def test_decreases_a_convex_quadratic():
    torch.manual_seed(0)
    A = torch.randn(30, 30, dtype=D64)
    A = A @ A.T / 30 + 0.1 * torch.eye(30, dtype=D64)
    x = nn.Parameter(3 * torch.randn(30, dtype=D64))
    opt = ECD([x], lr=0.5, eta=100.0, F0=0.0)

    def closure():
        opt.zero_grad()
        loss = 0.5 * x @ A @ x + 1.0
        loss.backward()
        return loss

    first = closure().item()
    losses = [opt.step(closure).item() for _ in range(400)]
    assert losses[0] == first
    assert min(losses) - 1.0 < 1e-3 * (first - 1.0), (first, min(losses))
    assert losses[-1] - 1.0 < 0.05 * (first - 1.0)


def test_bounce_is_reproducible_from_the_generator():
    x, y = _data()

    def run(seed: int) -> list[torch.Tensor]:
        model = _model()
        opt = ECD(model.parameters(), lr=0.5, eta=4.0, F0=-1.0, nu=0.5, generator=torch.Generator().manual_seed(seed))
        for _ in range(5):
            opt.step(_closure(model, opt, x, y))
        return [p.detach().clone() for p in model.parameters()]

    a, b, c = run(1), run(1), run(2)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not all(torch.equal(u, v) for u, v in zip(a, c))


def test_usage_errors():
    model = _model()
    opt = ECD(model.parameters())
    with pytest.raises(UsageError, match="closure"):
        opt.step()
    with pytest.raises(UsageError, match="returned None"):
        opt.step(lambda: None)
    with pytest.raises(UsageError, match="eta must"):
        ECD(model.parameters(), eta=0.0)
    groups = [dict(params=model[0].parameters(), eta=4.0), dict(params=model[2].parameters())]
    opt = ECD(groups)
    x, y = _data()
    with pytest.raises(UsageError, match="eta must be the same in every parameter group"):
        opt.step(_closure(model, opt, x, y))


_WORKER = r"""
import sys, torch, torch.distributed as dist
from torch import nn
from symspec.optim import ECD
rank, path, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo", init_method="file://" + path, rank=rank, world_size=2)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(torch.float64)
ddp = nn.parallel.DistributedDataParallel(model)
g = torch.Generator().manual_seed(10 + rank)
x, y = torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randn(8, 2, generator=g, dtype=torch.float64)
opt = ECD(model.parameters(), lr=0.5, eta=4.0, F0=-1.0, weight_decay=0.01)
def closure():
    opt.zero_grad()
    loss = ((ddp(x) - y) ** 2).mean()
    loss.backward()
    return loss
for _ in range(5):
    opt.step(closure)
torch.save([p.detach() for p in model.parameters()], out)
dist.barrier()
dist.destroy_process_group()
"""


def test_ddp_two_ranks_match_one_process_on_the_mean_loss(tmp_path):
    """Two gloo ranks with different batches: identical parameters, equal to one process on the mean loss."""
    import subprocess

    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    store = tmp_path / "store"
    outs = [tmp_path / f"rank{r}.pt" for r in range(2)]
    procs = [
        subprocess.Popen([sys.executable, str(script), str(r), str(store), str(outs[r])], stderr=subprocess.PIPE)
        for r in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    ranks = [torch.load(o) for o in outs]
    assert all(torch.equal(a, b) for a, b in zip(*ranks))

    model = _model(seed=0)
    batches = []
    for r in range(2):
        g = torch.Generator().manual_seed(10 + r)
        batches.append((torch.randn(8, 3, generator=g, dtype=D64), torch.randn(8, 2, generator=g, dtype=D64)))
    opt = ECD(model.parameters(), lr=0.5, eta=4.0, F0=-1.0, weight_decay=0.01)

    def closure():
        opt.zero_grad()
        loss = sum(((model(x) - y) ** 2).mean() for x, y in batches) / 2
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    for a, b in zip(ranks[0], model.parameters()):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=1e-13)


def test_facade_is_lazy_and_reexports_quotient():
    import subprocess

    code = (
        "import sys, symspec\n"
        "assert 'torch' not in sys.modules\n"
        "opt = symspec.optim\n"
        "assert 'torch' in sys.modules and not any(m.startswith('symspec.audit') for m in sys.modules)\n"
        "from symspec.audit.quotient import QuotientOptimizer\n"
        "assert opt.Quotient is QuotientOptimizer and symspec.nn.break_attention\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_ecd_on_the_quotient():
    """Quotient(ECD): every update is orthogonal to the attention symmetry tangents, the loss still falls."""
    from symspec.audit.quotient import project
    from symspec.optim import Quotient

    torch.manual_seed(0)
    model = nn.MultiheadAttention(8, 2, batch_first=True).to(D64)
    x, y = torch.randn(4, 5, 8, dtype=D64), torch.randn(4, 5, 8, dtype=D64)
    opt = Quotient(ECD(model.parameters(), lr=0.3, eta=100.0, F0=0.0), model, mode="update")
    assert opt.symmetries, "the audit finds the QK and VO symmetries"

    def closure():
        opt.zero_grad()
        loss = ((model(x, x, x)[0] - y) ** 2).mean()
        loss.backward()
        return loss

    losses = []
    for _ in range(10):
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        losses.append(opt.step(closure).item())
        delta = {n: p.detach() - before[n] for n, p in model.named_parameters()}
        projected, _ = project(before, delta, opt.symmetries)
        for n in delta:  # already in the complement: projecting again changes nothing
            torch.testing.assert_close(projected[n], delta[n], rtol=0, atol=1e-10)
    assert closure().item() < losses[0]


def test_mixed_dtypes_share_one_global_velocity():
    """Tensors of different dtypes land in different foreach buckets; the products stay global."""
    torch.manual_seed(1)
    a = nn.Parameter(torch.randn(5, dtype=D64))
    b = nn.Parameter(torch.randn(3, dtype=torch.float32))
    target_a, target_b = torch.randn(5, dtype=D64), torch.randn(3, dtype=torch.float32)
    opt = ECD([a, b], lr=0.3, eta=4.0, F0=-1.0)

    def loss_of(ta, tb):
        return ((ta - target_a) ** 2).sum() + ((tb.double() - target_b.double()) ** 4).sum()

    def closure():
        opt.zero_grad()
        loss = loss_of(a, b)
        loss.backward()
        return loss

    opt.step(closure)
    theta = torch.cat([a.detach(), b.detach().double()])
    p = torch.cat([opt.state[a]["velocity"], opt.state[b]["velocity"].double()])
    ta, tb = a.detach().clone().requires_grad_(), b.detach().double().clone().requires_grad_()
    F = loss_of(ta, tb)
    g = torch.cat(torch.autograd.grad(F, [ta, tb]))
    p_new = p - (4.0 * 0.15 / 2) * (8 / 7) * (g - p * p.dot(g)) / (F.detach() + 1.0)
    p_new = p_new / p_new.norm()
    opt.step(closure)
    got = torch.cat([a.detach(), b.detach().double()])
    torch.testing.assert_close(got, theta + 0.15 * p_new, rtol=0, atol=1e-6)
    assert opt.state[b]["velocity"].dtype == torch.float32


def test_a_first_step_below_f0_warns_once_and_moves_nothing():
    model = torch.nn.Linear(2, 1).double()
    opt = ECD(model.parameters())  # F0 = 2 by default; this loss stays far below it
    x = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = [p.detach().clone() for p in model.parameters()]

    def closure():
        opt.zero_grad()
        loss = (model(x) ** 2).mean() * 1e-3
        loss.backward()
        return loss

    with pytest.warns(RuntimeWarning, match="does not move while V = F - F0 <= 0"):
        opt.step(closure)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step(closure)  # once only
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.a = nn.Linear(3, 2).to(D64)
        self.b = nn.Linear(3, 2).to(D64)

    def forward(self, x, use_b: bool):
        return self.a(x) + (self.b(x) if use_b else 0)


def _two_head_run(zero_instead_of_none: bool) -> tuple[nn.Module, ECD]:
    model, (x, y) = _TwoHeads(), _data()
    opt = ECD(model.parameters(), lr=0.3, eta=4.0, F0=-1.0)
    for use_b in (True, False, False, True):

        def closure(use_b=use_b):
            opt.zero_grad(set_to_none=True)
            out = model(x, use_b)
            if not use_b and zero_instead_of_none:  # the same loss, with b's gradient an explicit zero
                out = out + 0 * sum(p.sum() for p in model.b.parameters())
            loss = ((out - y) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        norm = _flat(opt.state[p]["velocity"] for p in model.parameters()).norm().item()
        assert abs(norm - 1) < 1e-12
    return model, opt


def test_a_tensor_unused_in_a_step_coasts_with_zero_gradient():
    """A tensor with a velocity and no gradient this step steps as with g = 0: |p| = 1 over all tensors."""
    coasting, _ = _two_head_run(zero_instead_of_none=False)
    explicit, _ = _two_head_run(zero_instead_of_none=True)
    for p, q in zip(coasting.parameters(), explicit.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-14)


def test_a_frozen_tensor_does_not_move():
    model, (x, y) = _model(), _data()
    opt = ECD(model.parameters(), lr=0.3, eta=4.0, F0=-1.0)
    closure = _closure(model, opt, x, y)
    opt.step(closure)
    opt.step(closure)
    frozen = model[0].weight
    frozen.requires_grad_(False)
    before = frozen.detach().clone()
    opt.step(closure)
    opt.step(closure)
    assert torch.equal(frozen, before)
    moving = [p for p in model.parameters() if p.requires_grad]
    assert abs(_flat(opt.state[p]["velocity"] for p in moving).norm().item() - 1) < 1e-12
