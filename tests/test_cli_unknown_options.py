"""An unknown option after a command shows that command's usage (exit 2), not the top-level one."""

from __future__ import annotations

import pytest

from symspec.cli.main import main


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["suggest", "--laws", "x", "--data", "d.csv"], "usage: symspec suggest "),
        (["check", "--bogus", "examples/modular_addition.sym"], "usage: symspec check "),
        (["check-data", "examples/modular_addition.sym", "--data", "d.csv", "--samples", "3"], "usage: symspec check-data "),
        (["--bogus"], "usage: symspec [-h]"),
    ],
)
def test_unknown_option_shows_the_commands_usage(argv, usage, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and "symspec: error: unrecognized arguments: " in err
