"""What `explain` says about a group variable's draw matches how the compiled module draws it."""

from __future__ import annotations

import symspec
from symspec.pipeline import compile_source

CYCLE = """
graph G = cycle(6000)
domain V = nodes(G)
model f(v: V) -> class(2)
law inv: forall g: automorphisms(G). f(g . v) == f(v)
"""

PERMS = """
domain V = tensor[9]
model f(v: V) -> real
law inv: forall g: symmetric(9). f(g . v) == f(v)
"""


def test_a_large_group_without_normal_form_is_said_to_be_drawn_by_random_words():
    spec = symspec.loads(CYCLE, "cycle.sym")
    text = spec.ir.laws["inv"].variables["g"].detail
    assert text.startswith("random words of its generators over automorphisms(G) (12000 elements; approximately uniform")
    assert "random words in its generators" in compile_source(spec)  # the generated sampler's comment agrees


def test_symmetric_groups_are_uniform_at_any_order():
    spec = symspec.loads(PERMS, "perms.sym")
    assert spec.ir.laws["inv"].variables["g"].detail == "uniform over symmetric(9) (362880 elements)"
