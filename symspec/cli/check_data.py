"""``symspec check-data``: a labelled dataset checked against a spec's laws, as a partial model."""

from __future__ import annotations

from ..errors import UsageError

__all__ = ["add_check_data_parser", "run_check_data"]


def add_check_data_parser(sub) -> None:
    """The ``check-data`` subcommand's options."""
    p = sub.add_parser("check-data", help="check a labelled dataset against a spec's laws; exit 1 if any law is broken")
    p.add_argument("file", metavar="SPEC", help="the .sym file")
    p.add_argument("--data", required=True, metavar="FILE", help="the data: .pt (dict of tensors), .npz, .csv or .parquet")
    p.add_argument("--model", default=None, metavar="NAME", help="the model the data labels (needed when the spec has several)")
    p.add_argument("--json", default=None, metavar="OUT", help="write the report as JSON ('-': standard output)")
    p.add_argument("--laws", default=None, metavar="NAME[,NAME...]", help="check only these laws")
    p.add_argument("--param", action="append", default=[], metavar="NAME=INT", help="override a 'param' (repeatable)")


def run_check_data(args, write_stdout) -> int:
    """Load, check, print; exit 0 when no law is violated, 1 otherwise."""
    raise UsageError("check-data is being built (issue 17)")
