"""The check that a direct product's factors commute is vectorized and reports the same first pair.

Before: one numpy comparison per pair of generators in Python: a product of 2000 cyclic(2) factors took 12 s
to check, 4000 about a minute (within the entry budget, which counted the points, not the pairs).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import symspec
from symspec.analysis.symmetry import _noncommuting


def _reference(perms):
    """The loop the check replaced: factors i < j, then their generators, in order."""
    for i in range(len(perms)):
        for j in range(i + 1, len(perms)):
            for g, pg in perms[i].items():
                for h, ph in perms[j].items():
                    if len(pg) != len(ph) or np.array_equal(pg[ph], ph[pg]):
                        continue
                    return [(i, j, g, h)]
    return []


def test_the_first_noncommuting_pair_is_the_loops():
    rng = np.random.default_rng(0)
    for trial in range(300):
        perms = []
        for k in range(int(rng.integers(2, 5))):
            table = {}
            for gi in range(int(rng.integers(1, 4))):
                n = int(rng.choice([3, 4]))
                p = np.arange(n)
                if rng.random() < 0.6:  # often the identity or a fixed swap, so many pairs commute
                    p = rng.permutation(n) if rng.random() < 0.5 else np.r_[1, 0, np.arange(2, n)]
                table[f"g{k}_{gi}"] = p
            perms.append(table)
        assert _noncommuting(perms) == _reference(perms), trial


def test_a_product_of_thousands_of_factors_is_checked_in_seconds(deadline):
    text = (
        "group G = " + " x ".join(["cyclic(2)"] * 3000) + "\n"
        "domain Z = cyclic(2)\nmodel f(a: Z) -> class(Z)\nlaw l: forall g: G. f(g . a) == g . f(a)\n"
    )
    spec = symspec.loads(text, "product.sym")  # the deadline fixture: a hang guard (12 s before, about 1.5 s now)
    assert not [w for w in spec.warnings if "do not commute" in w.message]


@pytest.mark.parametrize("order", list(itertools.permutations(["A", "B", "C"])))
def test_the_warning_names_the_first_pair_in_the_products_order(order):
    text = (
        "domain T = tensor[3, 3]\ngroup A = <r | r^3>\ngroup B = <s | s^2>\ngroup C = <t | t^2>\n"
        "action A on T { r -> roll(dim=0) }\naction B on T { s -> flip(dim=1) }\naction C on T { t -> transpose(0, 1) }\n"
        f"group P = {' x '.join(order)}\nmodel f(x: T) -> T\nlaw l: forall g: P. f(g . x) == g . f(x)\n"
    )
    warned = [w.message for w in symspec.loads(text, "w.sym").warnings if "do not commute" in w.message]
    first = [f for f in order if f != "C"][0]  # C's transpose commutes with neither; A and B commute
    pair = (first, "C") if order.index(first) < order.index("C") else ("C", first)
    assert len(warned) == 1 and warned[0].startswith(f"the factors {pair[0]} and {pair[1]} of 'P' do not commute")
