"""A model parameter named ``target`` is not augmented: augment keeps the label in ``batch["target"]``.

Before: ``model f(target: Z, b: Z)`` with ``f(target + k, b) == f(target, b) + 2 * k`` compiled an augment that
shifted the input ``target`` by k and then again by 2k as if it were the label: the input came back moved by
3k and the label was lost, silently.
"""

from __future__ import annotations

import pytest
import torch

import symspec

SPEC = (
    "domain Z = cyclic(5)\n"
    "model f(target: Z, b: Z) -> class(Z)\n"
    "model g(a: Z, b: Z) -> class(Z)\n"
    "law s: forall k: Z. f(target + k, b) == f(target, b) + 2 * k\n"
    "law t: forall k: Z. g(a + k, b) == g(a, b) + 2 * k\n"
)


def test_a_parameter_named_target_is_not_augmented_and_says_why():
    spec = symspec.loads(SPEC, "target.sym")
    law = spec.ir.laws["s"]
    assert not law.augment
    assert law.augment_why == (
        "model f has a parameter named 'target', the batch key augment writes the label to "
        "(rename the parameter to augment with this law)"
    )
    mod = symspec.compile(spec)
    batch = {"target": torch.arange(5), "b": torch.arange(5)}
    with pytest.raises(ValueError, match="augment takes a model with an equivariance law"):
        mod.augment(batch, generator=torch.Generator().manual_seed(0), model="f")


def test_the_other_models_still_augment_and_the_loss_keeps_the_law():
    mod = symspec.compile(symspec.loads(SPEC, "target.sym"))
    a, b = torch.arange(5).repeat(5), torch.arange(5).repeat_interleave(5)
    out = mod.augment({"a": a, "b": b, "target": (2 * a + b) % 5}, generator=torch.Generator().manual_seed(1), model="g")
    assert torch.equal(out["target"], (2 * out["a"] + out["b"]) % 5)  # g(a, b) = 2a + b obeys t

    def onehot(values):
        return torch.nn.functional.one_hot(values % 5, 5).float() * 20

    loss = mod.SymmetryLoss(f=lambda t, y: onehot(2 * t + y), g=lambda x, y: onehot(2 * x + y))
    loss({"target": a, "b": b, "a": a})
    assert set(loss.terms) == {"s", "t"} and float(loss.terms["s"]) < 1e-4
    broken = mod.SymmetryLoss(f=lambda t, y: onehot(3 * t + y), g=lambda x, y: onehot(2 * x + y))
    broken({"target": a, "b": b, "a": a})
    assert float(broken.terms["s"]) > 1
