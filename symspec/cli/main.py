"""``symspec`` command line.  Exit codes: 0 ok, 1 invalid spec, 2 usage error.

Only what a command needs is imported: ``check`` loads the parser and the
name/type analysis, never torch.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import SpecError, UsageError, require_file
from ..version import __version__
from .reports import use_color as _color

__all__ = ["main", "build_parser", "write_stdout"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage errors exit 2, as ours do
        self.print_usage(sys.stderr)
        self.exit(2, f"symspec: error: {message}\n")


def write_stdout(text: str) -> None:
    """``text`` on standard output, flushed; a full disk or closed stream is a usage error, not a traceback."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        _silence_stdout()  # what is still buffered must not fail again at exit
        raise UsageError(f"cannot write to standard output: {err.strerror or err}") from None


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symspec",
        description="A compiler for task symmetries: check, explain, compile, validate and format .sym specs; audit a model's parameter symmetries.",
    )
    parser.add_argument("--version", action="version", version=f"symspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    check = sub.add_parser("check", help="parse and check .sym files; exit 1 if any is invalid")
    check.add_argument("files", nargs="+", metavar="FILE", help=".sym files to check")
    check.add_argument(
        "--param", action="append", default=[], metavar="NAME=INT", help="override a 'param' of the spec (repeatable)"
    )
    check.add_argument("-q", "--quiet", action="store_true", help="print errors only (no summary, no warnings)")
    explain = sub.add_parser("explain", help="groups, orders, orbits, law classes and costs of a spec")
    explain.add_argument("file", metavar="FILE", help="the .sym file to explain")
    explain.add_argument("--param", action="append", default=[], metavar="NAME=INT", help="override a 'param' (repeatable)")
    explain.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    comp = sub.add_parser("compile", help="write the PyTorch module a spec compiles to")
    comp.add_argument("file", metavar="FILE", help="the .sym file to compile")
    comp.add_argument("-o", "--output", metavar="OUT.py", help="where to write the module (default: standard output)")
    comp.add_argument("--param", action="append", default=[], metavar="NAME=INT", help="override a 'param' (repeatable)")
    fmt = sub.add_parser("fmt", help="rewrite .sym files in the canonical layout, comments kept")
    fmt.add_argument("files", nargs="+", metavar="FILE", help=".sym files to format ('-': standard input to output)")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    fmt.add_argument("--diff", action="store_true", help="print the changes as a unified diff instead of writing them")
    val = sub.add_parser("validate", help="measure trained models against a spec's laws; exit 1 if any law fails")
    val.add_argument("file", metavar="FILE", help="the .sym file")
    val.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="[NAME=]PKG.MOD:FACTORY",
        help="a function that builds the model (the current directory is importable); NAME= when the spec has several",
    )
    val.add_argument("--checkpoint", action="append", default=[], metavar="[NAME=]PATH", help="a state dict to load")
    val.add_argument("--samples", type=int, default=10_000, metavar="N", help="Monte Carlo cases per law (default 10000)")
    val.add_argument("--cap", type=int, default=1_000_000, metavar="N", help="enumerate a law's cases when at most N")
    val.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the draws; replays the counterexamples")
    val.add_argument("--device", default=None, metavar="D", help="cpu, cuda, cuda:1, ... (default: the model's)")
    val.add_argument("--batch-size", type=int, default=8192, metavar="B", help="cases per batch (default 8192)")
    val.add_argument("--max-rate", type=float, default=0.0, metavar="R", help="violation rate a law may have (default 0)")
    val.add_argument("--laws", default=None, metavar="NAME[,NAME...]", help="check only these laws")
    val.add_argument(
        "--dim", action="append", default=[], metavar="NAME=SIZE", help="size of a symbolic dim of drawn tensors (default N=8)"
    )
    val.add_argument("--json", default=None, metavar="OUT", help="write the report as JSON ('-': standard output)")
    val.add_argument("--plot", default=None, metavar="OUT.png", help="plot rates and violation magnitudes (matplotlib)")
    val.add_argument("--param", action="append", default=[], metavar="NAME=INT", help="override a 'param' (repeatable)")
    from .audit import add_audit_parser  # the audit command (imports torch only when run)

    add_audit_parser(sub)
    from .check_data import add_check_data_parser
    from .suggest import add_suggest_parser

    add_check_data_parser(sub)
    add_suggest_parser(sub)
    return parser


def _check(args) -> int:
    from ..pipeline import check, load, parse_param_overrides

    overrides = parse_param_overrides(args.param)
    color = _color(sys.stderr)
    failed = 0
    warned = 0
    for file in args.files:
        require_file(file)
        try:
            spec = check(load(file, params=overrides))
        except SpecError as err:
            failed += 1
            print(err.render(color, warnings=not args.quiet), file=sys.stderr)
            continue
        if spec.warnings and not args.quiet:
            warned += len(spec.warnings)
            print(spec.render_warnings(color), file=sys.stderr)
    if not args.quiet:
        n = len(args.files)
        files = f"{n} file{'s' if n != 1 else ''}"
        if failed:
            print(f"symspec: {failed} of {files} invalid", file=sys.stderr)
        else:
            extra = f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""
            write_stdout(f"symspec: {files} ok{extra}\n")
    return 1 if failed else 0


def _load_one(file: str, params: list):
    from ..pipeline import load, parse_param_overrides

    overrides = parse_param_overrides(params)
    require_file(file)
    return load(file, params=overrides)


def _explain(args) -> int:
    import json

    from ..analysis.ir import explain_json, explain_text

    try:
        spec = _load_one(args.file, args.param)
    except SpecError as err:
        print(err.render(_color(sys.stderr)), file=sys.stderr)
        return 1
    layers = _layers(spec)
    if args.json:
        write_stdout(json.dumps({**explain_json(spec), "layers": layers}, indent=2) + "\n")
    else:
        write_stdout(explain_text(spec) + _layers_text(layers) + "\n")
        if spec.warnings:
            print(spec.render_warnings(_color(sys.stderr)), file=sys.stderr)
    return 0


def _layers(spec) -> list:
    """What each layer compiles to (``[]`` without layers); a layer that does not compile is reported by ``check``."""
    if not spec.layers:
        return []
    from ..codegen.module import describe_layers

    return describe_layers(spec)


def _layers_text(layers: list) -> str:
    lines = ["", "", "layers"] if layers else []
    for d in layers:
        lines.append(f"  {d['name']}: {d['source']} -> {d['target']} under {d['group']}  line {d['line']}")
        lines.append(f"    rt.{d['class']}" + (f" ({d['detail']})" if d["detail"] else ""))
    return "\n".join(lines)


def _compile(args) -> int:
    from ..codegen import compile_source

    try:
        spec = _load_one(args.file, args.param)
        source = compile_source(spec, args.output)
    except SpecError as err:
        print(err.render(_color(sys.stderr)), file=sys.stderr)
        return 1
    if args.output is None:
        write_stdout(source)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(source)
    except OSError as err:
        raise UsageError(f"cannot write '{args.output}': {err.strerror or err}") from None
    return 0


def _fmt(args) -> int:
    from .fmt import run_fmt

    return run_fmt(args, _color(sys.stderr), write_stdout)


def _validate(args) -> int:
    from ..validation.cli import run_validate

    return run_validate(args, _load_one, _color(sys.stderr), write_stdout)


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # an unknown option after a command: that command's usage, not the top-level one
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        (commands.choices.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "compile":
            return _compile(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "fmt":
            return _fmt(args)
        if args.command == "audit":
            from .audit import run_audit

            return run_audit(args, write_stdout)
        if args.command == "check-data":
            from .check_data import run_check_data

            return run_check_data(args, write_stdout)
        if args.command == "suggest":
            from .suggest import run_suggest

            return run_suggest(args, write_stdout)
    except UsageError as err:
        print(f"symspec: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except BrokenPipeError:  # the reader stopped early (| head): not an error of ours
        _silence_stdout()
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
