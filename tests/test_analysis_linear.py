"""The analysis stays linear in the number of models and laws: work is counted, not timed.

A spec of many independent blocks (a domain, a model, a law) once made the analysis scan every law for each
model (orbits, constant conflicts) and build the list of every model for each unknown call's suggestion.
"""

from __future__ import annotations

import pytest

import symspec
from symspec.analysis import ir as ir_module
from symspec.analysis import typecheck
from symspec.errors import SpecError

BLOCKS = 300


def _blocks(n: int, call: str = "f") -> str:
    return "".join(
        f"domain D{i} = cyclic(7)\nmodel f{i}(a: D{i}, b: D{i}) -> class(D{i})\nlaw c{i}: {call}{i}(a, b) == f{i}(b, a)\n"
        for i in range(n)
    )


class _CountingLaws(dict):
    """The laws mapping, counting every law handed out by iteration."""

    handed_out = 0

    def _count(self, it):
        for x in it:
            _CountingLaws.handed_out += 1
            yield x

    def __iter__(self):
        return self._count(super().__iter__())

    def keys(self):
        return self._count(super().keys())

    def values(self):
        return self._count(super().values())

    def items(self):
        return self._count(super().items())


def test_each_model_is_analyzed_without_scanning_every_law(monkeypatch):
    original = ir_module.analyze_model

    def counting(spec, sym, sig, law_irs, laws, reporter, *rest):
        return original(spec, sym, sig, law_irs, _CountingLaws(laws), reporter, *rest)

    monkeypatch.setattr(ir_module, "analyze_model", counting)
    _CountingLaws.handed_out = 0
    spec = symspec.loads(_blocks(BLOCKS))
    assert len(spec.ir.models) == BLOCKS
    assert all(m.orbits == 28 for m in spec.ir.models.values())  # 49 pairs, swapped: 7 fixed + 21 pairs
    assert _CountingLaws.handed_out <= 2 * BLOCKS  # was 2 x BLOCKS^2: every law, for every model, twice


def test_unknown_calls_suggest_from_models_indexed_once(monkeypatch):
    materialized = []
    original = typecheck.did_you_mean

    def counting(word, candidates, otherwise=None):
        materialized.append(len(candidates) if isinstance(candidates, list | tuple) else 0)
        return original(word, candidates, otherwise)

    monkeypatch.setattr(typecheck, "did_you_mean", counting)
    with pytest.raises(SpecError) as info:
        symspec.loads(_blocks(BLOCKS, call="g"))
    assert sum(1 for e in info.value.errors if "unknown model or function 'g" in e.message) == BLOCKS
    assert len(materialized) == BLOCKS
    assert sum(materialized) <= BLOCKS + len(typecheck.BUILTINS)  # was BLOCKS x (BLOCKS + builtins): a list per call


def test_suggestions_for_unknown_calls_still_name_the_closest_model():
    with pytest.raises(SpecError) as info:
        symspec.loads("domain D = cyclic(3)\nmodel score(a: D) -> real\nlaw l: scroe(a) == score(a)\nlaw m: abss(a) == 1\n")
    hints = [e.hint for e in info.value.errors]
    assert hints == ["did you mean 'score'?", "did you mean 'abs'?"]


def test_orbits_are_counted_within_one_budget_for_all_models(monkeypatch):
    from symspec.analysis import orbits

    per_model = 49 * (1 + 2 + 3)  # inputs x (generators + arguments + 3) of each block
    monkeypatch.setattr(orbits, "MAX_ORBIT_TOTAL", 10 * per_model)
    spec = symspec.loads(_blocks(30))
    counted = [m for m in spec.ir.models.values() if m.orbits is not None]
    assert len(counted) == 10
    skipped = spec.ir.models["f10"]
    assert skipped.orbits is None and "orbits not counted" in skipped.summary and str(10 * per_model) in skipped.summary


def test_the_laws_transforms_are_evaluated_within_one_budget(monkeypatch):
    from symspec.analysis import lawclass

    monkeypatch.setattr(lawclass, "MAX_LAW_WORK", 10 * 1000)  # ten laws' worth of push maps on cyclic(1000)
    text = "domain Z = cyclic(1000)\nmodel f(a: Z) -> real\n" + "".join(f"law l{i}: f(a + 1) == f(a)\n" for i in range(30))
    with pytest.raises(SpecError) as info:
        symspec.loads(text)
    (err,) = info.value.errors
    assert err.span.line == 13  # law l10, the eleventh
    assert err.message.startswith("the laws up to l10 evaluate their transforms over 11000 entries, more than the limit of 10000")
    assert len(symspec.loads(text[: text.index("law l10")]).ir.laws) == 10  # ten laws fit the budget


def test_exact_acceptance_rates_are_computed_within_one_budget(monkeypatch):
    from symspec.analysis import lawclass

    monkeypatch.setattr(lawclass, "MAX_ACCEPTANCE_TOTAL", 3 * 49)  # three laws' guards on cyclic(7) x cyclic(7)
    text = "domain Z = cyclic(7)\nmodel f(a: Z) -> real\n" + "".join(
        f"law l{i}: forall c: Z, d: Z. f(c) >= f(d) when c * d == {i}\n" for i in range(5)
    )
    laws = symspec.loads(text).ir.laws
    rates = [laws[f"l{i}"].variables["d"].acceptance for i in range(5)]
    assert rates[:3] == [13 / 49, 1 / 49, 2 / 49] and rates[3:] == [None, None]  # c * d taken as integers
    assert "acceptance not computed: the limit of 147 guard evaluations for all laws is spent" in laws["l3"].variables["d"].detail
