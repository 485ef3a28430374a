"""Shared fixtures: paths of the example and corpus specs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.sym"))
VALID = sorted((ROOT / "tests" / "specs" / "valid").glob("*.sym"))
INVALID = sorted((ROOT / "tests" / "specs" / "invalid").glob("*.sym"))

_EXPECT = re.compile(r"# expect: (\d+):(\d+): (.*)")


def expectation(path: Path) -> tuple[int, int, str]:
    """The (line, column, message fragment) an invalid spec declares on its first line."""
    head = path.read_text(encoding="utf-8").split("\n", 1)[0]
    m = _EXPECT.fullmatch(head.strip())
    assert m, f"{path.name} must start with '# expect: LINE:COL: MESSAGE'"
    return int(m[1]), int(m[2]), m[3]
