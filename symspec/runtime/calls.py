"""Model calls of one loss step, evaluated in one batched forward per model.

Laws ask for model outputs on transformed inputs; ``CallBatch`` collects the
requests, then concatenates every request of a model into one forward and
splits the output (``fused=True``), or runs them one by one (``fused=False``:
less memory). The default fuses on accelerators, where one large forward
beats several launches, and not on the CPU, where the copies cost more than
they save (``benchmarks/bench_loss.py``: fused 1.2x slower on a 2-core CPU).
Requests that depend on other outputs (nested calls) go in a later round.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import torch

from ..errors import ModelError
from ..transforms import MAX_TABLE_ORDER
from .descriptors import BoolOutput, ClassOutput, RealOutput, TensorOf
from .fields import check_batch_fields
from .sampling import traceable

__all__ = [
    "CallBatch",
    "SymmetryLossBase",
    "gather_models",
    "draw_size",
    "SymmetrizedBase",
    "law_models",
    "models_needed",
    "describe_missing",
    "pick_model",
    "symmetrize_finite",
    "finite_group",
    "check_output",
    "input_sizes",
]


class CallBatch:
    """The model calls of one step: ``add`` requests, ``run`` evaluates them, ``batch[handle]`` reads an output.

    With ``outputs`` (model -> output descriptor, the module's ``OUTPUTS``)
    every output's type and shape is checked as validation checks it: a
    :class:`~symspec.errors.ModelError` naming the model, the shape expected
    and the shape got.
    """

    def __init__(self, models: dict, fused: bool | None = None, outputs: dict | None = None, inputs: dict | None = None):
        self.models = models
        self.inputs = inputs  # model -> its arguments' descriptors: the sizes of symbolic output dims
        self.fused = fused  # None: fuse on accelerators, not on the CPU (measured: benchmarks/bench_loss.py)
        self.kinds = outputs
        self.pending: list = []  # (handle, model, args)
        self.outputs: list = []
        self.called: dict = {}  # handle -> model

    def add(self, model: str, *args: torch.Tensor) -> int:
        handle = len(self.outputs) + len(self.pending)
        self.pending.append((handle, model, args))
        return handle

    def run(self) -> None:
        requests, self.pending = self.pending, []
        self.outputs.extend([None] * len(requests))
        by_model: dict = {}
        for handle, model, args in requests:
            by_model.setdefault(model, []).append((handle, args))
        for model, items in by_model.items():
            fn = self.models[model]
            fused = self.fused if self.fused is not None else items[0][1][0].device.type != "cpu"
            if not fused or len(items) == 1:
                for handle, args in items:
                    self.outputs[handle] = self._checked(model, fn(*args), args)
                    self.called[handle] = model
                continue
            sizes = [args[0].shape[0] for _, args in items]
            joined = [torch.cat([args[i] for _, args in items]) for i in range(len(items[0][1]))]
            for (handle, _), out in zip(items, torch.split(self._checked(model, fn(*joined), joined), sizes)):
                self.outputs[handle] = out
                self.called[handle] = model

    def _checked(self, model: str, out, args):
        if self.kinds is not None:
            self._check(model, out, self.kinds[model], args)
        return out

    def _check(self, model: str, out, kind, args) -> None:
        """:func:`check_output` of one call, its symbolic dims sized by its arguments when ``inputs`` was given."""
        sizes = input_sizes(args, self.inputs[model]) if self.inputs is not None else None
        check_output(model, out, kind, args[0].shape[0] if args else 0, sizes)

    @property
    def empty(self) -> bool:
        """Every call of this step had 0 inputs (an empty batch): the terms' means are over nothing."""
        return bool(self.called) and all(self.outputs[h] is not None and self.outputs[h].shape[:1] == (0,) for h in self.called)

    def nan_outputs(self) -> dict:
        """Model -> (inputs with a NaN output, inputs) over this step's calls, for the models that returned NaN."""
        out: dict = {}
        for handle, model in self.called.items():
            o = self.outputs[handle]
            if not isinstance(o, torch.Tensor) or not o.is_floating_point() or o.dim() == 0 or o.numel() == 0:
                continue
            bad = int(o.reshape(o.shape[0], -1).isnan().any(1).sum())
            if bad:
                seen = out.get(model, (0, 0))
                out[model] = (seen[0] + bad, seen[1] + o.shape[0])
        return out

    def __getitem__(self, handle: int) -> torch.Tensor:
        return self.outputs[handle]


def law_models(meta: dict, models: Iterable[str]) -> tuple:
    """The models one law calls, from its ``LAWS`` entry.

    ``meta["models"]`` when the generated module lists them; else the one
    model of an equivariance law (both sides call it, nothing else); else
    every model in ``models`` (a constraint's calls are not in the metadata).
    """
    named = meta.get("models")
    if named is not None:
        return tuple(named)
    if meta.get("class") == "equivariance" and meta.get("model"):
        return (meta["model"],)
    return tuple(models)


def models_needed(laws: dict, priors: dict, models: Collection[str], names: Iterable[str] | None = None) -> dict:
    """model -> the laws (and ``prior NAME``s) that call it, over the laws ``names`` (default: all) and every prior."""
    needed: dict = {}
    for name in laws if names is None else names:
        for model in law_models(laws[name], models):
            needed.setdefault(model, []).append(f"law {name}")
    for name, prior in priors.items():
        if prior.get("of") in models:
            needed.setdefault(prior["of"], []).append(f"prior {name}")
    return needed


def describe_missing(needed: dict, given: Collection[str]) -> dict:
    """Each needed model not in ``given`` -> who uses it (``"law a, prior b"``), sorted by model."""
    return {m: ", ".join(users) for m, users in sorted(needed.items()) if m not in given}


def gather_models(owner: str, spec_models, models, named: dict, options: dict) -> dict:
    """The models passed as one mapping (``models={...}``) or by keyword (``name=model``), as a dict.

    A model named like one of ``owner``'s keywords (``options``: keyword ->
    (value given, its default), and ``models`` itself) cannot be passed by
    keyword: that is a ``TypeError`` telling the caller to use ``models={...}``.
    """
    if models is not None and not isinstance(models, Mapping):
        if "models" in spec_models:
            raise TypeError(
                f"the model 'models' clashes with {owner}'s keyword models=: pass the models as {owner}(models={{'models': ...}})"
            )
        raise TypeError(f"{owner}: models= takes a mapping of model name -> model, got {type(models).__name__}")
    if models is not None:
        if named:
            raise TypeError(
                f"{owner}: pass the models either as models={{...}} or by keyword, not both (by keyword: {', '.join(named)})"
            )
        models = dict(models)
        stray = [m for m in models if not isinstance(m, str)]
        if stray:
            raise TypeError(f"{owner}: models= maps model names (strings) to models; got the key(s) {stray!r}")
        return models
    clashes = [k for k, (value, default) in options.items() if k in spec_models and value is not default]
    if clashes:
        name = clashes[0]
        raise TypeError(
            f"the model '{name}' clashes with {owner}'s keyword {name}=: pass the models as "
            f"{owner}(models={{'{name}': ...}}) (a model named like a keyword of {owner} cannot be passed by keyword)"
        )
    return dict(named)


class SymmetryLossBase(torch.nn.Module):
    """What every compiled ``SymmetryLoss`` shares: its models, tables, options and the weighted sum.

    A generated subclass sets ``MODELS`` (model -> parameter names),
    ``WEIGHTS`` (law or prior -> weight) and ``TABLES`` (buffer name -> index
    table), and writes ``forward``. It takes the models its laws and priors
    call (``LAWS``, ``PRIORS`` of its module); other models of the spec may
    be left out.
    """

    MODELS: dict = {}
    LAWS: dict = {}  # the generated module's LAWS (each law's metadata, "models" among it)
    PRIORS: dict = {}
    WEIGHTS: dict = {}
    TABLES: dict = {}
    check_nan = True  # a NaN loss is checked for (one host sync per step; False: skip it, the loss may be NaN)
    check_inputs = True  # batch fields checked against their domains (one host sync per step; False: skip it)

    def __init__(self, /, models=None, *, generator=None, fused=None, **named):  # self positional-only: a model may be named self
        super().__init__()
        models = gather_models(
            type(self).__name__, self.MODELS, models, named, {"generator": (generator, None), "fused": (fused, None)}
        )
        self._check_models(models)
        self.models = dict(models)
        for index, model in enumerate(self.models.values()):
            if isinstance(model, torch.nn.Module):
                self.add_module(f"model{index}", model)
        self._generator = generator
        self.fused = fused
        self.terms: dict = {}
        for name, table in self.TABLES.items():
            self.register_buffer(name, table, persistent=False)

    @property
    def generator(self) -> torch.Generator | None:
        """The draws' ``torch.Generator`` (None: the global stream); a TypeError naming the remedy under
        ``torch.compile``, which cannot trace one."""
        return traceable(self._generator)

    @generator.setter
    def generator(self, value: torch.Generator | None) -> None:
        self._generator = value

    def _check_models(self, models: dict) -> None:
        """Raise ``TypeError`` for a model the spec lacks or one that a law or prior needs and is not given."""
        needed = models_needed(self.LAWS, self.PRIORS, self.MODELS)
        missing = describe_missing(needed, models)
        unknown = sorted(set(models) - set(self.MODELS))
        if missing or unknown:
            keywords = [m for m in missing if m in ("models", "generator", "fused")]
            raise TypeError(
                f"{type(self).__name__} takes the models {sorted(self.MODELS)}; missing {sorted(missing)}, unknown {unknown}"
                + "".join(f"; {m} is used by {users}" for m, users in missing.items())
                + (f"; pass {', '.join(keywords)} in models={{...}} (named like a keyword)" if keywords else "")
            )

    def check_fields(self, batch, fields: Mapping) -> None:
        """Each batch field the laws read against its domain (``fields``: the module's ``FIELDS``): integers in
        range, the shape ``[n, *dims]``, one length; a :class:`~symspec.errors.BatchError` naming the field and
        the first row outside. Skipped with ``check_inputs = False`` and under ``torch.compile``."""
        if self.check_inputs and not torch.compiler.is_compiling():
            check_batch_fields(batch, fields)

    def total(self, terms: dict, calls: CallBatch | None = None) -> torch.Tensor:
        """Keep the terms (detached) and return their weighted sum.

        When every call of the step had 0 inputs (``calls``: the step's model
        calls) every term is 0, with a gradient of 0. A NaN sum whose cause
        is a NaN model output is a :class:`~symspec.errors.ModelError` naming the model;
        not checked under ``torch.compile`` (docs/compile.md, "torch.compile").
        """
        if calls is not None and calls.empty:  # an empty batch (a DDP rank's short last shard): 0, not a mean of nothing
            terms = {name: value.nan_to_num(0.0) for name, value in terms.items()}
        self.terms = {name: value.detach() for name, value in terms.items()}
        out = 0
        for index, (name, value) in enumerate(terms.items()):
            weight = self.WEIGHTS[name]
            term = value if weight == 1 else weight * value  # no multiply by 1, no add to 0: ops saved per step
            out = term if index == 0 else out + term
        if torch.compiler.is_compiling():  # the check is a host sync, a graph break: skipped in compiled code
            return out
        if self.check_nan and calls is not None and isinstance(out, torch.Tensor) and bool(torch.isnan(out)):
            bad = calls.nan_outputs()
            if bad:
                raise ModelError(
                    "; ".join(f"model '{m}' returned NaN for {k} of its {n} inputs in this step" for m, (k, n) in bad.items())
                    + f" (the loss is NaN: terms {', '.join(t for t, v in self.terms.items() if bool(torch.isnan(v)))})"
                )
        return out


def draw_size(batch, models: dict) -> tuple:
    """(cases, device) of a loss step whose laws read no batch field: every variable is drawn.

    ``batch`` is the number of cases (an int), or a mapping whose first tensor
    gives them (its length and device: the training batch, whatever its
    fields). The device is else the first model parameter's, else the CPU.
    """
    if isinstance(batch, Mapping):
        for value in batch.values():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                return value.shape[0], value.device
        raise ValueError(
            "this spec's laws read no batch field, so the loss draws every variable: pass loss(N) with the number "
            f"of cases to draw, or a batch holding a tensor (its length is used); the batch has: {', '.join(map(str, batch)) or 'nothing'}"
        )
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise TypeError(f"loss(batch): a mapping of batch fields or a number of cases (at least 1), got {batch!r}")
    for model in models.values():
        if isinstance(model, torch.nn.Module):
            for t in (*model.parameters(), *model.buffers()):
                return batch, t.device
    return batch, torch.device("cpu")


_ELEMENT_CACHE: dict = {}


def _decode(elements: torch.Tensor, slot_sizes: list) -> tuple:
    """Per element of a joint action on (slot, value) points: the source slot and value map of every argument."""
    offsets = [0]
    for size in slot_sizes:
        offsets.append(offsets[-1] + size)
    k = len(slot_sizes)
    sources, maps = [], []
    starts = torch.tensor(offsets[:-1], dtype=torch.long, device=elements.device)
    for i in range(k):
        src_i = torch.zeros(elements.shape[0], dtype=torch.long, device=elements.device)
        for s in range(k):
            first = elements[:, offsets[s]]  # where value 0 of slot s goes
            src_i = torch.where((first >= offsets[i]) & (first < offsets[i + 1]), torch.full_like(src_i, s), src_i)
        sources.append(src_i)
        # row e: the points of source slot src_i[e] (as many as slot i has: the action maps one onto the other)
        columns = starts[src_i].unsqueeze(1) + torch.arange(slot_sizes[i], device=elements.device)
        maps.append(elements.gather(1, columns) - offsets[i])
    return torch.stack(sources, 1), maps, offsets[-1]


def finite_group(joint: list, slot_sizes: list) -> tuple:
    """(elements, exact, decoded elements, generators) of the group ``joint`` generates, built once per table.

    Every element when there are at most ``MAX_TABLE_ORDER`` (exact), else the generators (random words are drawn per
    call). A compiled symmetrizer's constructor builds it (``FINITE``), so that ``torch.compile`` traces a lookup.
    """
    key = (id(joint), len(joint))
    if key not in _ELEMENT_CACHE:
        from .actions import element_table

        gens = torch.tensor(joint, dtype=torch.long)
        try:
            elements = element_table(gens, max_order=MAX_TABLE_ORDER)
            exact = True
        except ValueError:
            elements, exact = gens, False
        _ELEMENT_CACHE[key] = (elements, exact, _decode(elements, slot_sizes) if exact else None, gens)
    return _ELEMENT_CACHE[key]


def symmetrize_finite(
    model, args: tuple, joint: list, slot_sizes: list, slot_lows: list, output: str, samples: int, generator=None
):
    """``model`` averaged over the group its equivariance laws generate, for finite inputs.

    ``joint``: the laws' generators acting on (argument slot, value) points and
    output classes. Every element when the group has at most 5000 (exact),
    else ``samples`` random words (approximate). ``output``: "class",
    "bool" or "real".
    """
    if not len(joint):  # no generator (a constant element whose powers are the identity; cyclic(1)): the trivial group
        return model(*args)
    elements, exact, decoded, gens = finite_group(joint, slot_sizes)
    device = args[0].device
    n = args[0].shape[0]
    if not exact:
        from .actions import random_words

        elements = random_words(gens, samples, 32, generator)
        decoded = _decode(elements, slot_sizes)
    sources, maps, out_offset = decoded
    count = elements.shape[0]
    index = [a - low for a, low in zip(args, slot_lows)]
    moved = []
    for i in range(len(args)):
        src = sources[:, i].to(device)  # [E]
        values = torch.stack(index)[src]  # [E, B]: the source slot's values, element by element
        moved.append(torch.gather(maps[i].to(device), 1, values) + slot_lows[i])
    out = model(*[m.reshape(count * n) for m in moved])
    out = out.reshape(count, n, *out.shape[1:])
    if output in ("class", "bool"):
        out_perm = elements[:, out_offset:].to(device) - out_offset  # [E, classes]: where class c goes
        if output == "class":  # undo: the logit of class c sits at out_perm[c]
            out = torch.gather(out, 2, out_perm.unsqueeze(1).expand(count, n, -1))
        else:  # one logit: a swap of {false, true} negates it
            flip = (out_perm[:, 0] == 1).view(count, *([1] * (out.dim() - 1)))
            out = torch.where(flip, -out, out)
    return out.mean(0)


class SymmetrizedBase(torch.nn.Module):
    """A model wrapped by a compiled ``symmetrize``: the subclass's forward averages it over its group."""

    generator = SymmetryLossBase.generator

    FINITE: tuple | None = None  # (joint generators, slot sizes) of a finite-input symmetrizer: its table, built here

    def __init__(self, model, samples: int = 16, generator=None):
        super().__init__()
        self.model = model
        self.samples = samples
        self._generator = generator
        if self.FINITE is not None and len(self.FINITE[0]):
            finite_group(*self.FINITE)


def pick_model(table: dict, model, what: str, needs: str):
    """The per-model function of a compiled ``augment`` / ``symmetrize``; ``model`` may be omitted when only one has one."""
    if model is None and len(table) == 1:
        model = next(iter(table))
    if model not in table:
        raise ValueError(f"{what} takes a model with {needs} ({sorted(table) or 'none in this spec'}), got {model!r}")
    return table[model]


# ---- what a model must return (the training loss and validation check the same way) ----------------


def _expected_shape(kind, n: int) -> tuple | None:
    if isinstance(kind, ClassOutput):
        return (n, kind.size)
    if isinstance(kind, BoolOutput | RealOutput):
        return None  # [n] or [n, 1]
    return (n, *kind.dims)


def _shape_ok(got: tuple, kind, n: int, sizes: dict | None = None) -> bool:
    """``got`` fits ``kind``: a symbolic dim takes the size the inputs gave it (``sizes``), else one size wherever it
    appears in the output."""
    if isinstance(kind, BoolOutput | RealOutput):
        return got in ((n,), (n, 1))
    want = _expected_shape(kind, n)
    if len(got) != len(want):
        return False
    seen = dict(sizes or {})
    for g, w in zip(got, want):
        if isinstance(w, str):
            w = seen.setdefault(w, g)
        if g != w:
            return False
    return True


def input_sizes(args, inputs) -> dict:
    """The sizes the call's arguments give the symbolic dims of their domains (``inputs``: the model's ``INPUTS``
    entry, one descriptor per argument); the first argument naming a dim sets it."""
    sizes: dict = {}
    for arg, domain in zip(args, inputs or ()):
        if isinstance(domain, TensorOf) and isinstance(arg, torch.Tensor) and arg.dim() == 1 + len(domain.dims):
            for d, size in zip(domain.dims, arg.shape[1:]):
                if isinstance(d, str):
                    sizes.setdefault(d, int(size))
    return sizes


def _describe(kind, n: int) -> str:
    if isinstance(kind, ClassOutput):
        return f"({n}, {kind.size}): one logit per class"
    if isinstance(kind, BoolOutput):
        return f"({n},) or ({n}, 1): one logit per case"
    if isinstance(kind, RealOutput):
        return f"({n},) or ({n}, 1): one value per case"
    return f"({n}, {', '.join(map(str, kind.dims))})"


def check_output(model: str, out, kind, n: int, sizes: dict | None = None) -> None:
    """Raise :class:`ModelError` unless ``out`` is what ``model`` must return for ``n`` inputs (``sizes``: the
    symbolic dims' sizes its inputs gave, :func:`input_sizes`)."""
    if not isinstance(out, torch.Tensor):
        raise ModelError(f"model '{model}' returned {type(out).__name__}; expected a tensor")
    if not _shape_ok(tuple(out.shape), kind, n, sizes):
        bound = "".join(f", {d} = {v}" for d, v in (sizes or {}).items() if d in getattr(kind, "dims", ()))
        raise ModelError(
            f"model '{model}' returned shape {tuple(out.shape)} for {n} inputs; expected {_describe(kind, n)}"
            + (f" (its inputs give{bound[1:]})" if bound else "")
        )
