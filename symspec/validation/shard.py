"""``symspec.validate`` inside a ``torch.distributed`` process group: each rank checks a contiguous share of the batches.

The hook is three calls in ``run._validate_law``: :func:`rank_batches` (this
rank's batch starts), :func:`law_seed` (this rank's draw seed) and
:func:`merge` (every rank's running sums, combined in rank order on every
rank). Batches are the single process's batches, split without padding or
repetition, and the sums are added in the single process's order: for an
exhaustive law the merged report equals the single-process one exactly
(docs/distributed.md). Without an initialized group (or with one rank) every
function is the identity of the single-process run.
"""

from __future__ import annotations

import torch

from ..distributed import all_gather, rank_and_world, rank_generator, shard
from ..errors import ModelError

__all__ = ["rank_batches", "law_seed", "merge", "raise_together", "is_leader"]


def _world(active: bool) -> tuple[int, int]:
    return rank_and_world() if active else (0, 1)


def is_leader(active: bool = True) -> bool:
    """True on rank 0 (and in a single process or an unsharded run): the rank that prints."""
    return _world(active)[0] == 0


def rank_batches(total: int, batch_size: int, active: bool = True) -> range:
    """The starts of this rank's batches among ``range(0, total, batch_size)``: a contiguous block of them.

    ``active=False`` (every function here): no sharding, as in one process.
    """
    rank, world = _world(active)
    batches = range(0, total, batch_size)
    mine = shard(len(batches), rank, world)
    return batches[mine.start : mine.stop]


def law_seed(seed: int, active: bool = True) -> int:
    """The seed of a law's draws on this rank: ``seed`` in one process; ``rank_generator``'s rule on several ranks.

    Ranks must not repeat each other's Monte Carlo draws; a single process
    keeps its historic seeds. (Exhaustive laws draw nothing: their reports are
    identical either way.)
    """
    rank, world = _world(active)
    if world == 1:
        return seed
    return int(rank_generator(seed, "cpu", rank).initial_seed())


def _state(acc) -> dict:
    r = acc.residuals
    return {
        "counts": (acc.cases, acc.skipped, acc.violations, acc.nonfinite),
        "terms": acc.loss_terms,
        "worst": acc.worst,
        "magnitudes": acc.magnitudes,
        "has_residual": acc.has_residual,
        "residual": None
        if r is None or not r.cases
        else {
            "cases": r.cases,
            "parts": [tuple(t.cpu() for t in part) for part in r.parts],
            "max": (float(r.max_abs), float(r.max_rel)),
        },
    }


def _failure(error: Exception | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def raise_together(error: Exception | None, active: bool) -> None:
    """Raise on every rank when some rank failed (``error``: this rank's, or None); nothing when none did.

    One process raises its own error. In a process group every rank joins one gather first, so a rank that
    failed does not leave the others waiting in a later collective: the failing ranks raise their own errors,
    the others a :class:`ModelError` naming the first failing rank and its message.
    """
    _, world = _world(active)
    if world == 1:
        if error is not None:
            raise error
        return
    _raise_failed(all_gather(_failure(error)), error)


def _raise_failed(messages: list, error: Exception | None) -> None:
    """``error`` if this rank failed, else a ModelError naming the first rank whose message is not None."""
    if error is not None:
        raise error
    failed = [(rank, message) for rank, message in enumerate(messages) if message is not None]
    if failed:
        rank, message = failed[0]
        raise ModelError(f"rank {rank} failed while validating (so every rank stops): {message}")


def merge(acc, drawn: dict, active: bool, magnitudes_kept: int, error: Exception | None = None):
    """``acc`` (a ``run._Law``) with every rank's cases merged in, in rank order; ``drawn`` updated in place.

    ``error``: what this rank's batches raised. A failing rank still joins the gather (the others would
    wait in it until the group times out); then every rank raises: the failing ones their own error, the
    others a :class:`ModelError` naming the first failing rank and its message.

    Counts add up; batch loss terms are summed in the single process's order;
    the worst cases are the first ``keep`` of the stable sort of every rank's
    (as one process keeps them); magnitudes are the first ``magnitudes_kept``
    in case order; residual samples are pooled and pruned to the bottom keys
    (all of them, exact quantiles, up to ``keep`` cases).
    """
    _, world = _world(active)
    if world == 1:
        if error is not None:
            raise error
        return acc
    gathered = all_gather((None if error is not None else _state(acc), dict(drawn), _failure(error)))
    _raise_failed([message for _, _, message in gathered], error)
    states = [(state, dims) for state, dims, _ in gathered]
    out = type(acc)(acc.keep, None)
    loss_sum = 0.0
    for state, dims in states:
        cases, skipped, violations, nonfinite = state["counts"]
        out.cases += cases
        out.skipped += skipped
        out.violations += violations
        out.nonfinite += nonfinite
        for term in state["terms"]:
            loss_sum += term
        out.loss_terms += state["terms"]
        out.worst += state["worst"]
        out.magnitudes += state["magnitudes"]
        out.has_residual |= state["has_residual"]
        drawn.update(dims)
    out.loss_sum = loss_sum
    out.worst.sort(key=lambda t: -t[0])  # stable: ties keep rank order, as batch order in one process
    del out.worst[out.keep :]
    del out.magnitudes[magnitudes_kept:]
    pooled = [state["residual"] for state, _ in states if state["residual"] is not None]
    if acc.residuals is not None:
        r = type(acc.residuals)(acc.residuals.keep, torch.device("cpu"), 0)
        for part in pooled:
            r.cases += part["cases"]
            r.parts += part["parts"]
            r.max_abs = torch.maximum(r.max_abs, torch.tensor(part["max"][0], dtype=torch.float64))
            r.max_rel = torch.maximum(r.max_rel, torch.tensor(part["max"][1], dtype=torch.float64))
        r.held = sum(int(p[0].shape[0]) for p in r.parts)
        out.residuals = r
    return out
