"""``symspec fmt FILE...``: rewrite .sym files in the canonical layout (docs/tooling.md).

Exit codes: 0 done (or, with ``--check``, nothing would change); 1 a file
has a syntax error (it is left as it is) or, with ``--check``, would change;
2 usage errors.  ``-`` reads standard input and writes the result to
standard output.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile

from ..errors import SpecError, UsageError, require_file

__all__ = ["run_fmt"]


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    require_file(file)
    try:
        with open(file, "rb") as f:
            return f.read()
    except OSError as err:
        raise UsageError(f"cannot read '{file}': {err.strerror or err}") from None


def _write(file: str, text: str) -> None:
    """Replace ``file``'s content at once (a temporary file renamed over it), keeping its permissions."""
    folder = os.path.dirname(os.path.abspath(file))
    try:
        mode = os.stat(file).st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=".symspec-fmt-", suffix=".sym", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, file)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as err:
        raise UsageError(f"cannot write '{file}': {err.strerror or err}") from None


def run_fmt(args, color: bool, write_stdout) -> int:
    """Format ``args.files``; ``args.check``: only say which would change; ``args.diff``: print the changes."""
    from ..syntax.fmt import decode, format_source

    failed = changed = 0
    for file in args.files:
        data = _read(file)
        name = "<stdin>" if file == "-" else file
        try:
            text = decode(data, name)
            result = format_source(text, name)
        except SpecError as err:
            failed += 1
            print(err.render(color), file=sys.stderr)
            continue
        if file == "-" and not (args.check or args.diff):
            write_stdout(result)
            continue
        if result == text:
            continue
        changed += 1
        if args.diff:
            write_stdout(
                "".join(
                    difflib.unified_diff(
                        text.splitlines(keepends=True), result.splitlines(keepends=True), f"{name}", f"{name} (formatted)"
                    )
                )
            )
        if args.check:
            print(f"would reformat {name}", file=sys.stderr)
        elif not args.diff:
            _write(file, result)
            print(f"reformatted {name}", file=sys.stderr)
    if failed or (args.check and changed):
        return 1
    return 0
