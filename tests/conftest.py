"""Shared fixtures: paths of the example and corpus specs, a deadline for inputs that must be answered in seconds."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from hypothesis import settings

# Random locally (to keep finding new inputs), reproducible in CI.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
# SYMSPEC_FUZZ_SCALE=25 runs the fuzzers 25 times longer (for a deep local run).
FUZZ_SCALE = int(os.environ.get("SYMSPEC_FUZZ_SCALE", "1"))

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


@pytest.fixture
def deadline():
    """A hang guard, not a timing: the test fails (TimeoutError) past 60 s, where the inputs it feeds once took
    minutes (the figures are in each test's docstring; benchmarks time them)."""

    def expire(*_):
        raise TimeoutError("still running after 60 s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
