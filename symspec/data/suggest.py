"""``symspec suggest``: the laws a labelled dataset supports, as a .sym spec with the evidence (docs/data.md).

``suggest(data, signature=...)`` or ``suggest(data, spec=...)``: candidates
are generated from the model's signature (``suggest_candidates``), each
compiled by the analysis alone, tested on the pairs of rows its transforms
connect (``suggest_evidence``; tensors: ``suggest_tensor``), accepted when
enough pairs were tested and the agreement's 95% Wilson lower bound reaches
the threshold, ranked, and emitted in one spec whose analysis marks the laws
that earlier ones imply.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field

from ..errors import SpecError, UsageError, require_file
from ..validation.report import Z95
from .suggest_candidates import Candidate, candidates, same_laws
from .suggest_constraints import DEGENERATE
from .suggest_evidence import (
    MAX_ELEMENTS,
    Distinct,
    Evidence,
    diagonal_evidence,
    group_elements,
    law_elements,
    law_evidence,
    swap_element,
    wilson_lower,
)

__all__ = ["suggest", "Suggestions", "Suggestion", "THRESHOLD", "MIN_TESTED", "pairs_needed", "STATUS_TEXT"]

THRESHOLD = 0.9  # accept when the agreement's 95% Wilson lower bound is at least this
MIN_TESTED = 20  # ... and at least this many pairs were tested

# status -> how the text shows it ("insufficient": the data agrees but has too few pairs to accept the law)
STATUS_TEXT = {"insufficient": "not enough evidence", "in spec": "already in the spec"}


def pairs_needed(agreement: float, threshold: float = THRESHOLD, min_tested: int = MIN_TESTED) -> int | None:
    """The fewest tested pairs at which ``agreement`` (supported / tested, held fixed) is accepted: its 95%
    Wilson lower bound reaches ``threshold``. None when no number of pairs would do (agreement <= threshold)."""
    if agreement <= threshold:
        return None

    def lower(n: int) -> float:
        z2 = Z95 * Z95
        centre = agreement + z2 / (2 * n)
        half = Z95 * math.sqrt(agreement * (1 - agreement) / n + z2 / (4 * n * n))
        return (centre - half) / (1 + z2 / n)

    hi = max(1, min_tested)
    while lower(hi) < threshold:  # the lower bound rises with n towards the agreement
        hi *= 2
    lo = hi // 2
    while lo + 1 < hi:  # lower(lo) < threshold <= lower(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if lower(mid) < threshold else (lo, mid)
    return max(hi, min_tested)


@dataclass
class Suggestion:
    """One candidate law with its evidence and verdict."""

    candidate: Candidate
    evidence: Evidence
    status: str = "rejected"  # accepted | redundant | in spec | conflict | insufficient | rejected | untestable | invalid
    implied_by: tuple = ()
    why: str = ""  # for invalid/conflict/untestable/insufficient: the reason
    needed: int | None = None  # insufficient: the tested pairs that would accept it at its agreement
    restates: tuple = ()  # the spec's own laws that state or imply it (equal laws, then the analysis' implied_by)
    same_as: tuple = ()  # the spec's own laws equal to it (structurally: up to variable names, sum order, sides)

    @property
    def status_text(self) -> str:
        """The status as the printed spec shows it."""
        return STATUS_TEXT.get(self.status, self.status)

    @property
    def name(self) -> str:
        return self.candidate.name

    @property
    def law(self) -> str:
        return self.candidate.law

    def evidence_text(self) -> str:
        ev = self.evidence
        if not ev.tested:
            return f"no pair tested ({ev.untestable:,} untestable)"
        lo, hi = ev.interval
        parts = [
            f"{ev.tested:,} pairs tested: {ev.supported:,} supported, {ev.contradicted:,} contradicted",
            f"agreement {ev.agreement:.4f} (95% Wilson [{lo:.4f}, {hi:.4f}])",
        ]
        if self.candidate.test == "constraint":
            parts = [
                f"{ev.tested:,} cases (present triples) checked: {ev.supported:,} hold, {ev.contradicted:,} violated",
                parts[1],
                f"{ev.untestable:,} triples with an input absent",
            ]
            if ev.degenerate:
                parts.append(f"{ev.degenerate:,} {DEGENERATE}")
            if ev.note:
                parts.append(ev.note)
            return "; ".join(parts)
        if self.candidate.test == "diagonal":
            parts[0] = (
                f"{ev.tested:,} diagonal rows: {ev.supported:,} with {self.candidate.shown or self.candidate.constant}, {ev.contradicted:,} other"
            )
        else:
            own = f" ({ev.own:,} of them nearest to their own row)" if ev.own else ""
            parts.append(f"{ev.untestable:,} untestable{own}")
            if ev.elements:
                how = ev.sampling or ("all" if ev.every_element else "generators + random words")
                parts.append(f"{ev.elements} group element{'s' if ev.elements != 1 else ''} ({how})")
        if ev.proxy:
            parts.append(f"proxy: {ev.proxy}")
        if ev.note:
            parts.append(ev.note)
        return "; ".join(parts)

    def to_dict(self) -> dict:
        ev = self.evidence
        return {
            "name": self.name,
            "law": self.law,
            "kind": self.candidate.kind,
            "status": self.status,
            "status_text": self.status_text,
            "implied_by": list(self.implied_by),
            "restates": list(self.restates),
            "pairs_needed": self.needed,
            "why": self.why,
            "tested": ev.tested,
            "supported": ev.supported,
            "contradicted": ev.contradicted,
            "untestable": ev.untestable,
            "agreement": ev.agreement,
            "interval": list(ev.interval),
            "elements": ev.elements,
            "every_element": ev.every_element,
            "sampling": ev.sampling or ("all" if ev.every_element else "generators + random words"),
            "proxy": ev.proxy,
            "note": ev.note,
            "examples": ev.examples,
            "cycle": ev.cycle,
            "premise_cases": ev.premise[0] if ev.premise else None,
            "premise_violated": ev.premise[1] if ev.premise else None,
            "own_row": ev.own,
            "degenerate": ev.degenerate,
            "same_as": list(self.same_as),
            "declarations": list(self.candidate.decls),
        }


@dataclass
class Suggestions:
    """The candidates of one model, ranked, with the spec they make (``text``)."""

    model: str
    source: str
    rows: int
    base: str  # the spec text the laws are appended to
    items: list = field(default_factory=list)  # of Suggestion, accepted (ranked) first
    threshold: float = THRESHOLD
    min_tested: int = MIN_TESTED
    text: str = ""
    conflicting: int = 0  # distinct inputs whose rows carry different labels (each tested with its first row's)

    @property
    def accepted(self) -> list:
        return [s for s in self.items if s.status == "accepted"]

    def names(self, status: str = "accepted") -> list:
        return [s.name for s in self.items if s.status == status]

    def __getitem__(self, name: str) -> Suggestion:
        for s in self.items:
            if s.name == name:
                return s
        raise KeyError(name)

    def counts(self) -> dict:
        """Candidates per status (the printed header's counts)."""
        out: dict = {}
        for s in self.items:
            out[s.status] = out.get(s.status, 0) + 1
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "model": self.model,
                "source": self.source,
                "rows": self.rows,
                "threshold": self.threshold,
                "min_tested": self.min_tested,
                "max_elements": MAX_ELEMENTS,
                "conflicting_inputs": self.conflicting,
                "counts": self.counts(),
                "candidates": [s.to_dict() for s in self.items],
                "spec": self.text,
            },
            indent=2,
        )


def _resolve(signature, spec, params):
    from ..analysis.records import Spec
    from ..pipeline import load, loads

    if signature is not None and spec is not None:
        raise UsageError("give a spec or a signature, not both")
    if signature is not None:
        if params:
            raise UsageError("--param needs a SPEC (a signature declares no params)")
        from .suggest_signature import signature_spec

        checked, text = signature_spec(signature)
        return checked, text, "<suggest>", None
    if spec is None:
        raise UsageError(
            'suggest needs a model: give a signature (--signature "f(a: cyclic(59)) -> class(cyclic(59))") or a SPEC'
        )
    if isinstance(spec, Spec):
        return spec, spec.source, spec.file, dict(spec.params) or None
    path = str(spec)
    if "\n" in path and not os.path.exists(path):  # .sym text
        return loads(path, "<spec>", params), path, "<spec>", params
    require_file(path)
    return load(path, params), _read(path), path, params


def _pin_params(base: str, file: str, params) -> str:
    """``base`` with each overridden ``param`` (``--param n=13``) written in, so the printed spec states the
    values the data was read with (its laws name them: ``units(13)``, ``cyclic(13)``)."""
    if not params:
        return base
    from ..pipeline import loads

    try:
        declared = loads(base, file).params
    except SpecError:  # pragma: no cover - the text loaded with the overrides; without them it may not
        return base
    for pname, value in params.items():
        if declared.get(pname) == value:
            continue
        line = re.compile(rf"^([ \t]*param[ \t]+{re.escape(pname)}[ \t]*=[ \t]*)([+-]?[0-9]+)", re.MULTILINE)
        written = f"{value}  # suggest read the data with --param {pname}={value}"
        base = line.sub(lambda m, w=written: m.group(1) + w, base, count=1)
    return base


def _read(path: str) -> str:
    from ..syntax.parser import decode

    with open(path, "rb") as f:
        return decode(f.read(), path)


def _table(checked, data, model: str | None):
    """The data as a Table of the model ``load_table`` chooses (``model``, the only one, or the one whose parameters
    are the data's columns): the same choice as ``check-data``. When it cannot choose, the error lists the models'
    columns and the data's."""
    from .load import load_table, read_columns

    try:
        return load_table(checked, data, model)
    except UsageError:
        if model is not None or len(checked.models) < 2:
            raise
        columns = list(read_columns(data)[0])  # only to explain the choice load_table could not make
        takes = {m: [p for p, _ in sig.params] + ["target"] for m, sig in checked.models.items()}
        fits = [m for m, cols in takes.items() if set(cols) == set(columns)]
        if len(fits) == 1:  # the choice was made; the error is about the data
            raise
        listed = "; ".join(f"{m} takes {', '.join(cols)}" for m, cols in takes.items())
        what = "none of the spec's models matches" if not fits else f"{len(fits)} models match"
        raise UsageError(
            f"{what} the data's columns ({', '.join(map(str, columns)) or 'none'}): {listed}; name one with --model"
        ) from None


def _compile(text: str, file: str, params):
    from ..pipeline import check, loads

    return check(loads(text, file, params))


def _with(base: str, cands: list) -> str:
    out = base if base.endswith("\n") else base + "\n"
    for c in cands:
        for d in c.decls:
            out += d + "\n"
        out += f"law {c.name}: {c.law}\n"
    return out


def _first_error(err: SpecError) -> str:
    d = next((d for d in err.diagnostics if d.severity == "error"), None)
    return d.message if d is not None else str(err).splitlines()[0]


def suggest(
    data,
    signature: str | None = None,
    spec=None,
    model: str | None = None,
    *,
    params: dict | None = None,
    threshold: float = THRESHOLD,
    min_tested: int = MIN_TESTED,
    max_elements: int = MAX_ELEMENTS,
    seed: int = 0,
) -> Suggestions:
    """The laws ``data`` supports, for the model of ``signature`` or of ``spec`` (see docs/data.md).

    ``data``: a :class:`Table`, a path (.pt, .npz, .csv, .parquet) or a mapping of columns. ``spec``: a checked
    Spec, a path or .sym text holding the domains (graphs, params) and the model. Raises UsageError on bad input.
    """
    from .table import Table

    checked, base, file, params = _resolve(signature, spec, params)
    base = _pin_params(base, file, params)
    if isinstance(data, Table):
        table = data
        if table.model not in checked.models:
            raise UsageError(f"the table labels model '{table.model}'; the spec's models: {', '.join(checked.models) or 'none'}")
    else:
        table = _table(checked, data, model)
    if model is not None and table.model != model:
        raise UsageError(f"the table labels model '{table.model}', not '{model}'")
    name = table.model
    result = Suggestions(name, table.source, len(table), base, threshold=threshold, min_tested=min_tested)
    result.conflicting = table.conflict_count()
    distinct = Distinct(table) if table.finite() else None  # built once, shared by every candidate
    for cand in candidates(checked, name, table):
        result.items.append(_evaluate(cand, base, file, params, table, distinct, max_elements, seed, threshold, min_tested))
    order = {"accepted": 0, "insufficient": 1, "rejected": 2, "untestable": 3, "invalid": 4}
    result.items.sort(key=lambda s: (order[s.status], -wilson_lower(s.evidence), -s.evidence.tested))
    _settle(result, file, params)
    result.text = render_spec(result)
    return result


def _evaluate(cand: Candidate, base, file, params, table, distinct, max_elements, seed, threshold, min_tested) -> Suggestion:
    try:
        compiled = _compile(_with(base, [cand]), file, params)
    except SpecError as err:
        return Suggestion(cand, Evidence(), "invalid", why=_first_error(err))
    law = compiled.ir.laws[cand.name]
    same = same_laws(compiled, cand.name)  # the spec states it (any law form, any domain size)
    implied = tuple(law.implied_by) if law.redundant else ()  # implied by the spec's own laws (the only others)
    sug = _verdict(cand, law, compiled, table, distinct, max_elements, seed, threshold, min_tested)
    sug.same_as = same
    sug.restates = tuple(dict.fromkeys(same + implied))
    return sug


def _verdict(cand: Candidate, law, compiled, table, distinct, max_elements, seed, threshold, min_tested) -> Suggestion:
    if cand.test == "constraint":
        return _constraint_verdict(cand, compiled, table, seed, threshold, min_tested)
    if cand.test == "diagonal":
        ev = diagonal_evidence(table, *cand.args, cand.constant, distinct)
    elif cand.test == "moved swap":
        import numpy as np

        sizes = [table.sizes[p] for p in table.params]
        ev = law_evidence(table, [swap_element(sizes, *cand.args, np.array([1, 0]))], moved_only=True, distinct=distinct)
    elif cand.test == "tensor":
        from .suggest_tensor import tensor_evidence

        ev, why = tensor_evidence(compiled, cand, law, table, seed)
        if ev is None:
            return Suggestion(cand, Evidence(), "untestable", why=why)
    else:
        gens = law_elements(law, table) if table.finite() else None
        if gens is None:
            return Suggestion(
                cand, Evidence(), "untestable", why="exact lookups need every input finite and the law's transforms tabulated"
            )
        if not gens and not law.finite:
            return Suggestion(
                cand,
                Evidence(),
                "untestable",
                why="the analysis tabulates no transform of this law (its domains are too large to list)",
            )
        elements, every = group_elements(gens, max_elements, seed)
        ev = law_evidence(table, elements, distinct=distinct, seed=seed)
        ev.every_element = every
        if ev.tested:
            covered = _covered(elements, ev.witnessed, every, max_elements)
            if covered is not None:
                ev.note = "; ".join(x for x in (ev.note, covered) if x)
                return _partial(cand, ev, covered, threshold)
    if cand.test == "tensor" and ev.tested and ev.subgroup:
        ev.note = "; ".join(x for x in (ev.note, ev.subgroup) if x)
        return _partial(cand, ev, ev.subgroup, threshold)
    ok = ev.tested >= min_tested and wilson_lower(ev) >= threshold
    if ev.tested >= min_tested and not ok and _exhaustive(cand, ev, table):
        ok = True
        ev.note = "; ".join(x for x in (ev.note, EXHAUSTIVE) if x)
    if not ev.tested:
        return Suggestion(cand, ev, "untestable", why=_nothing_tested(cand, ev, table))
    if ok:
        return Suggestion(cand, ev, "accepted")
    needed = pairs_needed(ev.agreement, threshold, min_tested)
    if needed is None:  # the data contradicts it: no number of pairs at this agreement would accept it
        return Suggestion(cand, ev, "rejected")
    what = "diagonal rows" if cand.test == "diagonal" else "tested pairs"
    return Suggestion(
        cand,
        ev,
        "insufficient",
        why=f"needs at least {needed:,} {what} at this agreement ({ev.agreement:.4f}); {ev.tested:,} tested",
        needed=needed,
    )


def _constraint_verdict(cand: Candidate, compiled, table, seed, threshold, min_tested) -> Suggestion:
    """Transitivity / the triangle inequality on every present triple (check_data's counts): accepted when at least
    ``min_tested`` cases were checked and the 95% Wilson lower bound of the rate of cases that hold is at least
    ``threshold``; transitivity also needs the same of the cases whose premise holds (docs/data.md)."""
    from .suggest_constraints import constraint_evidence, premise_counts, subset

    if len(table) == 0:
        return Suggestion(cand, Evidence(), "untestable", why="no pair tested: the data has 0 rows")
    ev, why = constraint_evidence(cand, compiled.source, compiled.file, table, seed)
    if ev is None:
        return Suggestion(cand, Evidence(), "untestable", why=why)
    if not ev.tested:
        return Suggestion(cand, ev, "untestable", why="no case tested: no triple of the law has all three inputs in the data")
    ok = ev.tested >= min_tested and wilson_lower(ev) >= threshold
    if cand.kind == "transitivity":
        premise, violated = premise_counts(table, table.params, subset(table, table.params, seed)[0])
        ev.premise = (premise, violated)
        held = Evidence(tested=premise, supported=premise - violated, contradicted=violated)
        ev.note += f"; premise held on {premise:,} triples, {violated:,} of them violated"
        if not (premise >= min_tested and wilson_lower(held) >= threshold):
            lo = wilson_lower(held) if premise else 0.0
            status = "insufficient" if premise and held.agreement > threshold else "rejected"
            if ok or status == "rejected":
                why = (
                    f"the triples whose premise holds agree {held.agreement:.4f} (95% Wilson lower bound {lo:.4f}, "
                    f"{premise:,} triples)" + (": the law holds mostly because its premise is false" if ok else "")
                )
                return Suggestion(cand, ev, status if ok else "rejected", why=why)
    if ok:
        return Suggestion(cand, ev, "accepted")
    needed = pairs_needed(ev.agreement, threshold, min_tested)
    if needed is None:
        return Suggestion(cand, ev, "rejected")
    return Suggestion(
        cand,
        ev,
        "insufficient",
        why=f"needs at least {needed:,} cases at this agreement ({ev.agreement:.4f}); {ev.tested:,} tested",
        needed=needed,
    )


def _partial(cand: Candidate, ev: Evidence, why: str, threshold: float) -> Suggestion:
    """The pairs tested cover only a subgroup: not enough evidence when they agree, rejected when they contradict."""
    if ev.agreement > threshold:
        return Suggestion(cand, ev, "insufficient", why=why)
    return Suggestion(cand, ev, "rejected", why=why)


def _nothing_tested(cand: Candidate, ev: Evidence, table) -> str:
    """Why no pair was tested: no rows, no row on the diagonal, or no moved input among the rows."""
    if len(table) == 0:
        return "no pair tested: the data has 0 rows"
    if cand.test == "diagonal":
        return "no pair tested: no row has the two arguments equal"
    if ev.proxy:
        far = ev.untestable - ev.own
        return (
            f"no pair tested: no moved input matched another row within the distance cut ({ev.untestable:,} moved "
            f"input{'s' if ev.untestable != 1 else ''} untestable: {far:,} with no row within the distance cut, "
            f"{ev.own:,} nearest to the row they came from; {ev.proxy})"
        )
    return f"no pair tested: no moved input was another row of the data ({ev.untestable:,} moved inputs absent)"


EXHAUSTIVE = "exhaustive: every pair the law connects is in the data and agrees (no sampling to bound)"


def _exhaustive(cand: Candidate, ev: Evidence, table) -> bool:
    """The law holds exactly on all of the data and the data is closed under it: no pair contradicted, every
    element of the group listed, every moved input found (a diagonal: every diagonal input present), no
    sampling. Then the Wilson bound (a sampling bound) does not apply: a full 4 x 4 x 4 table of a multiset
    sum has only 24 pairs per transposition, all of them."""
    if ev.contradicted or ev.proxy or ev.note:  # a note: inputs sampled, or a subgroup
        return False
    if cand.test == "diagonal":
        i, j = cand.args
        sizes = [table.sizes[p] for p in table.params]
        return ev.tested == math.prod(n for k, n in enumerate(sizes) if k != j)
    return cand.test in ("law", "moved swap") and ev.every_element and ev.untestable == 0


def _covered(elements: list, witnessed: list, every: bool, max_elements: int) -> str | None:
    """None when the elements that connected a tested pair generate the group tested; else why the law is not
    accepted: the data saw only a subgroup (``f(a + 8, b) == f(a, b)`` on rows with ``a`` in {0, 8, 16} says
    nothing about ``a + 1``)."""
    if len(witnessed) == len(elements):
        return None
    sub, closed = group_elements([elements[i] for i in witnessed], max_elements)
    if not closed:  # the witnessed elements generate more than can be listed: the check cannot tell
        return None
    if every and len(sub) >= len(elements):
        return None
    whole = f"the group's {len(elements) + 1}" if every else "a larger group"
    return f"the pairs tested come from a subgroup of {len(sub) + 1} elements of {whole}: the rest of the group is untested"


def _settle(result: Suggestions, file: str, params) -> None:
    """Mark the accepted laws the spec's own laws imply ``in spec``; add the others one by one in rank order (a law
    that contradicts those kept is a conflict), then read the analysis' redundancy flags on the spec of the kept
    laws."""
    kept: list = []
    for s in result.accepted:
        if s.restates:  # the spec's own laws already imply it: nothing new to suggest
            s.status, s.implied_by = "in spec", s.restates
            continue
        try:
            _compile(_with(result.base, [k.candidate for k in kept] + [s.candidate]), file, params)
        except SpecError as err:
            s.status, s.why = "conflict", _first_error(err)
            continue
        kept.append(s)
    if not kept:
        return
    final = _compile(_with(result.base, [k.candidate for k in kept]), file, params)
    for s in kept:
        law = final.ir.laws[s.name]
        if law.redundant:
            s.status, s.implied_by = "redundant", tuple(law.implied_by)


def _restated(s: Suggestion) -> str:
    """Which of the spec's laws state (equal laws) or imply (the analysis) the candidate."""
    if s.same_as:
        return f"the spec's law{'s' if len(s.same_as) != 1 else ''} {', '.join(s.same_as)} state{'s' if len(s.same_as) == 1 else ''} it"
    laws = f"law{'s' if len(s.restates) != 1 else ''} {', '.join(s.restates)}"
    return f"implied by the spec's {laws} (symspec's analysis)"


def _comment(text: str) -> str:
    return "# " + text.replace("\n", " ")


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}s"


def render_spec(result: Suggestions) -> str:
    """The spec: the base text, each accepted law with its evidence, laws implied by others or by the spec's own
    laws commented out, the rest listed. The header counts what the body shows."""
    acc = [s for s in result.items if s.status in ("accepted", "redundant", "in spec")]
    n = {k: result.counts().get(k, 0) for k in ("accepted", "redundant", "in spec", "insufficient")}
    tail = [f"{n['redundant']:,} redundant"] if n["redundant"] else []
    if n["in spec"]:
        tail.append(f"{n['in spec']:,} already in the spec")
    counts = f" ({', '.join(tail)}: commented out)" if tail else ""
    head = [
        _comment(
            f"symspec suggest: {_count(n['accepted'], 'new law')} supported by {_count(result.rows, 'row')} of "
            f"{result.model} in {result.source}{counts}; {_count(len(result.items), 'candidate')} tested"
            + (f", {n['insufficient']:,} with not enough evidence" if n["insufficient"] else "")
        ),
        "# A law is tested on the pairs of rows its transforms connect (x and T x both in the data): supported when",
        "# label(T x) == S label(x). Accepted when at least "
        f"{result.min_tested} pairs were tested and the 95% Wilson lower bound of the agreement is >= {result.threshold}.",
    ]
    if any(s.candidate.test == "constraint" for s in result.items):
        head.append(
            "# Transitivity and triangle laws are tested on their cases instead (every triple of present inputs, "
            "counted by check-data), by the same rule."
        )
    if result.rows == 0:
        head.append("# WARNING: the data has 0 rows: no law could be tested.")
    if result.conflicting:
        head.append(
            f"# WARNING: {result.conflicting:,} input{'s' if result.conflicting != 1 else ''} of the data "
            f"{'have' if result.conflicting != 1 else 'has'} rows with different labels: each law was tested with the "
            "first row's label (symspec check-data lists them)."
        )
    if any(s.evidence.proxy for s in acc):
        head.append("# Laws marked 'proxy' matched T x to its nearest row (real/tensor inputs): evidence, not proof.")
    out = "\n".join(head) + "\n" + (result.base if result.base.endswith("\n") else result.base + "\n")
    for s in acc:
        out += "\n" + _comment(s.evidence_text()) + "\n"
        if s.status == "in spec":
            out += _comment(f"already in the spec: {_restated(s)}") + "\n"
        elif s.status == "redundant":
            out += _comment(f"redundant: implied by {', '.join(s.implied_by)} (symspec's analysis)") + "\n"
        if s.status != "accepted":
            out += "".join(_comment(d) + "\n" for d in s.candidate.decls)
            out += _comment(f"law {s.name}: {s.law}") + "\n"
        else:
            out += "".join(d + "\n" for d in s.candidate.decls)
            out += f"law {s.name}: {s.law}\n"
    rest = [s for s in result.items if s.status not in ("accepted", "redundant", "in spec")]
    if rest:
        out += "\n# Not suggested:\n"
        for s in rest:
            if s.status in ("invalid", "untestable", "conflict"):
                what = s.why
            else:
                what = s.evidence_text()
                if s.why and s.why not in what:
                    what += "; " + s.why
            if s.restates:
                what += "; " + _restated(s) + (": the data contradicts the spec" if s.status == "rejected" else "")
            out += _comment(f"  {s.name} ({s.status_text}): {s.law}  -- {what}") + "\n"
    return out
