"""Resolution of ``break NAME: attention(MODEL) [options]`` statements (docs/language.md).

Each statement becomes a :class:`~.records.BreakDef`: the model it breaks and the
options of ``symspec.nn.break_attention`` (query and value biases as ``(mean,
std)`` or None, the module subtree).  Every problem is reported at its span.
"""

from __future__ import annotations

from ..syntax import ast
from ..syntax.unparse import unparse
from .domains import eval_int
from .records import BreakDef
from .scope import KIND_WORDS, did_you_mean

__all__ = ["BREAK_KINDS", "BREAK_OPTIONS", "DEFAULT_BIASES", "check_breaks"]

BREAK_KINDS = ("attention",)
SLOTS = ("query", "value")
BREAK_OPTIONS = (
    "query",
    "query_mean",
    "query_std",
    "query_std_hi",
    "value",
    "value_mean",
    "value_std",
    "value_std_hi",
    "modules",
)
DEFAULT_BIASES = {"query": (0.5, (0.05, 0.15)), "value": (0.5, 0.05)}
"""The paper's biases: b_Q mean 0.5, std linspace(0.05, 0.15, d_head); b_V mean 0.5, std 0.05 (symspec.nn)."""
_FORM = "break NAME: attention(MODEL) [query_mean 0.5, query_std 0.05, query_std_hi 0.15, value_mean 0.5, value_std 0.05]"


def check_breaks(ctx, decls: list) -> dict:
    """name -> BreakDef for every valid ``break`` in ``decls`` (source order); each problem reported."""
    out: dict = {}
    models: dict = {}  # model -> the break naming it first
    for decl in decls:
        symbol = ctx.symbols.results.get(decl.name.name)
        if symbol is None or symbol.decl is not decl:
            continue  # a name declared twice: reported by the symbol table, at the later declaration
        found = _check(ctx, decl)
        if found is None:
            continue
        earlier = models.get(found.model)
        if earlier is not None:
            ctx.reporter.error(
                f"model '{found.model}' is already broken by 'break {earlier.name}'",
                decl.args[0].span,
                "one break per model: merge the options into that statement",
                notes=[(earlier.span, "broken here first")],
            )
            continue
        models[found.model] = found
        out[decl.name.name] = found
    return out


def _check(ctx, decl: ast.BreakDecl) -> BreakDef | None:
    kind = decl.kind.name
    if kind not in BREAK_KINDS:
        ctx.reporter.error(
            f"unknown break '{kind}'",
            decl.kind.span,
            did_you_mean(kind, BREAK_KINDS, f"a break reads: {_FORM}"),
        )
        return None
    if len(decl.args) != 1 or not isinstance(decl.args[0], ast.Name):
        ctx.reporter.error(f"{kind}(...) takes one model", decl.span, f"a break reads: {_FORM}")
        return None
    target = decl.args[0]
    sym = ctx.symbols.lookup(target.name)
    if sym is None or sym.kind != "model":
        what = f"'{target.name}' is {KIND_WORDS[sym.kind]}" if sym is not None else f"'{target.name}' is not declared"
        ctx.reporter.error(
            f"{kind}(...) takes a model, but {what}",
            target.span,
            did_you_mean(target.name, ctx.symbols.names_of("model"), "declare it with 'model NAME(x: ...) -> ...'"),
            kind="name",
        )
        return None
    options = _options(ctx, decl)
    if options is None:
        return None
    slots = {slot: _bias(ctx, decl, slot, options) for slot in SLOTS}
    if any(v is False for v in slots.values()):
        return None
    if slots["query"] is None and slots["value"] is None:
        ctx.reporter.error(
            "this break turns off both the query and the value bias: nothing is broken",
            decl.span,
            "drop 'query none' or 'value none'",
        )
        return None
    modules = options.get("modules", (None, None))[0]
    return BreakDef(decl.name.name, kind, target.name, slots["query"], slots["value"], modules, decl.span)


def _options(ctx, decl: ast.BreakDecl) -> dict | None:
    """option -> (value, Option node), each checked alone; None after an error (each one reported)."""
    out: dict = {}
    ok = True
    for opt in decl.options:
        name, v = opt.name.name, opt.value
        if name not in BREAK_OPTIONS:
            hint = did_you_mean(name, BREAK_OPTIONS, "break options are: " + ", ".join(BREAK_OPTIONS))
            ctx.reporter.error(f"unknown break option '{name}'", opt.name.span, hint)
            ok = False
            continue
        if name in out:
            ctx.reporter.error(f"option '{name}' is given twice", opt.span, notes=[(out[name][1].span, "first given here")])
            ok = False
            continue
        if name in SLOTS:
            if not (isinstance(v, ast.Name) and v.name == "none"):
                ctx.reporter.error(
                    f"option '{name}' takes only none, got {unparse(v)}",
                    v.span,
                    f"'{name} none' turns the {name} bias off; set it with {name}_mean and {name}_std",
                )
                ok = False
                continue
            value = None
        elif name == "modules":
            if not isinstance(v, ast.Name):
                ctx.reporter.error(
                    f"option 'modules' takes the name of a child module, got {unparse(v)}",
                    v.span,
                    "e.g. 'modules blocks': only the attention inside model.blocks is broken",
                )
                ok = False
                continue
            value = v.name
        else:
            value = _number(ctx, name, v)
            if value is None:
                ok = False
                continue
            if "_std" in name and value < 0:
                ctx.reporter.error(
                    f"option '{name}' must be non-negative, got {getattr(v, 'text', value)}",
                    v.span,
                    "a standard deviation is >= 0 (0: the bias is fixed at its mean)",
                )
                ok = False
                continue
        out[name] = (value, opt)
    return out if ok else None


def _number(ctx, name: str, v) -> float | None:
    if isinstance(v, ast.Name):
        if v.name == "none":
            slot = name.split("_")[0]
            ctx.reporter.error(
                f"option '{name}' takes a number, got none", v.span, f"to turn the {slot} bias off write '{slot} none'"
            )
            return None
        value = eval_int(ctx, v, f"option '{name}'")
        return None if value is None else float(value)
    return float(v.value)


def _bias(ctx, decl: ast.BreakDecl, slot: str, options: dict):
    """``(mean, std)`` for ``slot``, None (turned off), or False after an error."""
    given = {k[len(slot) + 1 :] or "off": options[k] for k in options if k == slot or k.startswith(slot + "_")}
    if "off" in given:
        others = [k for k in given if k != "off"]
        if others:
            opt = given[others[0]][1]
            ctx.reporter.error(
                f"option '{slot}_{others[0]}' sets the {slot} bias, but '{slot} none' turns it off",
                opt.span,
                f"drop '{slot} none' or the {slot}_* options",
            )
            return False
        return None
    mean, default_std = DEFAULT_BIASES[slot]
    mean = given["mean"][0] if "mean" in given else mean
    if "std_hi" in given and "std" not in given:
        ctx.reporter.error(
            f"option '{slot}_std_hi' needs {slot}_std",
            given["std_hi"][1].span,
            f"the stds rise linearly from {slot}_std (first coordinate) to {slot}_std_hi (last): give both",
        )
        return False
    if "std" not in given:
        return (mean, default_std)
    lo = given["std"][0]
    if "std_hi" not in given:
        return (mean, lo)
    hi, opt = given["std_hi"]
    if hi < lo:
        ctx.reporter.error(
            f"option '{slot}_std_hi' ({_num(hi)}) is below {slot}_std ({_num(lo)})",
            opt.value.span,
            f"the stds rise linearly from {slot}_std to {slot}_std_hi along each head: swap them",
        )
        return False
    return (mean, (lo, hi))


def _num(x: float) -> str:
    return f"{x:g}"
