"""Groups made concrete: orders and abelian flags against sympy's own groups,
presentations, relator checks, default actions, automorphisms against brute force."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from networkx.algorithms.isomorphism import GraphMatcher
from sympy.combinatorics import Permutation, PermutationGroup
from sympy.combinatorics.named_groups import AlternatingGroup, CyclicGroup, DihedralGroup, SymmetricGroup

import symspec
from symspec.analysis.graphs import automorphism_generators, build_graph
from symspec.analysis.groups import family_generators
from symspec.analysis.structures import GraphDef
from symspec.errors import SpecError


def group(text: str, name: str = "G"):
    spec = symspec.loads(text + "\n", "g.sym")
    return spec.ir.groups[name]


NAMED = {"cyclic": CyclicGroup, "dihedral": DihedralGroup, "symmetric": SymmetricGroup, "alternating": AlternatingGroup}


@pytest.mark.parametrize("kind", ["cyclic", "dihedral", "symmetric", "alternating"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7])
def test_family_order_and_abelian_match_sympy(kind, n):
    g = group(f"group G = {kind}({n})")
    reference = NAMED[kind](n)
    assert g.order == reference.order()
    assert g.abelian == reference.is_abelian


@pytest.mark.parametrize("kind", ["cyclic", "dihedral", "symmetric", "alternating"])
@pytest.mark.parametrize("n", [3, 4, 5, 6, 8])
def test_family_generators_generate_the_family(kind, n):
    gens = family_generators(kind, n)
    generated = PermutationGroup([Permutation([int(x) for x in p]) for p in gens.values()])
    assert generated.order() == NAMED[kind](n).order()


def test_symmetric_30_order_is_exact_and_fast():
    g = group("group G = symmetric(30)")
    assert g.order == math.factorial(30) == 265252859812191058636308480000000


@pytest.mark.parametrize(
    "kind, n, order, abelian, dim",
    [("SO", 1, 1, True, 0), ("SO", 2, None, True, 1), ("SO", 3, None, False, 3), ("O", 1, 2, True, 0), ("O", 3, None, False, 3)],
)
def test_continuous_groups(kind, n, order, abelian, dim):
    g = group(f"group G = {kind}({n})")
    assert g.order == order and g.abelian == abelian and g.lie_dimension == dim
    assert g.continuous == (order is None)


def test_symbolic_symmetric_group_has_no_order():
    spec = symspec.loads(
        "domain C = tensor[N, 3]\ngroup P = symmetric(N)\nmodel f(x: C) -> real\nlaw l: forall g: P. f(g . x) == f(x)\n"
    )
    p = spec.ir.groups["P"]
    assert p.order is None and p.order_text == "N!" and spec.ir.groups["P"].actions["C"].kind == "symbolic"


def test_product_order_and_abelian():
    g = group("group A = cyclic(4)\ngroup B = dihedral(3)\ngroup G = A x B")
    assert g.order == 24 and g.abelian is False
    g = group("group A = cyclic(4)\ngroup B = cyclic(6)\ngroup G = A x B")
    assert g.order == 24 and g.abelian is True


D4_ON_IMAGE = "domain I = tensor[5, 5]\naction G on I { r -> rot90(dims=(-2, -1)), s -> flip(dim=-1) }\n"


@pytest.mark.parametrize(
    "presentation, action, order, abelian",
    [
        ("<r, s | r^4, s^2, (s r)^2>", D4_ON_IMAGE, 8, False),
        ("<r, s | r^4, s^2, r s = s r^-1>", D4_ON_IMAGE, 8, False),
        ("<i, j | i^4, i^2 = j^2, j i j^-1 = i^-1>", "", 8, False),  # Q8, by Todd-Coxeter
        ("<a, b | a^3, b^2, (a b)^2>", "", 6, False),  # S3
        ("<a, b | a^2, b^2, a b = b a>", "", 4, True),  # Klein four
        ("<x, y | x^2, y^3, (x y)^5>", "", 60, False),  # A5
    ],
)
def test_presentation_orders(presentation, action, order, abelian):
    g = group(f"group G = {presentation}\n{action}")
    assert (g.order, g.abelian) == (order, abelian)


def test_q8_relators_reject_the_d4_action():
    # rot90 and a flip generate D4, which is not a quotient of Q8: i^2 = j^2 fails
    text = "group G = <i, j | i^4, i^2 = j^2, j i j^-1 = i^-1>\n" + D4_ON_IMAGE.replace("r ->", "i ->").replace("s ->", "j ->")
    with pytest.raises(SpecError, match=r"relator i\^2 = j\^2 does not hold on I"):
        symspec.loads(text)


def test_wrong_relator_is_an_error_at_the_relator_with_a_note_at_the_action():
    text = (
        "group G = <r, s | r^3, s^2>\ndomain I = tensor[4, 4]\naction G on I { r -> rot90(dims=(-2, -1)), s -> flip(dim=-1) }\n"
    )
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "w.sym")
    (err,) = info.value.errors
    assert err.message == "relator r^3 does not hold on I: rot90(dims=(-2, -1)) applied 3 times is not the identity"
    assert (err.span.line, err.span.column) == (1, 19)
    assert err.notes[0][0].line == 3


def test_relators_checked_on_symbolic_dims_at_test_sizes():
    text = "group G = <r | r^2>\ndomain C = tensor[N, 3]\naction G on C { r -> roll(1, dim=0) }\n"
    with pytest.raises(SpecError, match=r"relator r\^2 does not hold on C \(checked with N = 5\)"):
        symspec.loads(text)


def test_infinite_presentations_are_errors_not_hangs():
    with pytest.raises(SpecError, match="is infinite"):
        symspec.loads("group G = <a, b | a^2>\n")
    with pytest.raises(SpecError, match="is infinite: its abelianization is infinite"):
        symspec.loads("group G = <a, b | a^2 b^3, b a b^-1 a^-1>\n")
    with pytest.raises(
        SpecError, match="coset enumeration stopped"
    ):  # the (3, 3, 3) triangle group: infinite, Z3 x Z3 abelianized
        symspec.loads("group G = <a, b | a^3, b^3, (a b)^3>\n")


def test_missing_action_names_group_and_domain_and_suggests_a_block():
    text = "group G = <r | r^2>\ndomain I = tensor[4, 4]\nmodel f(x: I) -> real\nlaw l: forall g: G. f(g . x) == f(x)\n"
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "m.sym")
    (err,) = info.value.errors
    assert err.message == "group 'G' has no action on I" and "action G on I {" in err.hint
    assert (err.span.line, err.span.column) == (4, 23)


def test_default_actions():
    spec = symspec.loads(
        "domain Z = cyclic(5)\ndomain C = tensor[4, 3]\ndomain Im = tensor[2, 6, 6]\ngraph H = cycle(5)\ndomain V = nodes(H)\n"
        "group A = cyclic(5)\ngroup S = symmetric(4)\ngroup R = SO(3)\ngroup D = dihedral(4)\ngroup Aut = automorphisms(H)\n"
        "model f(z: Z, c: C, i: Im, v: V) -> real\n"
        "law a: forall g: A. f(g . z, c, i, v) == f(z, c, i, v)\n"
        "law s: forall g: S. f(z, g . c, i, v) == f(z, c, i, v)\n"
        "law r: forall g: R. f(z, g . c, i, v) == f(z, c, i, v)\n"
        "law d: forall g: D. f(z, c, g . i, v) == f(z, c, i, v)\n"
        "law h: forall g: Aut. f(z, c, i, g . v) == f(z, c, i, v)\n"
    )
    groups = spec.ir.groups
    assert np.array_equal(groups["A"].actions["Z"].perms["c"], [1, 2, 3, 4, 0])
    assert groups["S"].actions["C"].kind == "positions" and groups["S"].actions["C"].points == 12
    assert groups["R"].actions["C"].kind == "matrix" and groups["R"].actions["C"].matrix_dim == 1
    assert groups["D"].actions["Im"].points == 72
    assert groups["Aut"].actions["V"].kind == "values"
    assert all(law.law_class == "equivariance" for law in spec.ir.laws.values())


GRAPHS = [
    ("cycle", (6,)),
    ("path", (5,)),
    ("complete", (5,)),
    ("grid", (3, 3)),
    ("grid", (2, 3, 3)),
    ("hypercube", (3,)),
    ("petersen", ()),
    ("cylinder", (3, 4)),
    ("cylinder", (2, 4)),
    ("torus", (3, 5)),
    ("torus", (4, 4)),
    ("grid", (1, 4)),
]


@pytest.mark.parametrize("kind, args", GRAPHS, ids=lambda x: str(x))
def test_automorphism_groups_match_brute_force(kind, args):
    n = {"petersen": 10}.get(kind) or (2 ** args[0] if kind == "hypercube" else int(np.prod(args)))
    graph = build_graph(GraphDef("G", kind, args, n))
    gens = automorphism_generators(graph)
    order = PermutationGroup([Permutation([int(x) for x in g]) for g in gens]).order() if gens else 1
    g = graph.networkx()
    assert order == sum(1 for _ in GraphMatcher(g, g).isomorphisms_iter())
    for perm in gens:  # every generator really is an automorphism
        assert all(g.has_edge(int(perm[u]), int(perm[v])) for u, v in g.edges)


def test_edges_graph_automorphisms_by_search():
    graph = build_graph(GraphDef("G", "edges", (), 6, ((0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (5, 3))))
    gens = automorphism_generators(graph)
    order = PermutationGroup([Permutation([int(x) for x in g]) for g in gens]).order()
    g = nx.Graph(graph.networkx())
    assert graph.automorphisms_by == "search" and order == sum(1 for _ in GraphMatcher(g, g).isomorphisms_iter()) == 8


def test_graph_distances_match_networkx():
    graph = build_graph(GraphDef("G", "torus", (3, 4), 12))
    reference = dict(nx.all_pairs_shortest_path_length(graph.networkx()))
    for u, v in itertools.product(range(12), repeat=2):
        assert graph.distances[u, v] == reference[u][v]


def test_disconnected_graph_is_a_warning():
    spec = symspec.loads(
        "graph G = edges(0-1, 2-3)\ndomain V = nodes(G)\nmodel d(u: V, v: V) -> class(3)\nlaw s: d(u, v) == d(v, u)\n"
    )
    assert any("not connected" in w.message for w in spec.warnings)
