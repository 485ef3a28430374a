"""Evidence for laws on real/tensor inputs: T x matched to its nearest row (a proxy; docs/data.md).

The group acts through the same ``rt.GroupSampler`` the compiled module uses
(``codegen.draws.group_description``). An exact ``T x`` rarely is a row of
real data, so each moved input is matched to its nearest row (batched
``torch.cdist`` in chunks) when that row is closer than ``NN_CUT`` times the
data's median nearest-neighbour spacing; the law is then compared on that
row's label, within ``TENSOR_RTOL`` times the targets' standard deviation.

A moved input whose nearest row is the row it came from (T x within the cut of x: T fixes x, or nearly) is
untestable, not evidence: the proxy cannot tell T x from x there, and comparing a label with itself (or with its
own image under S) is not a pair of rows the law connects. ``Evidence.own`` counts them (inside ``untestable``).
"""

from __future__ import annotations

import torch

from .suggest_evidence import MAX_ELEMENTS, MAX_EXAMPLES, Element, Evidence, group_elements

__all__ = ["tensor_evidence", "NN_CUT", "TENSOR_RTOL", "ROUNDS", "CHUNK", "MAX_DISTANCES", "BLOCK_ENTRIES"]

NN_CUT = 0.1  # T x matches a row closer than this fraction of the median nearest-neighbour spacing of the rows
TENSOR_RTOL = 0.05  # real/tensor labels agree within this fraction of the targets' standard deviation
ROUNDS = 8  # groups too large to list: this many random elements per row
CHUNK = 4096  # rows of T x per cdist block
_SPACING_SAMPLE = 2048  # rows used to measure the spacing
MAX_DISTANCES = 1 << 28  # distances computed per candidate; past it, a seeded random subset of the rows plays x
BLOCK_ENTRIES = 1 << 24  # distances held at once (128 MB of float64): the cdist block shrinks as the rows grow


def _flat(table) -> torch.Tensor:
    return torch.cat([table.inputs[p].reshape(len(table), -1).to(torch.float64) for p in table.params], dim=1)


def _nearest(queries: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each query's nearest point, in chunks."""
    dist, idx = [], []
    chunk = max(1, min(CHUNK, BLOCK_ENTRIES // max(1, points.shape[0])))
    for start in range(0, queries.shape[0], chunk):
        d = torch.cdist(queries[start : start + chunk], points)
        m = d.min(dim=1)
        dist.append(m.values)
        idx.append(m.indices)
    return torch.cat(dist), torch.cat(idx)


def _spacing(points: torch.Tensor, generator: torch.Generator) -> float:
    """The median distance of (a sample of) the rows to their nearest other row."""
    n = points.shape[0]
    pick = torch.randperm(n, generator=generator)[: max(16, min(_SPACING_SAMPLE, MAX_DISTANCES // 16 // max(1, n)))]
    chunk = max(1, BLOCK_ENTRIES // max(1, n))
    near = []
    for start in range(0, pick.shape[0], chunk):
        part = pick[start : start + chunk]
        d = torch.cdist(points[part], points)
        d[torch.arange(part.shape[0]), part] = float("inf")
        near.append(d.min(dim=1).values)
    near = torch.cat(near)
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
    steps = (order - 1) if every else ROUNDS
    m = min(n, max(1, MAX_DISTANCES // max(1, steps * n)))  # rows playing x: n^2 distances per element at most
    if m < n:
        own = torch.randperm(n, generator=gen)[:m].sort().values
        x = x[own]
        ev.note = f"on a seeded random {m:,} of the {n:,} rows (at most {MAX_DISTANCES:,} distances per candidate)"
    pairs = torch.empty(
        0, dtype=torch.int64
    )  # invariance: each unordered pair of rows once (x fixed by some elements reaches a row twice)
    witnessed = []
    for r in rounds:
        if every:
            if r == 0:
                continue  # the identity (element 0 of an enumerated group)
            g = sampler.pick(torch.full((m,), r, dtype=torch.int64))
        else:
            g = sampler.draw(m, gen, like={"x": x})
        gx = sampler.act(g, "x", x)
        inputs = {p: table.inputs[p][own] for p in table.params}
        inputs[param] = gx
        queries = torch.cat([inputs[p].reshape(m, -1).to(torch.float64) for p in table.params], dim=1)
        dist, idx = _nearest(queries, points)
        present = dist <= cut
        itself = present & (idx == own)  # T x nearest to the row it came from: T x ~ x, not a pair of rows
        ev.own += int(itself.sum())
        ev.untestable += int((~present).sum()) + int(itself.sum())
        use = present & (idx > own)  # each unordered pair of rows once (an element's inverse connects it the other way)
        if not equivariant and bool(use.any()):  # drop pairs an earlier element already connected
            code = own[use] * n + idx[use]  # one per row of this round: distinct within it
            fresh = ~torch.isin(code, pairs)
            pairs = torch.cat([pairs, code[fresh]])
            use[use.clone()] = fresh
        if not bool(use.any()):
            continue
        witnessed.append(r)
        y = table.target[own][use].to(torch.float64)
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
            rows, mrows = table.rows[own][use][bad].tolist(), table.rows[idx[use][bad]].tolist()
            for a, b, d in zip(rows, mrows, diff[bad].tolist()):
                ev.examples.append({"row": a, "moved_row": b, "difference": d})
    if every and witnessed and len(witnessed) < order - 1:
        ev.subgroup = _subgroup(sampler, x, witnessed, order)
    return ev, ""


def _subgroup(sampler, x: torch.Tensor, witnessed: list, order: int) -> str:
    """Why the elements that connected a tested pair generate only a subgroup ("" when they generate the group).

    Each element is read as the permutation it makes of the entries of one input (the default actions of
    ``symmetric(N)`` on a dim and ``dihedral(4)`` on a square grid permute entries)."""
    probe = torch.arange(x[0].numel(), dtype=torch.float64).reshape(1, *x.shape[1:])
    perms = []
    for r in range(1, order):
        moved = sampler.act(sampler.pick(torch.tensor([r])), "x", probe).reshape(-1)
        perms.append(Element((0,), (moved.round().to(torch.int64).numpy(),), None))
    every, _ = group_elements(perms, MAX_ELEMENTS)
    sub, _ = group_elements([perms[r - 1] for r in witnessed], MAX_ELEMENTS)
    if len(sub) >= len(every):
        return ""
    return (
        f"the pairs tested come from a subgroup of {len(sub) + 1} elements of the group's {len(every) + 1}: "
        "the rest of the group is untested"
    )


def _rows_of(g, mask: torch.Tensor):
    """The drawn elements of the rows in ``mask``."""
    from ..runtime.groups import Elements

    return Elements(t[mask] for t in g)
