"""Evidence for laws on real/tensor inputs: T x matched to its nearest row (a proxy; docs/data.md).

The group acts through the same ``rt.GroupSampler`` the compiled module uses
(``codegen.draws.group_description``). An exact ``T x`` rarely is a row of
real data, so each moved input is matched to its nearest row (batched
``torch.cdist`` in chunks) when that row is closer than ``NN_CUT`` times the
data's median nearest-neighbour spacing; the law is then compared on that
row's label, within ``TENSOR_RTOL`` times the targets' standard deviation.
"""

from __future__ import annotations

import torch

from .suggest_evidence import MAX_ELEMENTS, MAX_EXAMPLES, Evidence

__all__ = ["tensor_evidence", "NN_CUT", "TENSOR_RTOL", "ROUNDS", "CHUNK"]

NN_CUT = 0.1  # T x matches a row closer than this fraction of the median nearest-neighbour spacing of the rows
TENSOR_RTOL = 0.05  # real/tensor labels agree within this fraction of the targets' standard deviation
ROUNDS = 8  # groups too large to list: this many random elements per row
CHUNK = 4096  # rows of T x per cdist block
_SPACING_SAMPLE = 2048  # rows used to measure the spacing


def _flat(table) -> torch.Tensor:
    return torch.cat([table.inputs[p].reshape(len(table), -1).to(torch.float64) for p in table.params], dim=1)


def _nearest(queries: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each query's nearest point, in chunks."""
    dist, idx = [], []
    for start in range(0, queries.shape[0], CHUNK):
        d = torch.cdist(queries[start : start + CHUNK], points)
        m = d.min(dim=1)
        dist.append(m.values)
        idx.append(m.indices)
    return torch.cat(dist), torch.cat(idx)


def _spacing(points: torch.Tensor, generator: torch.Generator) -> float:
    """The median distance of (a sample of) the rows to their nearest other row."""
    n = points.shape[0]
    pick = torch.randperm(n, generator=generator)[:_SPACING_SAMPLE]
    d = torch.cdist(points[pick], points)
    d[torch.arange(pick.shape[0]), pick] = float("inf")
    near = d.min(dim=1).values
    near = near[torch.isfinite(near)]
    return float(near.median()) if near.numel() else 0.0


def tensor_evidence(spec, cand, law, table, seed: int = 0):
    """``(Evidence, "")`` for a tensor candidate, or ``(None, why)`` when it cannot be tested on this table."""
    from .. import runtime as rt
    from ..codegen.draws import group_description

    sig = spec.models[table.model]
    if table.finite() or any(table.sizes[p] is not None for p in table.params):
        return None, "nearest-neighbour matching needs every input real or tensor"
    if len(table) < 2:
        return None, "fewer than two rows"
    binder = next((v for v in spec.laws[cand.name].variables.values() if v.group is not None), None)
    if binder is None:  # pragma: no cover - tensor candidates bind a group
        return None, "no group binder"
    gir = spec.ir.group(binder.group)
    param, dom = sig.params[cand.args[0]]
    equivariant = not law.generators or not all(g.out_identity for g in law.generators)
    domains = {"x": dom}
    if equivariant:
        domains["y"] = sig.output
    try:
        sampler = rt.GroupSampler(gir.name, group_description(spec, gir, domains))
    except ValueError as why:
        return None, f"the group cannot be sampled here: {why}"
    gen = torch.Generator().manual_seed(seed)
    points = _flat(table)
    cut = NN_CUT * _spacing(points, gen)
    target = table.target.to(torch.float64).reshape(len(table), -1)
    tol = TENSOR_RTOL * float(target.std()) if target.numel() > 1 else 0.0
    tol = max(tol, 1e-9 * float(target.abs().max().clamp(min=1.0)))
    x = table.inputs[param].to(torch.float64)
    n = len(table)
    order = sampler.order
    every = order is not None and order <= MAX_ELEMENTS + 1
    rounds = range(order) if every else range(ROUNDS)
    ev = Evidence(proxy=f"nearest row within {cut:.3g} (= {NN_CUT} x the median row spacing); labels within {tol:.3g}")
    ev.every_element = every
    ev.elements = (order - 1) if every else ROUNDS
    ev.sampling = "all" if every else "random, drawn per row"
    own = torch.arange(n)
    for r in rounds:
        if every:
            if r == 0:
                continue  # the identity (element 0 of an enumerated group)
            g = sampler.pick(torch.full((n,), r, dtype=torch.int64))
        else:
            g = sampler.draw(n, gen, like={"x": x})
        gx = sampler.act(g, "x", x)
        inputs = dict(table.inputs)
        inputs[param] = gx
        queries = torch.cat([inputs[p].reshape(n, -1).to(torch.float64) for p in table.params], dim=1)
        dist, idx = _nearest(queries, points)
        present = dist <= cut
        ev.untestable += int((~present).sum())
        use = present & ((idx > own) | ((idx == own) & equivariant))
        if not bool(use.any()):
            continue
        y = table.target[use].to(torch.float64)
        expected = sampler.act(_rows_of(g, use), "y", y) if equivariant else y
        found = table.target[idx[use]].to(torch.float64)
        diff = (found - expected).reshape(found.shape[0], -1).abs().amax(dim=1)
        ok = diff <= tol if table.output in ("real", "tensor") else found == expected
        k, good = int(use.sum()), int(ok.sum())
        ev.tested += k
        ev.supported += good
        ev.contradicted += k - good
        if good < k and len(ev.examples) < MAX_EXAMPLES:
            bad = (~ok).nonzero().flatten()[: MAX_EXAMPLES - len(ev.examples)]
            rows, mrows = table.rows[use][bad].tolist(), table.rows[idx[use][bad]].tolist()
            for a, b, d in zip(rows, mrows, diff[bad].tolist()):
                ev.examples.append({"row": a, "moved_row": b, "difference": d})
    return ev, ""


def _rows_of(g, mask: torch.Tensor):
    """The drawn elements of the rows in ``mask``."""
    from ..runtime.groups import Elements

    return Elements(t[mask] for t in g)
