"""Fuzzing with well-typed specs (tests/wellformed.py): they mostly load, so compilation gets exercised.

1. For every generated text, loading raises SpecError (with diagnostics that
   render) or ``check`` and ``compile_source`` agree: both succeed, or both
   raise SpecError with the same first message; nothing else escapes.
2. When check passes, the module imports and works on tiny models: the loss
   is a finite scalar that back-propagates, ``augment`` keeps shapes, dtypes
   and domains, every layer runs, ``validate`` returns a report.
3. Specs of issue 13's forms only (``new_language_specs``) must check; then
   the same, plus ``symmetrize`` on every model that has a symmetrizer and
   ``assert_equivariant`` on every layer. ``SYMSPEC_NEW_FORMS_EXAMPLES`` sets
   how many (default 40).

Reproducers of the bugs it found (all fixed) are at the end. ``SYMSPEC_FUZZ_SCALE=20`` runs the fuzzers 20 times longer.
"""

from __future__ import annotations

import math
import os
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wellformed import SYMBOLIC, Builder, NewForms, new_language_specs, random_batch, specs, tiny_models

import symspec
from symspec import runtime as rt
from symspec.analysis.domains import ClassOf, Cyclic, Labels, Nodes
from symspec.errors import SpecError, UsageError
from symspec.pipeline import check, compile_source

FUZZ_SCALE = int(os.environ.get("SYMSPEC_FUZZ_SCALE", "1"))
NEW_EXAMPLES = int(os.environ.get("SYMSPEC_NEW_FORMS_EXAMPLES", "40"))  # test_new_language_specs_*
FUZZ = settings(
    max_examples=60 * FUZZ_SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
RUN = settings(FUZZ, max_examples=30 * FUZZ_SCALE)


def _load(text: str):
    """The loaded spec, or None when loading raised a SpecError that renders."""
    try:
        return symspec.loads(text, "wf.sym")
    except SpecError as err:
        assert err.diagnostics, "a SpecError carries at least one diagnostic"
        rendered = err.render()
        assert "wf.sym:" in rendered and "Traceback" not in rendered
        return None


def _verdicts(spec) -> tuple:
    """(check's verdict, compile_source's verdict): None on success, else the first error's message."""
    verdicts = []
    for step in (check, compile_source):
        try:
            step(spec)
            verdicts.append(None)
        except SpecError as err:
            verdicts.append(err.errors[0].message)
    return tuple(verdicts)


@FUZZ
@given(specs())
def test_check_agrees_with_compile_on_wellformed_specs(text):
    spec = _load(text)
    if spec is None:
        return
    try:
        checked, compiled = _verdicts(spec)
    except Exception as err:
        if _known(err):
            return
        raise
    assert checked == compiled, f"check: {checked!r}\ncompile: {compiled!r}"


# ---------------------------------------------------------------------------- compiled modules


def _in_domain(desc, value) -> bool:
    if isinstance(desc, rt.Values):
        return not value.is_floating_point() and bool(((value >= desc.lo) & (value < desc.hi)).all())
    return value.is_floating_point()


def _class_targets(spec) -> dict:
    """model -> number of classes, for models whose class output holds cyclic values, labels or nodes (target = index)."""
    out = {}
    for name, sig in spec.models.items():
        if isinstance(sig.output, ClassOf) and isinstance(sig.output.domain, (Cyclic, Labels, Nodes)):
            out[name] = sig.output.domain.size
    return out


def exercise(spec, *, validate_samples: int = 64) -> None:
    """Everything a user does with a compiled module, on tiny models; raises on the first problem."""
    mod = symspec.compile(spec)
    models = tiny_models(mod)
    gen = torch.Generator().manual_seed(0)
    batch = random_batch(mod, 8, gen)
    tensors = {}
    for prior in mod.PRIORS.values():
        if prior["kind"] in ("nuclear", "entropy"):
            tensors[prior["of"]] = torch.randn(5, 4, requires_grad=True)
    # the loss
    if models:
        loss = mod.SymmetryLoss(models, generator=torch.Generator().manual_seed(1))
        value = loss(dict(batch), **tensors)
        assert value.dim() == 0, f"the loss has shape {tuple(value.shape)}"
        assert math.isfinite(value.item()), f"the loss is {value.item()}: {loss.terms}"
        if value.requires_grad:
            value.backward()
    # augmentation, model by model
    targets = _class_targets(spec)
    for name in getattr(mod, "AUGMENTERS", {}):
        b = dict(batch)
        if name in targets:
            b["target"] = torch.randint(0, targets[name], (8,), generator=gen)
        out = mod.augment(b, generator=torch.Generator().manual_seed(2), model=name)
        for key, before in b.items():
            after = out[key]
            assert after.shape == before.shape and after.dtype == before.dtype, (
                f"augment({name}) changed {key}: {tuple(before.shape)} {before.dtype} -> {tuple(after.shape)} {after.dtype}"
            )
        for pname, desc in zip(mod.MODELS[name], mod.INPUTS[name]):
            assert _in_domain(desc, out[pname]), f"augment({name}) put {pname} outside {desc}: {out[pname]}"
        if "target" in b:
            t = out["target"]
            assert bool(((t >= 0) & (t < targets[name])).all()), f"augment({name}) target outside 0..{targets[name] - 1}: {t}"
    # layers
    for name, cls in mod.LAYERS.items():
        layer = cls(2, 3)
        source = spec.layers[name].source
        dims = getattr(source, "dims", ())
        x = torch.randn(4, 2, *[d if isinstance(d, int) else SYMBOLIC for d in dims])
        y = layer(x)
        assert y.shape[:2] == (4, 3), f"layer {name}: {tuple(x.shape)} -> {tuple(y.shape)}"
        assert torch.isfinite(y).all()
    # validation
    if mod.LAWS and models:
        report = symspec.validate(spec, samples=validate_samples, seed=0, models=models)
        assert len(report.laws) == len(mod.LAWS)


@RUN
@given(specs())
def test_compiled_wellformed_specs_run(text):
    spec = _load(text)
    if spec is None:
        return
    try:
        check(spec)
    except SpecError:
        return
    try:
        exercise(spec)
    except Exception as err:
        if not _known(err):
            raise


def exercise_more(spec, text: str) -> None:
    """:func:`exercise`, then ``symmetrize`` on every model that has a symmetrizer and ``assert_equivariant`` on every
    layer: the backends the forms of issue 13 must reach besides the loss, augment and validate."""
    import json

    from symspec.analysis.ir import explain_json, explain_text
    from symspec.testing import assert_equivariant

    assert explain_text(spec) and json.dumps(explain_json(spec))  # explain, as text and as JSON
    exercise(spec)
    mod = symspec.compile(spec)
    models = tiny_models(mod)
    batch = random_batch(mod, 4, torch.Generator().manual_seed(3))
    for name in mod.SYMMETRIZERS:
        args = [batch[p] for p in mod.MODELS[name]]
        wrapped = mod.symmetrize(name, models[name], samples=4, generator=torch.Generator().manual_seed(4))
        plain, out = models[name](*args), wrapped(*args)
        assert out.shape == plain.shape, f"symmetrize({name}): {tuple(plain.shape)} -> {tuple(out.shape)}\n{text}"
        assert torch.isfinite(out).all(), f"symmetrize({name}) is not finite\n{text}"
    if mod.LAWS and models:  # the report renders (residual quantiles of real and tensor laws)
        assert symspec.validate(spec, samples=16, seed=1, models=models).render()
    for name, cls in mod.LAYERS.items():
        dims = getattr(spec.layers[name].source, "dims", ())
        x = torch.randn(3, 2, *[d if isinstance(d, int) else SYMBOLIC for d in dims], dtype=torch.float64)
        assert_equivariant(cls(2, 3).double(), spec, name, x, generator=torch.Generator().manual_seed(5))


NEW = settings(FUZZ, max_examples=NEW_EXAMPLES * FUZZ_SCALE)


@NEW
@given(new_language_specs())
def test_new_language_specs_check_compile_and_run(text):
    # every block of NewForms is well typed on its own: check must pass (a SpecError here is a bug, in the
    # generator or in the compiler), the module imports, its loss runs on tiny models of the right signature
    spec = symspec.loads(text, "new.sym")
    check(spec)
    try:
        exercise_more(spec, text)
    except Exception as err:
        if not _known(err):
            raise


@pytest.mark.parametrize("kind", NewForms.KINDS)
@settings(NEW, max_examples=4)
@given(data=st.data())
def test_every_new_form_checks_compiles_and_runs(kind, data):
    # each kind of block on its own, a few draws each (the property test above mixes them)
    b = Builder(data.draw)
    NewForms(b).add(kind)
    text = "\n".join(b.lines) + "\n"
    spec = symspec.loads(text, f"{kind}.sym")
    check(spec)
    try:
        exercise_more(spec, text)
    except Exception as err:
        if not _known(err):
            raise


# ---------------------------------------------------------------------------- reproducers of the bugs found


def _exercise_text(text: str) -> None:
    spec = symspec.loads(text, "repro.sym")
    check(spec)
    exercise(spec)


# Each entry: (exception type name, message regex) of a bug reproduced below and still open. The
# property tests pass over examples that hit one, so that they keep looking for new bugs; drop an
# entry when its bug is fixed (its reproducer then runs as a plain test). None is open now: every
# exception the property tests meet fails them.
KNOWN: list = []


def _known(err: BaseException) -> bool:
    text = str(err).splitlines()[0] if str(err) else ""
    return any(type(err).__name__ == name and re.search(pattern, text) for name, pattern in KNOWN)


def _loss(text: str):
    """Compile ``text``, run SymmetryLoss on tiny models and a random batch of 8; the loss value."""
    mod = symspec.compile(check(symspec.loads(text, "repro.sym")))
    models = tiny_models(mod)
    batch = random_batch(mod, 8, torch.Generator().manual_seed(0))
    value = mod.SymmetryLoss(models, generator=torch.Generator().manual_seed(1))(batch)
    assert value.dim() == 0 and math.isfinite(value.item())
    return value


# -- the printer wraps a long sum in '( ... ,)': a tuple, not a parenthesized expression


def test_repro_relation_and_relation_prints_a_tuple():
    _loss("domain D = range(3)\nmodel g(a: D) -> class(2)\nlaw l: g(a) == g(a) and g(a) <= g(a)\n")


def test_repro_chained_comparison_prints_a_tuple():
    _loss("domain D = cyclic(3)\nmodel g(a: D) -> class(D)\nlaw l: g(a) <= g(a) <= g(a)\n")


# -- check itself raises a non-SpecError


def test_repro_check_crashes_on_tensor_output_of_finite_input():
    text = "domain Z = cyclic(5)\ndomain T = tensor[2]\nmodel f(k: Z) -> T\nlaw l: f(k + 2) == f(k)\n"
    check(symspec.loads(text, "repro.sym"))  # IndexError: index 5 is out of bounds for axis 0 with size 5 (orbits.joint_push)


# -- check passes, compile emits Python that does not parse


def test_repro_unused_orthogonal_binder_does_not_compile():
    text = "domain T = tensor[4]\ngroup O4 = O(4)\nmodel f(x: T) -> real\nlaw l: forall a: O4. f(x) >= 0\n"
    spec = check(symspec.loads(text, "repro.sym"))  # passes (a warning: a is never used)
    symspec.compile(spec)  # IndentationError: the draw statement has no target


# -- the trivial group (order 1) acting by a table


def test_repro_trivial_cyclic_group_on_values():
    _loss("domain D = cyclic(1)\ngroup H = cyclic(1)\nmodel f(a: D) -> bool\nlaw l: forall e: H. f(e . a) == f(a)\n")


def test_repro_trivial_cyclic_group_on_a_tensor():
    _loss(
        "domain T = tensor[1]\ngroup H = cyclic(1)\naction H on T by roll(dim=0)\n"
        "model f(x: T) -> real\nlaw l: forall e: H. f(e . x) == f(x)\n"
    )


# -- check passed, compile emitted Python that did not parse (found by this fuzzer; fixed meanwhile: a regression test)


def test_unused_presentation_binder_compiles():
    text = (
        "domain T = tensor[2]\ngroup H = <w | w^2>\naction H on T { w -> flip(dim=0) }\n"
        "model f(x: T) -> real\nlaw l: forall g: H. f(x) >= 0\n"
    )
    spec = check(symspec.loads(text, "repro.sym"))  # a warning: g is never used
    symspec.compile(spec)  # was a SyntaxError: law_l_g = torch.randint(0, self.None.shape[0], ...)


# -- values that are not batched tensors, or outside their domain, reach a model


def test_repro_constant_real_argument_reaches_model_as_float():
    _loss("model f(u: real, v: real) -> real\nlaw l: f(u, 0.5) >= 0\n")


def test_repro_constant_real_first_argument_breaks_call_batch():
    _loss("model f(u: real) -> bool\nlaw l: f(0.0) == f(u)\n")


def test_repro_interval_draw_leaves_the_domain():
    # at a = 6 no w in range(2, 7) exceeds a: the example must be masked, and 7 must never reach f
    _loss("domain D = range(2, 7)\nmodel f(a: D) -> bool\nlaw l: forall w: D. f(w) => f(a) when a < w\n")


def test_repro_samples_with_rejection_mismatch_batch_sizes():
    # x is drawn (no parameter of that name); w is drawn by rejection; the call f(w, x) mixes n and n * samples rows
    _loss(
        "domain C = set(red, green)\nmodel f(a: C, b: C) -> real\nlaw l: forall w: C. f(w, x) == f(a, b) when w != red [samples 2]\n"
    )


def test_repro_min_of_interval_drawn_variable():
    _loss("domain D = range(0, 4)\nmodel f(a: D) -> real\nlaw l: forall w: D. f(min(w, a)) >= f(a) when w <= 1\n")


# -- nested calls of real and tensor outputs


def test_repro_nested_real_call():
    _loss("model f(u: real) -> real\nlaw l: f(f(u)) == f(u)\n")


def test_repro_nested_tensor_call():
    _loss("domain T = tensor[2]\nmodel h(x: T) -> T\nlaw l: h(h(x)) == h(x)\n")


# -- accepted by the analysis, refused later (a SpecError: the contract holds, the language reference does not)


def test_repro_guard_between_two_drawn_variables():
    check(symspec.loads("domain D = range(5)\nmodel f(x: D) -> class(3)\nlaw l: f(a) == f(b) when a < b\n", "repro.sym"))


def test_repro_alias_of_presentation_group_has_no_action():
    text = (
        "domain T = tensor[2]\ngroup H = <w | w^2>\naction H on T { w -> flip(dim=0) }\ngroup K = H\n"
        "model f(x: T) -> real\nlaw l: forall g: K. f(g . x) == f(x)\n"
    )
    check(symspec.loads(text, "repro.sym"))


def test_repro_validate_model_named_device():
    # a model named like a keyword of validate is passed in models={...}; by keyword it is a clear usage error
    spec = symspec.loads("domain D = range(3)\nmodel device(a: D) -> class(2)\nlaw l: device(a) == 0\n", "repro.sym")
    models = tiny_models(symspec.compile(spec))
    report = symspec.validate(spec, samples=8, seed=0, models=models)
    assert report["l"].cases > 0
    with pytest.raises(
        UsageError, match=r"model 'device' clashes with validate's keyword device=: .*models=\{'device': \.\.\.\}"
    ):
        symspec.validate(spec, samples=8, seed=0, **models)


# -- found by the second campaign


def test_repro_validate_real_equals_constant():
    spec = symspec.loads("domain D = cyclic(3)\nmodel f(b: D) -> real\nlaw l: f(b) == 1.5\n", "repro.sym")
    report = symspec.validate(spec, samples=8, seed=0, f=lambda b: torch.zeros(b.shape[0]))
    assert report.laws[0].violations > 0  # never reached: TypeError 'float' object is not subscriptable


def test_repro_scaling_a_class_output_by_zero():
    # the analysis accepts it; the pushforward table holds garbage (index 94460085519440 out of bounds),
    # which could as well land in bounds and give a silently wrong loss. It should be a SpecError or a
    # well-defined pushforward (all mass on class 0).
    _loss("domain D = cyclic(7)\nmodel f(a: D) -> class(D)\nlaw l: f(a) * 0 == f(a)\n")


def test_repro_samples_with_rejection_cross_entropy():
    _loss(
        "domain T = tensor[2]\ndomain C = set(red, green)\nmodel f(x: T) -> class(C)\nlaw l: forall c: C. f(x) == c when c != red [samples 2]\n"
    )


def test_repro_lipschitz_of_a_model_on_labels():
    # a SpecError at check time (was: check passed, then every loss step raised ValueError)
    with pytest.raises(SpecError, match="needs an input with neighbours"):
        symspec.loads("domain C = set(red)\nmodel f(a: C) -> real\nlaw l: f(a) >= 0\nprior p: lipschitz(f)\n", "r.sym")


def test_repro_model_named_self():
    _loss("domain D = range(3)\nmodel self(a: D) -> real\nlaw l: self(a) >= 0\n")


# -- found by the third campaign


def test_repro_samples_with_rejection_guard_on_a_batch_variable():
    # the simplest form of the [samples k] + rejection bug: the batch variable v is not repeated k times
    _loss(
        "graph G = cycle(4)\ndomain V = nodes(G)\nmodel h(v: V) -> real\nlaw l: forall w: V. h(v) >= h(w) when v != w [samples 2]\n"
    )


def test_repro_prior_tensor_named_batch():
    text = "domain D = range(3)\nmodel f(a: D) -> real\nlaw l: f(a) >= 0\nprior p: entropy(batch)\n"
    mod = symspec.compile(check(symspec.loads(text, "repro.sym")))
    loss = mod.SymmetryLoss(tiny_models(mod))
    loss({"a": torch.tensor([0, 1, 2])}, batch=torch.randn(5, 4))


# -- found by the generator of issue 13's forms (NewForms)


def _symmetrized(text: str, a: list):
    mod = symspec.compile(check(symspec.loads(text, "repro.sym")))
    return mod.symmetrize("f", tiny_models(mod)["f"])(torch.tensor(a))


def test_repro_symmetrize_trivial_constant_element():
    # C.c . C.c is the identity of cyclic(2): the group its powers generate is trivial; the average is f itself
    text = "domain Z = cyclic(2)\ngroup C = cyclic(2)\nmodel f(a: Z) -> class(Z)\nlaw l: f(C.c . C.c . a) == C.c . C.c . f(a)\n"
    assert _symmetrized(text, [0, 1]).shape == (2, 2)


def test_repro_symmetrize_trivial_cyclic_group():
    text = "domain Z = cyclic(1)\ngroup C = cyclic(1)\nmodel f(a: Z) -> class(Z)\nlaw l: forall g: C. f(g . a) == g . f(a)\n"
    assert _symmetrized(text, [0, 0]).shape == (2, 1)


def test_repro_range_output_shifted_by_a_value_equals_a_constant():
    # the union support of f(a) + a is 0..4 and holds 0 (check passes), but an example with a > 0 puts no mass on 0:
    # its cross-entropy was inf; such an example is now masked, as a value outside a class output's support is
    _loss("domain R = range(0, 3)\nmodel f(a: R) -> class(3)\nlaw l: f(a) + a == 0\n")


def test_repro_labels_of_an_inline_set_are_constants():
    # 'b1' is the label of set(a1, b1) whether the set is declared or inline; inline, it was a law variable drawn
    # uniformly over the set (explain: 'b1: uniform over set(a1, b1)'), a silently different law
    declared = _loss("domain C = set(a1, b1)\nmodel f(i: cyclic(3)) -> class(C)\nlaw l: f(i) == b1\n")
    inline = _loss("model f(i: cyclic(3)) -> class(set(a1, b1))\nlaw l: f(i) == b1\n")
    assert torch.allclose(declared, inline)


def test_repro_a_guard_compares_with_a_label_of_an_inline_set():
    check(symspec.loads("model f(i: cyclic(3), v: set(a1, b1)) -> real\nlaw l: f(i, v) >= 0 when v != a1\n", "r.sym"))
