"""Silent wrong answers of the training loss (issue 12, item 5) and of validate's options (item 7).

- A law none of whose variables is a batch field is in the loss: its
  variables are drawn from their domains, as many cases as the batch has.
- The pushforward of a class distribution by any map (not only a
  permutation) sums the probabilities of each class's preimage; checked
  against brute force.
- One batch field read by two laws over different domains is a check-time
  error at the second law's variable.
- ``symspec.validate`` refuses options the CLI refuses; nothing checked is no pass.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import symspec
from symspec import runtime as rt
from symspec.cli import main
from symspec.codegen.core import CompileError
from symspec.errors import UsageError

# ---- laws without a batch field


def _noncommutative(x, y):
    return torch.nn.functional.one_hot((2 * x + y) % 7, 7).float() * 10


def _commutative(x, y):
    return torch.nn.functional.one_hot((x + y) % 7, 7).float() * 10


DRAWN = "domain D = cyclic(7)\nmodel f(x: D, y: D) -> class(D)\nlaw l: f(a, b) == f(b, a)\n"


def test_a_law_without_batch_fields_is_in_the_loss():
    # was: loss 0.0 and terms == {} while validate found 32 of 49 cases violated
    spec = symspec.loads(DRAWN, "drawn.sym")
    mod = symspec.compile(spec)
    loss = mod.SymmetryLoss(f=_noncommutative, generator=torch.Generator().manual_seed(0))
    batch = {"x": torch.arange(7).repeat(7), "y": torch.arange(7).repeat_interleave(7)}
    value = loss(batch)
    assert set(loss.terms) == {"l"} and float(value) > 1
    assert not symspec.validate(spec, f=_noncommutative).passed
    exact = mod.SymmetryLoss(f=_commutative)
    assert float(exact(batch)) < 1e-6


def test_a_law_without_batch_fields_draws_as_many_cases_as_asked():
    mod = symspec.compile(symspec.loads(DRAWN, "drawn.sym"))
    seen = []

    def f(x, y):
        seen.append(x.shape[0])
        return _noncommutative(x, y)

    loss = mod.SymmetryLoss(f=f)
    loss(12)  # a number of cases
    loss({"anything": torch.zeros(5, 3)})  # a batch: its length
    assert seen == [12, 12, 5, 5]
    assert loss.terms["l"].requires_grad is False and math.isfinite(float(loss.terms["l"]))
    with pytest.raises(ValueError, match="read no batch field.*pass loss\\(N\\)"):
        loss({})
    with pytest.raises(TypeError, match="a number of cases"):
        loss(0)


def test_a_law_on_constants_is_in_the_loss():
    spec = symspec.loads("domain D = cyclic(7)\nmodel f(x: D, y: D) -> class(D)\nlaw l: f(3, 4) == f(4, 3)\n", "c.sym")
    mod = symspec.compile(spec)
    net = torch.nn.Linear(1, 1)  # a module: its parameters give the device of the drawn cases
    loss = mod.SymmetryLoss(f=lambda x, y: _noncommutative(x, y) + 0 * net.weight.sum())
    assert float(loss(4).detach()) > 1 and set(loss.terms) == {"l"}


# ---- pushforward of any map


def _brute(logp: torch.Tensor, push: torch.Tensor) -> torch.Tensor:
    """log P(sigma(X) = j), summed class by class in float64."""
    p = logp.double().exp()
    out = torch.zeros_like(p)
    rows = p.shape[0]
    push = push.expand(rows, -1) if push.dim() == 1 else push
    for r in range(rows):
        for i in range(p.shape[1]):
            out[r, int(push[r, i])] += p[r, i]
    return out.log()


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 9),
    rows=st.integers(1, 4),
    per_row=st.booleans(),
    data=st.data(),
)
def test_pushforward_of_any_map_sums_the_preimage(n, rows, per_row, data):
    shape = (rows, n) if per_row else (n,)
    flat = data.draw(st.lists(st.integers(0, n - 1), min_size=math.prod(shape), max_size=math.prod(shape)))
    push = torch.tensor(flat, dtype=torch.long).reshape(shape)
    logits = torch.tensor(
        data.draw(st.lists(st.floats(-30, 30), min_size=rows * n, max_size=rows * n)), dtype=torch.float64
    ).reshape(rows, n)
    masked = data.draw(st.lists(st.booleans(), min_size=rows * n, max_size=rows * n))
    mask = torch.tensor(masked).reshape(rows, n)
    mask[:, 0] = False  # keep one class per row
    logits = logits.masked_fill(mask, float("-inf"))
    logp = torch.log_softmax(logits, -1)
    got = rt.pushforward(logp, push)
    want = _brute(logp, push)
    assert torch.equal(got.isinf(), want.isinf())  # an empty (or all-masked) preimage: probability 0 exactly
    finite = want.isfinite()
    assert torch.allclose(got[finite], want[finite], rtol=1e-9, atol=1e-9)
    assert torch.allclose(got.exp().sum(-1), torch.ones(rows, dtype=torch.float64))
    assert torch.equal(rt.pushforward_map(logp, push), got)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 12), shifts=st.lists(st.integers(-30, 30), min_size=1, max_size=5))
def test_shifts_and_negation_by_their_inverse_tables_are_the_pushforward(n, shifts):
    # the compiled loss gathers x -> x + k through shift_table(n, -k) and x -> -x through itself
    logp = torch.log_softmax(torch.randn(len(shifts), n, dtype=torch.float64), -1)
    k = torch.tensor(shifts)
    got = rt.pushforward_permutation(logp, rt.shift_table(n, -k))
    assert torch.allclose(got, _brute(logp, rt.shift_table(n, k)), atol=1e-12)
    neg = rt.pushforward_permutation(logp, rt.scale_table(n, -1))
    assert torch.allclose(neg, _brute(logp, rt.scale_table(n, -1)), atol=1e-12)
    one = rt.pushforward_permutation(logp, rt.shift_table(n, -shifts[0]))  # one table for the whole batch
    assert torch.allclose(one, _brute(logp, rt.shift_table(n, shifts[0])), atol=1e-12)


def test_pushforward_is_deterministic_and_has_finite_gradients_for_a_non_injective_map():
    # was: torch.empty_like + scatter_: uninitialized memory read for x -> 2x on cyclic(4) (random IndexErrors)
    logits = torch.randn(64, 4, dtype=torch.float64, requires_grad=True)
    logp = torch.log_softmax(logits, -1)
    push = rt.scale_table(4, 2)
    outs = [rt.pushforward(logp, push) for _ in range(5)]
    assert all(torch.equal(outs[0], o) for o in outs)
    assert torch.isinf(outs[0][:, 1]).all() and torch.isinf(outs[0][:, 3]).all()
    rt.sym_kl_logprobs(outs[0], logp).sum().backward()
    assert torch.isfinite(logits.grad).all()
    for dtype in (torch.float16, torch.bfloat16):
        half = rt.pushforward(logp.detach().to(dtype), rt.scale_table(4, torch.tensor([0, 1, 2, 3] * 16)))
        assert half.dtype == dtype and not half.isnan().any()


@pytest.mark.parametrize(
    "text",
    [
        "domain D = cyclic(4)\nmodel f(a: D) -> class(D)\nlaw l: f(a) * 2 == f(a)\n",
        "domain D = cyclic(7)\nmodel f(a: D) -> class(D)\nlaw l: forall k: D. f(a) * k == f(a * k)\n",
        "domain D = cyclic(7)\nmodel f(a: D) -> class(D)\nlaw l: -f(a) == f(-a)\n",
        "domain D = cyclic(7)\nmodel f(a: D) -> class(D)\nlaw l: forall k: D. f(a) - k == f(a - k)\n",
    ],
)
def test_compiled_laws_with_non_injective_maps_are_deterministic(text):
    mod = symspec.compile(symspec.loads(text, "push.sym"))
    n = 4 if "cyclic(4)" in text else 7
    table = torch.randn(n, n)
    values = []
    for _ in range(3):
        loss = mod.SymmetryLoss(f=lambda a: table[a], generator=torch.Generator().manual_seed(3))
        values.append(float(loss({"a": torch.arange(n)})))
    assert math.isfinite(values[0]) and values == [values[0]] * 3


@pytest.mark.parametrize(
    "law", ["forall k: D. f(a) + k == f(a + k)", "forall k: D. f(a) - k == f(a - k)", "-f(a) == f(-a)", "f(a) * 3 == f(a * 3)"]
)
def test_an_exactly_equivariant_model_has_zero_loss_and_a_broken_one_not(law):
    mod = symspec.compile(symspec.loads(f"domain D = cyclic(7)\nmodel f(a: D) -> class(D)\nlaw l: {law}\n", "eq.sym"))
    batch = {"a": torch.arange(7).repeat(4)}
    exact = mod.SymmetryLoss(f=lambda a: torch.nn.functional.one_hot(a % 7, 7).float() * 30)
    assert float(exact(batch)) < 1e-6
    broken = mod.SymmetryLoss(f=lambda a: torch.nn.functional.one_hot((a * a) % 7, 7).float() * 30)
    assert float(broken(batch)) > 1


def test_nested_calls_corpus_spec_trains_deterministically():
    from conftest import ROOT

    spec = symspec.load(ROOT / "tests/specs/valid/nested_calls.sym")
    mod = symspec.compile(spec)
    w = torch.randn(13, 13, 13, requires_grad=True)
    v = torch.randn(13, 13, 13, requires_grad=True)
    batch = {"a": torch.arange(13).repeat(13), "b": torch.arange(13).repeat_interleave(13)}
    first = None
    for _ in range(3):
        loss = mod.SymmetryLoss(mul=lambda a, b: w[a, b], add=lambda a, b: v[a, b], generator=torch.Generator().manual_seed(0))
        value = loss(batch)
        assert math.isfinite(float(value))
        first = float(value) if first is None else first
        assert float(value) == first
    value.backward()
    assert torch.isfinite(w.grad).all() and torch.isfinite(v.grad).all()


# ---- one batch field, one domain

SHARED = "model f(x: cyclic(3)) -> real\nmodel g(x: cyclic(50)) -> real\nlaw l1: f(x) >= 0\nlaw l2: g(x) >= 0\n"


def test_a_batch_field_read_over_two_domains_is_a_check_time_error(tmp_path, capsys):
    with pytest.raises(CompileError) as info:
        symspec.compile(symspec.loads(SHARED, "shared.sym"))
    (diag,) = info.value.errors
    assert (diag.span.line, diag.span.column) == (4, 11)
    assert "law l2 reads the batch field 'x' as cyclic(50), but law l1 reads it as cyclic(3)" in diag.message
    assert diag.hint
    path = tmp_path / "shared.sym"
    path.write_text(SHARED, encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:4:11: error: law l2 reads the batch field 'x'" in err and "Traceback" not in err


def test_a_lipschitz_prior_reading_a_batch_field_over_another_domain_is_an_error():
    # the prior steps f's input x (cyclic(3)) on the batch's x, which law l fills from cyclic(50)
    text = "model f(x: cyclic(3)) -> real\nmodel g(x: cyclic(50)) -> real\nlaw l: g(x) >= 0\nprior p: lipschitz(f)\n"
    with pytest.raises(CompileError) as info:
        symspec.compile(symspec.loads(text, "prior.sym"))
    (diag,) = info.value.errors
    assert (diag.span.line, diag.span.column) == (4, 1)
    assert "prior p (on f) reads the batch field 'x' as cyclic(3), but law l reads it as cyclic(50)" in diag.message


def test_the_same_batch_field_over_one_domain_is_fine():
    text = "domain D = cyclic(5)\nmodel f(x: D) -> real\nmodel g(x: D) -> real\nlaw l1: f(x) >= 0\nlaw l2: g(x) >= f(x)\n"
    mod = symspec.compile(symspec.loads(text, "one.sym"))
    loss = mod.SymmetryLoss(f=lambda x: x.float(), g=lambda x: x.float() + 1)
    assert float(loss({"x": torch.arange(5)})) == 0.0


# ---- validate's options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"samples": 0}, "samples must be at least 1, got 0"),
        ({"cap": -1}, "cap must be at least 0, got -1"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"seed": 2**70}, f"seed {2**70}: must be smaller than"),
        ({"seed": -(2**70)}, "seed must be at least"),
        ({"seed": 1.5}, "seed must be an integer, got 1.5"),
        ({"samples": 2.5}, "samples must be an integer, got 2.5"),
        ({"samples": True}, "samples must be an integer, got True"),
        ({"batch_size": "8"}, "batch_size must be an integer, got '8'"),
        ({"examples": -1}, "examples must be at least 0, got -1"),
        ({"max_rate": float("nan")}, "max_rate must be between 0 and 1, got nan"),
        ({"max_rate": "0.1"}, "max_rate must be between 0 and 1, got '0.1'"),
        ({"laws": "commutes"}, "unknown law(s) commutes; the spec's laws: l"),
        ({"laws": []}, "no law selected"),
        ({"laws": 3}, "laws must be a law name or a list of law names, got 3"),
        ({"laws": [None]}, "laws must be law names (strings), got None"),
        ({"params": 3}, "params must be a mapping"),
        ({"inputs": [1]}, "inputs must be a mapping, got list"),
        ({"inputs": {"x": torch.zeros(0, 3)}}, "inputs['x'] must be a tensor with at least one row"),
        ({"inputs": {"x": 3}}, "inputs['x'] must be a tensor with at least one row"),
        ({"dims": {"N": 0}}, "dims['N'] must be at least 1, got 0"),
        ({"dims": "N"}, "dims must be a mapping, got str"),
    ],
)
def test_validate_options_are_usage_errors(options, message):
    spec = symspec.loads(DRAWN, "drawn.sym")
    with pytest.raises(UsageError, match=__import__("re").escape(message)):
        symspec.validate(spec, f=_commutative, **options)


def test_validate_takes_one_law_name_as_a_string_and_numpy_integers():
    import numpy as np

    spec = symspec.loads(DRAWN + "law m: f(x, 0) == x\n", "drawn.sym")
    report = symspec.validate(spec, f=_commutative, laws="l", samples=np.int64(16), seed=np.int32(1))
    assert [law.name for law in report.laws] == ["l"] and report.passed


def test_nothing_checked_is_not_a_pass():
    # a guard no case satisfies: 0 cases, which was reported as a pass
    text = "domain D = cyclic(7)\nmodel f(x: D, y: D) -> class(D)\nlaw l: f(x, y) == f(y, x) when x != x\n"
    report = symspec.validate(symspec.loads(text, "never.sym"), f=_noncommutative)
    assert report["l"].cases == 0 and not report["l"].passed and not report.passed
    assert "not a pass" in report["l"].note
    assert not symspec.validation.report.Report("s", "f", 0, "cpu", 1, 1).passed  # no law: no pass


def test_a_spec_without_laws_is_a_usage_error_not_a_pass(tmp_path, capsys):
    text = "domain D = cyclic(7)\nmodel f(x: D, y: D) -> class(D)\n"
    with pytest.raises(UsageError, match="spec none states no law: there is nothing to validate"):
        symspec.validate(symspec.loads(text, "none.sym"), f=_commutative)
    (tmp_path / "factories_no_law.py").write_text(
        "import torch\ndef build():\n    return lambda x, y: torch.zeros(x.shape[0], 7)\n"
    )
    path = tmp_path / "none.sym"
    path.write_text(text, encoding="utf-8")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        assert main(["validate", str(path), "--model", "f=factories_no_law:build"]) == 2
    finally:
        sys.path.remove(str(tmp_path))
    assert "states no law" in capsys.readouterr().err


def test_validate_with_examples_zero_keeps_no_counterexample():
    report = symspec.validate(symspec.loads(DRAWN, "drawn.sym"), f=_noncommutative, examples=0)
    assert report["l"].violations > 0 and report["l"].examples == [] and not report.passed
