"""``symspec validate``: build the models from factories, load checkpoints, validate, print, exit 0/1/2."""

from __future__ import annotations

import importlib
import inspect
import os
import sys

from ..errors import ModelError, SpecError, UsageError

__all__ = ["run_validate", "load_factory", "build_models"]


def _split_named(items: list, what: str, models: list) -> dict:
    """``[NAME=]VALUE`` items as {model: value}; a bare VALUE belongs to the spec's only model."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or ":" in name or "/" in name or os.sep in name:
            if len(models) != 1:
                raise UsageError(f"the spec has the models {', '.join(models)}: write --{what} NAME={item}")
            name, value = models[0], item
        if name not in models:
            raise UsageError(f"--{what} {item}: the spec has no model '{name}'; its models: {', '.join(models)}")
        if name in out:
            raise UsageError(f"--{what} given twice for model '{name}'")
        out[name] = value
    return out


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
    except Exception as err:  # the user's module failed while importing
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
        except Exception as err:
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


def run_validate(args, load_one, color: bool) -> int:
    from .run import validate

    try:
        spec = load_one(args.file, args.param)
    except SpecError as err:
        print(err.render(color), file=sys.stderr)
        return 2
    names = list(spec.models)
    if not args.model:
        raise UsageError(f"give the model(s) with --model: {', '.join(f'{n}=PKG.MOD:FACTORY' for n in names)}")
    refs = _split_named(args.model, "model", names)
    missing = [n for n in names if n not in refs]
    if missing:
        raise UsageError(f"no --model for {', '.join(missing)}")
    for option, value in (("--samples", args.samples), ("--batch-size", args.batch_size), ("--cap", args.cap)):
        if value < 1 and not (option == "--cap" and value == 0):
            raise UsageError(f"{option} must be positive, got {value}")
    models = build_models(refs, _split_named(args.checkpoint, "checkpoint", names), dict(spec.params))
    laws = [x.strip() for x in args.laws.split(",") if x.strip()] if args.laws else None
    try:
        report = validate(
            spec,
            samples=args.samples,
            seed=args.seed,
            device=args.device,
            batch_size=args.batch_size,
            cap=args.cap,
            max_rate=args.max_rate,
            laws=laws,
            **models,
        )
    except RuntimeError as err:  # e.g. an unknown device
        raise UsageError(str(err).splitlines()[0]) from None
    print(report.render())
    if args.json == "-":
        print(report.to_json())
    elif args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(report.to_json() + "\n")
    if args.plot:
        report.plot(args.plot)
    return 0 if report.passed else 1
