"""Triangle inequalities on data: ``d(u, v) OP d(u, w) + d(w, v)`` over every present triple, exactly.

The labels form an n x n matrix per context value; absent labels become sentinels that can never violate
(so no mask is carried), the triples are compared in broadcast chunks of a few rows of ``u`` (memory
O(chunk * n^2), never n^3), and the present triples are counted by one matrix product.
"""

from __future__ import annotations

import math

import torch

from ..syntax import ast
from .constraints_eval import Evaluator, Unsupported
from .constraints_forms import Form

__all__ = ["triangle_counts", "TRIANGLE_CHUNK"]

TRIANGLE_CHUNK = 1 << 25  # triples compared at once (one byte or two each)


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


def between_graph(guard, form: Form) -> str | None:
    """The graph G when the guard is exactly ``between(G, u, w, v)`` (or ``v, w, u``) for the triangle's w."""
    d = form.detail
    if not (isinstance(guard, ast.Call) and guard.func.name == "between" and len(guard.args) == 4):
        return None
    if not all(isinstance(a, ast.Name) for a in guard.args):
        return None
    g, a, m, b = (x.name for x in guard.args)
    return g if m == d["w"] and {a, b} == {d["u"], d["v"]} else None


def triangle_counts(
    form: Form, ev: Evaluator, sizes: dict, keep: int, graph: str | None = None, metric: str | None = None
) -> tuple[int, int, list]:
    """(cases, violations, up to ``keep`` worst (excess, case) pairs) of a triangle law, unguarded or guarded
    by ``between`` (``graph``: then the cases are the present triples with w on a shortest u-v path).

    ``metric``: the graph whose nodes the variables are; an unguarded ``<=`` (or ``<=``, ``==``, ``>=``
    guarded by ``between`` on that graph) then only examines the triples holding a label that differs from
    the graph's distance: the others obey the graph's triangle inequality (and are tight on its geodesics).
    """
    d = form.detail
    op, u, v, w = d["op"], d["u"], d["v"], d["w"]
    real = ev.dense.table.output == "real"
    if graph is None and op == "==" or graph is not None and real and op == "==":
        raise Unsupported("an unguarded equality of a sum, or a relative tolerance: the generic path")
    distances = ev.graph_distances(graph) if graph is not None else None
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
        near = None
        if metric is not None and (op == "<=" or distances is not None and op in ("==", ">=") and metric == graph):
            try:  # a graph past the analysis's all-pairs limit has no distances: the broadcast decides alone
                metric_d = ev.graph_distances(metric)
            except Unsupported:
                metric_d = None
            if metric_d is not None:
                near = _violations_near(
                    x, px, left, pl, right, pr, metric_d, op, ev.tol if real else 0, keep, distances is not None
                )
        # only the u, w, v holding a case: a u with a label in x's row and left's row, ...; sparse data over
        # many values then costs |U| |W| |V|, not n^3
        iu, iw, iv = (m.nonzero().squeeze(1) for m in (px.any(1) & pl.any(1), pl.any(0) & pr.any(1), px.any(0) & pr.any(0)))
        sx, spx = x[iu][:, iv], px[iu][:, iv]
        sl, spl = left[iu][:, iw], pl[iu][:, iw]
        sr, spr = right[iw][:, iv], pr[iw][:, iv]
        if distances is None:
            cases += int((torch.matmul(spl.float(), spr.float()).double() * spx).sum())
            if near is None:
                n_bad, worst = _violations(sx, spx, sl, spl, sr, spr, op, real, ev.tol, keep)
                worst = [(e, (int(iu[i]), int(iw[j]), int(iv[k]))) for e, (i, j, k) in worst]
            else:
                n_bad, worst = near
        else:
            dist = (distances[iu][:, iv], distances[iu][:, iw], distances[iw][:, iv])
            n_cases, n_bad, worst = _geodesic(
                sx, spx, sl, spl, sr, spr, dist, op, real, ev.tol, keep, count_only=near is not None
            )
            worst = [(e, (int(iu[i]), int(iw[j]), int(iv[k]))) for e, (i, j, k) in worst]
            cases += n_cases
            if near is not None:
                n_bad, worst = near
        violations += n_bad
        for excess, (i, j, k) in worst:
            case = {var: ctx_index[pos] + ev.lows[var] for pos, var in ctx_vars}
            case.update({u: i + ev.lows[u], w: j + ev.lows[w], v: k + ev.lows[v]})
            found.append((excess, len(found), case))
    found.sort(key=lambda t: (-t[0], t[1]))
    return cases, violations, [(e, case) for e, _, case in found[:keep]]


def _sentinel_dtype(x, px, left, pl, right, pr, real: bool) -> tuple:
    """The narrowest dtype holding the labels and a sentinel ``big`` with big >= 2V + 1 and 3 big in range."""
    if real:
        return torch.float64, math.inf
    top = max((int(t[p].abs().max()) if bool(p.any()) else 0) for t, p in ((x, px), (left, pl), (right, pr)))
    for dtype, limit in ((torch.int8, 127), (torch.int16, 32767), (torch.int32, 2**31 - 1)):
        big = limit // 3
        if 2 * top + 1 <= big:
            return dtype, big
    return torch.float64, math.inf


def _violations(x, px, left, pl, right, pr, op: str, real: bool, tol: float, keep: int) -> tuple[int, list]:
    """Count the violating triples (u, w, v) and keep the worst, chunked over u.

    Per triple ``D = x - left - right`` (``<=``, ``<``) or ``left + right - x`` (``>=``, ``>``); a violation
    is ``D > slack`` (0; -1 for a strict integer comparison; the tolerance for reals). Absent labels are
    sentinels of magnitude ``big`` pushing D below -1, so no mask is carried.
    """
    upper = op in ("<=", "<")
    dtype, big = _sentinel_dtype(x, px, left, pl, right, pr, real)
    strict = not real and op in ("<", ">")
    slack = tol if real else (-1 if strict else 0)
    sign = 1 if upper else -1
    xs = torch.where(px, x.to(dtype), torch.tensor(-sign * big, dtype=dtype))
    ls = torch.where(pl, left.to(dtype), torch.tensor(sign * big, dtype=dtype))
    rs = torch.where(pr, right.to(dtype), torch.tensor(sign * big, dtype=dtype))
    n_u, n_w, n_v = xs.shape[0], rs.shape[0], rs.shape[1]
    step = max(1, min(n_u, TRIANGLE_CHUNK // max(1, n_w * n_v)))
    buffer = torch.empty((step, n_w, n_v), dtype=dtype)
    flags = torch.empty((step, n_w, n_v), dtype=torch.bool)
    total, worst = 0, []
    for start in range(0, n_u, step):
        c = min(step, n_u - start)
        d, bad = buffer[:c], flags[:c]
        xc = xs[start : start + c, None, :]
        if real:
            _real_excess(xc, ls[start : start + c, :, None], rs[None], upper, tol, d, bad)
        else:
            if upper:  # D = (x - left) - right
                torch.sub(xc, ls[start : start + c, :, None], out=d)
                torch.sub(d, rs[None], out=d)
            else:  # D = (left - x) + right
                torch.sub(ls[start : start + c, :, None], xc, out=d)
                torch.add(d, rs[None], out=d)
            torch.gt(d, slack, out=bad)
        count = int(torch.count_nonzero(bad))
        total += count
        if not count or not keep:
            continue
        if len(worst) >= keep:  # only what beats the worst kept so far (earlier cases win ties)
            bad &= d > worst[-1][0] - (1 if strict else 0)
        flat = bad.reshape(-1).nonzero().squeeze(1)
        if not flat.numel():
            continue
        excess = d.reshape(-1)[flat].to(torch.float64) + (1 if strict else 0)
        best = torch.sort(-excess, stable=True).indices[:keep]
        for i, e in zip(flat[best].tolist(), excess[best].tolist()):
            a, rest = divmod(i, n_w * n_v)
            b, cc = divmod(rest, n_v)
            worst.append((e, (start + a, b, cc)))
        worst.sort(key=lambda t: -t[0])
        del worst[keep:]
    return total, worst


def _narrow(top: int) -> tuple:
    """The narrowest integer dtype with a sentinel ``big >= 2 top + 1`` whose triple stays in range."""
    for dtype, limit in ((torch.int16, 32767), (torch.int32, 2**31 - 1)):
        if 2 * top + 1 <= limit // 3:
            return dtype, limit // 3
    return torch.int64, 2**61


def _geodesic(
    x, px, left, pl, right, pr, dist: tuple, op: str, real: bool, tol: float, keep: int, count_only: bool = False
) -> tuple[int, int, list]:
    """Cases, violations and the worst of a triangle law guarded by ``between``, chunked over u.

    ``dist``: the graph's distances on the axes of x, left and right. A case: ``E = dist(u, w) + dist(w, v) -
    dist(u, v) == 0`` with all three labels present; absent labels and unreachable pairs become sentinels
    that keep E away from 0, so presence costs no extra pass.
    """
    dx, dl, dr = dist
    top = max((int(m.max()) if m.numel() else 0) for m in dist)
    gdtype, gbig = _narrow(top)
    gx = torch.where(px & (dx >= 0), dx.to(gdtype), torch.tensor(-gbig, dtype=gdtype))
    gl = torch.where(pl & (dl >= 0), dl.to(gdtype), torch.tensor(gbig, dtype=gdtype))
    gr = torch.where(pr & (dr >= 0), dr.to(gdtype), torch.tensor(gbig, dtype=gdtype))
    if real:
        dtype = torch.float64
    else:
        vtop = max((int(t[p].abs().max()) if bool(p.any()) else 0) for t, p in ((x, px), (left, pl), (right, pr)))
        dtype = _narrow(vtop)[0]
    xs, ls, rs = x.to(dtype) * px, left.to(dtype) * pl, right.to(dtype) * pr
    strict = not real and op in ("<", ">")
    slack = tol if real else (-1 if strict else 0)
    n_u, n_w, n_v = xs.shape[0], rs.shape[0], rs.shape[1]
    step = max(1, min(n_u, TRIANGLE_CHUNK // max(1, n_w * n_v)))
    e_buf = torch.empty((step, n_w, n_v), dtype=gdtype)
    d_buf = torch.empty((step, n_w, n_v), dtype=dtype)
    case_buf = torch.empty((step, n_w, n_v), dtype=torch.bool)
    bad_buf = torch.empty((step, n_w, n_v), dtype=torch.bool)
    cases = total = 0
    worst: list = []
    for start in range(0, n_u, step):
        c = min(step, n_u - start)
        e, dd, case, bad = e_buf[:c], d_buf[:c], case_buf[:c], bad_buf[:c]
        torch.add(gl[start : start + c, :, None], gr[None], out=e)
        torch.sub(e, gx[start : start + c, None, :], out=e)
        torch.eq(e, 0, out=case)
        n_cases = int(torch.count_nonzero(case))
        cases += n_cases
        if not n_cases or count_only:
            continue
        xc = xs[start : start + c, None, :]
        if real:  # no ==: a relative tolerance goes the generic way
            _real_excess(xc, ls[start : start + c, :, None], rs[None], op in ("<=", "<"), tol, dd, bad)
        else:
            torch.sub(xc, ls[start : start + c, :, None], out=dd)
            torch.sub(dd, rs[None], out=dd)  # D = x - (left + right)
            if op == "==":
                torch.ne(dd, 0, out=bad)
                torch.abs(dd, out=dd)
            else:
                if op in (">=", ">"):
                    torch.neg(dd, out=dd)
                torch.gt(dd, slack, out=bad)
                if strict:
                    dd += 1
        bad &= case
        count = int(torch.count_nonzero(bad))
        total += count
        if not count or not keep:
            continue
        flat = bad.reshape(-1).nonzero().squeeze(1)
        excess = dd.reshape(-1)[flat].to(torch.float64)
        best = torch.sort(-excess, stable=True).indices[:keep]
        for i, ex in zip(flat[best].tolist(), excess[best].tolist()):
            a, rest = divmod(i, n_w * n_v)
            b, cc = divmod(rest, n_v)
            worst.append((ex, (start + a, b, cc)))
        worst.sort(key=lambda t: -t[0])
        del worst[keep:]
    return cases, total, worst


NEAR_ROWS = 1 << 22  # entries of the [dirty pairs, n] blocks evaluated at once
NEAR_FACTOR = 24  # the near path runs while NEAR_FACTOR * dirty labels <= n^2 (it costs ~3 dirty n; the broadcast n^3)


def _violations_near(
    x, px, left, pl, right, pr, dist, op: str, slack, keep: int, between: bool = False
) -> tuple[int, list] | None:
    """``x OP left + right`` by the labels that differ from a graph's distances (None when too many do).

    A triple whose three labels equal the graph's (finite) distances holds ``<=`` (a graph metric obeys the
    triangle inequality), and ``==``/``>=`` too when w is on a shortest u-v path (``between``: only those
    triples are cases). So every violating triple holds a *dirty* label; each such triple is examined exactly
    once, by the first dirty one of (x, left, right): O(dirty * n) instead of O(n^3).
    """
    n = dist.shape[0]
    if x.shape != (n, n) or left.shape != (n, n) or right.shape != (n, n):
        return None
    reach = dist >= 0
    dirty_x, dirty_l, dirty_r = (p & ~(reach & (t == dist.to(t.dtype))) for t, p in ((x, px), (left, pl), (right, pr)))
    dirty = int(dirty_x.sum()) + int(dirty_l.sum()) + int(dirty_r.sum())
    if NEAR_FACTOR * dirty > n * n:  # the broadcast over all triples is cheaper
        return None
    if x.dtype != torch.float64:
        top = max(int(t.abs().max()) for t in (x, left, right))
        dtype = torch.int16 if 3 * top < 32767 else torch.int32 if 3 * top < 2**31 - 1 else torch.int64
        x, left, right = x.to(dtype), left.to(dtype), right.to(dtype)
    clean_x, clean_l = px & ~dirty_x, pl & ~dirty_l
    # row-major copies of the transposes: every block below gathers whole rows
    x_t, left_t, right_t = x.T.contiguous(), left.T.contiguous(), right.T.contiguous()
    dist_t = dist.T.contiguous()
    pr_t, clean_x_t, clean_l_t = pr.T.contiguous(), clean_x.T.contiguous(), clean_l.T.contiguous()
    total, worst = 0, []

    real = x.dtype == torch.float64

    def collect(xv, sv, ok, triple, on_path):
        """``xv OP sv`` (x and left + right, broadcast) where ``ok``; reals decided as the validator does."""
        nonlocal total
        diff = xv - sv
        if op == ">=":
            diff = -diff
        elif op == "==":
            diff = diff.abs()
        if real and op in ("<=", ">="):  # x <= (left + right) + tol, or (left + right) <= x + tol
            bad = ok & (xv > sv + slack if op == "<=" else sv > xv + slack)
        else:
            bad = ok & (diff > slack)
        if between:
            bad &= on_path()
        count = int(torch.count_nonzero(bad))
        total += count
        if count and keep:
            if len(worst) >= keep:  # only what beats the worst kept so far (earlier cases win ties)
                bad &= diff > worst[-1][0]
            rows, cols = bad.nonzero(as_tuple=True)
            excess = diff[rows, cols].to(torch.float64)
            best = torch.sort(-excess, stable=True).indices[:keep]
            for r, c, e in zip(rows[best].tolist(), cols[best].tolist(), excess[best].tolist()):
                worst.append((e, triple(r, c)))
            worst.sort(key=lambda t: -t[0])
            del worst[keep:]

    step = max(1, NEAR_ROWS // max(1, n))
    u, v = dirty_x.nonzero(as_tuple=True)  # x dirty: every w
    for a in range(0, u.numel(), step):
        uu, vv = u[a : a + step], v[a : a + step]
        collect(
            x[uu, vv][:, None],
            left[uu] + right_t[vv],
            pl[uu] & pr_t[vv],
            lambda r, c, uu=uu, vv=vv: (int(uu[r]), c, int(vv[r])),
            lambda uu=uu, vv=vv: _on_path(dist[uu, vv][:, None], dist[uu], dist_t[vv]),
        )
    u, w = dirty_l.nonzero(as_tuple=True)  # x clean, left dirty: every v
    for a in range(0, u.numel(), step):
        uu, ww = u[a : a + step], w[a : a + step]
        collect(
            x[uu],
            left[uu, ww][:, None] + right[ww],
            clean_x[uu] & pr[ww],
            lambda r, c, uu=uu, ww=ww: (int(uu[r]), int(ww[r]), c),
            lambda uu=uu, ww=ww: _on_path(dist[uu], dist[uu, ww][:, None], dist[ww]),
        )
    w, v = dirty_r.nonzero(as_tuple=True)  # x and left clean, right dirty: every u
    for a in range(0, w.numel(), step):
        ww, vv = w[a : a + step], v[a : a + step]
        collect(
            x_t[vv],
            left_t[ww] + right[ww, vv][:, None],
            clean_x_t[vv] & clean_l_t[ww],
            lambda r, c, ww=ww, vv=vv: (c, int(ww[r]), int(vv[r])),
            lambda ww=ww, vv=vv: _on_path(dist_t[vv], dist_t[ww], dist[ww, vv][:, None]),
        )
    return total, worst


def _on_path(duv, duw, dwv) -> torch.Tensor:
    """w on a shortest u-v path (broadcast): ``d(u, w) + d(w, v) == d(u, v)``, both legs reachable."""
    return (duw + dwv == duv) & (duw >= 0) & (dwv >= 0)


def _real_excess(xc, left, right, upper: bool, tol: float, d: torch.Tensor, bad: torch.Tensor) -> None:
    """In place, the validator's decision on real sides: ``bad`` where ``x <= (left + right) + tol`` fails (``upper``)
    or ``(left + right) <= x + tol`` fails; ``d`` the excess, ``x - (left + right)`` or ``(left + right) - x``."""
    torch.add(left, right, out=d)
    if upper:
        d += tol
        torch.gt(xc, d, out=bad)
        torch.sub(xc, d, out=d)
        d += tol
    else:
        torch.gt(d, xc + tol, out=bad)
        torch.sub(d, xc, out=d)
