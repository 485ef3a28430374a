"""Regression tests for analysis bugs: each test is named after the bug it pins down."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

import symspec
from symspec.cli import main
from symspec.errors import SpecError

SPECS = ROOT / "tests" / "specs"
EXAMPLE = ROOT / "examples" / "modular_addition.sym"


def errors_of(text: str, params: dict | None = None) -> list:
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "bug.sym", params)
    return info.value.errors


def only_error(text: str, params: dict | None = None):
    errors = errors_of(text, params)
    assert len(errors) == 1, "\n".join(f"{e.span}: {e.message}" for e in errors)
    return errors[0]


# ---- 1: a group acting by scale on arithmetic of cyclic values ----------------------------------


def test_scale_action_on_arithmetic_reduces_values_mod_n(capsys):
    path = SPECS / "valid" / "scale_action_on_arithmetic.sym"
    assert main(["check", str(path)]) == 0
    assert "Traceback" not in capsys.readouterr().err
    spec = symspec.load(path)
    at_u = {}
    for name in ("shifted", "doubled"):
        law = spec.ir.laws[name]
        assert law.law_class == "equivariance" and law.finite
        at_u[name] = next(g for g in law.generators if g.label == "h = u")
    # h = u: x -> 3 (x + 1) and x -> 3 (2 x) mod 7, as push maps
    assert list(at_u["shifted"].arg_perms[0]) == [(3 * (x + 1)) % 7 for x in range(7)]
    assert list(at_u["doubled"].arg_perms[0]) == [(6 * x) % 7 for x in range(7)]
    assert main(["explain", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["laws"]["shifted"]["class"] == "equivariance"
    assert data["models"]["f"]["orbits"] == 1


def test_range_arithmetic_out_of_range_is_not_a_transform():
    text = "domain R = range(0, 5)\nmodel f(x: R) -> class(R)\nlaw l: f(x + 1) == f(x)\n"
    law = symspec.loads(text, "bug.sym").ir.laws["l"]
    assert law.generators[0].arg_perms[0] is None and not law.finite  # x + 1 leaves range(0, 5)


# ---- 2: hints that are themselves valid ---------------------------------------------------------


def test_permute_dims_wrong_size_hint_names_the_dims_of_that_size():
    err = only_error("domain Vec = tensor[3, 4]\ngroup P = symmetric(4)\naction P on Vec by permute(dims=(0,))\n")
    assert err.message == "symmetric(4) cannot permute dim 0 of tensor[3, 4], which has size 3"
    assert err.hint == "dim 1 has size 4: write permute(dims=(1,))"
    fixed = "domain Vec = tensor[3, 4]\ngroup P = symmetric(4)\naction P on Vec by permute(dims=(1,))\n"
    symspec.loads(fixed + "model f(x: Vec) -> real\nlaw l: forall g: P. f(g . x) == f(x)\n", "fixed.sym")


def test_permute_dims_wrong_size_hint_says_when_no_dim_fits():
    err = only_error("domain Vec = tensor[3, 2]\ngroup P = symmetric(4)\naction P on Vec by permute(dims=(0,))\n")
    assert err.hint == "no dim of tensor[3, 2] has size 4, so symmetric(4) cannot act on it by permute"


def test_roll_and_matrix_wrong_size_hints_are_valid():
    err = only_error("domain Vec = tensor[3, 4]\ngroup C = cyclic(4)\naction C on Vec by roll(dim=0)\n")
    assert err.hint == "dim 1 has size 4: write roll(dim=1)"
    err = only_error("domain Vec = tensor[3, 2]\ngroup S = SO(3)\naction S on Vec by matrix(dim=-1)\n")
    assert err.hint == "dim -2 has size 3: write matrix(dim=-2)"
    symspec.loads(
        "domain Vec = tensor[3, 2]\ngroup S = SO(3)\naction S on Vec by matrix(dim=-2)\n"
        "model f(x: Vec) -> real\nlaw l: forall g: S. f(g . x) == f(x)\n",
        "fixed.sym",
    )


def test_automorphisms_permute_on_wrong_size_is_an_error_not_a_crash():
    path = SPECS / "invalid" / "action_automorphisms_wrong_size.sym"
    with pytest.raises(SpecError) as info:
        symspec.load(path)
    (err,) = info.value.errors
    assert err.hint == "no dim of tensor[3, 2] has size 5, so automorphisms(G) cannot act on it by permute"


def test_rot90_not_suggested_for_a_non_square_tensor():
    path = SPECS / "invalid" / "group_no_action_not_square.sym"
    with pytest.raises(SpecError) as info:
        symspec.load(path)
    (err,) = info.value.errors
    assert "rot90(" not in err.hint and "by shift" not in err.hint
    assert err.hint == (
        "dihedral(4) cannot act on Im = tensor[4, 5]: shift needs the domain cyclic(4); rot90 needs two tensor dims of equal size"
    )


def test_rot90_hint_names_a_square_pair_of_dims_that_exists():
    text = "domain Im = tensor[5, 5, 3]\ngroup D = dihedral(4)\nmodel f(x: Im) -> real\nlaw l: forall g: D. f(g . x) == f(x)\n"
    err = only_error(text)
    assert err.hint == "declare one: action D on Im by rot90(dims=(-3, -2))"
    symspec.loads(text + "action D on Im by rot90(dims=(-3, -2))\n", "fixed.sym")


def test_presentation_action_hint_lists_every_generator():
    text = "domain Im = tensor[4, 4]\ngroup D = <r, s | r^4, s^2, (s r)^2>\nmodel f(x: Im) -> real\nlaw l: forall g: D. f(g . x) == f(x)\n"
    err = only_error(text)
    assert err.hint == "declare one: action D on Im { r -> ..., s -> ... }"


# ---- 2: error cascades ------------------------------------------------------------------------


def test_param_zero_gives_only_the_real_error():
    err = only_error(EXAMPLE.read_text(encoding="utf-8"), {"p": 0})
    assert err.message == "cyclic(n) needs n >= 1, got 0"


def test_unknown_output_domain_gives_only_one_error():
    text = (
        "domain Z5 = cyclic(5)\n"
        "model f(a: Z5, b: Z5) -> class(Zq)\n"
        "law c: f(a, b) == f(b, a)\n"
        "law s: forall k: Z5. f(a + k, b) == f(a, b) + k\n"
    )
    err = only_error(text)
    assert err.message == "unknown domain 'Zq'"


# ---- 2: messages and explain text -------------------------------------------------------------


def test_contradiction_message_does_not_repeat_a_law():
    path = SPECS / "invalid" / "law_constant_contradicts_itself.sym"
    with pytest.raises(SpecError) as info:
        symspec.load(path)
    (err,) = info.value.errors
    assert "c1 and c1" not in err.message
    assert err.message == (
        "law c1 contradicts law e: e maps (a = 0, b = 0) to itself, where c1 asks for 1 and so e gives 5, but c1 asks for 1"
    )


def test_explain_shows_graph_constructors_as_written(capsys):
    text = (
        "graph H = hypercube(7)\ngraph P = petersen()\ngraph G = grid(3, 4)\n"
        "model h(v: nodes(H), p: nodes(P), g: nodes(G)) -> real\n"
        "law l: forall a: automorphisms(H). h(a . v, p, g) == h(v, p, g)\n"
    )
    from symspec.analysis.ir import explain_text

    out = explain_text(symspec.loads(text, "bug.sym"))
    assert "H = hypercube(7): 128 nodes" in out and "hypercube(7,)" not in out
    assert "P = petersen(): 10 nodes" in out and "G = grid(3, 4): 12 nodes" in out


def test_product_of_presentations_has_its_order_once_the_factors_have_theirs():
    spec = symspec.load(SPECS / "valid" / "product_of_presentations.sym")
    e = spec.ir.groups["E"]
    assert (e.order, e.order_text, e.abelian) == (8, "8", True)
    assert spec.warnings == []
    from symspec.analysis.ir import explain_text

    assert "E: order 8, abelian" in explain_text(spec) and "?" not in explain_text(spec)
    bare = symspec.loads(
        "group A = <a | a^3>\ngroup B = <b | b^2>\ngroup E = A x B\ndomain V = tensor[3]\n"
        "model f(x: V) -> real\nlaw l: forall g: symmetric(3). f(g . x) == f(x)\n",
        "bug.sym",
    )
    assert bare.ir.groups["E"].order == 6 and bare.ir.groups["E"].order_text == "6"


def test_product_whose_factor_actions_do_not_commute_warns_naming_both():
    text = (
        "group A = <r | r^4>\ngroup B = <s | s^2>\ngroup E = A x B\ndomain Im = tensor[4, 4]\n"
        "action A on Im { r -> rot90(dims=(0, 1)) }\naction B on Im { s -> flip(dim=1) }\n"
        "model f(x: Im) -> real\nlaw l: forall g: E. f(g . x) == f(x)\n"
    )
    spec = symspec.loads(text, "bug.sym")
    (w,) = spec.warnings
    assert (w.span.line, w.span.column) == (3, 11)
    assert w.message.startswith("the factors A and B of 'E' do not commute on Im: generator r of A")
    assert "does not act on Im as a direct product" in w.message


def test_product_with_symbolic_dims_checks_commuting_at_instantiated_sizes():
    text = (
        "group A = <r | r^4>\ngroup B = <s | s^2>\ngroup E = A x B\ndomain Im = tensor[N, N]\n"
        "action A on Im { r -> rot90(dims=(0, 1)) }\naction B on Im { s -> flip(dim=1) }\n"
        "model f(x: Im) -> real\nlaw l: forall g: E. f(g . x) == f(x)\n"
    )
    (w,) = symspec.loads(text, "bug.sym").warnings
    assert "(checked with N = 5)" in w.message
    commuting = text.replace("rot90(dims=(0, 1))", "flip(dim=0)").replace("r^4", "r^2")
    assert symspec.loads(commuting, "ok.sym").warnings == []


def test_analysis_messages_cite_nothing_outside_the_repository():
    import re

    for name in ("structures", "symmetry", "orbits", "graphs", "domains", "groups", "lawclass", "ir"):
        source = (ROOT / "symspec" / "analysis" / f"{name}.py").read_text(encoding="utf-8")
        strings = re.findall(r'f?"[^"\n]*"', source)
        assert not [s for s in strings if "DESIGN" in s or re.search(r"#\d+", s)], name


# ---- 3: augmentation policy -------------------------------------------------------------------

AUGMENT = {
    "anti": (True, "inputs (x, y) -> (y, x); target -> -target"),
    "shift": (True, "inputs (x, y) -> (x + k, y); target -> target + k"),
    "scale3": (True, "inputs (x, y) -> (3 * x, 3 * y); target -> target * 3"),
    "scale2": (False, "the input transform is not invertible: scaling by 2 is not invertible mod 8"),
    "scalek": (False, "the output transform is not invertible: scaling by k is not invertible mod 8 (at k = 0)"),
    "guarded": (False, "guarded (holds only where its guard does)"),
    "ineq": (False, "a constraint law: an inequality"),
    "undone": (True, "inputs (x, y) -> (x + 1, y); target -> target * 3"),
    "rshift": (
        False,
        "the input transform is not invertible: a + 1 does not map range(0, 5) onto itself: range values do not wrap",
    ),
    "rmirror": (True, "inputs (a) -> (4 - a); target unchanged"),
    "invariant": (True, "inputs (v) -> (g . v); target unchanged"),
    "odd": (True, "inputs (u) -> (-u); target -> -target"),
    "doubling": (False, "the output is real and the transform (scaling by 2) is not an action, a negation or a shift"),
    "flips": (True, "inputs (x, y) -> (x + 4, y); target -> not target"),
}


def test_augment_policy_is_analysis_data():
    spec = symspec.load(SPECS / "valid" / "augment_policy.sym")
    assert {n: (law.augment, law.augment_why) for n, law in spec.ir.laws.items()} == AUGMENT


def test_augment_includes_laws_whose_moved_call_transforms_its_output():
    spec = symspec.loads(
        "domain Z5 = cyclic(5)\nmodel sub(x: Z5, y: Z5) -> class(Z5)\nlaw anti: sub(x, y) == -sub(y, x)\n", "bug.sym"
    )
    law = spec.ir.laws["anti"]
    assert law.sides[3] == (("neg", None),)  # the moved call sub(y, x) carries the negation
    assert law.augment and law.augment_why.endswith("target -> -target")


def test_augment_in_explain_text_and_json(capsys):
    path = SPECS / "valid" / "augment_policy.sym"
    assert main(["explain", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {n: (law["augment"], law["augment_why"]) for n, law in data["laws"].items()} == AUGMENT
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert "augment uses: anti, shift, scale3, undone" in out
    assert "augment: no, the input transform is not invertible: scaling by 2 is not invertible mod 8" in out
    assert "augment: yes, inputs (x, y) -> (y, x); target -> -target" in out


def test_augment_of_the_examples():
    spec = symspec.load(EXAMPLE)
    assert [n for n, law in spec.ir.laws.items() if law.augment] == ["commutes", "shift"]
    assert spec.ir.laws["assoc"].augment_why.startswith("a constraint law: nested calls")


def test_orbit_summary_names_a_law_that_does_not_permute_the_inputs():
    spec = symspec.load(SPECS / "valid" / "augment_policy.sym")
    assert spec.ir.models["r"].summary == (
        "5 inputs of r; law rshift does not permute them (a transform that is not a bijection of the inputs or "
        "outputs), so their orbits are not counted"
    )


# ---- 4: internal exceptions -------------------------------------------------------------------


def test_redundancy_check_with_a_law_over_a_trivial_group_does_not_crash():
    text = (
        "domain Z = cyclic(1)\n"
        "model f(x: Z, y: Z) -> class(Z)\n"
        "law l0: forall k: Z. f(x, y) == f(x, y) * k\n"
        "law l1: f(y, x) == f(x, y)\n"
        "law l2: f(-x, y) == f(x, y)\n"
    )
    spec = symspec.loads(text, "bug.sym")
    assert spec.ir.models["f"].orbits == 1


def test_huge_cyclic_domain_is_analyzed_without_tabulating_it():
    text = (
        "domain Z = cyclic(1000000000000000000)\n"  # 10^18: values beyond int64 are errors (issue 12)
        "model f(x: Z) -> class(Z)\n"
        "law shift: forall k: Z. f(x + k) == f(x) + k\n"
        "law triple: f(3 * x) == f(x) * 3\n"
        "law zero: f(0) == 0\n"
    )
    spec = symspec.loads(text, "bug.sym")
    assert spec.ir.laws["shift"].augment and spec.ir.laws["triple"].augment
    assert not spec.ir.laws["shift"].finite and spec.ir.models["f"].orbits is None


def test_relators_on_a_large_tensor_are_checked_on_the_moved_dims_only():
    import time

    start = time.perf_counter()
    err = only_error(
        "domain T = tensor[N, N, N, N, N, N, N, N, N, N]\ngroup A = <r | r^4>\naction A on T { r -> roll(dim=0) }\n"
        "model f(x: T) -> real\nlaw l: forall g: A. f(g . x) == f(x)\n"
    )
    assert err.message.startswith("relator r^4 does not hold on T (checked with N = 5)")
    err = only_error(
        "domain T = tensor[1000, 1000, 50]\ngroup A = <r | r^3>\naction A on T { r -> flip(dim=2) }\n"
        "model f(x: T) -> real\nlaw l: forall g: A. f(g . x) == f(x)\n"
    )
    assert err.message == "relator r^3 does not hold on T: flip(dim=2) applied 3 times is not the identity"
    assert time.perf_counter() - start < 20  # was minutes and gigabytes: every point of the tensor was tabulated


def test_block_on_a_family_hint_names_a_by_transform_valid_on_the_domain():
    err = only_error("domain T = tensor[3, 4]\ngroup C = cyclic(4)\naction C on T { c -> roll(dim=1) }\n")
    assert err.hint == "write 'action C on T by roll(dim=1)'"
    err = only_error("domain T = tensor[3, 4]\ngroup D = dihedral(4)\naction D on T { r -> flip }\n")
    assert err.hint == (
        "dihedral(4) cannot act on T = tensor[3, 4]: shift needs the domain cyclic(4); rot90 needs two tensor dims of equal size"
    )


def test_presentation_hints_name_every_generator():
    err = only_error("domain T = tensor[4, 4]\ngroup D = <r, s | r^4, s^2, (s r)^2>\naction D on T by rot90\n")
    assert err.hint == "write 'action D on T { r -> ..., s -> ... }'"
    err = only_error("domain T = tensor[4, 4]\ngroup D = <r, s, t | r^4, s^2, t^2>\naction D on T { r -> flip }\n")
    assert err.hint == "add 's -> TRANSFORM', 't -> TRANSFORM' to the block"


def test_rot90_on_a_non_square_slice_hint_names_square_dims_or_says_none_exist():
    err = only_error("domain Im = tensor[4, 5]\ngroup D = <r | r^4>\naction D on Im { r -> rot90(dims=(-2, -1)) }\n")
    assert "rot90(" not in err.hint and "no two dims of tensor[4, 5] are equal" in err.hint
    err = only_error("domain Im = tensor[3, 4, 4]\ngroup D = <r | r^4>\naction D on Im { r -> rot90(dims=(0, 1)) }\n")
    assert err.hint == "dims 1 and 2 have equal sizes: write rot90(dims=(1, 2))"
    symspec.loads("domain Im = tensor[3, 4, 4]\ngroup D = <r | r^4>\naction D on Im { r -> rot90(dims=(1, 2)) }\n", "ok.sym")


def test_between_on_a_graph_too_large_for_distances_is_an_error_not_a_crash(capsys):
    path = SPECS / "invalid" / "between_graph_too_large.sym"
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1


# ---- found while fuzzing; the fixes belong to code owned by the lead (lawclass._generators / _acceptance) ----


def test_law_scaling_by_a_drawn_value_is_not_reported_implied():
    text = (
        "domain Z8 = cyclic(8)\nmodel f(x: Z8) -> class(Z8)\n"
        "law neg: f(-x) == -f(x)\nlaw scaled: forall k: Z8. f(k * x) == f(x) * k\n"
    )
    assert symspec.loads(text, "bug.sym").warnings == []


def test_law_with_a_group_acting_after_a_shift_is_not_reported_implied():
    text = (
        "domain Z7 = cyclic(7)\ngroup U = <u | u^6>\naction U on Z7 { u -> scale(3) }\n"
        "model f(x: Z7) -> class(Z7)\nlaw first: f(3 * x + 3) == f(x) * 3\n"
        "law second: forall h: U. f(h . (x + 1)) == h . f(x)\n"
    )
    assert symspec.loads(text, "bug.sym").warnings == []


def test_rejection_acceptance_scan_on_huge_domains_does_not_allocate_them():
    text = "domain Z = cyclic(1000000000000000000)\nmodel f(a: Z) -> class(Z)\nlaw l: f(a + k) == f(a) when k * 2 != 1\n"
    spec = symspec.loads(text, "bug.sym")
    assert spec.ir.laws["l"].variables["k"].acceptance is None


def test_huge_shift_and_scale_arguments_act_modulo_the_domain():
    for transform, order in (("scale(9000000000000000003)", 6), ("shift(-8999999999999999996)", 7)):
        text = (
            f"domain Z = cyclic(7)\ngroup A = <r | r^{order}>\naction A on Z {{ r -> {transform} }}\n"
            "model f(x: Z) -> class(Z)\nlaw l: forall g: A. f(g . x) == g . f(x)\n"
        )
        spec = symspec.loads(text, "bug.sym")
        assert spec.ir.groups["A"].order == order
    text = (
        "domain T = tensor[4, 4]\ngroup A = <r | r^4>\naction A on T { r -> roll(shift=-8999999999999999997, dim=1) }\n"
        "model f(x: T) -> real\nlaw l: forall g: A. f(g . x) == f(x)\n"
    )
    assert symspec.loads(text, "bug.sym").ir.groups["A"].order == 4


def test_huge_families_are_neither_tabulated_nor_factorialized():
    text = (
        "domain Z = cyclic(100000000000)\ngroup C = cyclic(100000000000)\nmodel f(x: Z) -> class(Z)\n"
        "law l: forall g: C. f(g . x) == g . f(x)\n"
    )
    c = symspec.loads(text, "bug.sym").ir.groups["C"]
    assert c.generators == ("c",) and c.order == 100000000000 and not c.perms
    text = (
        "domain T = tensor[4294967296, 4]\ngroup S = symmetric(4294967296)\nmodel f(x: T) -> real\n"
        "law l: forall g: S. f(g . x) == f(x)\n"
    )
    s = symspec.loads(text, "bug.sym").ir.groups["S"]
    assert (s.order, s.order_text, s.generators) == (None, "4294967296!", ("t", "c"))


def test_hypercube_of_dimension_one_builds():
    text = (
        "graph G = hypercube(1)\ndomain V = nodes(G)\nmodel f(u: V, v: V) -> class(V)\n"
        "law l: forall a: automorphisms(G). f(a . u, a . v) == a . f(u, v)\n"
    )
    spec = symspec.loads(text, "bug.sym")
    assert spec.ir.graphs["G"].labels == [0, 1] and spec.ir.groups == {} and spec.ir.models["f"].orbits == 2


def test_wrong_domain_kind_hints_suggest_transforms_valid_in_their_context():
    err = only_error("domain T = tensor[4, 4]\ngroup D = dihedral(4)\naction D on T by shift\n")
    assert err.hint == "write 'action D on T by rot90(dims=(-2, -1))'"
    err = only_error("domain Z = cyclic(4)\ngroup C = cyclic(4)\naction C on Z by roll(dim=0)\n")
    assert err.hint == "write 'action C on Z by shift'"
    err = only_error("domain T = tensor[4, 4]\ngroup E = dihedral(5)\naction E on T by shift\n")
    assert err.hint == "dihedral(5) cannot act on T = tensor[4, 4]: shift needs the domain cyclic(5)"
    err = only_error("domain T = tensor[4, 4]\ngroup Q = <q | q^2>\naction Q on T { q -> negate }\n")
    assert err.hint == "tensor domains use rot90, flip, roll, permute or transpose"  # matrix is not a block transform


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("graph G = cycle(2)\n", "for example cycle(6)"),
        ("graph G = torus(2, 5)\n", "for example torus(4, 4)"),
        ("graph G = cycle(3000000)\n", "symspec builds every graph in memory: declare a smaller one"),
        ("group S = SO(65)\n", "rotations of more than 64 coordinates are not supported: use n <= 64"),
        ("domain T = tensor[3]\ngroup A = <r | r^3>\naction A on T { r -> permute(perm=(0, 0, 1)) }\n", None),
        ("domain T = tensor[3, 4]\ngroup A = <r | r^2>\naction A on T { r -> transpose(1, 1) }\n", None),
        ("domain T = tensor[3, 4]\ngroup A = <r | r^2>\naction A on T { r -> flip(dim=2) }\n", None),
        ("domain Z = cyclic(0)\n", "cyclic(n) holds 0..n-1, so n is 1 or more"),
        ("domain S = set(a, a)\n", "list each label once"),
        ("domain Z = cyclic(5)\ngroup C = cyclic(4)\naction C on Z by shift\n", "cyclic(5) acts by shift on cyclic(5)"),
    ],
)
def test_every_analysis_error_has_a_hint(text, hint):
    errors = errors_of(text)
    assert errors and all(e.hint for e in errors), [(e.message, e.hint) for e in errors]
    if hint is not None:
        assert errors[0].hint == hint


def test_hints_for_perm_transpose_and_dims_are_valid_fixes():
    err = only_error("domain T = tensor[3]\ngroup A = <r | r^3>\naction A on T { r -> permute(perm=(0, 0, 1)) }\n")
    assert err.hint == "list each of 0..2 once, as in perm=(1, 2, 0)"
    symspec.loads("domain T = tensor[3]\ngroup A = <r | r^3>\naction A on T { r -> permute(perm=(1, 2, 0)) }\n", "ok.sym")
    err = only_error("domain T = tensor[3, 4, 4]\ngroup A = <r | r^2>\naction A on T { r -> transpose(1, 1) }\n")
    assert err.hint == "write transpose(1, 2)"
    err = only_error("domain T = tensor[3, 4]\ngroup A = <r | r^2>\naction A on T { r -> flip(dim=2) }\n")
    assert err.hint == "its dims are 0..1, or -2..-1 from the end"
