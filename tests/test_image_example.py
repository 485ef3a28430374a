"""The image example (examples/train_image_d4.py, examples/image_d4.sym): its data and its group CNNs.

The pentominoes are the 12 free ones (distinct under D4, so the label is a
D4-invariant function of the shape); the p4m network built from the spec's
compiled layers is D4-invariant with every parameter random (float64), the
p4 network C4-invariant but not flip-invariant; the rotated test set is the
spec's augment applied to upright images.
"""

from __future__ import annotations

import sys

import pytest
import torch
from conftest import ROOT

import symspec
from symspec.testing import randomized_copy

sys.path.insert(0, str(ROOT / "examples"))

import train_image_d4 as ex  # noqa: E402

SIZE = 10


@pytest.fixture(scope="module")
def mod():
    return symspec.compile(symspec.load(ROOT / "examples" / "image_d4.sym", params={"size": SIZE}))


def d4_images(x: torch.Tensor) -> list:
    """The 8 images g . x for g = r^a s^b (r: rot90 on the last two dims, s: flip of the last dim)."""
    return [torch.rot90(x.flip(-1) if b else x, a, dims=(-2, -1)) for b in (0, 1) for a in range(4)]


def cells(rows: tuple) -> torch.Tensor:
    return torch.tensor([[c == "#" for c in row] for row in rows])


def normalized(mask: torch.Tensor) -> tuple:
    """The mask cropped to its bounding box, as a hashable (shape, values)."""
    nz = mask.nonzero()
    lo, hi = nz.min(0).values, nz.max(0).values + 1
    crop = mask[lo[0] : hi[0], lo[1] : hi[1]]
    return tuple(crop.shape), tuple(crop.reshape(-1).tolist())


def test_pentominoes_are_the_12_free_pentominoes():
    orbits = []
    for name, rows in ex.PENTOMINOES.items():
        mask = cells(rows)
        assert int(mask.sum()) == 5, name
        # connected through edges: grow from one cell
        todo, seen = [tuple(mask.nonzero()[0].tolist())], set()
        while todo:
            r, c = todo.pop()
            if (r, c) in seen or not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]) or not mask[r, c]:
                continue
            seen.add((r, c))
            todo += [(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)]
        assert len(seen) == 5, name
        orbits.append({normalized(m) for m in d4_images(mask)})
    # pairwise distinct under rotations and flips: 12 distinct free pentominoes are all of them
    assert len(orbits) == 12 and all(not (a & b) for i, a in enumerate(orbits) for b in orbits[i + 1 :])


def test_make_images_draws_one_upright_pentomino_inside_the_canvas():
    g = torch.Generator().manual_seed(0)
    x, y = ex.make_images(300, 12, g, noise=0.0)
    assert x.shape == (300, 12, 12) and y.shape == (300,) and set(y.tolist()) == set(range(12))
    shapes = list(ex.PENTOMINOES.values())
    corners = set()
    for image, label in zip(x, y):
        mask = image > 0.5
        assert int(mask.sum()) == 5 * ex.CELL**2 and ((image == 0) | (image == 1)).all()
        block = torch.kron(cells(shapes[label]).float(), torch.ones(ex.CELL, ex.CELL)) > 0
        assert normalized(mask) == normalized(block)  # upright: the template itself, only moved
        corners.add(tuple(mask.nonzero().min(0).values.tolist()))
    assert len(corners) > 20  # positions vary
    noisy, _ = ex.make_images(300, 12, torch.Generator().manual_seed(0))
    assert 0.15 < float((noisy - x).std()) < 0.25  # the default noise (0.2) on the same draws


def test_rotated_test_set_is_the_specs_augment(mod):
    g = torch.Generator().manual_seed(1)
    x, _ = ex.make_images(256, SIZE, g)
    out = mod.augment({"x": x}, generator=g)["x"]
    which = []
    for before, after in zip(x, out):
        hits = [i for i, t in enumerate(d4_images(before)) if torch.equal(t, after)]
        assert hits, "an augmented image is no element of D4 applied to the image"
        which.append(hits[0])
    assert set(which) == set(range(8))


@pytest.mark.parametrize("name, per_pair", [("lift4", 9), ("conv4", 36), ("lift8", 9), ("conv8", 72)])
def test_spec_layers_have_the_group_conv_counts(mod, name, per_pair):
    """lifting: one free 3x3 kernel per channel pair; regular to regular: |G| x 9 (the fiber actions are regular)."""
    layer = mod.LAYERS[name](3, 5)
    assert layer.weight.shape == (5, 3, per_pair) and layer.bias.numel() == 5


def _nets(mod):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    layers = mod.LAYERS
    p4 = ex.GroupCNN(layers["lift4"], layers["conv4"], 3, 12)
    p4m = ex.GroupCNN(layers["lift8"], layers["conv8"], 2, 12)
    plain = ex.PlainCNN(6, 12)
    return [randomized_copy(net, g).double().eval() for net in (p4, p4m, plain)]


def _gap(net, x, gx) -> float:
    with torch.no_grad():
        a, b = net(x), net(gx)
    return float((a - b).abs().max() / a.abs().max())


@pytest.mark.parametrize("size", [SIZE, 12])
def test_group_cnns_are_invariant_with_random_parameters(size):
    mod = symspec.compile(symspec.load(ROOT / "examples" / "image_d4.sym", params={"size": size}))
    p4, p4m, plain = _nets(mod)
    x = torch.randn(4, size, size, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    rot, flip = torch.rot90(x, 1, dims=(-2, -1)), x.flip(-1)
    for gx in [rot, flip, *d4_images(x)]:  # each generator, then every element of D4
        assert _gap(p4m, x, gx) < 1e-10
    for gx in [rot, *d4_images(x)[:4]]:  # the rotations
        assert _gap(p4, x, gx) < 1e-10
    assert _gap(p4, x, flip) > 1e-3  # p4 is not flip-invariant ...
    assert _gap(plain, x, rot) > 1e-3  # ... and a plain CNN not rotation-invariant: these checks can fail
