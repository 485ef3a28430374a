"""Stage 3: compile a checked spec to a Python module.

``lower_module(spec)`` does all lowering (every decision and every
CompileError) without torch or jinja2 and returns plain data;
``compile_source(spec)`` prints it through ``templates/module.py.j2`` (the
text ``symspec compile`` writes); ``compile(spec)`` renders and imports it in
memory.  The module depends only on torch and ``symspec.runtime``.

Passes: :mod:`.names` (names and constants), :mod:`.expr` (the emitted tree
and its printer), :mod:`.draws`, :mod:`.terms`, :mod:`.loss`,
:mod:`.augment`, :mod:`.symmetrize`, :mod:`.layers`, :mod:`.checks`,
:mod:`.module` (assembly).
"""

from __future__ import annotations

import builtins
import hashlib
import sys
import textwrap
import types
from importlib import resources

from ..version import __version__
from .core import CompileError
from .expr import WIDTH, Assign, Attr, Const, DictE, ExprStmt, Name, Printer, call
from .module import LoweredModule, lower_module
from .names import comment_text, doc_text, identifier, literal, py, user_text

__all__ = ["compile_source", "compile", "lower_module", "CompileError", "py", "literal", "LoweredModule"]


def _load(name: str) -> str:
    return resources.files("symspec.codegen").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("module.py.j2")


def _comment(text: str, indent: int = 0) -> list:
    pad = " " * indent
    return [pad + "# " + line for line in textwrap.wrap(comment_text(text), 116 - indent)]


def _docstring(text: str, indent: int) -> str:
    """A one-line docstring, or a wrapped one when the line would pass the width."""
    text = doc_text(text)
    if indent + len(text) + 6 <= WIDTH:
        return f'"""{text}"""'
    pad = " " * indent
    body = textwrap.wrap(text, WIDTH - indent, initial_indent='"""')  # the quotes count on the first line
    return body[0] + "".join("\n" + pad + line for line in body[1:]) + "\n" + pad + '"""'


def _registry(name: str, entries) -> str:
    """``NAME = {"key": value_name, ...}`` for registries of generated classes and functions."""
    return "\n".join(Printer().stmt(Assign((Name(name),), DictE(tuple((Const(k), Name(v)) for k, v in entries))), 0))


def render(lowered: LoweredModule, out_hint: str) -> str:
    """The module's text from lowered data (the printer writes every expression and statement)."""
    p = Printer()

    def lines(stmts, indent: int) -> str:
        return "\n".join(p.stmts(stmts, indent))

    def assign(name: str, value) -> str:
        return "\n".join(p.stmt(Assign((Name(name),), value), 0))

    constants = []
    for name, value, comment in lowered.constants:
        text = _comment(comment) if comment else []
        constants.append("\n".join(text + p.stmt(Assign((Name(name),), value), 0)))
    layers = []
    for layer in lowered.layers:
        init = call(Attr(call("super"), "__init__"), *layer.args, **dict(layer.kwargs))
        layers.append(
            types.SimpleNamespace(
                cls=identifier(layer.cls),
                base=".".join(identifier(part) for part in layer.base.split(".")),
                doc=_docstring(layer.comment, 4),
                init=lines([ExprStmt(init)], 8),
            )
        )
    augmenters = [types.SimpleNamespace(name=identifier(fn), body=lines(stmts, 4)) for _, fn, stmts in lowered.augmenters]
    symmetrizers = [
        types.SimpleNamespace(
            cls=identifier(s.cls),
            doc=_docstring(f"{s.model} averaged over the group of law(s) {s.laws}.", 4),
            fields=", ".join(identifier(f) for f in s.fields),
            body=lines(s.stmts, 8),
            attrs=lines(s.attrs, 4) if s.attrs else "",
        )
        for s in lowered.symmetrizers
    ]
    checks = [
        types.SimpleNamespace(method=identifier(c.method), doc=_docstring(c.comment, 8), body=lines(c.stmts, 8))
        for c in lowered.checks
        if c.error is None
    ]
    return _template().render(
        spec_name=doc_text(lowered.spec_name),
        spec_literal=literal(lowered.spec_name),
        file=doc_text(lowered.file),
        version=__version__,
        out_hint=doc_text(out_hint),
        params="\n".join(f"{identifier(name)} = {literal(value)}" for name, value in lowered.params),
        header="\n".join(assign(name, value) for name, value in lowered.header),
        constants=constants,
        tables=_registry("TABLES", [(n, n) for n in lowered.tables]).replace("\n", "\n    "),
        model_call=doc_text(lowered.model_call),
        loss=lines(lowered.loss, 8),
        augmenters=augmenters,
        augmenters_registry=_registry("AUGMENTERS", [(m, fn) for m, fn, _ in lowered.augmenters]),
        layers=layers,
        layers_registry=_registry("LAYERS", [(layer.name, layer.cls) for layer in lowered.layers]),
        symmetrizers=symmetrizers,
        symmetrizers_registry=_registry("SYMMETRIZERS", [(s.model, s.cls) for s in lowered.symmetrizers]),
        inputs=assign("INPUTS", lowered.inputs),
        outputs=assign("OUTPUTS", lowered.outputs),
        fields=assign("FIELDS", lowered.fields),
        check_meta=assign("CHECKS", lowered.check_meta),
        checks=checks,
        breaks="" if lowered.breaks is None else assign("BREAKS", lowered.breaks),
    )


def compile_source(spec, out_hint: str | None = None) -> str:
    """The generated module's text (deterministic: same spec, same text)."""
    if out_hint is None:
        from pathlib import Path

        out_hint = f"generated/{Path(spec.file).stem}.py"
    return render(lower_module(spec), out_hint)


def compile(spec, out_hint: str | None = None):  # noqa: A001 - the public name
    """Render the spec's module and import it in memory.

    The module is registered in ``sys.modules`` under a name of its own (``torch.compile`` looks the globals of
    traced functions up by module name, also when it checks its guards): the text's digest, plus a count when
    an earlier module of the same text holds that name (replacing it would point the earlier module's compiled
    functions at the new module's globals). One entry per module compiled in a process.
    """
    source = compile_source(spec, out_hint)
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]
    name = base = f"symspec_generated_{spec.name}_{digest}"
    count = 1
    while name in sys.modules:
        count += 1
        name = f"{base}_{count}"
    module = types.ModuleType(name)
    module.__file__ = f"<symspec {user_text(spec.file)}>"
    exec(compile_builtin(source, module.__file__, "exec"), module.__dict__)  # the text is ours: names are validated
    sys.modules[module.__name__] = module
    module.SOURCE = source
    return module


compile_builtin = builtins.compile
