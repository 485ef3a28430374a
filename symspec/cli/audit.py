"""``symspec audit``: build a model from a factory, draw or load an example batch, audit it, print/write the report.

``--input`` (repeatable, one per positional input): ``[DTYPE:]D1,D2,...[:HIGH]`` -- DTYPE ``float`` (default),
``double``, ``long`` or ``int``; integer inputs are uniform in ``[0, HIGH)``, HIGH defaulting to the smallest
``num_embeddings`` of the model's ``nn.Embedding`` modules.  ``--example PKG.MOD:FN``: ``FN()`` returns the inputs
(a tensor or a tuple).  Exit codes: 0 ok (every claim verified), 1 a claimed symmetry failed its check, 2 usage error.
"""

from __future__ import annotations

import contextlib
import math
import sys

from ..errors import ModelError, UsageError
from .reports import emit_report

__all__ = ["add_audit_parser", "run_audit", "parse_input", "MAX_INPUT_ENTRIES"]

MAX_INPUT_ENTRIES = 100_000_000
"""The largest random ``--input`` (entries): the audit differentiates the model on it, so a real batch is far smaller."""

_DTYPES = {
    "float": "float32",
    "float32": "float32",
    "double": "float64",
    "float64": "float64",
    "long": "int64",
    "int64": "int64",
    "int": "int64",
}


def add_audit_parser(sub) -> None:
    """The ``audit`` subcommand's options."""
    p = sub.add_parser("audit", help="count, verify and report a model's own parameter symmetries")
    p.add_argument("--model", required=True, metavar="PKG.MOD:FACTORY", help="a function that builds the model")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="[DTYPE:]SHAPE[:HIGH]",
        help="a random input of this shape, e.g. 8,16,32 or long:8,16 (repeatable: one per input)",
    )
    src.add_argument("--example", metavar="PKG.MOD:FN", help="a function returning the example inputs")
    p.add_argument("--logits", action="store_true", help="the output is logits read through a softmax")
    p.add_argument("--tol", type=float, default=1e-6, metavar="T", help="verification tolerance (default 1e-6)")
    p.add_argument("--no-rank", action="store_true", help="skip the functional rank")
    p.add_argument(
        "--max-rank-entries",
        type=int,
        default=20_000_000,
        metavar="N",
        help="largest Jacobian (outputs x parameters) for the rank (default 2e7)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the inputs and checks")
    p.add_argument("--json", default=None, metavar="OUT", help="write the report as JSON ('-': standard output)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="plot the per-head spectra (matplotlib)")


def parse_input(text: str) -> tuple[str, tuple, int | None]:
    """``[DTYPE:]D1,D2,...[:HIGH]`` as (dtype name, shape, high)."""
    parts = text.split(":")
    dtype = "float32"
    if parts and parts[0].strip().lower() in _DTYPES:
        dtype = _DTYPES[parts.pop(0).strip().lower()]
    elif parts and parts[0].strip() and not parts[0].strip()[0].isdigit():
        raise UsageError(f"--input {text}: unknown dtype '{parts[0]}' (float, double, long, int)")
    if not parts or len(parts) > 2:
        raise UsageError(f"--input {text}: expected [DTYPE:]D1,D2,...[:HIGH], e.g. 8,16 or long:4,32")
    try:
        shape = tuple(int(d) for d in parts[0].split(","))
        high = int(parts[1]) if len(parts) == 2 else None
    except ValueError:
        raise UsageError(f"--input {text}: sizes must be integers, e.g. 8,16 or long:4,32:100") from None
    if not shape or any(d < 1 for d in shape) or (high is not None and high < 1):
        raise UsageError(f"--input {text}: sizes must be positive")
    if math.prod(shape) > MAX_INPUT_ENTRIES:
        raise UsageError(f"--input {text}: {math.prod(shape):,} entries; an audit batch takes at most {MAX_INPUT_ENTRIES:,}")
    if high is not None and dtype != "int64":
        raise UsageError(f"--input {text}: HIGH is for integer inputs (long:SHAPE:HIGH)")
    return dtype, shape, high


def _inputs(args, model) -> tuple:
    import torch

    from ..validation.cli import load_factory

    if args.example:
        fn = load_factory(args.example)
        try:
            out = fn()
        except (Exception, SystemExit) as err:
            raise ModelError(f"--example {args.example} raised {type(err).__name__}: {err}") from None
        out = out if isinstance(out, tuple) else (out,)
        if not all(isinstance(x, torch.Tensor) for x in out):
            raise ModelError(f"--example {args.example} must return a tensor or a tuple of tensors")
        return out
    if not args.input:
        raise UsageError("give the example batch: --input SHAPE (e.g. --input 8,16,32) or --example PKG.MOD:FN")
    gen = torch.Generator().manual_seed(args.seed)
    out = []
    for text in args.input:
        dtype, shape, high = parse_input(text)
        if dtype == "int64":
            if high is None:
                sizes = [m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)]
                if not sizes:
                    raise UsageError(f"--input {text}: the model has no nn.Embedding; give the range: long:SHAPE:HIGH")
                high = min(sizes)
            out.append(torch.randint(0, high, shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen, dtype=getattr(torch, dtype)))
    return tuple(out)


def run_audit(args, write_stdout) -> int:
    """Build, audit, print; exit 1 when a claimed symmetry is refuted."""
    import torch

    from ..audit import audit
    from ..validation.cli import _writable, load_factory

    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path and not (option == "--json" and path == "-"):
            _writable(path, option)
    if not (math.isfinite(args.tol) and args.tol > 0):  # nan refuted every claim, inf verified anything
        raise UsageError(f"--tol must be a positive finite number, got {args.tol}")
    if args.max_rank_entries < 0:
        raise UsageError(f"--max-rank-entries must be >= 0, got {args.max_rank_entries}")
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json == "-" else contextlib.nullcontext()
    with quiet:
        factory = load_factory(args.model)
        try:
            model = factory()
        except (Exception, SystemExit) as err:
            raise ModelError(f"factory {args.model} raised {type(err).__name__}: {err}") from None
        if not isinstance(model, torch.nn.Module):
            raise ModelError(f"factory {args.model} returned {type(model).__name__}, not a torch.nn.Module")
        inputs = _inputs(args, model)
        try:
            with torch.no_grad():
                model.eval()(*inputs)
        except Exception as err:  # the model refuses this batch: a usage error, not our traceback
            shapes = ", ".join(f"{tuple(x.shape)} {str(x.dtype).removeprefix('torch.')}" for x in inputs)
            raise ModelError(f"the model raised {type(err).__name__} on inputs {shapes}: {str(err).splitlines()[0]}") from None
        report = audit(
            model,
            inputs,
            softmax_output=args.logits,
            tol=args.tol,
            rank=not args.no_rank,
            max_rank_entries=args.max_rank_entries,
            seed=args.seed,
        )
    emit_report(report, args, write_stdout)
    return 1 if report.rejected else 0
