"""Stage 3: compile a checked spec to a Python module (jinja2 templates).

``compile_source(spec)`` renders the text that ``symspec compile`` writes;
``compile(spec)`` renders and imports it in memory.  The module depends only
on torch and ``symspec.runtime``.
"""

from __future__ import annotations

import builtins
import types
from importlib import resources

from ..syntax import ast
from .lower import (
    CompileError,
    literal,
    lower_augment,
    lower_checks,
    lower_layers,
    lower_spec,
    lower_symmetrize,
    model_inputs,
    model_outputs,
    py,
)

__all__ = ["compile_source", "compile", "CompileError", "py"]


def _template():
    import jinja2

    text = resources.files("symspec.codegen").joinpath("templates/module.py.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(keep_trailing_newline=True, autoescape=False, undefined=jinja2.StrictUndefined)
    return env.from_string(text)


def compile_source(spec, out_hint: str | None = None) -> str:
    """The generated module's text (deterministic: same spec, same text)."""
    from ..version import __version__

    if out_hint is None:
        from pathlib import Path

        out_hint = f"generated/{Path(spec.file).stem}.py"
    lowered = lower_spec(spec)
    augments = lower_augment(spec, lowered)
    layers = lower_layers(spec)
    symmetrized = lower_symmetrize(spec, lowered)
    checks = [
        types.SimpleNamespace(
            name=c.name,
            method=c.method,
            comment=c.comment,
            lines=c.lines,
            error=c.error,
            meta=literal({"method": c.method, "variables": c.variables, "error": c.error}),
        )
        for c in lower_checks(spec, lowered)
    ]
    batch_vars = []
    for law in spec.laws.values():
        for var, plan in spec.ir.laws[law.name].variables.items():
            if plan.source == "batch" and all(v != var for v, _, _ in batch_vars):
                batch_vars.append((var, py(var), law.name))
    laws_meta = []
    for name, law in spec.laws.items():
        ir = spec.ir.laws[name]
        body = law.decl.body
        relation = body.ops[0] if isinstance(body, ast.Compare) else (body.op if isinstance(body, ast.Logic) else "assert")
        meta = {
            "class": ir.law_class,
            "relation": relation,
            "model": ir.model,
            "weight": float(law.options.get("weight", 1.0)),
            "tol": law.options.get("tol"),
            "rtol": law.options.get("rtol"),
            "samples": int(law.options.get("samples", 1)),
            "span": f"{spec.file}:{law.decl.span.line}:{law.decl.span.column}",
        }
        laws_meta.append(types.SimpleNamespace(name=name, meta=literal(meta)))
    models = {m: tuple(p for p, _ in sig.params) for m, sig in spec.models.items()}
    priors_meta = {
        name: {
            "kind": p.kind,
            "of": p.target,
            "weight": float(dict(p.options).get("weight", 1.0)),
            "span": f"{spec.file}:{p.span.line}:{p.span.column}",
        }
        for name, p in spec.priors.items()
    }
    model_call = ", ".join(f"{py(m)}=..." for m in spec.models)
    return _template().render(
        spec_name=spec.name,
        file=spec.file,
        version=__version__,
        out_hint=out_hint,
        params=literal(dict(spec.params)),
        models=literal(models),
        laws_meta=laws_meta,
        constants=sorted(lowered.constants.items()),
        buffers=sorted(lowered.buffers.items()),
        batch_vars=batch_vars,
        first_var=batch_vars[0][1] if batch_vars else None,
        laws=lowered.laws,
        rounds=sorted(lowered.requests.items()),
        model_call=model_call,
        log_probs=lowered.log_probs,
        priors=lowered.priors,
        priors_meta=literal(priors_meta),
        augment_blocks=[(py(m), blocks) for m, blocks in augments.items()],
        augment_first={py(m): spec.models[m].params[0][0] for m in augments},
        augment_names={py(m): m for m in augments},
        symmetrize_names={py(m): m for m in symmetrized},
        layers=layers,
        checks=checks,
        outputs=literal(model_outputs(spec)),
        inputs=literal(model_inputs(spec)),
        symmetrize_blocks=[
            (py(m), law, [py(p) for p, _ in spec.models[m].params], lines) for m, (law, lines) in symmetrized.items()
        ],
    )


def compile(spec, out_hint: str | None = None):  # noqa: A001 - the public name DESIGN.md gives
    """Render the spec's module and import it in memory."""
    source = compile_source(spec, out_hint)
    module = types.ModuleType(f"symspec_generated_{spec.name}")
    module.__file__ = f"<symspec {spec.file}>"
    exec(compile_builtin(source, module.__file__, "exec"), module.__dict__)  # the text is ours: names are validated
    module.SOURCE = source
    return module


compile_builtin = builtins.compile
