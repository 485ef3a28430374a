"""``symspec suggest``: the candidate laws a labelled dataset supports, printed as a .sym spec."""

from __future__ import annotations

import sys

from ..errors import SpecError, UsageError, require_file

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
    p.add_argument("-o", "--output", default=None, metavar="OUT.sym", help="write the spec to a file instead of standard output")
    p.add_argument("--threshold", type=float, default=None, metavar="T", help="accept at a Wilson lower bound >= T (default 0.9)")
    p.add_argument("--min-pairs", type=int, default=None, metavar="N", help="pairs a law needs tested (default 20)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the random group elements of large groups")
    p.add_argument("--param", action="append", default=[], metavar="NAME=INT", help="override a 'param' (repeatable)")


def run_suggest(args, write_stdout) -> int:
    """Load, test the candidates, print the spec (under ``--json -``: the JSON on stdout, the spec on stderr)."""

    from ..data.suggest import MIN_TESTED, THRESHOLD, suggest
    from ..pipeline import parse_param_overrides

    if args.file is not None and args.signature is not None:
        raise UsageError("give a SPEC or --signature, not both")
    if args.file is None and args.signature is None:
        raise UsageError('suggest needs the model: --signature "f(a: cyclic(59), b: cyclic(59)) -> class(cyclic(59))" or a SPEC')
    require_file(args.data)
    threshold = THRESHOLD if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold must be between 0 and 1, got {threshold}")
    min_pairs = MIN_TESTED if args.min_pairs is None else args.min_pairs
    if min_pairs < 1:
        raise UsageError(f"--min-pairs must be at least 1, got {min_pairs}")
    overrides = parse_param_overrides(args.param)
    if args.file is not None:
        require_file(args.file)
    try:
        result = suggest(
            args.data,
            signature=args.signature,
            spec=args.file,
            model=args.model,
            params=overrides or None,
            threshold=threshold,
            min_tested=min_pairs,
            seed=args.seed,
        )
    except SpecError as err:  # the SPEC itself is invalid
        print(err.render(False), file=sys.stderr)
        return 1
    if args.output:
        _write(args.output, result.text, "-o")
    elif args.json == "-":
        print(result.text, file=sys.stderr, end="", flush=True)
    else:
        write_stdout(result.text)
    if args.json == "-":
        write_stdout(result.to_json() + "\n")
    elif args.json:
        _write(args.json, result.to_json() + "\n", "--json")
    return 0


def _write(path: str, text: str, option: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        raise UsageError(f"{option} {path}: cannot write: {err.strerror or err}") from None
