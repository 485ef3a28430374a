"""``symspec check-data``: a labelled dataset checked against a spec's laws, as a partial model."""

from __future__ import annotations

import sys

from ..errors import SpecError, UsageError, require_file

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
    p.add_argument(
        "--max-cases",
        default=None,
        metavar="N",
        help="the most cases one law may have on the data (default 10^9); more is an error",
    )


def _law_names(option: str | None) -> list | None:
    """``--laws A,B`` as names (None: every law); an option naming no law is a usage error."""
    if option is None:
        return None
    names = [x.strip() for x in option.split(",") if x.strip()]
    if not names:
        raise UsageError(f"--laws {option!r} names no law")
    return names


def _max_cases(option: str | None) -> int | None:
    """``--max-cases N`` as an int (None: the default); anything but a non-negative integer is a usage error."""
    if option is None:
        return None
    text = option.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise UsageError(f"--max-cases must be a non-negative integer, got '{text[:40]}'")
    return int(text)


def run_check_data(args, write_stdout) -> int:
    """Load, check, print; exit 0 when no law is violated, 1 otherwise (2: usage errors, raised as UsageError)."""
    from ..data.check import MAX_CASES, check_data
    from ..pipeline import load, parse_param_overrides
    from ..validation.cli import _writable
    from ..validation.run import unknown_laws
    from .reports import emit_report, use_color

    overrides = parse_param_overrides(args.param)
    max_cases = _max_cases(args.max_cases)
    require_file(args.file)
    if args.json and args.json != "-":
        _writable(args.json, "--json")
    try:
        spec = load(args.file, params=overrides)
    except SpecError as err:
        print(err.render(use_color(sys.stderr)), file=sys.stderr)
        return 2
    limit = MAX_CASES if max_cases is None else max_cases
    laws = _law_names(args.laws)
    unknown = unknown_laws(laws or [], spec.laws)  # "did you mean", before the data is read
    if unknown is not None:
        raise UsageError(f"--laws {args.laws}: {unknown}")
    report = check_data(spec, args.data, model=args.model, laws=laws, max_cases=limit)
    emit_report(report, args, write_stdout)
    return 0 if report.passed else 1
