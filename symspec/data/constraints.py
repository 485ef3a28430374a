"""Constraint laws checked on data in their natural form (issue 17): triangle and geodesic inequalities over
all present triples, transitivity with a shortest cycle of the order graph, antisymmetry/irreflexivity pairs,
constants (docs/data.md).

``check_constraint`` is called first for every law by ``symspec check-data``; it answers ``None`` for a law
that is not one of these forms (the generic path then enumerates the law's cases). A *case* is an
assignment of the law's variables whose calls are all present in the data and whose guard holds; every
case is checked exactly, in broadcast chunks (no Python loop over cases).
"""

from __future__ import annotations

import itertools
import math
import time

import torch

from ..analysis.domains import Nodes, Range
from ..analysis.lawir import LawClass
from ..codegen.terms import tolerances
from ..syntax import ast
from ..syntax.unparse import unparse
from ..validation.report import LawReport, wilson_interval
from .constraints_eval import Dense, Evaluator, Unsupported
from .constraints_forms import Form, model_calls, recognize
from .constraints_order import order_counts, shortest_cycle
from .constraints_triangle import between_graph, triangle_counts

__all__ = ["check_constraint", "CHUNK"]

CHUNK = 1 << 22  # grid entries evaluated at once (int64 temporaries: 32 MB each)


def check_constraint(law_ir, table, spec, *, examples: int = 5, max_rate: float = 0.0) -> LawReport | None:
    """The law checked on every present case of ``table`` in its natural data form, or ``None`` if not recognized."""
    if law_ir is None or law_ir.law_class != LawClass.CONSTRAINT:
        return None
    info = spec.laws.get(law_ir.name)
    if info is None or table.output not in ("class", "bool", "real"):
        return None
    form = recognize(info, table)
    if form is None:
        return None
    started = time.perf_counter()
    tol, rtol = tolerances(info.options.get("tol"), info.options.get("rtol"))
    try:
        dense = _dense(table)
        lows = {v: _low(info.variables[v].domain) for v in form.variables}
        ev = Evaluator(spec, dense, table.model, lows, tol, rtol)
        run = _Run(info, form, table, ev, examples)
        run.go()
    except Unsupported:
        return None
    span = info.decl.span
    report = LawReport(law_ir.name, f"{spec.file}:{span.line}:{span.column}", str(law_ir.law_class), "data")
    report.cases, report.violations = run.cases, run.violations
    report.skipped = math.prod(run.sizes.values()) - run.cases  # assignments with a call absent or the guard false
    report.rate = run.violations / run.cases if run.cases else 0.0
    report.interval = wilson_interval(run.violations, run.cases)
    report.max_rate = max_rate
    report.passed = bool(run.cases) and report.rate <= max_rate
    if table.output == "real":
        report.tol, report.rtol = tol, rtol
    report.examples = run.examples
    report.worst = run.examples[0]["loss"] if run.examples else None
    report.magnitudes = [ex["loss"] for ex in run.examples]
    report.seconds = time.perf_counter() - started
    notes = [f"checked on the data as {run.description}"] + run.notes
    if not run.cases:
        notes.append("no case of the law is present in the data: nothing was checked, which is not a pass")
    report.note = "; ".join(notes)
    if run.cycle is not None:
        report.cycle = run.cycle  # also on the report object (not in its JSON): length, nodes, rows, context
    return report


_DENSE_CACHE: dict = {}


def _dense(table) -> Dense:
    """The table's dense form, built once per table object (the last few are kept)."""
    hit = _DENSE_CACHE.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    dense = Dense(table)
    if len(_DENSE_CACHE) >= 4:
        _DENSE_CACHE.pop(next(iter(_DENSE_CACHE)))
    _DENSE_CACHE[id(table)] = (table, dense)
    return dense


def _low(domain) -> int:
    """The smallest value of a finite domain (its values minus this index the table)."""
    return domain.lo if isinstance(domain, Range) else 0


class _Run:
    """One law's counts, examples and notes."""

    def __init__(self, info, form: Form, table, ev: Evaluator, keep: int):
        self.info, self.form, self.table, self.ev, self.keep = info, form, table, ev, keep
        self.sizes = {v: info.variables[v].domain.size for v in form.variables}
        self.cases = self.violations = 0
        self.examples: list = []
        self.notes: list = []
        self.cycle: dict | None = None
        guarded = " the guard admits" if info.guard is not None else ""
        self.description = {
            "constant": f"a constant: every present input{guarded} compared with it",
            "pair": f"pairs: every present pair of swapped inputs{guarded}",
            "transitive": f"transitivity: every present triple{guarded}",
            "triangle": f"a triangle {'equality' if form.detail.get('op') == '==' else 'inequality'}: "
            f"every present triple{guarded}",
        }[form.kind]

    def go(self) -> None:
        form, guard = self.form, self.info.guard
        if form.kind == "transitive" and guard is None:
            self._transitive()
        elif form.kind == "triangle" and self._triangle_fast():
            pass
        else:
            self._generic(self._order())
        if form.kind == "transitive":
            self._cycle()

    def _order(self) -> list:
        if self.form.kind == "triangle":
            d = self.form.detail
            rest = [v for v in self.form.variables if v not in (d["u"], d["v"], d["w"])]
            return [d["u"], d["w"], d["v"], *rest]
        return list(self.form.variables)

    # ---- the generic chunked evaluation ------------------------------------------

    def _generic(self, order: list) -> None:
        sizes = [self.sizes[v] for v in order]
        body, guard = self.info.body, self.info.guard
        top = isinstance(body, ast.Compare) and not _is_bool_compare(body, self.table.output)
        candidates: list = []
        lows = [self.ev.lows[v] for v in order]
        for prefix, k, start, stop in _blocks(sizes):
            shape = (*[1] * k, stop - start, *sizes[k + 1 :])
            env = {}
            for j, v in enumerate(order):
                view = [1] * len(order)
                if j < k:  # one value of a leading variable per block
                    env[v] = torch.tensor(prefix[j] + lows[j]).view(view)
                    continue
                view[j] = -1
                values = torch.arange(start, stop) if j == k else torch.arange(sizes[j])
                env[v] = (values + lows[j]).view(view)
            mask = self.ev.present(body, env)
            if guard is not None:
                mask = mask & self.ev.truth(guard, env)
            if top:
                holds, excess = self.ev.compare(body, env)
            else:
                holds, excess = self.ev.truth(body, env), torch.ones((), dtype=torch.float64)
            mask = torch.broadcast_to(mask, shape)
            bad = mask & ~torch.broadcast_to(holds, shape)
            self.cases += int(mask.sum())
            n_bad = int(bad.sum())
            self.violations += n_bad
            if n_bad and self.keep:
                if len(candidates) >= self.keep:  # only what beats the worst kept so far (earlier cases win ties)
                    bad = bad & (torch.broadcast_to(excess, shape) > -candidates[-1][0])
                flat = bad.reshape(-1).nonzero().squeeze(1)
                loss = torch.broadcast_to(excess, shape).reshape(-1)[flat]
                best = torch.sort(-loss, stable=True).indices[: self.keep]
                for i, value in zip(flat[best].tolist(), loss[best].tolist()):
                    idx = _unravel(i, shape)
                    at = [*prefix, start + idx[k], *idx[k + 1 :]]
                    case = {v: at[j] + lows[j] for j, v in enumerate(order)}
                    candidates.append((-value, len(candidates), case))
                candidates.sort(key=lambda c: (c[0], c[1]))
                del candidates[self.keep :]
        self.examples = [self._example(case, -neg) for neg, _, case in candidates]

    # ---- examples --------------------------------------------------------------------

    def _example(self, case: dict, loss: float) -> dict:
        """A violating case: the variables' values, each side's value, each call's row, and how far it fails."""
        body = self.info.body
        shown = {}
        for v in self.form.variables:
            shown[v] = self._show_var(v, case[v])
        env = {v: torch.tensor(int(x)) for v, x in case.items()}
        sides = {}
        if isinstance(body, ast.Compare):
            for operand in body.operands:
                sides[unparse(operand)] = self._show_value(operand, env)
        else:
            for call in self.form.calls:
                sides[unparse(call)] = self._show_value(call, env)
        rows = {}
        for call in model_calls(body):
            index = tuple(int(t) for t in self.ev._index(call, env))
            rows[unparse(call)] = self.ev.dense.row(index)
        shown["rows" if "rows" not in shown else "data rows"] = list(rows.values())  # shown with the values, as check-data does
        return {"values": shown, "sides": sides, "rows": rows, "loss": float(loss)}

    def _show_var(self, var: str, value: int) -> str | int:
        for call in self.form.calls:
            for p, arg in zip(self.table.params, call.args):
                if arg.name == var and self.table.names.get(p):
                    return self.table.show(p, value)
        return value

    def _show_value(self, term, env: dict):
        kind, v, _ = self.ev.value(term, env)
        if kind == "bool":
            return bool(v)
        if kind == "real":
            return float(v)
        value = int(v)
        if isinstance(term, ast.Call) and self.table.names.get("target"):
            return self.table.show("target", value)
        return value

    # ---- fast paths ------------------------------------------------------------------

    def _transitive(self) -> None:
        self.cases, self.violations, found = order_counts(self.form, self.ev, self.sizes, self.keep)
        self.examples = [self._example(case, 1.0) for case in found]

    def _metric(self) -> str | None:
        """The graph whose nodes the triangle's variables are (its distances are a reference metric), if any."""
        d = self.form.detail
        domains = {self.info.variables[v].domain for v in (d["u"], d["v"], d["w"])}
        (domain,) = domains if len(domains) == 1 else (None,)
        return domain.graph if isinstance(domain, Nodes) else None

    def _triangle_fast(self) -> bool:
        """The triangle on label matrices (unguarded, or guarded by between); False: not applicable."""
        guard, op = self.info.guard, self.form.detail["op"]
        graph = between_graph(guard, self.form) if guard is not None else None
        if guard is not None and graph is None or guard is None and op == "==":
            return False
        if graph is not None and op == "==" and self.table.output == "real":
            return False
        found = triangle_counts(self.form, self.ev, self.sizes, self.keep, graph, self._metric())
        self.cases, self.violations = found[0], found[1]
        self.examples = [self._example(case, loss) for loss, case in found[2]]
        return True

    def _cycle(self) -> None:
        found = shortest_cycle(self.form, self.ev, self.sizes)
        if found == "mixed":  # the atoms assert different things: no single order graph
            return
        if not found:
            self.notes.append("the order graph (an edge where the atom holds) has no cycle")
            return
        context, nodes, rows = found
        p = self.table.params[self.form.slots[0]]
        names = [str(self.table.show(p, n + self.table.lows[p])) for n in nodes]
        where = "".join(f" at {self.table.params[i]}={self.table.show(self.table.params[i], c)}" for i, c in context.items())
        edges = [f"{a} -> {b} (row {r})" for a, b, r in zip(names, names[1:] + names[:1], rows)]
        shown = edges if len(edges) <= 12 else [*edges[:12], f"... {len(edges) - 12} more edges (report.cycle has all)"]
        steps = ", ".join(shown)
        self.notes.append(f"the order graph has a cycle; a shortest one has length {len(nodes)}{where}: {steps}")
        values = [n + self.table.lows[p] for n in nodes]
        self.cycle = {"length": len(nodes), "values": values, "nodes": names, "rows": rows, "context": context}


def _is_bool_compare(body, output: str) -> bool:
    """``g(a, b) == not g(b, a)``: a comparison of formulas, decided, not measured."""
    return any(isinstance(o, ast.Not | ast.Logic | ast.Compare) for o in body.operands) or (
        output == "bool" and all(isinstance(o, ast.Call) for o in body.operands)
    )


def _blocks(sizes: list):
    """Blocks of the grid of at most ``CHUNK`` entries: (values of the leading axes, axis k, start, stop), the
    block holding those leading values, ``start:stop`` along axis k and every value of the axes after k."""
    k = 0
    while k < len(sizes) - 1 and math.prod(sizes[k + 1 :]) > CHUNK:
        k += 1
    step = max(1, CHUNK // max(1, math.prod(sizes[k + 1 :])))
    for prefix in itertools.product(*(range(s) for s in sizes[:k])):
        for start in range(0, sizes[k], step):
            yield prefix, k, start, min(sizes[k], start + step)


def _unravel(i: int, shape: tuple) -> list:
    out = []
    for size in reversed(shape):
        out.append(i % size)
        i //= size
    return out[::-1]
