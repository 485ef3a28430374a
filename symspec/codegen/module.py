"""All lowering of a spec, as plain data the renderer prints (no torch, no jinja2).

``lower_module(spec)`` makes every decision and raises every CompileError
that compiling would: ``symspec check`` calls it, so a spec that checks
compiles.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from ..analysis.domains import BoolDomain, ClassOf, RealDomain
from .augment import lower_augment
from .breaks import lower_breaks
from .checks import describe_domain, lower_checks
from .core import ModuleTables
from .expr import Const, DictE, Name, TupleE, as_expr, rt
from .layers import lower_layers
from .loss import field_domains, lower_loss
from .names import py
from .symmetrize import lower_symmetrize

__all__ = ["LoweredModule", "lower_module", "describe_layers"]


@dataclass
class LoweredModule:
    spec_name: str
    file: str
    params: list  # (constant name, value)
    header: list  # (module name, Expr): PARAMS, MODELS, LAWS, PRIORS
    constants: list  # (name, Expr, comment): constants, then tables
    tables: list  # names of the tables the loss module registers as buffers
    loss: list  # statements of SymmetryLoss.forward
    model_call: str
    augmenters: list  # (model, function name, statements)
    layers: list  # of layers.Layer
    symmetrizers: list  # of symmetrize.Symmetrizer
    inputs: object  # Expr
    outputs: object  # Expr
    fields: object  # Expr of FIELDS: batch field -> descriptor, checked by SymmetryLoss
    checks: list  # of checks.LoweredCheck
    check_meta: object = None  # Expr of CHECKS
    breaks: object = None  # Expr of BREAKS; None: the spec states no break


def output_descriptor(out, tables):
    if isinstance(out, ClassOf):
        return rt("ClassOutput", tables.number(out.domain.size))
    if isinstance(out, BoolDomain):
        return rt("BoolOutput")
    if isinstance(out, RealDomain):
        return rt("RealOutput")
    return rt("TensorOutput", tables.dims(out.dims))


def _law_meta(spec, name, law):
    """A law's LAWS entry: read from the analysis (LawInfo.relation, LawInfo.models: in order of first use), never re-derived."""
    ir = spec.ir.laws[name]
    return as_expr(
        {
            "class": ir.law_class,
            "relation": law.relation,
            "model": ir.model,
            "models": law.models,
            "weight": float(law.options.get("weight", 1.0)),
            "tol": law.options.get("tol"),
            "rtol": law.options.get("rtol"),
            "samples": int(law.options.get("samples", 1)),
            "span": f"{spec.file}:{law.decl.span.line}:{law.decl.span.column}",
        }
    )


def lower_module(spec) -> LoweredModule:
    """Every decision of the generated module (raises what compiling would raise)."""
    # Lowering allocates many small trees that all stay alive in the result, next to the spec's own
    # (AST, typed trees, IR): the cyclic collector would only re-scan them all, so it pauses meanwhile
    # (as in pipeline.loads; on the 2,000-line benchmark spec it was two thirds of the lowering's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _lower(spec)
    finally:
        if collecting:
            gc.enable()


def _lower(spec) -> LoweredModule:
    tables = ModuleTables(spec)
    loss = lower_loss(spec, tables)
    augmenters = lower_augment(spec, tables)
    layers = lower_layers(spec, tables)
    symmetrizers = lower_symmetrize(spec, tables)
    checks = lower_checks(spec, tables)
    params = [(tables.params[p], v) for p, v in spec.params.items()]
    priors = {
        name: {
            "kind": p.kind,
            "of": p.target,
            "weight": float(dict(p.options).get("weight", 1.0)),
            "span": f"{spec.file}:{p.span.line}:{p.span.column}",
        }
        for name, p in spec.priors.items()
    }
    header = [
        ("PARAMS", DictE(tuple((Const(p), Name(tables.params[p])) for p in spec.params))),
        ("MODELS", as_expr({m: tuple(p for p, _ in sig.params) for m, sig in spec.models.items()})),
        ("LAWS", DictE(tuple((Const(name), _law_meta(spec, name, law)) for name, law in spec.laws.items()))),
        ("PRIORS", as_expr(priors)),
    ]
    inputs = DictE(
        tuple((Const(m), as_expr(tuple(describe_domain(d, tables) for _, d in sig.params))) for m, sig in spec.models.items())
    )
    outputs = DictE(tuple((Const(m), output_descriptor(sig.output, tables)) for m, sig in spec.models.items()))
    fields = DictE(
        tuple(
            (Const(v), TupleE((Const(spec.domain_name(d)), describe_domain(d, tables)))) for v, d in field_domains(spec).items()
        )
    )
    check_meta = DictE(
        tuple(
            (
                Const(c.name),
                DictE(
                    (
                        (Const("method"), Const(c.method)),
                        (Const("variables"), DictE(tuple((Const(v), d) for v, d in c.variables.items()))),
                        (Const("error"), Const(c.error)),
                    )
                ),
            )
            for c in checks
        )
    )
    constants = [(n, e, c) for n, (e, c) in tables.constants.items()] + [(n, e, c) for n, (e, c) in tables.buffers.items()]
    return LoweredModule(
        spec_name=spec.name,
        file=spec.file,
        params=params,
        header=header,
        constants=constants,
        tables=list(tables.buffers),
        loss=loss,
        model_call=", ".join(f"{py(m)}=..." for m in spec.models),
        augmenters=augmenters,
        layers=layers,
        symmetrizers=symmetrizers,
        inputs=inputs,
        outputs=outputs,
        fields=fields,
        checks=checks,
        check_meta=check_meta,
        breaks=lower_breaks(spec),
    )


def describe_layers(spec) -> list:
    """What each layer of a checked spec compiles to, for ``symspec explain``: name, line, ends, group, runtime class."""
    out = []
    for lowered in lower_layers(spec, ModuleTables(spec)):
        layer = spec.layers[lowered.name]
        gir = spec.ir.layers[lowered.name][0]
        head = f"under {gir.name}"
        detail = lowered.comment.split(head, 1)[1].strip(" ()") if head in lowered.comment else ""
        out.append(
            {
                "name": lowered.name,
                "line": layer.span.line,
                "source": str(layer.source),
                "target": str(layer.target),
                "group": gir.name,
                "class": lowered.base.removeprefix("rt."),
                "detail": detail,
            }
        )
    return out
