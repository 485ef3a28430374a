"""``symspec.check_data``: a labelled dataset checked against a spec's laws, as a partial model.

The data answers a model call exactly when the call's input is one of its
rows (:meth:`Table.lookup`). A law is checked on every case whose calls are
all answered: its cases are enumerated as the exhaustive validator enumerates
them (driven by the rows when some call's arguments are plain variables, so
a sparse table is not paid for by the whole input space), the compiled
``Validator`` check runs on them in batches with a *table model* that returns
each label as a model output and records which queried inputs were present,
and a case counts only when every call in it was present and its guard holds.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..analysis.domains import Labels, Nodes
from ..codegen.terms import tolerances
from ..errors import UsageError
from ..runtime.descriptors import GroupElements, Real, TensorOf, Values
from ..syntax import ast
from ..validation.report import LawReport, Report, wilson_interval
from ..validation.run import _as_python, _Law, compile_for_validation, first_values, identity_skip, select_laws
from ..validation.tabulate import mixed_radix
from .check_fast import SURE, OneHot, fast_validator
from .constraints import check_constraint  # the constraint laws' natural data forms (triangle inequalities, cycles)
from .load import _spec_of, domain_names, load_table, read_columns, shown
from .table import Table

__all__ = ["check_data", "DataReport", "TableModel", "MAX_CASES", "CHUNK_ENTRIES", "SURE_LOGIT"]

MAX_CASES = 10**9  # the most cases one law may have on the data (minutes at a few 10^6 a second); more: a usage error
CHUNK_ENTRIES = 1 << 23  # model output entries per batch of cases (32 MB of float32 logits per call)
MAX_BATCH = 1 << 16  # cases per batch at most (measured: 2^14..2^18 within noise; smaller stays in cache)
FAST = True  # class labels as OneHot (check_fast.py); False: always written out
STRICT = False  # a failure of the OneHot path or of a constraint form raises instead of falling back (tests)
SURE_LOGIT = SURE  # a label as logits: 0 for it, -1000 for the others (exp(-1000) is exactly 0: one-hot, finite)


class TableModel:
    """The data as a model: each call looks its inputs up and returns the label as an output.

    Class outputs: logits 0 for the label and ``-SURE_LOGIT`` elsewhere (argmax and softmax exactly the label,
    every logit finite); bool outputs: ``+-SURE_LOGIT``; real and tensor outputs: the value. Absent inputs
    answer class ``0`` / false / 0.0 and are recorded in ``log`` as absent (the cases using them are dropped).
    """

    def __init__(self, table: Table, fast: bool = False):
        self.table = table
        self.fast = fast  # class outputs as OneHot (labels only; check_fast.py)
        self.log: list = []  # per call of the model: (present [m] bool, row [m] int64)

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        t = self.table
        present, target, row = t.lookup(**dict(zip(t.params, args)))
        self.log.append((present, row))
        m = present.shape[0]
        if t.output == "class":
            label = torch.where(present, target - t.class_low, torch.zeros_like(target))
            if self.fast:
                return OneHot(label, t.classes)
            out = torch.full((m, t.classes), -SURE_LOGIT, dtype=torch.float32)
            return out.scatter_(1, label[:, None], 0.0)
        if t.output == "bool":
            sure = torch.full((m,), SURE_LOGIT, dtype=torch.float32)
            return torch.where(present & (target != 0), sure, -sure)
        zero = torch.zeros_like(target)
        return torch.where(present.reshape(-1, *([1] * (target.dim() - 1))), target, zero)

    def case_rows(self, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(every call present [n], rows [n, calls]) of the last check's ``n`` cases; None if a call was not n-aligned."""
        present = torch.ones(n, dtype=torch.bool)
        rows = []
        for ok, row in self.log:
            if ok.shape[0] % n:
                return None
            present &= ok.reshape(-1, n).all(0)
            rows.append(row.reshape(-1, n))
        self.log = []
        return present, (torch.cat(rows).T if rows else torch.zeros(n, 0, dtype=torch.int64))


@dataclass
class DataReport(Report):
    """A :class:`Report` of a dataset: also the data file, its model and rows, and conflicting duplicates."""

    data: str = ""
    model: str = ""
    rows: int = 0
    conflicts: list = field(default_factory=list)  # [{"inputs", "rows", "targets"[, "row_count"]}] (first 100; see Table)
    conflict_count: int = 0  # every input with rows of different targets

    @property
    def passed(self) -> bool:
        return Report.passed.fget(self) and not self.conflict_count

    def to_dict(self) -> dict:
        d = super().to_dict()
        head = {k: d.pop(k) for k in ("spec", "file")}
        data = {"data": self.data, "model": self.model, "rows": self.rows}
        conflicts = {"conflict_count": self.conflict_count, "conflicts": self.conflicts}
        return {**head, **data, **conflicts, **d}

    def render(self, examples: int = 3) -> str:
        body = super().render(examples).split("\n")
        lines = [
            f"symspec check-data {shown(self.file)} --data {shown(self.data)}  (spec {self.spec}, model {self.model}, {self.rows} rows)"
        ]
        if self.conflict_count:
            lines.append(
                f"conflicting labels: {self.conflict_count} input(s) have rows with different targets "
                "(the first row's target is used below)"
            )
            for c in self.conflicts[: max(examples, 10)]:
                given = " ".join(f"{k}={v}" for k, v in c["inputs"].items())
                pairs = ", ".join(f"row {r}: {_brief(t)}" for r, t in zip(c["rows"], c["targets"]))
                more = f"  ({c['row_count']} rows; the first of each target shown)" if "row_count" in c else ""
                lines.append(f"  {_brief(given, 200)}:  {pairs}{more}")
            if self.conflict_count > max(examples, 10):
                lines.append(f"  ... and {self.conflict_count - max(examples, 10)} more (all in the JSON up to 100)")
        else:
            lines.append("conflicting labels: none")
        body = [ln.replace(f"(seed {self.seed} replays them)", "(rows: the data's row numbers, from 0)") for ln in body[1:]]
        body = [ln for ln in body if not ln.startswith(("passed:", "FAILED:"))]
        while body and not body[-1]:
            body.pop()
        verdict = "passed" if self.passed else "FAILED"
        tail = f"{verdict}: {self.summary('hold on the data')}"
        if self.conflict_count:
            tail += f"; {self.conflict_count} conflicting input(s)"
        return "\n".join([*lines, *body, "", tail])

    __str__ = render


def _brief(value, limit: int = 60) -> str:
    """A value as one short piece of a line (a tensor label is cut at ``limit`` characters)."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _walk(node):
    """Every AST node under ``node`` (dataclass fields, tuples and lists)."""
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, tuple | list):
            stack.extend(x)
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            yield x
            stack.extend(getattr(x, f.name) for f in dataclasses.fields(x))


def _calls(decl, models) -> list:
    """The model calls in a law's declaration (``ast.Call`` nodes naming one of ``models``)."""
    out = []
    for node in _walk(decl):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Ident) and node.func.name in models:
            out.append(node)
    return out


def _takes(desc, table: Table, param: str) -> bool:
    """Whether a law variable takes exactly the values of the parameter ``param``."""
    if table.sizes[param] is None:
        return isinstance(desc.domain, Real | TensorOf)
    return desc.domain == Values(table.lows[param], table.lows[param] + table.sizes[param])


def _anchors(calls: list, table: Table, variables: dict) -> list:
    """Calls of the table's model whose arguments are distinct plain variables taking exactly the parameters'
    values: var -> argument position."""
    out = []
    for call in calls:
        if call.func.name != table.model or len(call.args) != len(table.params):
            continue
        names = [a.name if isinstance(a, ast.Name) else None for a in call.args]
        if None in names or len(set(names)) != len(names):
            continue
        if all(n in variables and _takes(variables[n], table, p) for n, p in zip(names, table.params)):
            out.append({n: i for i, n in enumerate(names)})
    return out


class _Plan:
    """A law's cases on the data: the rows' distinct inputs for an anchor call's variables, times the others.

    ``skip``: {group variable: 1} when its element 0, the identity, is not a case (its ``sizes`` entry excludes it).
    """

    def __init__(self, table: Table, variables: dict, sizes: dict, anchor: dict | None, unbounded: bool = False, skip=None):
        self.table = table
        self.order = list(variables)
        self.anchor = anchor or {}
        self.others = {v: s for v, s in sizes.items() if v not in self.anchor}
        self.lows = first_values(variables, self.others, skip)
        self.space = None if unbounded else math.prod(sizes.values())  # the law's cases (None: real/tensor ones)
        if anchor:
            ukeys, urows, _ = table._first()
            self.first = urows  # one row per distinct input
            self.total = int(urows.shape[0]) * math.prod(self.others.values())
        else:
            self.total = self.space

    def values(self, start: int, stop: int) -> dict:
        index = torch.arange(start, stop, dtype=torch.int64)
        inner = math.prod(self.others.values())
        out = {}
        if self.anchor:
            rows = self.first[index // inner]
            for var, position in self.anchor.items():
                out[var] = self.table.inputs[self.table.params[position]][rows]
            index = index % inner
        out.update(zip(self.others, mixed_radix(index, list(self.others.values()), self.lows)))
        return {v: out[v] for v in self.order}


def _sizes(validator, variables: dict) -> tuple[dict, list, str | None]:
    """(each finite variable's number of values, the real/tensor variables, why not when one cannot be enumerated
    nor read from rows)."""
    sizes, unbounded = {}, []
    for var, desc in variables.items():
        if isinstance(desc.domain, Values):
            sizes[var] = desc.domain.size
        elif isinstance(desc.domain, GroupElements):
            sizes[var] = int(getattr(validator, desc.domain.table).shape[0])
        elif isinstance(desc.domain, Real | TensorOf):
            unbounded.append(var)
        else:
            kind = type(desc.domain).__name__
            return sizes, unbounded, f"its variable '{var}' has no finite list of values ({kind}): its cases cannot be enumerated"
    return sizes, unbounded, None


def _not_checked(meta: dict, name: str, why: str, max_rate: float) -> LawReport:
    law = LawReport(name, meta["span"], meta["class"], "not checked", max_rate=max_rate)
    law.note = why
    return law


def _no_case(law: LawReport) -> LawReport:
    """A law none of whose cases the data holds: not checked (``passed`` None, no rate nor interval), saying why;
    its ``skipped`` still counts the cases the data lacks."""
    law.mode = "not checked"
    law.passed = None
    law.rate, law.interval = 0.0, (0.0, 1.0)
    law.worst = law.divergence = None
    law.note = f"none of its {law.skipped} cases has all its calls in the data (with its guard true): nothing was checked"
    return law


def _check_law(validator, module, spec, table, model: TableModel, name, examples, max_rate, max_cases) -> LawReport:
    meta, info = module.LAWS[name], module.CHECKS[name]
    decl = spec.laws[name].decl if name in spec.laws else None
    calls = _calls(decl, set(spec.models)) if decl is not None else []
    called = sorted({c.func.name for c in calls})
    others = [m for m in called if m != table.model]
    if others:
        why = f"it calls the model(s) {', '.join(others)}; the data labels only {table.model}"
        return _not_checked(meta, name, why, max_rate)
    if table.model not in called:
        return _not_checked(meta, name, f"it does not call {table.model}, the model the data labels", max_rate)
    law_ir = spec.ir.laws.get(name) if spec.ir is not None else None
    try:
        done = check_constraint(law_ir, table, spec, examples=examples, max_rate=max_rate)
    except UsageError:
        raise
    except Exception:  # a natural form that failed: the compiled check below gives the answer
        if STRICT:
            raise
        done = None
    if done is not None:
        return done if done.cases else _no_case(done)
    if info["error"] is not None:
        return _not_checked(meta, name, f"no check could be compiled: {info['error']}", max_rate)
    variables = info["variables"]
    sizes, unbounded, why = _sizes(validator, variables)
    if why is not None:
        return _not_checked(meta, name, why, max_rate)
    skip = identity_skip(validator, module, name)  # its group's identity is a case that cannot fail: not counted
    sizes = {v: n - skip.get(v, 0) for v, n in sizes.items()}
    anchors = _anchors(calls, table, variables)
    if unbounded:  # real/tensor variables: read from the rows of a call that takes them as they are
        anchors = [a for a in anchors if set(unbounded) <= set(a)]
        if not anchors:
            why = (
                f"its real/tensor variable(s) {', '.join(unbounded)} are not the plain arguments of one call of "
                f"{table.model}: their values cannot be read from the rows"
            )
            return _not_checked(meta, name, why, max_rate)
        plans = [_Plan(table, variables, sizes, a, True, skip) for a in anchors]
    else:
        plans = [
            _Plan(table, variables, sizes, None, False, skip),
            *(_Plan(table, variables, sizes, a, False, skip) for a in anchors),
        ]
    plan = min(plans, key=lambda p: p.total)
    if plan.total > max_cases:
        raise UsageError(
            f"law {name} has {plan.total} cases on this data, more than the {max_cases} check-data enumerates; "
            f"leave it out with --laws or raise --max-cases (the spec's laws: {', '.join(module.LAWS)})"
        )
    law = LawReport(name, meta["span"], meta["class"], "data", max_rate=max_rate)
    law.tol, law.rtol = tolerances(meta.get("tol"), meta.get("rtol"))  # what real and tensor labels are held to
    started = time.perf_counter()
    key = "rows" if "rows" not in variables else "data rows"
    acc = None
    if table.output == "class" and FAST:  # labels as OneHot: O(cases), not O(cases x classes); any failure: written out
        try:
            acc = _run(fast_validator(module, {table.model: TableModel(table, fast=True)}), table, name, plan, examples, key)
        except Exception:  # the written-out path below gives the answer (or the real error)
            if STRICT:
                raise
            acc = None
    if acc is None:
        acc = _run(validator, table, name, plan, examples, key, model)
    if acc == "unaligned":
        return _not_checked(meta, name, "its check calls the model on batches not aligned with its cases", max_rate)
    law.seconds = time.perf_counter() - started
    law.cases, law.violations, law.nonfinite = acc.cases, acc.violations, acc.nonfinite
    # the law's cases the data cannot check (a call absent) or the guard excludes; real/tensor: of those enumerated
    law.skipped = (plan.space if plan.space is not None else plan.total) - acc.cases
    law.rate = acc.violations / acc.cases if acc.cases else 0.0
    law.interval = wilson_interval(acc.violations, acc.cases)
    law.passed = bool(acc.cases) and law.rate <= max_rate
    law.worst = acc.worst[0][0] if acc.worst else None
    law.divergence = acc.loss_sum / acc.cases if acc.cases else None
    law.examples = [_named(ex, spec, name) for _, ex in acc.worst]
    law.magnitudes = acc.magnitudes
    if table.output in ("class", "bool"):  # a loss of one-hot labels measures their logit gap (1000), not the data
        law.worst = law.divergence = None
        law.magnitudes = []
        for ex in law.examples:
            ex["loss"] = None
    if not acc.cases:  # not checked: the data holds none of its cases (not a failure of the law)
        count = f"{plan.space}" if plan.space is not None else f"{plan.total} enumerated"
        law.mode, law.passed = "not checked", None
        law.note = f"none of its {count} cases has all its calls in the data (with its guard true): nothing was checked"
    return law


def _which_model(spec, data) -> str:
    """The error when the data's columns do not pick one of the spec's models: what each model needs, what is
    missing, and the data's columns."""
    columns = list(read_columns(data)[0])
    parts = []
    fits = []
    for m, sig in spec.models.items():
        needs = [p for p, _ in sig.params] + ["target"]
        missing = [c for c in needs if c not in columns]
        extra = [c for c in columns if c not in needs]
        if missing:
            state = f"missing {', '.join(missing)}"
        else:
            state = "has them all" + (f"; not {', '.join(shown(c) for c in extra)}" if extra else "")
            if not extra:
                fits.append(m)
        parts.append(f"{m} needs the columns {', '.join(needs)} ({state})")
    why = f"the columns fit {', '.join(fits)} alike" if len(fits) > 1 else "the columns are those of no one model"
    return (
        f"the spec has the models {', '.join(spec.models)} and {why}: say which one the data labels with --model NAME "
        f"(model= from Python); " + "; ".join(parts) + f"; the data has {', '.join(shown(c) for c in columns) or 'no column'}"
    )


def _named(example: dict, spec, law: str) -> dict:
    """An example with the values of named domains (sets, graph nodes) shown by name."""
    plan = spec.ir.laws.get(law) if spec.ir is not None else None
    variables = getattr(plan, "variables", None) or {}
    values = dict(example["values"])
    for var, value in values.items():
        domain = getattr(variables.get(var), "domain", None)
        names = domain_names(spec, domain) if isinstance(domain, Labels | Nodes) else None
        if names is not None and isinstance(value, int) and 0 <= value < len(names):
            values[var] = names[value]
    return {**example, "values": values}


def _run(validator, table: Table, name: str, plan: _Plan, examples: int, key: str, model=None):
    """Every case of ``plan`` checked in batches: the law's running sums (``_Law``), or "unaligned"."""
    model = model if model is not None else validator.models[table.model]
    width = table.classes if table.output == "class" and not model.fast else 1
    width *= max(1, math.prod(table.target.shape[1:]))
    if any(isinstance(d.domain, GroupElements) for d in validator.CHECKS[name]["variables"].values()):
        # the runtime acts on a finite domain by a whole permutation row per case: keep those rows bounded too
        width = max(width, *(s or 1 for s in table.sizes.values()))
    batch = max(256, min(MAX_BATCH, CHUNK_ENTRIES // (4 * width)))
    acc = _Law(examples)
    for start in range(0, plan.total, batch):
        stop = min(plan.total, start + batch)
        n = stop - start
        model.log = []
        out = validator.run(name, plan.values(start, stop), n, torch.device("cpu"))
        rows = model.case_rows(n)
        if rows is None:
            return "unaligned"
        present, case_rows = rows
        out["mask"] = out["mask"] & present
        out["values"] = {**out["values"], key: case_rows}
        acc.add(out)
    return acc


def _conflicts(table: Table) -> tuple[list, int]:
    count = table.conflict_count()
    if not count:
        return [], 0
    out = []
    for key, rows, targets, total in table.conflicts(with_counts=True):
        if table.finite():
            inputs = {p: table.show(p, v) for p, v in table.decode(key).items()}
        else:  # real/tensor inputs: the first row's values
            inputs = {p: _as_python(table.inputs[p][rows[0]]) for p in table.params}
        labels = [table.show("target", t) if isinstance(t, int) else t for t in targets]
        entry = {"inputs": inputs, "rows": rows, "targets": labels}
        if total > len(rows):  # rows left out: the first row of each target is listed, and the count
            entry["row_count"] = total
        out.append(entry)
    return out, count


_MODULES: dict = {}  # id(spec) -> (spec, compiled module): the last few specs checked, compiled once
MODULES_KEPT = 4


def _compiled(spec):
    """The spec's compiled module, compiled once per Spec object (the last few kept)."""
    held = _MODULES.get(id(spec))
    if held is not None and held[0] is spec:
        return held[1]
    module = compile_for_validation(spec)
    if len(_MODULES) >= MODULES_KEPT:
        _MODULES.pop(next(iter(_MODULES)))
    _MODULES[id(spec)] = (spec, module)
    return module


def check_data(
    spec,
    data,
    model: str | None = None,
    laws=None,
    *,
    params: dict | None = None,
    examples: int = 5,
    max_rate: float = 0.0,
    max_cases: int = MAX_CASES,
) -> DataReport:
    """Check every law of ``spec`` on the labelled ``data`` (a path or a mapping of columns); see docs/data.md.

    ``spec``: a path, a loaded :class:`~symspec.Spec`, or .sym text (``params`` override its ``param``s).
    ``model``: the model the data labels (needed when the spec has several and the columns do not say).
    ``laws``: names (default all). A law is checked on every case whose model calls are all rows of the
    data (exact lookup, no sampling); laws the data cannot check are ``mode="not checked"`` with a note.
    The report passes when every checked law's violation rate is at most ``max_rate``, some law was checked,
    and no input has rows with different targets.
    """
    if params is not None and not isinstance(params, dict):
        raise UsageError(f"params must be a mapping of parameter name -> integer, got {type(params).__name__}")
    for option, value in (("examples", examples), ("max_cases", max_cases)):  # numpy integers too, as validate
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or value < 0:
            raise UsageError(f"{option} must be a non-negative integer, got {value!r}")
    examples, max_cases = int(examples), int(max_cases)
    if isinstance(max_rate, bool | np.bool_) or not isinstance(max_rate, numbers.Real) or not 0 <= max_rate <= 1:
        raise UsageError(f"max_rate must be between 0 and 1, got {max_rate!r}")
    max_rate = float(max_rate)
    if params and not isinstance(spec, str | os.PathLike):
        raise UsageError("params apply to a spec given as a path or text; load a Spec with its params instead")
    spec = _spec_of(spec, params)
    module = _compiled(spec)
    names = select_laws(module, laws)
    try:
        table = load_table(spec, data, model)
    except UsageError as err:
        if model is None and len(spec.models) > 1 and str(err).startswith("the spec has the models"):
            raise UsageError(_which_model(spec, data)) from None
        raise
    conflicts, count = _conflicts(table)
    source = table.source if table.source == "<memory>" else os.fspath(table.source)
    report = DataReport(
        module.SPEC, spec.file, 0, "cpu", 0, max_cases, data=source, model=table.model, rows=len(table),
        conflicts=conflicts, conflict_count=count,
    )  # fmt: skip
    tm = TableModel(table)
    validator = module.Validator(models={table.model: tm})
    with torch.inference_mode():
        for name in names:
            report.laws.append(_check_law(validator, module, spec, table, tm, name, examples, max_rate, max_cases))
    return report
