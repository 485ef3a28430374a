"""In a product, a permutation factor permutes points, not the coordinates a matrix factor rotates.

``symmetric(3) x SO(3)`` on ``tensor[3, 3]`` (3 points in 3D) once permuted rows *and* columns (the default of
``symmetric(3)`` alone, for adjacency-like tensors), and on ``tensor[3]`` permuted the coordinates: the exact
moment of a point cloud failed its own equivariance law.
"""

from __future__ import annotations

import torch

import symspec

SPEC = """
domain P = tensor[3, 3]
model f(x: P) -> real
model moment(x: P) -> tensor[3]
model adjacency(a: P) -> real
group E = symmetric(3) x SO(3)
group S = symmetric(3)
law inv: forall g: E. f(g . x) == f(x)
law eq: forall g: E. moment(g . x) == g . moment(x)
law adj: forall s: S. adjacency(s . a) == adjacency(a)
"""


def chiral(x: torch.Tensor) -> torch.Tensor:
    """Invariant under permuting the 3 points and under SO(3), not under reflections: det(x) times the
    Vandermonde product of the points' norms (both change sign under an odd permutation of the points)."""
    r = x.norm(dim=-1)
    return torch.linalg.det(x) * (r[:, 0] - r[:, 1]) * (r[:, 0] - r[:, 2]) * (r[:, 1] - r[:, 2])


def test_a_chiral_invariant_passes_points_permuted_and_coordinates_rotated():
    """Permuting the coordinates as well (an odd permutation is a reflection) broke exactly this model."""
    spec = symspec.loads(SPEC, "points.sym")
    models = {"f": chiral, "moment": lambda x: x.sum(1), "adjacency": lambda a: a.sum((-1, -2))}
    report = symspec.validate(spec, models=models, samples=400, laws=["inv"])
    assert report.passed, report


def test_points_are_permuted_and_coordinates_rotated():
    spec = symspec.loads(SPEC, "points.sym")
    models = {
        "f": lambda x: x.norm(dim=-1).sum(-1),
        "moment": lambda x: x.sum(1),
        "adjacency": lambda a: a.diagonal(dim1=-2, dim2=-1).sum(-1) + a.sum((-1, -2)),
    }
    report = symspec.validate(spec, models=models, samples=200)
    assert report.passed, report
    broken = dict(models, f=lambda x: x[:, :, 0].abs().sum(-1), moment=lambda x: x[:, 0])
    report = symspec.validate(spec, models=broken, samples=200)
    assert {law.name for law in report.laws if not law.passed} == {"inv", "eq"}


def test_the_permutation_alone_keeps_its_adjacency_default():
    spec = symspec.loads(SPEC, "points.sym")
    mod = symspec.compile(spec)
    a = torch.arange(9.0).reshape(1, 3, 3).expand(64, 3, 3).contiguous()
    s = mod.SAMPLER_adj_s.draw(64, torch.Generator().manual_seed(0))
    moved = mod.SAMPLER_adj_s.act(s, "P", a)
    # rows and columns permuted alike: the diagonal's entries stay on the diagonal
    assert torch.equal(moved.diagonal(dim1=-2, dim2=-1).sort(-1).values, a.diagonal(dim1=-2, dim2=-1).sort(-1).values)
    assert not torch.equal(moved, a)


IDLE = """
domain C = tensor[3, N]
model f(x: C) -> real
group R = SO(3)
action R on C by matrix(dim=0)
group G = symmetric(N) x R
law inv: forall g: G. f(g . x) == f(x)
"""


def test_a_factor_that_moves_nothing_in_a_law_is_warned_about():
    """symmetric(N) has no default on tensor[3, N] (its points are on dim 1): it silently acted as the identity."""
    spec = symspec.loads(IDLE, "idle.sym")
    (warning,) = [w for w in spec.warnings if "moves nothing" in w.message]
    assert (warning.span.line, warning.span.column) == (7, 25)
    assert warning.message == (
        "factor symmetric(N) of G moves nothing in law inv: it has no action on C, so it acts there as the identity"
    )


def test_a_factor_idle_on_an_output_only_is_not_warned_about():
    text = """
group E = symmetric(N) x O(3)
domain Cloud = tensor[N, 3]
model moment(x: Cloud) -> tensor[3]
law eq: forall g: E. moment(g . x) == g . moment(x)
"""
    assert symspec.loads(text, "moment.sym").warnings == []
