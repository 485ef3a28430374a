"""Constraint candidates of ``symspec suggest`` tested on the data (docs/data.md, "Constraint candidates").

Transitivity ``f(a, b) and f(b, c) => f(a, c)`` (bool output) and the triangle inequality
``f(a, b) <= f(a, c) + f(c, b)`` (``class(range(...))`` or ``real`` output), for a model of two arguments of
one finite domain, are checked by :func:`symspec.data.check.check_data` in their natural data form: every
present triple is a case, counted exactly. On a domain of more than :data:`MAX_ITEMS` values a seeded random
subset of that many values is kept, with the rows whose two arguments are both in it.

A triple whose middle variable equals one of its ends (``w = u`` or ``w = v`` in ``f(u, v) <= f(u, w) + f(w, v)``;
``b = a`` or ``b = c`` in ``f(a, b) and f(b, c) => f(a, c)``) is left out of the counts: transitivity holds on it
whatever the labels are, and the triangle holds on it whenever ``f(u, u) >= 0`` (always, for a ``class(range(0,
...))`` output). Such a triple relates no three distinct values, so it is no evidence for the law. Check-data
counts them (the validator's definition of a case); they are counted by check-data too, as the law with the middle
variable replaced by an end, and subtracted.
"""

from __future__ import annotations

import re

import torch

from .suggest_evidence import Evidence

__all__ = ["constraint_evidence", "premise_counts", "subset", "MAX_ITEMS", "MAX_CASES", "DEGENERATE"]

MAX_ITEMS = 400  # values of the shared domain kept (a seeded random subset past it): at most 6.4 x 10^7 triples
MAX_CASES = 10**8  # check_data's limit for a law its natural forms do not recognize (then: untestable)
DEGENERATE = "triples with the middle variable equal to an end left out (they relate no three distinct values)"


def subset(table, params: tuple, seed: int) -> tuple[torch.Tensor, str]:
    """(rows kept, a note): every row, or the rows whose two arguments are in a seeded random subset of values."""
    n = table.sizes[params[0]]
    rows = torch.arange(len(table))
    if n <= MAX_ITEMS:
        return rows, ""
    g = torch.Generator().manual_seed(seed)
    keep = torch.zeros(n, dtype=torch.bool)
    keep[torch.randperm(n, generator=g)[:MAX_ITEMS]] = True
    low = table.lows[params[0]]
    a, b = (table.inputs[p].to(torch.int64) - low for p in params)
    sel = rows[keep[a] & keep[b]]
    return sel, f"capped: the {len(sel):,} rows among a seeded random {MAX_ITEMS} of the domain's {n:,} values"


def premise_counts(table, params: tuple, sel: torch.Tensor) -> tuple[int, int]:
    """(premise cases, of which violated) of transitivity on the rows ``sel``: the present triples (a, b, c) with
    f(a, b) and f(b, c) true, and of those, f(a, c) false; triples with b equal to a or to c are left out (their
    premise implies their conclusion: never violated). Each input answers with its first row."""
    n = table.sizes[params[0]]
    low = table.lows[params[0]]
    a, b = (table.inputs[p][sel].to(torch.int64) - low for p in params)
    y = table.target[sel].to(torch.int64) != 0
    key = a * n + b
    order = torch.arange(len(key) - 1, -1, -1)  # scatter in reverse: the first row of each input is written last
    present = torch.zeros(n * n, dtype=torch.bool)
    label = torch.zeros(n * n, dtype=torch.bool)
    present[key[order]] = True
    label.index_put_((key[order],), y[order])  # deterministic on CPU: the last write (the first row) wins
    present, label = present.view(n, n), label.view(n, n)
    true = (present & label).to(torch.float64)
    paths = true @ true  # [a, c]: the b with f(a, b) and f(b, c) both present and true (exact below 2^53)
    premise = int(paths[present].sum().item())
    violated = int(paths[present & ~label].sum().item())
    own = torch.diagonal(true)  # f(a, a) present and true
    middle_at_end = (own @ true.sum(1)) + (true.sum(0) @ own) - own.sum()  # b = a, b = c (b = a = c once)
    return premise - int(middle_at_end.item()), violated


def constraint_evidence(cand, text: str, file: str, table, seed: int = 0) -> tuple[Evidence | None, str]:
    """The evidence of a constraint candidate (law ``cand.name`` in the spec ``text``): check_data's cases and
    violations on every present triple. (None, why) when check_data cannot check it."""
    from ..errors import UsageError
    from .check import check_data

    params = table.params
    sel, note = subset(table, params, seed)
    columns = {p: table.inputs[p][sel] for p in params}
    columns["target"] = table.target[sel]
    extra, names = _middle_at_ends(cand, text)
    try:
        report = check_data(text + extra, columns, model=table.model, laws=[cand.name, *names], max_cases=MAX_CASES)
    except UsageError as err:
        return None, f"check-data could not check it: {err}"
    law = report.laws[0]
    if law.mode != "data":
        return None, law.note or "check-data did not check it"
    cases, violations = law.cases, law.violations
    if names and all(r.mode == "data" for r in report.laws[1:]):
        (c1, v1), (c2, v2), (c3, v3) = [(r.cases, r.violations) for r in report.laws[1:]]
        gone = c1 + c2 - c3  # middle = one end, or the other (both: counted twice)
        cases, violations = cases - gone, violations - (v1 + v2 - v3)
    else:  # pragma: no cover - the laws with the middle variable at an end are as checkable as the law
        gone = 0
    ev = Evidence(tested=cases, supported=cases - violations, contradicted=violations)
    ev.untestable = law.skipped
    ev.degenerate = gone
    ev.elements = 0
    notes = ["counted by check-data on every present triple"]
    cycle = getattr(law, "cycle", None)
    if cycle is not None:
        rows = [int(sel[r]) for r in cycle["rows"]]
        ev.cycle = {**cycle, "rows": rows}
        steps = ", ".join(
            f"{x} -> {cycle['nodes'][(i + 1) % len(cycle['nodes'])]} (row {r})"
            for i, (x, r) in enumerate(zip(cycle["nodes"], rows))
        )
        notes.append(f"a shortest cycle of the order graph has length {cycle['length']}: {steps}")
    elif "has no cycle" in (law.note or ""):
        notes.append("the order graph has no cycle")
    if note:
        notes.append(note)
    ev.note = "; ".join(notes)
    for ex in law.examples:
        found = {k: int(sel[v]) for k, v in (ex.get("rows") or {}).items()}
        ev.examples.append(
            {"values": {k: v for k, v in ex.get("values", {}).items() if k != "rows"}, "rows": found, "sides": ex.get("sides")}
        )
    return ev, ""


def _middle_at_ends(cand, text: str) -> tuple[str, list]:
    """(law statements, their names): the candidate with its middle variable replaced by one end, by the other,
    and all three by one (the triples with the middle variable at an end, counted by inclusion-exclusion)."""
    if len(cand.middle) != 3:
        return "", []
    mid, one, other = cand.middle

    def put(law: str, mapping: dict) -> str:
        return re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", lambda m: mapping.get(m.group(0), m.group(0)), law)

    laws = [put(cand.law, {mid: one}), put(cand.law, {mid: other}), put(cand.law, {mid: one, other: one})]
    out, names = "" if text.endswith("\n") else "\n", []
    for i, law in enumerate(laws):
        name, k = f"{cand.name}_middle_at_end_{i}", 0
        while re.search(rf"\b{re.escape(name)}\b", text):
            k += 1
            name = f"{cand.name}_middle_at_end_{i}_{k}"
        names.append(name)
        out += f"law {name}: {law}\n"
    return out, names
