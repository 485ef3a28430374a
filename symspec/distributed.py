"""symspec under ``torch.distributed``: per-rank random streams, sharded case ranges, and ``torchrun`` set-up.

The compiled ``SymmetryLoss`` needs nothing special under DDP: wrap the model
in ``DistributedDataParallel`` and give the loss the wrapped model and a
generator from :func:`generator` (docs/distributed.md). This module holds the
rules the loss, ``augment`` and ``symspec.validate`` share across ranks.
Importing it imports torch; ``import symspec`` does not import it.
"""

from __future__ import annotations

import os

import torch

from .nn.biases import rank_generator

__all__ = ["rank_generator", "generator", "rank_and_world", "shard", "shard_batch", "all_gather", "init_from_env"]


def rank_and_world(group=None) -> tuple[int, int]:
    """(rank, world size) in ``group`` when a process group is initialized, else (0, 1)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(group), dist.get_world_size(group)
    return 0, 1


def generator(seed: int, device: str | torch.device = "cpu", *, shared: bool = False, rank: int | None = None) -> torch.Generator:
    """The generator a rank gives the loss or ``augment``.

    ``shared=False`` (the default): this rank's own stream,
    :func:`symspec.nn.rank_generator` (seeded with ``splitmix64(splitmix64(seed) ^ rank)``),
    so each rank draws different transformations and a rerun with the same
    seed and world size draws the same ones. ``shared=True``: seeded with
    ``seed`` itself on every rank, so all ranks make the same draws (and a
    single process with that seed makes them too).
    """
    if shared:
        return torch.Generator(device=device).manual_seed(int(seed))
    return rank_generator(seed, device, rank)


def shard(count: int, rank: int, world: int) -> range:
    """Rank ``rank``'s contiguous share of ``range(count)``: sizes differ by at most one, nothing repeated."""
    return range(count * rank // world, count * (rank + 1) // world)


def shard_batch(batch: dict, group=None) -> dict:
    """This rank's contiguous share of a global batch (every tensor field cut along dim 0 by :func:`shard`).

    For full-batch training under DDP: every rank holds the same global
    batch and trains on its share; other fields are kept as they are.
    """
    rank, world = rank_and_world(group)
    lengths = {v.shape[0] for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() > 0}
    if len(lengths) > 1:
        raise ValueError(f"shard_batch: the batch's tensors have different lengths {sorted(lengths)}")
    if not lengths:
        return dict(batch)
    part = shard(lengths.pop(), rank, world)
    return {k: v[part.start : part.stop] if isinstance(v, torch.Tensor) and v.dim() > 0 else v for k, v in batch.items()}


def all_gather(obj, group=None) -> list:
    """``obj`` from every rank, in rank order (pickled; put tensors on the CPU first)."""
    _, world = rank_and_world(group)
    if world == 1:
        return [obj]
    out: list = [None] * world
    torch.distributed.all_gather_object(out, obj, group=group)
    return out


def init_from_env(device: str | torch.device | None = None) -> bool:
    """Join the process group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``PORT`` in the env).

    Does nothing (and returns False) unless ``WORLD_SIZE`` is above 1 and no
    group is initialized yet. The backend is ``nccl`` when ``device`` is a
    CUDA device (each rank then uses ``cuda:LOCAL_RANK``), else ``gloo``.
    Returns True when this call initialized the group (the caller destroys it).
    """
    dist = torch.distributed
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available() or dist.is_initialized():
        return False
    cuda = device is not None and torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True
