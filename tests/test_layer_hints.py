"""Layers symspec does not build get a hint that says what it does build (not only 'cannot compile')."""

from __future__ import annotations

import pytest

from symspec.cli.main import main

SPECS = {
    "two_rotations": ("domain Cloud = tensor[N, 3]\ngroup E = SO(3) x SO(3)\n", "tensor[N, 3]", "E also has SO(3)"),
    "rotation_times_cyclic": (
        "domain Cloud = tensor[N, 2]\ngroup E = symmetric(N) x SO(2) x cyclic(4)\n",
        "tensor[N, 2]",
        "E also has cyclic(4)",
    ),
}


@pytest.mark.parametrize("case", sorted(SPECS))
def test_steerable_product_error_at_the_layer_with_a_hint(case, tmp_path, capsys):
    head, shape, extra = SPECS[case]
    path = tmp_path / f"{case}.sym"
    path.write_text(f"spec s\n{head}layer l: Cloud -> Cloud under E\n", encoding="utf-8")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:4:1: error: cannot compile layer l yet: E acting on {shape} -> {shape} needs layers" in err
    assert " 4 | layer l: Cloud -> Cloud under E\n   | ^^^" in err
    assert "hint: steerable layers take one SO(n) or O(n), optionally times symmetric(N); " + extra in err
    assert "Traceback" not in err
