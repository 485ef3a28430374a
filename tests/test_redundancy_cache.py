"""The redundancy check's sympy groups are kept for specs that repeat the same earlier laws (suggest's settling)."""

from __future__ import annotations

import numpy as np

import symspec
from symspec.analysis import orbits

SPEC = """domain Z = cyclic(9)
model f(a: Z, b: Z) -> class(Z)
law commutes: f(a, b) == f(b, a)
law shift: forall k: Z. f(a + k, b) == f(a, b) + k
law shift_b: forall k: Z. f(a, b + k) == f(a, b) + k
law both: forall k: Z. f(a + k, b - k) == f(a, b)
"""


def test_the_same_generators_give_the_same_group_object():
    perms = [np.roll(np.arange(12), 1), np.arange(12)[::-1].copy()]
    first = orbits._permutation_group(12, perms)
    assert orbits._permutation_group(12, [p.copy() for p in perms]) is first
    assert orbits._permutation_group(12, perms[:1]) is not first
    for k in range(40):  # bounded: the oldest are dropped
        orbits._permutation_group(12, [np.roll(np.arange(12), k % 12), np.arange(12)[::-1].copy()])
    assert len(orbits._GROUPS) <= orbits._GROUPS_KEPT


def test_redundancy_flags_are_the_same_when_the_groups_are_reused():
    orbits._GROUPS.clear()
    fresh = symspec.loads(SPEC, "r.sym")
    again = symspec.loads(SPEC, "r.sym")
    flags = {name: (law.redundant, tuple(law.implied_by)) for name, law in fresh.ir.laws.items()}
    assert flags == {name: (law.redundant, tuple(law.implied_by)) for name, law in again.ir.laws.items()}
    assert flags["both"][0] and not flags["commutes"][0] and not flags["shift"][0]
