"""The lowering reads the analysis's types: every typed node lowers to the kind its type says, in both modes.

``codegen.core.REPRESENTATION`` lists the only changes of representation the
lowering makes (a label is its index, a class output is decided by its argmax,
...); anything else would be the lowering typing a term on its own.
"""

from __future__ import annotations

import collections
import contextlib

from conftest import EXAMPLES, VALID
from hypothesis import HealthCheck, given, settings
from wellformed import specs as wellformed_specs

import symspec
from symspec.codegen import terms
from symspec.codegen.core import represents
from symspec.codegen.module import lower_module
from symspec.errors import SpecError


@contextlib.contextmanager
def recording():
    """Count every (mode, node type kind, lowered kind) the lowering produces inside the block."""
    seen = collections.Counter()
    original = terms.Terms.term

    def record(self, e, mode):
        v = original(self, e, mode)
        ty = getattr(e, "ty", None)
        if ty is not None:
            seen[(mode.name, ty.kind, v.kind)] += 1
        return v

    terms.Terms.term = record
    try:
        yield seen
    finally:
        terms.Terms.term = original


def test_every_node_of_the_corpus_lowers_to_its_types_kind():
    with recording() as lowered_kinds:
        for path in (*EXAMPLES, *VALID):
            lower_module(symspec.load(path))
    assert sum(lowered_kinds.values()) > 1000
    wrong = {key: n for key, n in lowered_kinds.items() if not represents(*key)}
    assert not wrong, wrong
    modes = {mode for mode, _, _ in lowered_kinds}
    assert modes == {"SOFT", "DECISION"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(wellformed_specs())
def test_well_typed_random_specs_lower_to_their_types_kinds(text):
    with recording() as seen:
        try:
            lower_module(symspec.loads(text, "typed.sym"))
        except SpecError:
            return
    wrong = {key: n for key, n in seen.items() if not represents(*key)}
    assert not wrong, (wrong, text)
