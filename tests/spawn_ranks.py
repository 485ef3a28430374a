"""Spawning gloo ranks inside pytest: the one launcher the distributed tests share.

Each rank runs ``worker(rank, port, out)`` in its own spawned process and
saves what it computed to ``out/rank{rank}.pt``; the launcher waits at most
``timeout`` seconds per rank, kills stragglers, asserts every rank exited 0,
and returns what each rank saved, in rank order.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import socket

import torch

__all__ = ["free_port", "spawn_ranks", "leave_group"]


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_ranks(worker, world: int, timeout: float, out: str) -> list:
    """``worker`` on ranks ``0..world-1`` (spawned, one port); what each saved, in rank order."""
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    procs = [ctx.Process(target=worker, args=(rank, port, out)) for rank in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    codes = [p.exitcode for p in procs]
    assert codes == [0] * world, f"ranks exited with {codes}"
    return [torch.load(os.path.join(out, f"rank{rank}.pt"), weights_only=False) for rank in range(world)]


def leave_group() -> None:
    """A worker's last step: every rank meets, then leaves the group (a rank destroying its gloo group while a peer
    still reads from it, or a group outliving the interpreter in a DDP wrapper, can abort the process at exit)."""
    gc.collect()
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
