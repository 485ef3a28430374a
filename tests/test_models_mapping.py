"""Model names cannot collide with the API (issue 12, item 2).

``SymmetryLoss(models={...})`` and ``symspec.validate(spec, models={...})``
take any model name; the keyword form stays a convenience that refuses a
name it cannot tell from one of the function's own keywords.
"""

from __future__ import annotations

import inspect

import pytest
import torch

import symspec
from symspec.errors import UsageError
from symspec.runtime import SymmetryLossBase
from symspec.validation.run import validate

LOSS_KEYWORDS = tuple(p for p in inspect.signature(SymmetryLossBase.__init__).parameters if p not in ("self", "named"))
VALIDATE_KEYWORDS = tuple(p for p in inspect.signature(validate).parameters if p not in ("spec", "named"))
OTHER_NAMES = ("self", "batch", "spec", "bound", "n", "device", "terms", "calls", "torch", "rt", "named")


def _spec(name: str):
    text = (
        f"domain D = cyclic(5)\nmodel {name}(a: D, b: D) -> class(D)\n"
        f"law l: {name}(a, b) == {name}(b, a)\nlaw m: {name}(a, 0) == a\n"
    )
    spec = symspec.loads(text, "names.sym")
    return spec, symspec.compile(spec)


def _exact(a, b):
    return torch.nn.functional.one_hot((a + b) % 5, 5).float() * 20


def _broken(a, b):
    return torch.nn.functional.one_hot((2 * a + b) % 5, 5).float() * 20


@pytest.mark.parametrize("name", sorted({*LOSS_KEYWORDS, *VALIDATE_KEYWORDS, *OTHER_NAMES}))
def test_any_model_name_works_through_the_mapping(name):
    spec, mod = _spec(name)
    batch = {"a": torch.arange(5).repeat(5), "b": torch.arange(5).repeat_interleave(5)}
    good = mod.SymmetryLoss(models={name: _exact})
    assert float(good(batch)) < 1e-6 and set(good.terms) == {"l", "m"}
    bad = mod.SymmetryLoss({name: _broken}, generator=torch.Generator().manual_seed(0), fused=False)
    assert float(bad(batch)) > 1
    assert symspec.validate(spec, models={name: _exact}, samples=64).passed
    report = symspec.validate(spec, models={name: _broken}, samples=64)
    assert not report.passed and report["l"].violations > 0


def test_the_keyword_lists_are_what_the_signatures_say():
    assert set(LOSS_KEYWORDS) == {"models", "generator", "fused"}
    assert {"samples", "seed", "device", "laws", "inputs", "dims", "models"} <= set(VALIDATE_KEYWORDS)


@pytest.mark.parametrize("name", LOSS_KEYWORDS)
def test_loss_keyword_form_refuses_a_model_named_like_its_keywords(name):
    _, mod = _spec(name)
    with pytest.raises(TypeError, match=rf"the model '{name}' clashes with SymmetryLoss's keyword {name}=: .*models="):
        mod.SymmetryLoss(**{name: _exact})


@pytest.mark.parametrize("name", [k for k in VALIDATE_KEYWORDS if k != "models"])
def test_validate_keyword_form_refuses_a_model_named_like_its_keywords(name):
    spec, _ = _spec(name)
    with pytest.raises(UsageError, match=rf"the model '{name}' clashes with validate's keyword {name}=: .*models="):
        symspec.validate(spec, **{name: _exact})


def test_validate_keyword_form_refuses_a_model_named_models():
    spec, _ = _spec("models")
    with pytest.raises(UsageError, match="the model 'models' clashes with validate's keyword models="):
        symspec.validate(spec, models=_exact)


def test_keyword_form_still_works_for_other_names():
    spec, mod = _spec("self")
    assert mod.SymmetryLoss(self=_exact)({"a": torch.arange(5), "b": torch.arange(5)}) < 1e-6
    assert symspec.validate(spec, self=_exact, samples=16).passed
    spec, mod = _spec("batch")
    assert mod.SymmetryLoss(batch=_exact, generator=torch.Generator())({"a": torch.arange(5), "b": torch.arange(5)}) < 1e-6


def test_a_model_named_spec_works_by_keyword_too():
    # spec is positional-only (symspec.validate and symspec.validation.validate): no clash
    spec, _ = _spec("spec")
    assert symspec.validate(spec, spec=_exact, samples=16).passed
    assert validate(spec, spec=_exact, samples=16).passed


def test_mapping_and_keywords_together_or_a_non_mapping_are_errors():
    spec, mod = _spec("f")
    with pytest.raises(TypeError, match="either as models=.* or by keyword, not both"):
        mod.SymmetryLoss(models={"f": _exact}, g=_exact)
    with pytest.raises(TypeError, match="models= takes a mapping"):
        mod.SymmetryLoss(models=_exact)
    with pytest.raises(UsageError, match="either as models=.* or by keyword, not both"):
        symspec.validate(spec, models={"f": _exact}, g=_exact)
    with pytest.raises(TypeError, match=r"missing \['f'\]"):
        mod.SymmetryLoss(models={})


def test_missing_model_named_like_a_keyword_says_to_use_the_mapping():
    _, mod = _spec("generator")
    with pytest.raises(TypeError, match=r"missing \['generator'\].*pass generator in models="):
        mod.SymmetryLoss()


def test_prior_on_a_tensor_named_batch():
    text = "domain D = cyclic(5)\nmodel f(a: D) -> class(D)\nlaw l: f(a) == f(a)\nprior p: nuclear(batch)\n"
    mod = symspec.compile(symspec.loads(text, "r.sym"))
    loss = mod.SymmetryLoss(models={"f": lambda a: torch.zeros(a.shape[0], 5)})
    w = torch.eye(4)
    loss({"a": torch.arange(5)}, batch=w)
    assert torch.isclose(loss.terms["p"], torch.tensor(4 / 4.0))  # ||I_4||_* / sqrt(16)


def test_cli_validate_passes_models_as_a_mapping(tmp_path, monkeypatch):
    # symspec validate FILE --model device=...: the CLI hands validate its models in models={...}
    from symspec.cli import main

    (tmp_path / "factories_device.py").write_text(
        "import torch\ndef build():\n    return lambda a, b: torch.nn.functional.one_hot((a + b) % 5, 5).float() * 20\n",
        encoding="utf-8",
    )
    spec = tmp_path / "names.sym"
    spec.write_text(
        "domain D = cyclic(5)\nmodel device(a: D, b: D) -> class(D)\nlaw l: device(a, b) == device(b, a)\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["validate", str(spec), "--model", "device=factories_device:build", "--samples", "16"]) == 0
