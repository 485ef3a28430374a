"""How a command prints a report: the table (or the JSON with ``--json -``), the ``--json`` file, the ``--plot``."""

from __future__ import annotations

import os
import sys

from ..errors import UsageError


def use_color(stream) -> bool:
    """Whether to color what goes to ``stream``: a terminal, unless ``NO_COLOR`` is set or ``TERM`` is dumb."""
    return hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


__all__ = ["emit_report", "use_color"]


def emit_report(report, args, write_stdout) -> None:
    """Print ``report.render()`` (under ``--json -``: the JSON alone on stdout, the table on stderr), write
    ``report.to_json()`` to ``args.json`` and ``report.plot(args.plot)``; a file that cannot be written is a usage
    error naming the option."""
    text = report.render()
    if args.json == "-":  # stdout is the JSON alone (parseable as a whole); the table goes to stderr
        print(text, file=sys.stderr, flush=True)
        write_stdout(report.to_json() + "\n")
    else:
        write_stdout(text + "\n")
    if args.json and args.json != "-":
        try:
            with open(args.json, "w", encoding="utf-8") as f:
                f.write(report.to_json() + "\n")
        except OSError as err:
            raise UsageError(f"--json {args.json}: cannot write: {err.strerror or err}") from None
    if getattr(args, "plot", None):
        try:
            report.plot(args.plot)
        except ImportError as err:
            raise UsageError(f"--plot: {err}") from None
        except OSError as err:
            raise UsageError(f"--plot {args.plot}: cannot write: {err.strerror or err}") from None
        except ValueError as err:  # matplotlib: an unknown image format
            raise UsageError(f"--plot {args.plot}: {err}") from None
