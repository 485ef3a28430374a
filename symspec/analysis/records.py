"""The checked spec and its declaration records (what the analysis hands on)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import Span, UsageError, render_diagnostic
from ..syntax import ast
from .scope import Reporter
from .sealed import Sealed, seal
from .structures import GroupDef

__all__ = ["Spec", "ModelSig", "LayerDef", "PriorDef", "BreakDef"]


@dataclass(frozen=True)
class ModelSig:
    name: str
    params: tuple  # of (name, Domain)
    output: object
    span: Span

    def signature(self) -> str:
        args = ", ".join(f"{n}: {d}" for n, d in self.params)
        return f"{self.name}({args}) -> {self.output}"


@dataclass(frozen=True)
class LayerDef:
    name: str
    source: object
    target: object
    group: GroupDef
    span: Span
    options: tuple = ()  # checked (name, value) pairs: kernel, padding, stride, grid (a convolutional layer)
    option_spans: tuple = ()  # (name, Span) of each option, for errors found when lowering

    def option(self, name: str, default=None):
        """The value of option ``name`` (``default`` when not given)."""
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class PriorDef:
    name: str
    kind: str
    target: str  # a run-time binding (nuclear, entropy) or a model (lipschitz)
    options: tuple
    span: Span


@dataclass(frozen=True)
class BreakDef:
    """A checked ``break NAME: attention(MODEL) [options]`` (docs/language.md)."""

    name: str
    kind: str  # "attention"
    model: str
    query: tuple | None  # (mean, std) with std a float or (lo, hi) = linspace(lo, hi, d_head); None: no query bias
    value: tuple | None  # the same for the value bias
    modules: str | None  # a child of the model: only the attention under it is broken; None: the whole model
    span: Span

    def entry(self) -> dict:
        """The options as ``symspec.nn.break_attention`` takes them (``modules`` as glob patterns)."""
        modules = None if self.modules is None else (self.modules, f"{self.modules}.*")
        return {"query": self.query, "value": self.value, "modules": modules}

    def describe(self) -> str:
        """One line for ``symspec explain``: what is broken, with which biases."""

        def bias(slot: str) -> str:
            option = getattr(self, slot)
            if option is None:
                return f"no {slot} bias"
            mean, std = option
            spread = f"linspace({std[0]:g}, {std[1]:g}, d_head)" if isinstance(std, tuple) else f"{std:g}"
            return f"{slot} bias mean {mean:g} std {spread}"

        where = f" under {self.model}.{self.modules}" if self.modules else ""
        return f"{self.kind}{where}: {bias('query')}, {bias('value')}; redrawn every training forward, the mean in eval"

    def json(self) -> dict:
        """The ``breaks`` entry of ``symspec explain --json``: the options as ``break_attention`` takes them."""
        return {"kind": self.kind, "model": self.model, "line": self.span.line, **self.entry()}


@dataclass
class Spec(Sealed):
    """A parsed and checked spec: every declaration resolved, every law typed."""

    name: str
    file: str
    source: str
    ast: ast.SpecFile
    params: dict = field(default_factory=dict)
    domains: dict = field(default_factory=dict)
    graphs: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    actions: list = field(default_factory=list)
    models: dict = field(default_factory=dict)
    laws: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)
    priors: dict = field(default_factory=dict)
    breaks: dict = field(default_factory=dict)  # name -> BreakDef, in source order
    dims: tuple = ()
    warnings: list = field(default_factory=list)
    ir: object = None  # the symmetry analysis (analysis.ir.IR), when it ran

    def domain_name(self, domain) -> str:
        """The declared name of a domain type, or its constructor text."""
        for name, d in self.domains.items():
            if d == domain and type(d) is type(domain):  # units(n) equals cyclic(n) as a type, but is not its name
                return name
        return str(domain)

    def select(self, laws) -> Spec:
        """A copy that keeps only the named laws (for training with a subset); the analysis runs again on it."""
        from .ir import attach_ir

        names = list(laws)
        unknown = [n for n in names if n not in self.laws]
        if unknown:
            raise UsageError(f"unknown law(s) {', '.join(unknown)}; the spec's laws: {', '.join(self.laws) or 'none'}")
        spec = dataclasses.replace(self, laws={n: law for n, law in self.laws.items() if n in names}, warnings=[])
        attach_ir(spec, Reporter())  # a subset of a valid spec's laws is valid: raises nothing
        seal(spec)
        return spec

    def render_warnings(self, color: bool = False) -> str:
        return "\n".join(render_diagnostic(w, {self.file: self.source}, color) for w in self.warnings)
