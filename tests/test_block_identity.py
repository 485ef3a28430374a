"""'r -> identity' in an action block: one generator leaves the domain as it is."""

from __future__ import annotations

import pytest
import torch

import symspec

SPEC = """
domain Img = tensor[4, 4]
group G = <r, s | r^4, s^2, s r s^-1 r^-1>
action G on Img {
  r -> rot90(dims=(-2, -1))
  s -> identity
}
model f(x: Img) -> real
law inv: forall g: G. f(g . x) == f(x)
"""


def rotation_invariant(x):
    return sum(torch.rot90(x, k, (-2, -1)) for k in range(4)).pow(2).sum((-1, -2))


def test_block_identity_validates_and_explains():
    spec = symspec.loads(SPEC, "blk.sym")
    assert spec.ir.action(spec.ir.group(spec.groups["G"]), spec.domains["Img"]).describe("s") == "identity"
    assert symspec.validate(spec, f=rotation_invariant, samples=100).passed
    assert not symspec.validate(spec, f=lambda x: x[:, 0, 0], samples=100).passed


def test_block_identity_relators_are_checked():
    bad = SPEC.replace("s r s^-1 r^-1", "(s r)^2")  # with s the identity, (s r)^2 = r^2 is not
    with pytest.raises(symspec.SpecError) as err:
        symspec.loads(bad, "blk.sym")
    assert "relator (s r)^2 does not hold on Img: with r -> rot90(dims=(-2, -1)), s -> identity" in err.value.render()
