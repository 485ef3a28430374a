"""Triangle inequalities on data: ``d(u, v) OP d(u, w) + d(w, v)`` over every present triple, exactly.

The labels form an n x n matrix per context value; absent labels become sentinels that can never violate
(so no mask is carried), the triples are compared in broadcast chunks of a few rows of ``u`` (memory
O(chunk * n^2), never n^3), and the present triples are counted by one matrix product.
"""

from __future__ import annotations

import math

import torch

from .constraints_eval import Evaluator, Unsupported
from .constraints_forms import Form

__all__ = ["triangle_counts", "TRIANGLE_CHUNK"]

TRIANGLE_CHUNK = 1 << 24  # triples compared at once


def _matrix(ev: Evaluator, form: Form, ctx_index: dict, edge: tuple, u_first: tuple) -> tuple:
    """(values, present) as [n, n] with axes in the order ``u_first``; ``edge`` is the call's (first, second)."""
    p, q = form.slots
    index = [slice(None)] * len(ev.dense.shape)
    for pos, i in ctx_index.items():
        index[pos] = i
    values, present = ev.dense.value[tuple(index)], ev.dense.pos[tuple(index)] >= 0
    if p > q:  # the remaining axes are in position order
        values, present = values.T, present.T
    if edge != u_first:
        values, present = values.T, present.T
    return values, present


def triangle_counts(form: Form, ev: Evaluator, sizes: dict, keep: int) -> tuple[int, int, list]:
    """(cases, violations, up to ``keep`` worst (excess, case) pairs) of an unguarded triangle inequality."""
    d = form.detail
    op, u, v, w = d["op"], d["u"], d["v"], d["w"]
    if op == "==":
        raise Unsupported("an unguarded equality of a sum: the generic path")
    real = ev.dense.table.output == "real"
    ctx_vars = list(form.context.items())
    ctx_sizes = [sizes[var] for _, var in ctx_vars]
    cases = violations = 0
    found: list = []
    for c in range(math.prod(ctx_sizes)):
        ctx_index, rest = {}, c
        for (pos, _), size in zip(reversed(ctx_vars), reversed(ctx_sizes)):
            ctx_index[pos] = rest % size
            rest //= size
        x, px = _matrix(ev, form, ctx_index, (u, v), (u, v))
        left, pl = _matrix(ev, form, ctx_index, d["first"], (u, w))
        right, pr = _matrix(ev, form, ctx_index, d["second"], (w, v))
        cases += int((torch.matmul(pl.float(), pr.float()).double() * px).sum())
        n_bad, worst = _violations(x, px, left, pl, right, pr, op, real, ev.tol, keep)
        violations += n_bad
        for excess, (i, j, k) in worst:
            case = {var: ctx_index[pos] + ev.lows[var] for pos, var in ctx_vars}
            case.update({u: i + ev.lows[u], w: j + ev.lows[w], v: k + ev.lows[v]})
            found.append((excess, len(found), case))
    found.sort(key=lambda t: (-t[0], t[1]))
    return cases, violations, [(e, case) for e, _, case in found[:keep]]


def _violations(x, px, left, pl, right, pr, op: str, real: bool, tol: float, keep: int) -> tuple[int, list]:
    """Count the violating triples (u, w, v) and keep the worst, chunked over u."""
    upper = op in ("<=", "<")  # a violation: x above the sum; else below it
    if real:
        big, dtype = math.inf, torch.float64
        slack = tol
    else:
        top = int(max(x.abs().max(), left.abs().max(), right.abs().max())) if x.numel() else 0
        dtype = torch.int16 if top < 4000 else torch.int32 if top < 1 << 28 else torch.float64
        big = 10000 if dtype == torch.int16 else (1 << 29 if dtype == torch.int32 else math.inf)
        slack = 0 if op in ("<=", ">=") else -1  # strict on integers: equality fails too
    sign = 1 if upper else -1
    xs = torch.where(px, x.to(dtype), torch.tensor(-sign * big, dtype=dtype))
    ls = torch.where(pl, left.to(dtype), torch.tensor(sign * big, dtype=dtype))
    rs = torch.where(pr, right.to(dtype), torch.tensor(sign * big, dtype=dtype))
    n = rs.shape[0]
    step = max(1, TRIANGLE_CHUNK // max(1, n * rs.shape[1]))
    total, worst = 0, []
    for start in range(0, xs.shape[0], step):
        s = ls[start : start + step, :, None] + rs[None, :, :]  # [c, w, v]
        diff = xs[start : start + step, None, :] - s if upper else s - xs[start : start + step, None, :]
        bad = diff > slack
        count = int(torch.count_nonzero(bad))
        total += count
        if count and keep:
            flat = bad.reshape(-1).nonzero().squeeze(1)
            excess = diff.reshape(-1)[flat].to(torch.float64) - (slack if slack < 0 else 0)
            best = torch.sort(-excess, stable=True).indices[:keep]
            for i, e in zip(flat[best].tolist(), excess[best].tolist()):
                a, rest = divmod(i, s.shape[1] * s.shape[2])
                b, cc = divmod(rest, s.shape[2])
                worst.append((e, (start + a, b, cc)))
            worst.sort(key=lambda t: -t[0])
            del worst[keep:]
    return total, worst
