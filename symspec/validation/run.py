"""``symspec.validate``: every law of a spec checked on a model, exhaustively or by Monte Carlo.

The compiled module's ``Validator`` holds one check per law; this module
chooses the cases (every combination of the law's finite variables when
there are at most ``cap``, else ``samples`` random draws made exactly as the
loss makes them), runs them in batches on the model's device, and sums up.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
import os
import sys
import time
from collections.abc import Iterable, Mapping

import torch

from ..codegen.terms import tolerances
from ..errors import ModelError, UsageError
from ..runtime.calls import describe_missing, gather_models, models_needed
from ..runtime.descriptors import ClassOutput, GroupElements, Real, TensorOf, TensorOutput, Values
from .report import LawReport, Report, wilson_interval
from .shard import is_leader, law_seed, merge, raise_together, rank_batches
from .tabulate import Deduplicated, mixed_radix

__all__ = [
    "validate",
    "needed_models",
    "select_laws",
    "unknown_laws",
    "symbolic_dims",
    "check_dims",
    "identity_free",
    "identity_skip",
    "first_values",
    "compile_for_validation",
]

MAGNITUDES_KEPT = 10_000  # violation magnitudes kept per law for the plot
RESIDUALS_KEPT = 1_000_000  # residuals kept per law for the quantiles (a uniform sample beyond)
QUANTILES = (0.5, 0.9, 0.99)
SEED_LIMIT = 2**43  # seed * 1_000_003 + law index must fit a torch generator's int64 seed
DEFAULT_DIMS = {"N": 8}  # the size of a symbolic dim N of drawn tensors when dims (--dim) does not give one
IDENTITY_FREE = "_symspec_identity_free"  # the attribute compile_for_validation sets: identity_free(spec)


def _device_of(models: dict):
    for m in models.values():
        if isinstance(m, torch.nn.Module):
            for p in m.parameters():
                return p.device
            for b in m.buffers():
                return b.device
    return torch.device("cpu")


def _as_python(x):
    """A case's value for a report: a number, a short list, or a tensor's shape and norm."""
    if x.dim() == 0:
        v = x.item()
        return float(v) if isinstance(v, float) else v
    if x.numel() <= 16:
        return x.tolist()
    return {"shape": list(x.shape), "norm": float(x.float().norm())}


def _progress(total: int, enabled: bool | None, desc: str):
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="case", unit_scale=True, leave=False, file=sys.stderr)


class _Residuals:
    """The residuals of a law's checked cases: exact maxima, and a bounded uniform sample for the quantiles.

    Every case gets a random key (from its own generator: the law's draws are unchanged); the
    ``keep`` cases with the smallest keys are a uniform sample without replacement of all the
    cases seen (bottom-k sampling), pruned in one vectorized step whenever twice as many are held.
    With at most ``keep`` cases, every case is kept and the quantiles are exact.
    """

    def __init__(self, keep: int, device, seed: int):
        self.keep = keep
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.device = device
        self.parts: list = []  # (keys, absolute, relative)
        self.held = 0
        self.cases = 0
        self.threshold = math.inf  # keys above it can never be among the kept
        self.max_abs = torch.zeros((), dtype=torch.float64, device=device)
        self.max_rel = torch.zeros((), dtype=torch.float64, device=device)

    def add(self, absolute: torch.Tensor, relative: torch.Tensor, n: int) -> None:
        if not n:
            return
        self.cases += n
        self.max_abs = torch.maximum(self.max_abs, absolute.max())
        self.max_rel = torch.maximum(self.max_rel, relative.max())
        keys = torch.rand(n, generator=self.generator, device=self.device, dtype=torch.float64)
        if self.threshold < math.inf:
            low = keys < self.threshold
            keys, absolute, relative = keys[low], absolute[low], relative[low]
        self.parts.append((keys, absolute, relative))
        self.held += int(keys.shape[0])
        if self.held > 2 * self.keep:
            self._prune()

    def _prune(self) -> None:
        keys, absolute, relative = (torch.cat(t) for t in zip(*self.parts))
        if keys.shape[0] > self.keep:
            kept = keys.topk(self.keep, largest=False).indices
            keys, absolute, relative = keys[kept], absolute[kept], relative[kept]
            self.threshold = float(keys.max())
        self.parts = [(keys, absolute, relative)]
        self.held = int(keys.shape[0])

    def summary(self) -> dict | None:
        """``{"abs": {...}, "rel": {...}, "cases", "sample"}``: quantiles p50/p90/p99 and max, or None with no case."""
        if not self.cases:
            return None
        self._prune()
        _, absolute, relative = self.parts[0]
        q = torch.tensor(QUANTILES, dtype=torch.float64, device=absolute.device)
        out = {"cases": self.cases, "sample": int(absolute.shape[0])}
        for key, values, top in (("abs", absolute, self.max_abs), ("rel", relative, self.max_rel)):
            quantiles = torch.quantile(values, q, interpolation="higher").tolist()
            out[key] = {**{f"p{round(p * 100)}": v for p, v in zip(QUANTILES, quantiles)}, "max": float(top)}
        return out


class _Law:
    """Running sums of one law's check over its batches."""

    def __init__(self, keep: int, residuals: _Residuals | None = None):
        self.keep = keep
        self.cases = self.skipped = self.violations = self.nonfinite = 0
        self.loss_sum = 0.0
        self.loss_terms: list = []  # each batch's term of loss_sum, in order (a sharded run adds them up in the same order)
        self.worst: list = []  # (loss, example)
        self.magnitudes: list = []
        self.residuals = residuals
        self.has_residual = False

    def add(self, out: dict) -> None:
        mask, holds, finite, loss = out["mask"], out["holds"], out["finite"], out["loss"]
        if self.residuals is not None and "residual" in out:  # a law relating reals or tensors
            self.has_residual = True
            absolute, relative = out["residual"]
            self.residuals.add(absolute[mask], relative[mask], int(mask.sum()))
        bad = mask & ~holds
        ok = mask & finite
        term = torch.where(ok, loss.double(), torch.zeros((), dtype=torch.float64, device=loss.device)).sum()
        sums = torch.stack([mask.sum(), (~mask).sum(), bad.sum(), (mask & ~finite).sum()]).double()
        *counts, term = torch.cat([sums, term.reshape(1)]).tolist()  # one host sync per batch
        counts = [int(c) for c in counts]
        self.cases += counts[0]
        self.skipped += counts[1]
        self.violations += counts[2]
        self.nonfinite += counts[3]
        term = term if counts[0] else 0.0
        self.loss_terms.append(term)
        self.loss_sum += term
        if not counts[2]:
            return
        scored = torch.where(bad, loss.nan_to_num(nan=float("inf"), posinf=float("inf")), torch.full_like(loss, -1.0))
        k = min(self.keep, counts[2])
        top, idx = scored.topk(k)
        floor = self.worst[-1][0] if self.worst and len(self.worst) >= self.keep else -math.inf
        for value, i in zip(top.tolist(), idx.tolist()):
            if value <= floor and len(self.worst) >= self.keep:
                break
            example = {
                "values": {k2: _as_python(v[i]) for k2, v in out["values"].items()},
                "sides": {k2: _as_python(v[i]) for k2, v in out["sides"].items()},
                "loss": value,
            }
            if not bool(out["finite"][i]):
                example["nonfinite"] = True
            self.worst.append((value, example))
        self.worst.sort(key=lambda t: -t[0])
        del self.worst[self.keep :]
        room = MAGNITUDES_KEPT - len(self.magnitudes)
        if room > 0:
            self.magnitudes += loss[bad][:room].float().tolist()


def first_values(variables: dict, names, skip: dict | None = None) -> list:
    """The first enumerated value of each of ``names``: its domain's ``lo`` (0 for a group's element index), plus
    ``skip``'s count for a variable whose first values are left out."""
    skip = skip or {}
    return [(variables[v].domain.lo if isinstance(variables[v].domain, Values) else 0) + skip.get(v, 0) for v in names]


def _enumerate(variables: dict, sizes: dict, start: int, stop: int, device, skip: dict | None = None) -> dict:
    """Cases ``start..stop-1`` of the product of the variables' ranges (last variable fastest).

    ``skip``: variables whose first values are left out (a group variable whose element 0, the identity, is
    not a case: its ``sizes`` entry already excludes it).
    """
    lows = first_values(variables, sizes, skip)
    index = torch.arange(start, stop, device=device)
    return dict(zip(sizes, mixed_radix(index, list(sizes.values()), lows)))


def _draw(variables: dict, m: int, generator, device, inputs: dict, dims: dict, dtype, drawn: dict | None = None) -> dict:
    """Monte Carlo cases: the batch variables drawn (uniform values, rows of ``inputs``, or standard normals).

    ``drawn`` collects the sizes given to the symbolic dims of the tensors drawn (``{"N": 8}``).
    """
    values = {}
    for var, desc in variables.items():
        if desc.source != "batch":
            continue
        domain = desc.domain
        if var in inputs:
            data = inputs[var]
            rows = torch.randint(0, data.shape[0], (m,), generator=generator, device=device)
            values[var] = data.to(device)[rows]
        elif isinstance(domain, Values):
            values[var] = torch.randint(domain.lo, domain.hi, (m,), generator=generator, device=device)
        elif isinstance(domain, Real) and domain.lo is not None:  # real(lo, hi): uniform, as a law variable
            u = torch.rand(m, generator=generator, device=device, dtype=dtype)
            values[var] = domain.lo + (domain.hi - domain.lo) * u
        elif isinstance(domain, Real):
            values[var] = torch.randn(m, generator=generator, device=device, dtype=dtype)
        else:
            shape = []
            for d in domain.dims:
                if isinstance(d, str):
                    if d not in dims:
                        raise UsageError(f"input '{var}' has the symbolic dim {d}: give its size with dims={{'{d}': ...}}")
                    if drawn is not None:
                        drawn[d] = dims[d]
                    d = dims[d]
                shape.append(d)
            values[var] = torch.randn(m, *shape, generator=generator, device=device, dtype=dtype)
    return values


def _space(validator, variables: dict, only_batch: bool = False):
    """Each variable's number of values (only the batch variables' when ``only_batch``) if all are finite, else None."""
    sizes = {}
    for var, desc in variables.items():
        if only_batch and desc.source != "batch":
            continue
        if isinstance(desc.domain, Values):
            sizes[var] = desc.domain.size
        elif isinstance(desc.domain, GroupElements):
            sizes[var] = int(getattr(validator, desc.domain.table).shape[0])
        else:
            return None
    return sizes or None


def validate(
    spec,
    /,
    *,
    samples: int = 10_000,
    seed: int = 0,
    device=None,
    batch_size: int = 8192,
    cap: int = 1_000_000,
    max_rate: float = 0.0,
    laws=None,
    inputs: dict | None = None,
    dims: dict | None = None,
    examples: int = 5,
    params: dict | None = None,
    progress: bool | None = None,
    tabulate: bool | None = None,
    models: dict | None = None,
    shard: bool | None = None,
    **named,
) -> Report:
    """Check every law of ``spec`` on ``models``; see docs/validation.md.

    ``spec``: a path, a loaded :class:`~symspec.Spec`, or a compiled module.
    A law is checked on every combination of its finite variables when there
    are at most ``cap`` ("exhaustive"), else on every input with the law's own
    variables drawn, repeated up to ``samples`` cases, when the inputs alone
    are at most ``cap`` ("every input"), else on ``samples`` Monte Carlo cases; draws come from a
    generator seeded with ``seed``. A law passes when its violation rate is
    at most ``max_rate``. ``inputs`` gives data for tensor/real inputs (rows
    are drawn from it; standard normals otherwise, with ``dims`` sizing
    symbolic dims). Models move to ``device`` when it is given and run in
    eval mode under ``torch.inference_mode``. A model on finite inputs
    with fewer inputs than some law has cases is evaluated once on every
    input and read by indexing (``tabulate=None``; True forces it where
    possible, False never): the same outputs for a deterministic model.
    ``models`` (a mapping, name -> model; or by keyword, ``add=model``,
    for names unlike this function's keywords) are the ones the checked
    laws call (``laws``: names, default all); the spec's other models may
    be left out. Inside an initialized ``torch.distributed`` process group
    of several ranks every rank checks its share of the cases and all
    return the merged report (``shard=None``; False: this process checks
    every case, for a call on one rank only; docs/distributed.md).
    """
    module = _module(spec, params if params is None or isinstance(params, Mapping) else None)
    models = _gather(module, models, named, locals())  # first: a model named like an option is not that option
    samples, seed, batch_size, cap, examples = _check_options(samples, seed, batch_size, cap, max_rate, examples)
    if shard is not None and not isinstance(shard, bool):
        raise UsageError(f"shard must be None, True or False, got {shard!r}")
    if params is not None and not isinstance(params, Mapping):
        raise UsageError(f"params must be a mapping of parameter name -> integer, got {type(params).__name__}")
    for option, value in (("inputs", inputs), ("dims", dims)):
        if value is not None and not isinstance(value, Mapping):
            raise UsageError(f"{option} must be a mapping, got {type(value).__name__}")
    inputs = dict(inputs or {})
    bad = [k for k, v in inputs.items() if not isinstance(v, torch.Tensor) or v.dim() == 0 or v.shape[0] == 0]
    if bad:
        raise UsageError(f"inputs['{bad[0]}'] must be a tensor with at least one row (one input per row)")
    given_dims = {k: _integer(f"dims['{k}']", v, 1) for k, v in (dims or {}).items()}
    check_dims(module, given_dims, lambda name: f"dims['{name}']")
    dims = {**DEFAULT_DIMS, **given_dims}
    defaulted = {k: v for k, v in DEFAULT_DIMS.items() if k not in given_dims}
    names = select_laws(module, laws)
    needed = needed_models(module, [n for n in names if module.CHECKS[n]["error"] is None])
    missing = describe_missing(needed, models)
    extra = sorted(set(models) - set(module.MODELS))
    if missing or extra:
        how = ""
        if missing:
            given = ", ".join(f"'{m}': ..." for m in missing)
            how = (
                f"; pass {'it' if len(missing) == 1 else 'them'} as models={{{given}}}, or leave the laws that use "
                f"{'it' if len(missing) == 1 else 'them'} out with laws=[...] (or validate spec.select([...]), "
                "a spec with only the laws named)"
            )
        raise ModelError(
            f"spec {module.SPEC} needs the model(s) {', '.join(sorted(needed)) or 'none'} for the laws checked"
            + "".join(f"; missing {m} (used by {users})" for m, users in missing.items())
            + (f"; unknown {', '.join(extra)} (the spec's models: {', '.join(module.MODELS)})" if extra else "")
            + how
        )
    device = _resolve_device(device) if device is not None else _device_of(models)
    dtype = next((p.dtype for m in models.values() if isinstance(m, torch.nn.Module) for p in m.parameters()), torch.float32)
    validator = module.Validator(models=models).to(device)
    modes = {name: m.training for name, m in models.items() if isinstance(m, torch.nn.Module)}
    for name in modes:
        models[name].eval()
    report = Report(
        module.SPEC, module.LAWS[names[0]]["span"].rsplit(":", 2)[0] if names else "", seed, str(device), samples, cap
    )
    try:
        with torch.inference_mode():
            plans = {  # per law (mode, enumerated sizes, cases, identity skipped), decided once
                n: _plan(validator, module.CHECKS[n]["variables"], samples, cap, inputs, identity_skip(validator, module, n))
                for n in names
                if module.CHECKS[n]["error"] is None
            }
            planned = sum(plan[2] for plan in plans.values())  # each case asks for at least one model call
            error = None
            try:
                report.tabulated = _tabulate(validator, module, set(needed), planned, batch_size, device, tabulate)
            except Exception as err:  # raised again on every rank of a process group (no rank left waiting)
                error = err
            raise_together(error, shard is not False)
            for index, name in enumerate(names):
                report.laws.append(
                    _validate_law(
                        validator,
                        module,
                        name,
                        index,
                        plans.get(name),
                        seed,
                        batch_size,
                        max_rate,
                        inputs,
                        dims,
                        dtype,
                        device,
                        examples,
                        progress,
                        shard is not False,
                        defaulted,
                    )
                )
    finally:
        for name, training in modes.items():
            models[name].train(training)
    return report


_KEYWORDS = (
    "samples", "seed", "device", "batch_size", "cap", "max_rate", "laws", "inputs", "dims", "examples", "params",
    "progress", "tabulate", "models", "shard",
)  # fmt: skip


def _integer(option: str, value, least: int) -> int:
    """``value`` as an int (anything with ``__index__`` but a bool), at least ``least``, else a UsageError."""
    try:
        number = operator.index(value) if not isinstance(value, bool) else None
    except TypeError:
        number = None
    if number is None:
        raise UsageError(f"{option} must be an integer, got {value!r}")
    if number < least:
        raise UsageError(f"{option} must be at least {least}, got {number}")
    return number


def _check_options(samples, seed, batch_size, cap, max_rate, examples) -> tuple:
    """Every option of :func:`validate` as the CLI checks it (a UsageError that names it and what it got).

    Returns (samples, seed, batch_size, cap, examples) as Python ints.
    """
    seed = _integer("seed", seed, -SEED_LIMIT)
    if abs(seed) >= SEED_LIMIT:
        raise UsageError(f"seed {seed}: must be smaller than {SEED_LIMIT} in magnitude")
    if isinstance(max_rate, bool) or not isinstance(max_rate, numbers.Real) or not 0 <= max_rate <= 1:
        raise UsageError(f"max_rate must be between 0 and 1, got {max_rate!r}")
    return (
        _integer("samples", samples, 1),
        seed,
        _integer("batch_size", batch_size, 1),
        _integer("cap", cap, 0),
        _integer("examples", examples, 0),
    )


def _close(name: str, known) -> str | None:
    """The known name closest to ``name`` (difflib, case-insensitive), or None when none is close."""
    lowered = {k.lower(): k for k in known}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def unknown_laws(names, known) -> str | None:
    """The message for law names not among ``known`` ("did you mean" the close ones), or None when all are known."""
    known = list(known)
    unknown = [n for n in names if n not in known]
    if not unknown:
        return None
    close = {n: _close(n, known) for n in unknown}
    close = {n: c for n, c in close.items() if c is not None}
    if len(unknown) == 1 and close:
        hint = f" (did you mean {close[unknown[0]]}?)"
    elif close:
        hint = " (did you mean " + ", ".join(f"{c} for {n}" for n, c in close.items()) + "?)"
    else:
        hint = ""
    return f"unknown law(s) {', '.join(unknown)}{hint}; the spec's laws: {', '.join(known) or 'none'}"


def symbolic_dims(module) -> list:
    """The symbolic dims of the spec's tensors (model inputs and outputs, law variables), sorted."""
    found = set()
    descriptors = [d for ds in module.INPUTS.values() for d in ds] + list(module.OUTPUTS.values())
    descriptors += [v.domain for info in module.CHECKS.values() for v in info["variables"].values()]
    for d in descriptors:
        if isinstance(d, TensorOf | TensorOutput):
            found |= {x for x in d.dims if isinstance(x, str)}
    return sorted(found)


def check_dims(module, dims, shown) -> None:
    """A usage error for a name in ``dims`` that is not a symbolic dim of the spec (``shown(name)``: as the user
    wrote it), listing the spec's symbolic dims, with a "did you mean" when one is close."""
    known = symbolic_dims(module)
    for name in dims:
        if name in known:
            continue
        if not known:
            raise UsageError(f"{shown(name)}: spec {module.SPEC} has no symbolic dims: there is nothing to size")
        close = _close(name, known)
        hint = f" (did you mean {close}?)" if close is not None else ""
        raise UsageError(
            f"{shown(name)}: spec {module.SPEC} has no symbolic dim '{name}'{hint}; its symbolic dims: {', '.join(known)}"
        )


def _with_dims_hint(err: Exception, drawn: dict, defaulted: dict) -> Exception:
    """``err`` with a hint when the law drew tensors with a symbolic dim at its default size (the model may expect
    another): a symspec error is raised again with the hint in its message; any other keeps its type, the hint
    appended to its message and held as ``err.dims_hint`` (the CLI shows a first line and the hint)."""
    used = {k: v for k, v in drawn.items() if k in defaulted}
    if not used:
        return err
    sizes = ", ".join(f"{k} took its default size {v}" for k, v in used.items())
    hint = (
        f"the symbolic dim {sizes}: if the model expects another size, give it with "
        + " ".join(f"--dim {k}=SIZE" for k in used)
        + " (dims={"
        + ", ".join(f"'{k}': SIZE" for k in used)
        + "} from Python)"
    )
    if isinstance(err, UsageError) and type(err).__init__ is Exception.__init__:  # ModelError, UsageError: a message
        out = type(err)(f"{err}; {hint}")
        out.__cause__ = err.__cause__
        return out
    if err.args and isinstance(err.args[0], str):
        err.args = (f"{err.args[0]}\n{hint}", *err.args[1:])
    err.dims_hint = hint
    return err


def identity_free(spec) -> dict:
    """law -> its group variable ``g`` when the law holds trivially at the identity: an equivariance law whose only
    transform parameter is ``g`` and which, with every ``g .`` removed, has the same call on both sides
    (``f(g . x) == g . f(x)``, ``d(g . u, g . v) == d(u, v)``). Enumerating its cases leaves the identity out.
    A law that can fail at the identity (``f(g . a + 1) == g . f(a) + 1``, ``h(g . b, g . a) == h(a, b)``) is not
    listed, nor a constant element (``D4.r``, a dotted name)."""
    from ..syntax import ast

    ir = getattr(spec, "ir", None)
    out = {}
    for name, law in (getattr(ir, "laws", None) or {}).items():
        sides = getattr(law, "sides", None)
        if str(getattr(law, "law_class", "")) != "equivariance" or not sides or len(sides) != 5:
            continue
        base, base_ops, moved, moved_ops, params = sides
        if len(params) != 1 or not params[0].isidentifier():
            continue
        g = params[0]

        def is_g(e, g=g):
            return isinstance(e, ast.Name) and e.name == g

        if not all(kind == "act" and is_g(arg) for kind, arg in (*base_ops, *moved_ops)):
            continue
        args = []
        for a in moved.args:
            while isinstance(a, ast.Act) and is_g(a.element):
                a = a.operand
            args.append(a.name if isinstance(a, ast.Name) else None)
        plain = [a.name if isinstance(a, ast.Name) else None for a in base.args]
        if base.func.name == moved.func.name and None not in args and args == plain:
            out[name] = g
    return out


def identity_skip(validator, module, law: str) -> dict:
    """{g: 1} when the law's enumerated group variable ``g`` has a trivial identity case (element 0) and the
    group has another element; else {} (also for a module not from :func:`compile_for_validation`)."""
    var = getattr(module, IDENTITY_FREE, {}).get(law)
    desc = module.CHECKS[law]["variables"].get(var) if var is not None else None
    if desc is None or not isinstance(desc.domain, GroupElements):
        return {}
    return {var: 1} if int(getattr(validator, desc.domain.table).shape[0]) > 1 else {}


def compile_for_validation(spec):
    """``spec`` (a :class:`~symspec.Spec`) compiled, with what validation needs of its text kept for the module."""
    from ..pipeline import compile as compile_spec

    module = compile_spec(spec)
    setattr(module, IDENTITY_FREE, identity_free(spec))
    return module


def select_laws(module, laws) -> list:
    """The laws to check: all (``None``), one name (a string), or a collection of names."""
    if not module.LAWS:
        raise UsageError(f"spec {module.SPEC} states no law: there is nothing to validate")
    if laws is None:
        names = list(module.LAWS)
    elif isinstance(laws, str):
        names = [laws]
    elif isinstance(laws, bytes) or not isinstance(laws, Iterable):
        raise UsageError(f"laws must be a law name or a list of law names, got {laws!r}")
    else:
        names = list(dict.fromkeys(laws))
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise UsageError(f"laws must be law names (strings), got {bad[0]!r}")
    message = unknown_laws(names, module.LAWS)
    if message is not None:
        raise UsageError(message)
    if not names:
        raise UsageError(f"no law selected; the spec's laws: {', '.join(module.LAWS)}")
    return names


def _gather(module, models, named: dict, given: dict) -> dict:
    """The models, from ``models={...}`` or keywords; a model named like a keyword of validate must use the mapping."""
    defaults = validate.__kwdefaults__
    options = {k: (given[k], defaults[k]) for k in _KEYWORDS if k != "models"}  # spec is positional-only: no clash
    try:
        return gather_models("validate", module.MODELS, models, named, options)
    except TypeError as err:
        raise UsageError(str(err)) from None


def needed_models(module, names) -> dict:
    """model -> the laws among ``names`` that call it (``LAWS[law]["models"]`` of the compiled ``module``)."""
    return models_needed(module.LAWS, {}, module.MODELS, names)


def _resolve_device(device) -> torch.device:
    """``device`` as a torch.device that this machine has, or a usage error saying why not."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise UsageError(f"device {device!r}: {str(err).splitlines()[0]}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {str(device)!r}: CUDA is not available here (torch {torch.__version__})")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(f"device {str(device)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def _module(spec, params):
    if hasattr(spec, "Validator"):
        return spec
    from ..analysis import Spec
    from ..pipeline import load

    if not isinstance(spec, Spec):
        spec = load(os.fspath(spec), params=params)
    return compile_for_validation(spec)


def _plan(validator, variables: dict, samples: int, cap: int, inputs: dict, skip: dict | None = None) -> tuple:
    """(mode, enumerated variables' sizes, number of cases) of one law.

    ``skip``: {variable: 1} for a group variable whose identity (element 0) is not a case (:func:`identity_free`).
    """
    given = bool(set(variables) & set(inputs))
    sizes = _space(validator, variables)
    if sizes is not None and skip:
        sizes = {v: s - skip.get(v, 0) for v, s in sizes.items()}
    total = math.prod(sizes.values()) if sizes is not None else None
    if total is not None and total <= cap and not given:
        return "exhaustive", sizes, total, dict(skip or {})
    # every input, the law's own variables drawn, when the inputs alone fit under the cap
    sizes = _space(validator, variables, only_batch=True)
    total = math.prod(sizes.values()) if sizes is not None else None
    if total is not None and total <= cap and not given:  # each input as often as ``samples`` allows
        return "every input", sizes, total * max(1, min(samples, cap) // total), {}
    return "monte carlo", None, samples, {}


def _tabulate(validator, module, used: set, planned: int, batch_size, device, tabulate) -> dict:
    """Models in ``used`` on finite inputs with fewer inputs than the ``planned`` cases: evaluated once, then indexed.

    The other models in ``used`` on finite inputs evaluate each distinct input of a batch once
    (:class:`~symspec.validation.tabulate.Deduplicated`; ``_validate_law`` clears them per batch).
    """
    from .tabulate import MAX_TABLE_ENTRIES, Deduplicated, Tabulated, forward_chunk, table_size

    done = {}
    for model, domains in module.INPUTS.items():
        if model not in used or model not in validator.models:
            continue
        size = table_size(domains)
        output = module.OUTPUTS[model]
        if size is None:
            continue
        width = output.size if isinstance(output, ClassOutput) else 1
        table = tabulate is not False and not isinstance(output, TensorOutput) and size * width <= MAX_TABLE_ENTRIES
        if not table or (tabulate is None and size >= planned):
            chunk = forward_chunk(batch_size, device)
            validator.models[model] = Deduplicated(model, validator.models[model], domains, output, chunk)
            continue
        table = Tabulated(model, validator.models[model], domains, output, batch_size, device)
        validator.models[model] = table
        done[model] = {"inputs": table.inputs, "seconds": round(table.seconds, 4)}
    return done


def _validate_law(
    validator,
    module,
    name,
    index,
    plan,
    seed,
    batch_size,
    max_rate,
    inputs,
    dims,
    dtype,
    device,
    examples,
    progress,
    shard,
    defaulted=None,
) -> LawReport:
    meta = module.LAWS[name]
    info = module.CHECKS[name]
    law = LawReport(name, meta["span"], meta["class"], "not checked", tol=None, max_rate=max_rate)
    if info["error"] is not None:
        law.note = f"no check could be compiled: {info['error']}"
        return law
    variables = info["variables"]
    law.tol, law.rtol = tolerances(meta.get("tol"), meta.get("rtol"))
    generator = torch.Generator(device=device)
    generator.manual_seed(law_seed(seed * 1_000_003 + index, shard))
    law.mode, sizes, total, skip = plan
    enumerated = law.mode != "monte carlo"
    acc = _Law(examples, _Residuals(RESIDUALS_KEPT, device, law_seed(seed * 1_000_003 + index + 500_000, shard)))
    drawn: dict = {}
    starts = rank_batches(total, batch_size, shard)  # under torch.distributed: this rank's batches only
    share = min(total, starts[-1] + batch_size) - starts[0] if starts else 0
    bar = _progress(share, progress if is_leader(shard) else False, name)
    started = time.perf_counter()
    error = None
    try:
        for start in starts:
            stop = min(total, start + batch_size)
            if enumerated:
                values = _enumerate(variables, sizes, start, stop, device, skip)
            else:
                values = _draw(variables, stop - start, generator, device, inputs, dims, dtype, drawn)
            acc.add(validator.run(name, values, stop - start, device, generator))
            for model in validator.models.values():
                if isinstance(model, Deduplicated):
                    model.clear()  # outputs are shared within a batch only: memory bounded by the batch's calls
            if bar is not None:
                bar.update(stop - start)
    except Exception as err:  # raised again by merge, on every rank of a process group (no rank left waiting)
        error = _with_dims_hint(err, drawn, defaulted or {})
    if bar is not None:
        bar.close()
    law.seconds = time.perf_counter() - started
    acc = merge(acc, drawn, shard, MAGNITUDES_KEPT, error)  # every rank's sums, worst cases, residuals (one process: as is)
    law.cases, law.skipped, law.violations, law.nonfinite = acc.cases, acc.skipped, acc.violations, acc.nonfinite
    law.rate = acc.violations / acc.cases if acc.cases else 0.0
    exact = law.mode == "exhaustive"
    law.interval = (law.rate, law.rate) if exact else wilson_interval(acc.violations, acc.cases)
    law.passed = bool(acc.cases) and law.rate <= max_rate  # nothing checked is not a pass
    law.worst = acc.worst[0][0] if acc.worst else None
    finite_cases = acc.cases - acc.nonfinite
    law.divergence = acc.loss_sum / finite_cases if finite_cases else None
    law.examples = [ex for _, ex in acc.worst]
    law.magnitudes = acc.magnitudes
    law.dims = dict(sorted(drawn.items()))
    if acc.has_residual:
        law.residual = acc.residuals.summary()
    if acc.nonfinite:
        law.note = f"{acc.nonfinite} case(s) had non-finite (nan/inf) model outputs; they count as violations"
    elif not acc.cases:
        law.note = "no case satisfied the guard: nothing was checked, which is not a pass"
    return law
