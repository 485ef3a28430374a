"""``symspec suggest``: the candidate laws a labelled dataset supports, printed as a .sym spec."""

from __future__ import annotations

from ..errors import UsageError

__all__ = ["add_suggest_parser", "run_suggest"]


def add_suggest_parser(sub) -> None:
    """The ``suggest`` subcommand's options."""
    p = sub.add_parser("suggest", help="print the laws a labelled dataset supports, as a .sym spec with evidence")
    p.add_argument("file", nargs="?", default=None, metavar="SPEC", help="a spec holding the domains and the model")
    p.add_argument("--data", required=True, metavar="FILE", help="the data: .pt (dict of tensors), .npz, .csv or .parquet")
    p.add_argument(
        "--signature", default=None, metavar="SIG", help='the model, e.g. "f(a: cyclic(59), b: cyclic(59)) -> class(cyclic(59))"'
    )
    p.add_argument("--model", default=None, metavar="NAME", help="the model the data labels (when the spec has several)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the candidates and evidence as JSON ('-': standard output)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=INT", help="override a 'param' (repeatable)")


def run_suggest(args, write_stdout) -> int:
    """Load, test the candidates, print the spec."""
    raise UsageError("suggest is being built (issue 17)")
