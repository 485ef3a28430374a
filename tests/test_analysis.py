"""Names, types and the checked Spec, through the public API."""

from __future__ import annotations

import pytest
from conftest import ROOT

import symspec
from symspec.analysis import BoolDomain, ClassOf, Cyclic, Labels, Nodes, Range, RealDomain, Tensor
from symspec.errors import ParamError, SpecError, SpecNameError, SpecSyntaxError, SpecTypeError, UsageError

EX = ROOT / "examples"


def test_modular_addition_spec_contents():
    spec = symspec.load(EX / "modular_addition.sym")
    assert spec.name == "modular_addition"
    assert spec.params == {"p": 113}
    assert spec.domains["Zp"] == Cyclic(113)
    sig = spec.models["add"]
    assert sig.params == (("a", Cyclic(113)), ("b", Cyclic(113)))
    assert sig.output == ClassOf(Cyclic(113))
    assert list(spec.laws) == ["commutes", "shift", "assoc"]
    shift = spec.laws["shift"]
    assert shift.variables["k"].bound and shift.variables["k"].domain == Cyclic(113)
    assert shift.variables["a"].domain == Cyclic(113) and not shift.variables["a"].bound
    assert set(spec.laws["assoc"].variables) == {"a", "b", "c"}


def test_params_override_through_load():
    spec = symspec.load(EX / "modular_addition.sym", params={"p": 59})
    assert spec.params["p"] == 59 and spec.domains["Zp"] == Cyclic(59)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"q": 1}, "unknown parameter 'q'"),
        ({"p": "59"}, "must be an integer"),
        ({"p": True}, "must be an integer"),
        ({"p": 5.0}, "must be an integer"),
    ],
)
def test_bad_overrides_raise_param_error(params, message):
    with pytest.raises(ParamError, match=message):
        symspec.load(EX / "modular_addition.sym", params=params)


def test_param_error_is_a_usage_error():
    assert issubclass(ParamError, UsageError) and issubclass(UsageError, symspec.SymspecError)


def test_graph_and_output_domains():
    spec = symspec.load(EX / "graph_distance.sym")
    assert spec.graphs["G"].num_nodes == 49 and spec.graphs["G"].args == (7, 7)
    assert spec.domains["Node"] == Nodes("G", 49)
    assert spec.models["dist"].output == ClassOf(Range(0, 13))
    assert spec.laws["geodesic"].guarded
    assert spec.groups["Aut"].kind == "automorphisms"


def test_point_cloud_symbolic_dims_and_products():
    spec = symspec.load(EX / "point_cloud.sym")
    assert spec.dims == ("N",)
    assert spec.domains["Cloud"] == Tensor(("N", 3))
    e = spec.groups["E"]
    assert e.kind == "product" and [f.name for f in e.factors] == ["P", "Rot"] and e.continuous
    assert spec.models["energy"].output == RealDomain()
    assert spec.laws["equivariant"].options == {"weight": 0.1, "tol": 1e-4, "samples": 2}
    assert spec.layers["pool"].target == RealDomain()
    assert spec.priors["smooth"].kind == "lipschitz" and spec.priors["smooth"].target == "energy"


def test_image_action_transforms_resolved():
    spec = symspec.load(EX / "image_d4.sym")
    (action,) = [a for a in spec.actions if (a.group, a.domain) == ("D4", "Image")]
    maps = dict(action.maps)
    assert maps["r"].name == "rot90" and maps["r"].arg("dims") == (-2, -1)
    assert maps["s"].name == "flip" and maps["s"].arg("dim") == -1
    assert spec.groups["D4"].generators == ("r", "s")


def test_labels_and_bool_domains():
    spec = symspec.load(ROOT / "tests/specs/valid/labels.sym")
    assert spec.domains["Color"] == Labels(("red", "green", "blue"))
    spec = symspec.load(ROOT / "tests/specs/valid/bool_domain.sym")
    assert spec.domains["B"] == BoolDomain()


def test_sum_of_class_outputs_is_typed():
    spec = symspec.loads("domain D = range(0, 5)\nmodel d(u: D, v: D) -> class(D)\nlaw t: d(u, v) <= d(u, w) + d(w, v)\n")
    assert spec.laws["t"].variables["w"].domain == Range(0, 5)


def test_several_errors_collected_and_sorted():
    text = (
        "model f(a: Zq) -> class(Zp)\ndomain Zp = cyclic(5)\nlaw l: g(a) == f(a)\nlaw m: f(a) => f(a)\n"
        "model h(x: Zp) -> real\nlaw n: h(x) == h(Zp)\n"
    )
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "m.sym")
    lines = [d.span.line for d in info.value.errors]
    assert lines == sorted(lines) and len(lines) >= 3


def test_error_classes_follow_the_first_error():
    with pytest.raises(SpecSyntaxError):
        symspec.loads("law l: (\n")
    with pytest.raises(SpecNameError):
        symspec.loads("model f(a: Nope) -> real\n")
    with pytest.raises(SpecTypeError):
        symspec.loads("domain Z = cyclic(3)\nmodel f(a: Z) -> class(Z)\nlaw l: f(a) => f(a)\n")


def test_duplicate_declaration_points_at_both_places():
    with pytest.raises(SpecNameError) as info:
        symspec.loads("domain A = cyclic(3)\ndomain A = cyclic(4)\n", "d.sym")
    (diag,) = info.value.errors
    assert diag.span.line == 2 and diag.notes[0][0].line == 1


def test_non_utf8_file_is_a_spec_error(tmp_path):
    bad = tmp_path / "latin1.sym"
    bad.write_bytes(b"domain Z = cyclic(3)\n# caf\xe9\n")
    with pytest.raises(SpecSyntaxError) as info:
        symspec.load(bad)
    assert info.value.errors[0].span.line == 2 and "not UTF-8" in info.value.errors[0].message


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        symspec.load(tmp_path / "nope.sym")


def test_spec_name_defaults_to_file_stem(tmp_path):
    f = tmp_path / "my_task.sym"
    f.write_text("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: g(a) == g(a)\n")
    assert symspec.load(f).name == "my_task"


def test_deeply_nested_input_is_a_spec_error_not_a_crash():
    text = "domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: g(" + "(" * 3000 + "a" + ")" * 3000 + ") == g(a)\n"
    try:
        symspec.loads(text)
    except SpecError:
        pass


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("domain Z = cyclic(0)", "cyclic(n) needs n >= 1"),
        ("graph G = cycle(2)", "needs arguments >= 3"),
        ("graph G = edges(0-0)", "self-loop"),
        ("graph G = hypercube(30)", "too many"),
        ("group G = SO(0)", "needs n >= 1"),
        ("group G = cyclic(N)", "unknown name 'N'"),
        ("domain T = tensor[0, 3]", "must be positive"),
        ("domain T = tensor[]", "at least one dimension"),
        ("domain S = set(a, a)", "appears twice"),
        ("domain R = range(3, 1)", "is empty"),
        ("model f() -> real", "takes no inputs"),
        ("model f(a: real, a: real) -> real", "appears twice"),
        ("model f(a: real) -> class(real)", "needs a finite domain"),
        ("model f(a: real) -> class(0)", "needs n >= 1"),
        ("group D = <r | r^2>\ndomain I = tensor[3]\naction D on I by flip(dim=0)", "is a presentation"),
        ("group C = cyclic(3)\ndomain I = tensor[4]\naction C on I by roll(dim=0)", "cannot act on dim 0"),
        ("group C = symmetric(3)\ndomain I = tensor[3]\naction C on I by roll(dim=0)", "cannot act by roll"),
        ("group C = <c | c^2>\ndomain I = tensor[3]\naction C on I { c -> flip(dim=3) }", "out of range"),
        ("group C = <c | c^2>\ndomain I = tensor[3]\naction C on I { c -> permute(perm=(0, 0, 1)) }", "not a permutation"),
        ("group C = <c | c^2>\ndomain I = tensor[3]\naction C on I { c -> flip(axis=0) }", "has no argument 'axis'"),
        ("group C = <c | c^2>\ndomain I = tensor[3]\naction C on I { c -> rot(dims=(0, 1)) }", "unknown transform 'rot'"),
        ("group C = <c | c^2>\ndomain I = tensor[3]\naction C on I { c -> flip(0)\n c -> flip(0) }", "mapped twice"),
        ("group C = <c | c^2>\ndomain I = tensor[3]\naction C on I { d -> flip(0) }", "not a generator of C"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> bool\nlaw l: g(a) + g(a) == g(a)", "use logit"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: forall a: Z, a: Z. g(a) == g(a)", "bound twice"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: forall g: Z. g(g) == g(g)", "'g' is already a model"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: g(a) == g(a) or g(a) == g(a)", "'or' cannot combine relations"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: Z(a) == g(a)", "'Z' is a domain, not a model"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: g(Z) == g(a)", "'Z' is a domain, not a value"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: g(a)", "must state a relation"),
        ("domain Z = cyclic(3)\nmodel g(a: Z) -> class(Z)\nlaw l: logit(g(a)) == 0", "logit(...) needs a bool output"),
        ("prior p: nuclear(a, b)", "takes one name"),
        ("prior p: smoothness(a)", "unknown prior"),
        ("domain Z = cyclic(3)\nprior p: entropy(Z)", "takes a tensor bound at run time"),
        ("spec a\nspec b", "one 'spec' statement"),
        (
            "domain Z = cyclic(3)\ngroup C = <c | c^2>\naction C on Z { c -> negate }\naction C on Z { c -> negate }",
            "already has an action",
        ),
        ("domain A = B\ndomain B = A", "defined in terms of itself"),
    ],
)
def test_semantic_errors(text, fragment):
    with pytest.raises(SpecError) as info:
        symspec.loads(text + "\n", "e.sym")
    messages = [d.message + " " + (d.hint or "") for d in info.value.errors]
    assert any(fragment in m for m in messages), messages


def test_warnings_do_not_fail_the_check():
    spec = symspec.loads("param q = 3\ndomain Z = cyclic(5)\nmodel g(a: Z) -> class(Z)\nlaw l: forall k: Z. g(a) == g(a)\n")
    messages = [w.message for w in spec.warnings]
    assert "parameter 'q' is declared but never used" in messages
    assert "variable 'k' is bound but never used" in messages
