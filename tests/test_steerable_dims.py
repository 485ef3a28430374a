"""EMLP's basis dimensions: Hom(V^a, V^b) for SO(2), O(2), SO(3), O(3), a, b in 0..3.

The steerable layers' rotation basis (``rt.rotation_basis``: an SVD null
space) is compared with an independent computation: the character integral
``dim Hom(V^a, V^b) = integral of chi_V(g)^(a + b) over the Haar measure``
(real representations, so chi_in * chi_out), by quadrature over the maximal
torus with the Weyl integration formula:

- SO(2): chi = 2 cos t, t uniform;
- O(2): half SO(2), half reflections (chi = 0 there: eigenvalues 1, -1);
- SO(3): chi = 1 + 2 cos t with density (1 - cos t) / pi on [0, pi];
- O(3) = SO(3) x {I, -I}: chi(-R) = -chi(R), so odd powers integrate to 0.

The integrands are trigonometric polynomials of degree at most 7, so the mean
over 64 equally spaced angles is exact. Known values are asserted too, and a
Monte Carlo average of the projection over Haar samples checks SO(3) V x V.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from symspec import runtime as rt

__all__ = ["haar_dim"]

_ANGLES = np.arange(64) * (2 * math.pi / 64)


def haar_dim(kind: str, n: int, power: int) -> int:
    """The integral of chi_V(g)^power over the Haar measure of SO(n) / O(n), n in (2, 3): dim of the invariants."""
    t = _ANGLES
    if n == 2:
        rotations = float(np.mean((2 * np.cos(t)) ** power))
        value = rotations if kind == "SO" else 0.5 * (rotations + (1.0 if power == 0 else 0.0))
    elif n == 3:
        # Weyl: the class of angle t has density (1 - cos t) / pi on [0, pi]; the integrand is even in t, so its mean
        # over the whole circle (with weight 1 - cos t) is the same integral
        rotations = float(np.mean((1 + 2 * np.cos(t)) ** power * (1 - np.cos(t))))
        value = rotations if kind == "SO" else 0.5 * (1 + (-1) ** power) * rotations
    else:
        raise ValueError("haar_dim: n must be 2 or 3")
    assert abs(value - round(value)) < 1e-9, value
    return int(round(value))


def _basis(kind: str, n: int, a: int, b: int) -> torch.Tensor:
    return rt.rotation_basis(kind.lower(), n, (n,) * a, tuple(range(a)), (n,) * b, tuple(range(b)))


@pytest.mark.parametrize("kind, n", [("SO", 2), ("O", 2), ("SO", 3), ("O", 3)])
def test_hom_dimensions_match_the_character_integrals(kind, n):
    for a in range(4):
        for b in range(4):
            basis = _basis(kind, n, a, b)
            assert basis.shape == (haar_dim(kind, n, a + b), n**b, n**a), (kind, n, a, b)


def test_known_dimensions():
    assert haar_dim("O", 3, 2) == 1 and _basis("O", 3, 1, 1).shape[0] == 1  # V -> V: the identity
    assert _basis("O", 3, 0, 2).shape[0] == 1  # V (x) V invariants: delta
    assert _basis("O", 3, 2, 1).shape[0] == 0  # V (x) V -> V: none under O(3)
    assert _basis("SO", 3, 2, 1).shape[0] == 1  # ... the cross product under SO(3)
    assert _basis("O", 3, 0, 3).shape[0] == 0 and _basis("SO", 3, 0, 3).shape[0] == 1  # epsilon
    assert _basis("SO", 2, 1, 1).shape[0] == 2 and _basis("O", 2, 1, 1).shape[0] == 1  # rotations commute in the plane
    assert _basis("O", 3, 2, 2).shape[0] == 3  # 0e + 1e + 2e: one map each
    assert _basis("O", 3, 3, 3).shape[0] == 15


def test_the_invariant_vectors_are_delta_and_epsilon():
    delta = rt.rotation_invariants("o", 3, (3, 3), (0, 1))
    assert delta.shape == (1, 9)
    assert torch.allclose(delta[0].abs(), torch.eye(3, dtype=torch.float64).reshape(-1) / math.sqrt(3))
    eps = rt.rotation_invariants("so", 3, (3, 3, 3), (0, 1, 2))
    assert eps.shape == (1, 27)
    assert float(eps[0].reshape(3, 3, 3)[0, 1, 2] * eps[0].reshape(3, 3, 3)[1, 0, 2]) < 0  # antisymmetric
    assert rt.rotation_invariants("o", 3, (3, 3, 3), (0, 1, 2)).shape[0] == 0
    assert rt.rotation_invariants("o", 3, (3,), (0,)).shape[0] == 0


def test_monte_carlo_projection_agrees_for_so3_on_v_x_v():
    """The trace of the Haar average of R (x) R over 4000 samples approximates dim of the invariants (1)."""
    g = torch.Generator().manual_seed(0)
    q, r = torch.linalg.qr(torch.randn(4000, 3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    q = q * torch.det(q)[:, None, None]  # det +1 (3 is odd)
    chi = torch.diagonal(q, dim1=-2, dim2=-1).sum(-1)
    assert abs(float((chi**2).mean()) - haar_dim("SO", 3, 2)) < 0.1
    assert abs(float((chi**3).mean()) - haar_dim("SO", 3, 3)) < 0.2
