"""Law classes, orbits (against brute force), redundancy, contradictions, explain."""

from __future__ import annotations

import json
from collections import deque

import pytest
from conftest import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

import symspec
from symspec.cli import main
from symspec.errors import SpecError


def brute_orbits(points, moves) -> int:
    """Connected components of the points under the given maps (plain BFS)."""
    seen, count = set(), 0
    for p in points:
        if p in seen:
            continue
        count += 1
        seen.add(p)
        queue = deque([p])
        while queue:
            x = queue.popleft()
            for move in moves:
                y = move(x)
                if y not in seen:
                    seen.add(y)
                    queue.append(y)
    return count


LAWS = {
    "swap": ("law swap: f(a, b) == f(b, a)", lambda n: lambda x: (x[1], x[0])),
    "shift_a": ("law shift_a: forall k: Z. f(a + k, b) == f(a, b) + k", lambda n: lambda x: ((x[0] + 1) % n, x[1])),
    "shift_both": (
        "law shift_both: forall k: Z. f(a + k, b + k) == f(a, b)",
        lambda n: lambda x: ((x[0] + 1) % n, (x[1] + 1) % n),
    ),
    "negate": ("law negate: f(-a, -b) == -f(a, b)", lambda n: lambda x: ((-x[0]) % n, (-x[1]) % n)),
    "mirror": ("law mirror: f(b, -a) == f(a, b)", lambda n: lambda x: (x[1], (-x[0]) % n)),
}


def orbits_of(n: int, names) -> int:
    text = f"domain Z = cyclic({n})\nmodel f(a: Z, b: Z) -> class(Z)\n" + "\n".join(LAWS[k][0] for k in names) + "\n"
    spec = symspec.loads(text)
    return spec.ir.models["f"].orbits


@pytest.mark.parametrize(
    "names, expected",
    [(["swap"], 28), (["shift_a"], 7), (["swap", "shift_a"], 1), (["shift_both"], 7), (["swap", "shift_both"], 4)],
)
def test_orbits_on_cyclic7_squared(names, expected):
    points = [(a, b) for a in range(7) for b in range(7)]
    assert brute_orbits(points, [LAWS[k][1](7) for k in names]) == expected
    assert orbits_of(7, names) == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 9), st.sets(st.sampled_from(sorted(LAWS)), min_size=1))
def test_orbits_match_brute_force(n, names):
    names = sorted(names)
    points = [(a, b) for a in range(n) for b in range(n)]
    try:
        got = orbits_of(n, names)
    except SpecError as err:  # a law set can be unsatisfiable (negate on Z2 fixes inputs yet moves outputs)
        assert "unsatisfiable" in str(err) or "contradict" in str(err)
        return
    assert got == brute_orbits(points, [LAWS[k][1](n) for k in names])


def test_graph_distance_on_cycle6_has_four_orbits():
    text = (
        "graph G = cycle(6)\ndomain V = nodes(G)\ngroup Aut = automorphisms(G)\nmodel d(u: V, v: V) -> class(4)\n"
        "law s: d(u, v) == d(v, u)\nlaw a: forall g: Aut. d(g . u, g . v) == d(u, v)\n"
    )
    model = symspec.loads(text).ir.models["d"]
    assert (model.inputs, model.orbits) == (36, 4)


def test_orbit_summary_in_words():
    spec = symspec.load("examples/modular_addition.sym")
    assert (
        spec.ir.models["add"].summary == "12769 inputs of add fall into 1 orbit: the laws determine add everywhere from one value"
    )


def test_law_classes_of_the_examples():
    classes = {}
    for path in EXAMPLES:
        for name, law in symspec.load(path).ir.laws.items():
            classes[(path.stem, name)] = law.law_class
    assert classes[("modular_addition", "commutes")] == "equivariance"
    assert classes[("modular_addition", "shift")] == "equivariance"
    assert classes[("modular_addition", "assoc")] == "constraint"
    assert classes[("graph_distance", "automorphism")] == "equivariance"
    assert classes[("graph_distance", "geodesic")] == "constraint"
    assert classes[("comparison", "bradley_terry")] == "constraint"
    assert classes[("image_d4", "invariant")] == "equivariance"
    assert classes[("point_cloud", "equivariant")] == "equivariance"


def test_sampling_plans_and_costs():
    spec = symspec.load("examples/comparison.sym")
    bt = spec.ir.laws["bradley_terry"]
    assert bt.variables["a"].source == "batch" and bt.variables["c"].source == "interval"
    assert bt.forward_passes == 2
    geo = symspec.load("examples/graph_distance.sym").ir.laws["geodesic"]
    assert geo.variables["w"].source == "between"
    assoc = symspec.load("examples/modular_addition.sym").ir.laws["assoc"]
    assert assoc.variables["c"].source == "uniform" and assoc.forward_passes == 3
    eq = symspec.load("examples/point_cloud.sym").ir.laws["equivariant"]
    assert eq.variables["g"].source == "group" and eq.forward_passes == 2  # samples 2


def test_rejection_sampling_reports_exact_acceptance():
    spec = symspec.loads("domain D = range(0, 10)\nmodel f(a: D) -> real\nlaw l: f(a) <= f(k) when (k + a) == 9 or k == 0\n")
    plan = spec.ir.laws["l"].variables["k"]
    assert plan.source == "rejection"
    brute = sum(1 for a in range(10) for k in range(10) if k + a == 9 or k == 0) / 100
    assert plan.acceptance == pytest.approx(brute)


REDUNDANT = "domain Z = cyclic(11)\nmodel f(a: Z, b: Z) -> class(Z)\n"


def test_redundant_law_is_a_warning_naming_the_laws_that_imply_it():
    text = REDUNDANT + (
        "law shift_a: forall k: Z. f(a + k, b) == f(a, b) + k\nlaw commutes: f(a, b) == f(b, a)\n"
        "law shift_b: forall k: Z. f(a, b + k) == f(a, b) + k\n"
    )
    spec = symspec.loads(text)
    assert spec.ir.laws["shift_b"].redundant and not spec.ir.laws["commutes"].redundant
    (warning,) = [w for w in spec.warnings if "implied" in w.message]
    assert (
        warning.message == "law shift_b is implied by shift_a and commutes; it costs 1 forward pass per example and adds nothing"
    )


def test_independent_laws_are_not_redundant():
    text = (
        REDUNDANT + "law shift_a: forall k: Z. f(a + k, b) == f(a, b) + k\nlaw shift_b: forall k: Z. f(a, b + k) == f(a, b) + k\n"
    )
    spec = symspec.loads(text)
    assert not spec.ir.laws["shift_b"].redundant and not spec.warnings


def test_subgroup_law_after_group_law_is_redundant_but_not_before():
    head = "domain I = tensor[4, 4]\ngroup D4 = <r, s | r^4, s^2, (s r)^2>\naction D4 on I { r -> rot90(dims=(0, 1)), s -> flip(dim=1) }\n"
    head += "group C4 = <t | t^4>\naction C4 on I { t -> rot90(dims=(0, 1)) }\nmodel f(x: I) -> class(3)\n"
    both = "law d4: forall g: D4. f(g . x) == f(x)\nlaw c4: forall g: C4. f(g . x) == f(x)\n"
    spec = symspec.loads(head + both)
    assert spec.ir.laws["c4"].redundant and spec.ir.laws["c4"].implied_by == ("d4",)
    reverse = "law c4: forall g: C4. f(g . x) == f(x)\nlaw d4: forall g: D4. f(g . x) == f(x)\n"
    spec = symspec.loads(head + reverse)
    assert not spec.ir.laws["d4"].redundant


def test_unsatisfiable_equivariance_is_an_error_with_a_witness():
    with pytest.raises(SpecError) as info:
        symspec.loads("domain Z = cyclic(5)\nmodel f(a: Z, b: Z) -> class(Z)\nlaw bad: f(a, b) == f(b, a) + 1\n", "u.sym")
    (err,) = info.value.errors
    assert "law bad is unsatisfiable" in err.message and "a = 0, b = 0" in err.message
    assert (err.span.line, err.span.column) == (3, 1)


def test_bool_negation_under_swap_is_unsatisfiable_without_a_guard():
    with pytest.raises(SpecError, match="unsatisfiable"):
        symspec.loads("domain D = range(0, 4)\nmodel g(a: D, b: D) -> bool\nlaw anti: g(a, b) == not g(b, a)\n")
    symspec.loads("domain D = range(0, 4)\nmodel g(a: D, b: D) -> bool\nlaw anti: g(a, b) == not g(b, a) when a != b\n")


def test_satisfiable_shift_equivariance_is_fine():
    spec = symspec.loads("domain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw s: f(a + 1) == f(a) + 1\n")
    assert spec.ir.laws["s"].law_class == "equivariance" and spec.ir.models["f"].orbits == 1


def test_constant_laws_contradicting_through_an_equivariance_law():
    text = "domain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw s: f(a + 1) == f(a) + 1\nlaw z: f(0) == 0\nlaw o: f(1) == 0\n"
    with pytest.raises(SpecError, match="laws z and o contradict law s"):
        symspec.loads(text)
    ok = "domain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw s: f(a + 1) == f(a) + 1\nlaw z: f(0) == 0\nlaw o: f(1) == 1\n"
    symspec.loads(ok)


def test_two_constant_laws_disagreeing_on_an_input():
    with pytest.raises(SpecError, match="law two contradicts law one"):
        symspec.loads("domain Z = cyclic(5)\nmodel f(a: Z, b: Z) -> class(Z)\nlaw one: f(a, a) == 0\nlaw two: f(2, 2) == 1\n")


SCHEMA_KEYS = {"groups": ("order", "abelian"), "laws": ("class", "redundant", "forward_passes"), "models": ("inputs", "orbits")}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_explain_json_schema(path, capsys):
    assert main(["explain", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    spec = symspec.load(path)
    assert (
        set(data["groups"]) == set(spec.groups)
        and set(data["laws"]) == set(spec.laws)
        and set(data["models"]) == set(spec.models)
    )
    for section, keys in SCHEMA_KEYS.items():
        for entry in data[section].values():
            assert all(k in entry for k in keys)
    for g in data["groups"].values():
        assert g["order"] is None or isinstance(g["order"], int)
        assert g["abelian"] is None or isinstance(g["abelian"], bool)
    for law in data["laws"].values():
        assert law["class"] in ("equivariance", "constraint")
        assert isinstance(law["redundant"], bool) and isinstance(law["forward_passes"], int) and law["forward_passes"] >= 0
    for m in data["models"].values():
        assert m["inputs"] is None or isinstance(m["inputs"], int)
        assert m["orbits"] is None or (isinstance(m["orbits"], int) and 1 <= m["orbits"] <= m["inputs"])


def test_explain_text_and_exit_codes(tmp_path, capsys):
    assert main(["explain", "examples/graph_distance.sym"]) == 0
    out = capsys.readouterr().out
    assert "Aut: order 8, non-abelian" in out and "2401 inputs of dist fall into" in out
    bad = tmp_path / "bad.sym"
    bad.write_text("model f(a: Nope) -> real\n")
    assert main(["explain", str(bad)]) == 1
    assert main(["explain", str(tmp_path / "missing.sym")]) == 2
    assert main(["explain", "examples/modular_addition.sym", "--param", "p=7", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"]["add"]["inputs"] == 49
