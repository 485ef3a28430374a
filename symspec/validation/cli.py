"""``symspec validate``: build the models from factories, load checkpoints, validate, print, exit 0/1/2."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys

from ..cli.reports import emit_report
from ..errors import ModelError, SpecError, UsageError

__all__ = ["run_validate", "load_factory", "build_models"]


def _split_named(items: list, what: str, models: list, default: str | None = None) -> dict:
    """``[NAME=]VALUE`` items as {model: value}; a bare VALUE belongs to ``default`` (the one model it can mean)."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or ":" in name or "/" in name or os.sep in name:
            if default is None:
                raise UsageError(f"the spec has the models {', '.join(models)}: write --{what} NAME={item}")
            name, value = default, item
        if name not in models:
            raise UsageError(f"--{what} {item}: the spec has no model '{name}'; its models: {', '.join(models)}")
        if name in out:
            raise UsageError(f"--{what} given twice for model '{name}'")
        out[name] = value
    return out


def _writable(path: str, option: str) -> None:
    """A usage error unless ``path`` can be created: its folder exists and it is not a folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{option} {path}: is a directory")
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: no such directory '{os.path.dirname(path) or '.'}'")


def load_factory(ref: str):
    """``PKG.MOD:FACTORY`` imported (the current directory importable)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--model {ref}: expected PKG.MOD:FACTORY, e.g. mymodels:build")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ModelError(f"--model {ref}: cannot import '{module_name}': {err}") from None
    except (Exception, SystemExit) as err:  # the user's module failed (or exited) while importing
        raise ModelError(f"--model {ref}: importing '{module_name}' raised {type(err).__name__}: {err}") from None
    factory = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise ModelError(f"--model {ref}: '{module_name}' has no attribute '{attr}'")
        factory = getattr(factory, part)
    if not callable(factory):
        raise ModelError(f"--model {ref}: '{attr}' is not callable")
    return factory


def build_models(refs: dict, checkpoints: dict, params: dict) -> dict:
    """Call each factory (passing the spec's params it names), then load its checkpoint."""
    import torch

    models = {}
    for name, ref in refs.items():
        factory = load_factory(ref)
        try:
            accepted = inspect.signature(factory).parameters
            kwargs = {k: v for k, v in params.items() if k in accepted}
        except (TypeError, ValueError):
            kwargs = {}
        try:
            model = factory(**kwargs)
        except (Exception, SystemExit) as err:  # a factory that calls sys.exit is a broken model, not our exit code
            raise ModelError(f"factory {ref} for model '{name}' raised {type(err).__name__}: {err}") from None
        if not callable(model):
            raise ModelError(f"factory {ref} returned {type(model).__name__}, not a model")
        if name in checkpoints:
            path = checkpoints[name]
            if not os.path.isfile(path):
                raise UsageError(f"--checkpoint {path}: no such file")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as err:
                raise ModelError(f"cannot load checkpoint {path}: {type(err).__name__}: {err}") from None
            if isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
                state = next((state[k] for k in ("state_dict", "model") if isinstance(state.get(k), dict)), state)
            if not isinstance(model, torch.nn.Module):
                raise ModelError(f"model '{name}' is not a torch.nn.Module: cannot load {path} into it")
            try:
                model.load_state_dict(state)
            except Exception as err:
                raise ModelError(f"checkpoint {path} does not fit model '{name}': {err}") from None
        models[name] = model
    return models


def _laws(option: str | None, module) -> list | None:
    """``--laws A,B`` as law names (None: every law); unknown or no names are usage errors."""
    if option is None:
        return None
    from .run import select_laws

    names = [x.strip() for x in option.split(",") if x.strip()]
    if not names:
        raise UsageError(f"--laws {option!r} names no law; the spec's laws: {', '.join(module.LAWS)}")
    try:
        return select_laws(module, names)
    except UsageError as err:
        raise UsageError(f"--laws {option}: {err}") from None


def _dims(items) -> dict:
    """``--dim NAME=INT`` items as {name: size}: the sizes of symbolic dims of drawn tensors."""
    out: dict = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier() or not value.isdigit() or len(value) > 18 or int(value) < 1:
            raise UsageError(f"--dim expects NAME=SIZE with a size of at least 1, got '{item}'")
        out[name] = int(value)
    return out


def _join_torchrun(device: str | None) -> tuple[bool, str | None]:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1): join its process group; (joined here, this rank's device).

    ``gloo`` on the CPU, ``nccl`` with ``--device cuda`` (then ``cuda:LOCAL_RANK``).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False, device
    from ..distributed import init_from_env

    if device is not None and device.split(":")[0] == "cuda" and ":" not in device:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return init_from_env(device), device


def run_validate(args, load_one, color: bool, write_stdout) -> int:
    """``symspec validate``: the table on stdout (on stderr under ``--json -``, which keeps stdout for the JSON alone)."""
    from ..runtime.calls import describe_missing
    from .run import check_dims, compile_for_validation, needed_models, validate

    try:
        spec = load_one(args.file, args.param)
        module = compile_for_validation(spec)
    except SpecError as err:
        print(err.render(color), file=sys.stderr)
        return 2
    names = list(spec.models)
    laws = _laws(args.laws, module)
    dims = _dims(getattr(args, "dim", None))
    check_dims(module, dims, lambda name: f"--dim {name}={dims[name]}")  # before any factory runs
    for option, value in (("--samples", args.samples), ("--batch-size", args.batch_size), ("--cap", args.cap)):
        if value < 1 and not (option == "--cap" and value == 0):
            raise UsageError(f"{option} must be positive, got {value}")
    if not 0 <= args.max_rate <= 1:
        raise UsageError(f"--max-rate must be between 0 and 1, got {args.max_rate}")
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path and not (option == "--json" and path == "-"):
            _writable(path, option)
    checked = [n for n in (laws or module.LAWS) if module.CHECKS[n]["error"] is None]
    needed = needed_models(module, checked)
    if not args.model:
        wanted = [n for n in names if n in needed] or names
        raise UsageError(f"give the model(s) with --model: {', '.join(f'{n}=PKG.MOD:FACTORY' for n in wanted)}")
    default = next(iter(needed)) if len(needed) == 1 else names[0] if len(names) == 1 else None
    refs = _split_named(args.model, "model", names, default)
    missing = describe_missing(needed, refs)
    if missing:
        raise UsageError("no --model for " + "; ".join(f"{m} (used by {users})" for m, users in missing.items()))
    checkpoints = _split_named(args.checkpoint, "checkpoint", names, default)
    stray = [m for m in checkpoints if m not in refs]
    if stray:
        raise UsageError(f"--checkpoint for {', '.join(stray)} without a --model for it")
    # under --json -, whatever the user's factories and models print goes to stderr: stdout is the JSON alone
    quiet = contextlib.redirect_stdout(sys.stderr) if args.json == "-" else contextlib.nullcontext()
    joined, device = _join_torchrun(args.device)
    try:
        with quiet:
            if joined:  # every rank builds the same initial weights (a checkpoint then replaces them)
                import torch

                torch.manual_seed(args.seed)
            models = build_models(refs, checkpoints, dict(spec.params))
            try:
                report = validate(
                    module,
                    samples=args.samples,
                    seed=args.seed,
                    device=device,
                    batch_size=args.batch_size,
                    cap=args.cap,
                    max_rate=args.max_rate,
                    laws=laws,
                    models=models,
                    dims=dims,
                )
            except RuntimeError as err:  # e.g. an unknown device, or tensors of the wrong size
                hint = getattr(err, "dims_hint", None)  # a symbolic dim took its default size: say so
                first = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise UsageError(first + (f"; {hint}" if hint else "")) from None
        if joined:  # the ranks meet before leaving: none destroys its group while a peer still reads from it
            torch.distributed.barrier()
    finally:
        if joined:
            import torch

            torch.distributed.destroy_process_group()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports
        return 0 if report.passed else 1
    emit_report(report, args, write_stdout)
    return 0 if report.passed else 1
