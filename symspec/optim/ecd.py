"""Energy Conserving Descent (ECD): a unit velocity ``p`` per parameter, the loss as the energy denominator.

The update (docs/model-symmetries.md, section "ECD"), with ``g = grad F + wd * theta``,
``V = F + wd |theta|^2 / 2 - F0``, ``dt = lr / sqrt(eta)`` and ``D`` the number of parameters:

- first step: ``p = -g / |g|``;
- later steps: ``p <- p - (eta dt / 2) (D / (D - 1)) (g - p (p.g)) / V``, renormalized to ``|p| = 1``;
- then ``theta <- theta + dt p`` and, if ``nu > 0``, the bounce ``p <- (p + nu' z) / |p + nu' z|``
  with ``nu' = nu / sqrt(D)`` and ``z`` standard normal;
- nothing moves while ``V <= 0``.

Every dot product and norm is global (over all parameters of all groups), computed with
``torch._foreach_*`` reductions, one kernel per bucket of same-device, same-dtype tensors.

Under DDP (docs/distributed.md, "ECD under DDP and FSDP2"): ``F`` is the mean over the ranks of
the closures' losses (one ``all_reduce`` of the packed scalars per step). The first step checks
(one ``all_gather``) that the ranks step the same tensors with the same gradient norm and, with
``nu > 0``, start from the same noise stream, which ECD then draws from its own copy of. Under
FSDP2 each rank updates its shards (DTensor parameters): the norms are added over the ranks
(three small ``all_reduce`` per step, four with ``nu > 0``) and each shard takes its part of the
one full noise draw, so the trajectory is the single process's.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from ..errors import UsageError

__all__ = ["ECD"]

_GLOBAL_KEYS = ("eta", "F0", "nu")


class ECD(torch.optim.Optimizer):
    """Energy Conserving Descent; state is one velocity tensor per parameter (2N memory with the parameters).

    ``lr`` and ``weight_decay`` may differ between parameter groups; ``eta``, ``F0`` and ``nu`` are
    properties of the one global trajectory and must be equal in every group.  ``generator`` draws
    the bounce noise (``nu > 0``).  Under ``torch.distributed`` the loss and the global scalars are
    averaged over ranks once per step (``distributed=None``: whenever a process group with more than
    one rank is initialized; ``True``: always, even with one rank); with ``nu > 0`` there,
    ``generator`` must be one stream shared by the ranks (``symspec.distributed.generator(seed,
    shared=True)``).  Parameters replicated over the ranks (DDP) or sharded by FSDP2 over all of them
    (DTensors on a 1-D mesh); FSDP1's flat parameters are refused.
    ``step`` needs a closure that returns the loss.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1.0,
        eta: float = 100.0,
        F0: float = 2.0,
        nu: float = 0.0,
        weight_decay: float = 0.0,
        *,
        generator: torch.Generator | None = None,
        distributed: bool | None = None,
        process_group: Any = None,
    ) -> None:
        for name, value, low in (("lr", lr, 0.0), ("eta", eta, 0.0)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > low):
                raise UsageError(f"ECD: {name} must be a finite number > 0, got {value!r}")
        for name, value in (("nu", nu), ("weight_decay", weight_decay)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise UsageError(f"ECD: {name} must be a finite number >= 0, got {value!r}")
        if not (isinstance(F0, (int, float)) and math.isfinite(F0)):
            raise UsageError(f"ECD: F0 must be a finite number, got {F0!r}")
        defaults = dict(lr=float(lr), eta=float(eta), F0=float(F0), nu=float(nu), weight_decay=float(weight_decay))
        super().__init__(params, defaults)
        self._warned = False  # one warning when the first step finds V <= 0
        self.generator = generator
        self.distributed = distributed
        self.process_group = process_group
        self._noise_checked = False  # under torch.distributed with nu > 0: the ranks' noise streams agree
        self._replicas_checked = False  # under torch.distributed: the ranks step the same tensors (first step)
        self._noise: torch.Generator | None = None  # under torch.distributed: ECD's copy of the checked noise stream
        self._sharded = False  # this step holds FSDP2 shards: their norms are added over the ranks

    # ------------------------------------------------------------------ helpers

    def _globals(self) -> tuple[float, float, float]:
        first = self.param_groups[0]
        for group in self.param_groups[1:]:
            for key in _GLOBAL_KEYS:
                if group[key] != first[key]:
                    raise UsageError(
                        f"ECD: {key} must be the same in every parameter group "
                        f"(got {first[key]!r} and {group[key]!r}); only lr and weight_decay may differ"
                    )
        return first["eta"], first["F0"], first["nu"]

    def _world(self) -> int:
        """Ranks to average over; 0 for no reduction (``distributed=False``, or no group and ``distributed=None``)."""
        dist = torch.distributed
        ready = dist.is_available() and dist.is_initialized()
        if self.distributed is None:
            world = dist.get_world_size(self.process_group) if ready else 1
            return world if world > 1 else 0
        if not self.distributed:
            return 0
        if not ready:
            raise UsageError("ECD(distributed=True) needs an initialized process group (torch.distributed.init_process_group)")
        return dist.get_world_size(self.process_group)

    def _check_replicas(
        self, world: int, device: torch.device, structure: list, noise_state: Tensor | None, grad_sq: Tensor
    ) -> None:
        """On the first step under ``torch.distributed``: the ranks step the same tensors and, with ``nu > 0``, draw the same noise.

        One ``all_gather`` (on ``device``: nccl gathers device tensors only) of two 56-bit digests:
        the participating tensors (``structure``: their group, position, global shape and dtype; a
        parameter with a gradient on one rank only would move there alone, and ``D`` and the norms
        would differ) and, with ``nu > 0``, ``noise_state``, the generator's state when the step
        began (different noise would move the replicas apart for good). Every rank sees every
        digest, so all ranks raise together: none is left waiting. ``grad_sq`` (the squared norm of
        the replicated tensors' gradients) must agree too: gradients that differ between the ranks
        (a model not wrapped in DDP, or one model per rank) would move the replicas apart. Once checked, ECD draws from its
        own copy of that state, so draws from the caller's generator elsewhere (a loss given the
        same one) cannot move the ranks' noise apart.
        """
        noise = self._globals()[2] > 0 and not self._noise_checked
        if noise_state is not None:
            state = _digest(noise_state.numpy().tobytes())
        else:
            state = -1 if noise else 0  # -1: no generator
        mine = torch.tensor([_digest(repr(structure).encode()), state], dtype=torch.int64, device=device)
        mine = torch.cat([mine, grad_sq.to(device=device, dtype=torch.float64).reshape(1).view(torch.int64)])
        every = [torch.empty_like(mine) for _ in range(world)]
        torch.distributed.all_gather(every, mine, group=self.process_group)
        norms = [float(t[2:].view(torch.float64)) for t in every]
        every = [t[:2].tolist() for t in every]
        odd = [rank for rank, (shape, _) in enumerate(every) if shape != every[0][0]]
        if odd:
            raise UsageError(
                f"ECD: rank(s) {odd} step other tensors than rank 0 (parameters with a gradient, their shapes or "
                "dtypes differ between the ranks: a parameter frozen or unused on some ranks only?); every rank "
                "must step the same parameters with gradients averaged over the ranks (DDP) or sharded by FSDP2"
            )
        odd = [rank for rank, g in enumerate(norms) if not _agree(g, norms[0])]
        if odd:
            raise UsageError(
                f"ECD: rank(s) {odd} have other gradients than rank 0 (|g|^2 {norms[odd[0]]:.6g} and {norms[0]:.6g}): "
                "under a process group ECD steps replicas, whose gradients must be averaged over the ranks (wrap the "
                "model in DistributedDataParallel, or shard it with FSDP2); for one model per rank pass distributed=False"
            )
        if noise and any(state == -1 for _, state in every):
            raise UsageError(
                "ECD: nu > 0 under torch.distributed needs generator= one stream shared by the ranks "
                "(symspec.distributed.generator(seed, device, shared=True)); torch's global generator may "
                "differ between ranks"
            )
        if noise and any(state != every[0][1] for _, state in every):
            raise UsageError(
                "ECD: the ranks' noise generators differ (nu > 0 would move the replicas apart): pass one stream "
                "shared by the ranks, symspec.distributed.generator(seed, device, shared=True) (ECD then draws from its own copy)"
            )
        if structure:  # with no gradient anywhere nothing is stepped: check again when there is one
            self._replicas_checked = True
            if noise and not self._noise_checked:
                self._noise = torch.Generator(device=self.generator.device)
                self._noise.set_state(noise_state)
            self._noise_checked = self._noise_checked or noise

    def _check_mesh(self, buckets: list[dict[str, Any]], world: int) -> None:
        """Sharded parameters: reduced over the ranks ECD reduces over (one 1-D mesh of them; or a 1-rank mesh, alone)."""
        for b in buckets:
            for param in b["orig"]:
                if not _is_dtensor(param):
                    continue
                if not world and param.device_mesh.size() > 1:
                    raise UsageError("ECD: parameters sharded over several ranks need distributed=None or True, not False")
                if world and (param.device_mesh.ndim != 1 or param.device_mesh.size() != world):
                    raise UsageError(
                        f"ECD: a parameter sharded over a mesh of shape {tuple(param.device_mesh.shape)}; ECD reduces over "
                        f"{world} ranks and supports one 1-D mesh of all of them (FSDP2 without HSDP)"
                    )

    def _mean(self, packed: Tensor, world: int) -> Tensor:
        """``packed`` averaged over the ranks (one all_reduce); shards' sums, taken ``world`` times, come out added."""
        packed = packed.clone()
        torch.distributed.all_reduce(packed, group=self.process_group)
        return packed / world

    def _norm_sum(self, partial: Tensor, world: int) -> Tensor:
        """A squared norm over all parameters: with shards, added over the ranks (one all_reduce), else as is."""
        return self._mean(partial, world) if self._sharded else partial

    # ------------------------------------------------------------------ step

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One ECD step; ``closure`` (required) recomputes the loss and its gradients and returns the loss."""
        if closure is None:
            raise UsageError(
                "ECD.step needs a closure returning the loss: the loss value is the energy denominator V = F - F0 "
                "(def closure(): opt.zero_grad(); loss = f(); loss.backward(); return loss)"
            )
        eta, F0, nu = self._globals()
        # the noise stream as the step found it, before the closure draws from it too (checked, then copied)
        dist = torch.distributed
        grouped = self.distributed is not False and dist.is_available() and dist.is_initialized()
        check_noise = grouped and nu > 0 and not self._noise_checked and self.generator is not None
        noise_state = self.generator.get_state() if check_noise else None
        with torch.enable_grad():
            loss = closure()
        if loss is None:
            raise UsageError("ECD.step: the closure returned None; it must return the loss")

        # Participating tensors, bucketed by (device, dtype) and group (lr and wd are per group).
        buckets: list[dict[str, Any]] = []
        home: torch.device | None = None
        D = 0
        fresh = True
        structure: list = []  # (group, position, global shape, dtype) of each tensor stepped: equal on every rank
        for g_index, group in enumerate(self.param_groups):
            by_kind: dict[tuple[torch.device, torch.dtype], dict[str, Any]] = {}
            for position, param in enumerate(group["params"]):
                grad = param.grad
                if grad is None:
                    # unused this step but already moving: the loss does not depend on it here, so g = 0 and
                    # it coasts with its velocity, which stays in |p| = 1 (docs: "Tensors without a gradient")
                    if not param.requires_grad or self.state.get(param, {}).get("velocity") is None:
                        continue
                    grad = torch.zeros_like(param)
                structure.append((g_index, position, tuple(param.shape), str(param.dtype)))
                if grad.is_sparse:
                    raise UsageError("ECD does not support sparse gradients")
                sharded = _is_dtensor(param)
                if getattr(param, "_fsdp_flattened", False):
                    raise UsageError(
                        "ECD does not support FullyShardedDataParallel (FSDP1): each rank holds a slice of a flat "
                        "parameter; use FSDP2 (torch.distributed.fsdp.fully_shard) or DDP"
                    )
                home = home or _local(param).device
                D += param.numel()  # a DTensor's numel is the global one
                key = (param.device, param.dtype, sharded)
                kind = by_kind.setdefault(key, dict(group=group, sharded=sharded, orig=[], params=[], grads=[], vels=[]))
                kind["orig"].append(param)
                kind["params"].append(_local(param))
                kind["grads"].append(_local(grad))
                vel = self.state.get(param, {}).get("velocity")
                if vel is not None:
                    fresh = False
                kind["vels"].append(None if vel is None else _local(vel))
            buckets.extend(by_kind.values())
        world = self._world()
        if world and (not self._replicas_checked or (nu > 0 and not self._noise_checked)):
            # before any other collective or rank-dependent exit, so that no rank is left waiting
            device = home or _collective_device(self.process_group)
            self._check_replicas(world, device, structure, noise_state, _replicated_grad_norm(buckets, device))
        if home is None:
            return loss
        if D < 2:
            raise UsageError(f"ECD needs at least 2 parameters with gradients (D / (D - 1)), got D = {D}")

        sharded = any(b["sharded"] for b in buckets)
        if sharded:
            self._check_mesh(buckets, world)
        self._sharded = sharded and bool(world)  # shards of a 1-rank mesh are whole tensors: nothing to add
        f64 = dict(device=home, dtype=torch.float64)
        F = _loss_scalar(loss).to(**f64)
        wd_sq = torch.zeros((), **f64)  # sum over groups of wd |theta|^2
        gg = torch.zeros((), **f64)
        for b in buckets:
            wd = b["group"]["weight_decay"]
            acc = torch.float64 if b["params"][0].dtype == torch.float64 else torch.float32
            if wd:
                b["grads"] = torch._foreach_add(b["grads"], b["params"], alpha=wd)
                wd_sq += wd * _total(torch._foreach_powsum(b["params"], 2, dtype=acc), home, b, world)
            b["acc"] = acc
            gg += _total(torch._foreach_powsum(b["grads"], 2, dtype=acc), home, b, world)
        if self._sharded:  # |g| must be the global one before p + g/|g| is formed: reduce these first
            F, wd_sq, gg = self._mean(torch.stack([F, wd_sq, gg]), world).unbind()
        inv_g = torch.where(gg > 0, gg.rsqrt(), torch.zeros((), **f64))

        # p.g by polarization, |p + g/|g||^2 = |p|^2 + 2 p.g/|g| + 1, well conditioned for any |g|.
        pp = torch.zeros((), **f64)
        su = torch.zeros((), **f64)
        if not fresh:
            for b in buckets:
                for i, (param, vel) in enumerate(zip(b["orig"], b["vels"])):
                    if vel is None:  # a tensor that joined after the first step starts at rest
                        self.state[param]["velocity"] = torch.zeros_like(param)
                        b["vels"][i] = _local(self.state[param]["velocity"])
                u = torch._foreach_mul(b["grads"], _on(inv_g, b))
                torch._foreach_add_(u, b["vels"])
                su += _total(torch._foreach_powsum(u, 2, dtype=b["acc"]), home, b, world)
                pp += _total(torch._foreach_powsum(b["vels"], 2, dtype=b["acc"]), home, b, world)
                del u

        if self._sharded:
            if not fresh:
                pp, su = self._mean(torch.stack([pp, su]), world).unbind()
        elif world:
            F, wd_sq, gg, pp, su = self._mean(torch.stack([F, wd_sq, gg, pp, su]), world).unbind()
            inv_g = torch.where(gg > 0, gg.rsqrt(), torch.zeros((), **f64))

        V = F + wd_sq / 2 - F0
        moving = V > 0
        one = torch.ones((), **f64)

        if fresh:
            # The one host synchronization: the first step waits until V > 0 and g != 0.
            if not bool(moving & (gg > 0)):
                if not bool(moving) and not self._warned:
                    self._warned = True
                    warnings.warn(
                        f"ECD does not move while V = F - F0 <= 0 (loss {float(F):.4g}, F0 {F0:g}): set F0 below the "
                        "losses you expect (F0 = 0 for a cross-entropy)",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                return loss
            for b in buckets:
                vels = torch._foreach_mul(b["grads"], -_on(inv_g, b))
                for param, vel in zip(b["orig"], vels):
                    self.state[param]["velocity"] = _like(vel, param)
                b["vels"] = vels
        else:
            gg_hat = gg * inv_g * inv_g
            pg = (su - pp - gg_hat) / 2 / inv_g.where(gg > 0, one)
            norm2 = torch.zeros((), **f64)
            for b in buckets:
                dt = b["group"]["lr"] / math.sqrt(eta)
                c = torch.where(moving, (eta * dt / 2) * (D / (D - 1)) / V, torch.zeros((), **f64))
                step = torch._foreach_mul(b["grads"], _on(-c, b))
                torch._foreach_mul_(b["vels"], _on(1 + c * pg, b))
                torch._foreach_add_(b["vels"], step)
                del step
                norm2 += _total(torch._foreach_powsum(b["vels"], 2, dtype=b["acc"]), home, b, world)
            scale = torch.where(moving, self._norm_sum(norm2, world).rsqrt(), one)
            for b in buckets:
                torch._foreach_mul_(b["vels"], _on(scale, b))

        gate = moving.to(torch.float64)
        for b in buckets:
            dt = b["group"]["lr"] / math.sqrt(eta)
            move = torch._foreach_mul(b["vels"], _on(dt * gate, b))
            torch._foreach_add_(b["params"], move)
            del move

        if nu > 0:
            self._bounce(buckets, nu / math.sqrt(D), moving, home)
        return loss

    def _bounce(self, buckets: list[dict[str, Any]], nu_d: float, moving: Tensor, home: torch.device) -> None:
        """``p <- (p + nu' z) / |p + nu' z|``; the noise is drawn on every step, applied only while V > 0."""
        f64 = dict(device=home, dtype=torch.float64)
        amp = torch.where(moving, torch.full((), nu_d, **f64), torch.zeros((), **f64))
        norm2 = torch.zeros((), **f64)
        world = self._world()
        for b in buckets:
            params = b["params"]
            numels = [p.numel() for p in b["orig"]]  # global sizes: a shard takes its part of the full draw
            gen = self._noise if self._noise is not None else self.generator
            device = gen.device if gen is not None else params[0].device
            flat = torch.randn(sum(numels), generator=gen, device=device, dtype=params[0].dtype)
            flat = flat.to(params[0].device)
            zs = [_local_part(z.view(p.shape), p) for z, p in zip(flat.split(numels), b["orig"])]
            torch._foreach_mul_(zs, _on(amp, b))
            torch._foreach_add_(b["vels"], zs)
            norm2 += _total(torch._foreach_powsum(b["vels"], 2, dtype=b["acc"]), home, b, world)
        scale = torch.where(moving, self._norm_sum(norm2, world).rsqrt(), torch.ones((), **f64))
        for b in buckets:
            torch._foreach_mul_(b["vels"], _on(scale, b))


def _replicated_grad_norm(buckets: list[dict[str, Any]], device: torch.device) -> Tensor:
    """The squared norm of the gradients of the tensors that are not shards (float64 on ``device``)."""
    parts = [torch.stack(torch._foreach_powsum(b["grads"], 2, dtype=torch.float64)) for b in buckets if not b["sharded"]]
    if not parts:
        return torch.zeros((), dtype=torch.float64, device=device)
    return torch.cat([p.to(device) for p in parts]).sum()


def _agree(a: float, b: float) -> bool:
    """Equal within a relative 1e-6 (replicas' reductions may round differently on different devices); nan agrees with nan."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= 1e-6 * max(abs(a), abs(b))


def _digest(data: bytes) -> int:
    """A 56-bit digest of ``data`` (fits an int64 tensor)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=7).digest(), "little")


def _collective_device(group: Any) -> torch.device:
    """Where a collective's tensor lives when this rank has no gradient to take the device from."""
    if torch.distributed.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _is_dtensor(t: Tensor) -> bool:
    """True for a DTensor (FSDP2's parameters, gradients and the velocities ECD keeps for them)."""
    return type(t).__name__ == "DTensor"


def _local(t: Tensor) -> Tensor:
    """This rank's shard of a DTensor (a view: in-place updates reach the DTensor), else ``t``."""
    return t.to_local() if _is_dtensor(t) else t


def _like(local: Tensor, param: Tensor) -> Tensor:
    """``local`` as the velocity state of ``param``: a DTensor with ``param``'s mesh and placements when it is one."""
    if not _is_dtensor(param):
        return local
    from torch.distributed.tensor import DTensor

    return DTensor.from_local(
        local, param.device_mesh, param.placements, run_check=False, shape=param.shape, stride=param.stride()
    )


def _local_part(full: Tensor, param: Tensor) -> Tensor:
    """This rank's part of ``full`` (``param``'s global shape) as ``param`` is sharded (a local cut, no communication)."""
    if not _is_dtensor(param):
        return full
    from torch.distributed.tensor import DTensor, Replicate

    whole = DTensor.from_local(full, param.device_mesh, [Replicate()] * param.device_mesh.ndim, run_check=False)
    return whole.redistribute(param.device_mesh, param.placements).to_local()


def _loss_scalar(loss: Any) -> Tensor:
    """The closure's loss as a 0-d tensor; a UsageError for anything but one real number."""
    if isinstance(loss, Tensor):
        if loss.numel() != 1 or loss.is_complex() or loss.dtype == torch.bool:
            raise UsageError(
                f"ECD.step: the closure must return the loss as one number, got a tensor of shape {tuple(loss.shape)}"
            )
        return loss.detach().reshape(())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return torch.tensor(float(loss))
    raise UsageError(f"ECD.step: the closure must return the loss as one number, got {type(loss).__name__}")


def _total(parts: Iterable[Tensor], device: torch.device, bucket: dict[str, Any] | None = None, world: int = 0) -> Tensor:
    """Sum of per-tensor reductions as one float64 scalar on ``device``.

    For a bucket of shards under a reduction over ``world`` ranks, the sum times ``world``: the
    step's all_reduce divides by ``world`` (the mean suits replicated tensors), so a shard's sum
    comes out added over the ranks.
    """
    total = torch.stack(list(parts)).to(device=device, dtype=torch.float64).sum()
    return total * world if bucket is not None and bucket["sharded"] and world else total


def _on(scalar: Tensor, bucket: dict[str, Any]) -> Tensor:
    """A global scalar on the bucket's device, in its dtype."""
    first = bucket["params"][0]
    return scalar.to(device=first.device, dtype=first.dtype)
