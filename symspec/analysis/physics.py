"""Non-compact groups in the analysis: Lorentz groups, translations, rigid motions (docs/language.md, Non-compact groups).

``SO(1, n)`` and ``O(1, n)`` (kinds ``SO1``/``O1``, ``arg`` = n space coordinates) act by matrix product on a
dim of size n + 1 (time first); ``translations(n)`` by adding one vector along a dim of size n; ``E(n)`` and
``SE(n)`` by ``x -> R x + t`` along a dim of size n (or, ``by matrix``, by ``R x`` alone). The action kinds
are ``matrix`` and ``affine`` (``symspec.analysis.groups.ActionKind``); the runtime side is
``symspec.runtime.physics``.
"""

from __future__ import annotations

from ..syntax import ast
from .context import Context
from .domains import Tensor, describe
from .structures import BY_FAMILIES, GroupDef, TransformDef

__all__ = [
    "noncompact_abelian",
    "noncompact_dimension",
    "noncompact_default",
    "noncompact_ops",
    "noncompact_hint",
    "check_noncompact_transform",
    "default_transform",
    "check_scale_option",
    "MAX_LORENTZ_SCALE",
    "MAX_TRANSLATION_SCALE",
    "sampling_text",
    "spelled_action_warnings",
]


def noncompact_abelian(kind: str, n: int) -> bool:
    """Whether the group is abelian: translations, SO(1, 1) (boosts of a line) and SE(1) (translations of a line)."""
    return kind == "translations" or (n == 1 and kind in ("SO1", "SE"))


def noncompact_dimension(kind: str, n: int) -> int:
    """The dimension of the Lie group: n for translations(n), n (n + 1) / 2 for the others."""
    return n if kind == "translations" else n * (n + 1) // 2


def default_transform(kind: str) -> str:
    """The `by` transform a family acts by when no action is declared."""
    return {"SO1": "matrix", "O1": "matrix", "translations": "translate"}.get(kind, "rigid")


def noncompact_ops(transform: str, args: dict, domain) -> tuple:
    """(action kind, ops, dim) of a non-compact family acting by ``transform`` (checked) on a tensor domain."""
    rank = len(domain.dims)
    dim = args.get("dim", -1) % rank
    return ("matrix" if transform == "matrix" else "affine"), {}, dim


def noncompact_default(gdef: GroupDef, domain) -> tuple | None:
    """The default action on a tensor whose last dim has the family's size (n + 1 for Lorentz groups), else None."""
    if isinstance(domain, Tensor) and domain.dims and domain.dims[-1] == gdef.vector_size:
        return noncompact_ops(default_transform(gdef.kind), {"dim": -1}, domain)
    return None


def _fits(gdef: GroupDef, domain) -> list:
    """``by`` transforms, written out, that let ``gdef`` act on ``domain`` (a dim of its size)."""
    if not isinstance(domain, Tensor):
        return []
    rank = len(domain.dims)
    sized = [i - rank for i, d in enumerate(domain.dims) if d == gdef.vector_size]
    if not sized:
        return []
    names = [t for t, families in BY_FAMILIES.items() if gdef.kind in families]
    return [f"{t}(dim={sized[-1]})" for t in sorted(names, key=lambda t: t != default_transform(gdef.kind))]


def noncompact_hint(gdef: GroupDef, domain, group_name: str, domain_name: str) -> str:
    """The hint of an error where ``gdef`` has no action on ``domain``: the statement to write, or what it needs."""
    fits = _fits(gdef, domain)
    if fits:
        return f"declare one: action {group_name} on {domain_name} by " + " or by ".join(fits)
    size = gdef.vector_size
    what = f"the {size} coordinates of a point (time first, then {gdef.arg} of space)" if gdef.kind in ("SO1", "O1") else ""
    return (
        f"{gdef} acts on a tensor dim of size {size}{': ' + what if what else ''}; "
        f"{describe(domain, domain_name)} has none: use tensor[..., {size}]"
    )


def check_noncompact_transform(ctx: Context, t: TransformDef, domain, domain_name: str, group: GroupDef) -> bool:
    """Check ``action G on D by t`` for a non-compact family G: a tensor dim that exists and has the family's size."""
    if not isinstance(domain, Tensor):
        ctx.reporter.error(
            f"{t.name} acts on tensor dims, but {describe(domain, domain_name)} is not a tensor domain",
            t.span,
            f"{group} acts on tensors: declare a domain such as tensor[N, {group.vector_size}]",
        )
        return False
    if dict(t.args).get("dims"):
        ctx.reporter.error(
            f"{group} acts on one dim, but {t} names several",
            t.span,
            f"write {t.name}(dim=-1): {group} moves the {group.vector_size} coordinates of one dim",
        )
        return False
    dim = t.arg("dim")
    rank = len(domain.dims)
    if not -rank <= dim < rank:
        ctx.reporter.error(
            f"dim {dim} is out of range for {domain}, which has {rank} dim{'s' if rank != 1 else ''}",
            t.span,
            f"its dims are 0..{rank - 1}, or -{rank}..-1 from the end",
        )
        return False
    size = domain.dims[dim]
    if size != group.vector_size:
        sized = [i - rank for i, d in enumerate(domain.dims) if d == group.vector_size]
        ctx.reporter.error(
            f"{group} cannot act on dim {dim} of {domain}, which has size {size}: it moves {group.vector_size} coordinates",
            t.span,
            f"dim {sized[-1]} has size {group.vector_size}: write {t.name}(dim={sized[-1]})"
            if sized
            else f"no dim of {domain} has size {group.vector_size}, so {group} cannot act on it",
        )
        return False
    return True


MAX_LORENTZ_SCALE = 5  # rapidities |N(0, s^2)| reach about 5 s; energies grow by e^r (float32 overflows near r = 44)
MAX_TRANSLATION_SCALE = 1e6  # translations N(0, s^2): beyond this, float32 inputs lose every digit of a unit-scale x


def check_scale_option(ctx: Context, decl, variables: dict, options: dict) -> None:
    """``[scale s]`` sets the spread of a non-compact group's draws: an error on a law that binds none."""
    if "scale" not in options:
        return
    groups = [v.group for v in variables.values() if v.group is not None and v.group.noncompact]
    if groups:
        lorentz = next((f for g in groups for f in (g.factors or (g,)) if f.kind in ("SO1", "O1")), None)
        if lorentz is not None and options["scale"] > MAX_LORENTZ_SCALE:
            span = next(o.value.span for o in decl.options if o.name.name == "scale")
            ctx.reporter.error(
                f"option 'scale' is {options['scale']}, more than the limit of {MAX_LORENTZ_SCALE} for a law over {lorentz}",
                span,
                f"a boost of rapidity r scales energies by up to e^r, and rapidities of scale s reach about 5 s: use a "
                f"scale of at most {MAX_LORENTZ_SCALE}",
            )
        elif options["scale"] > MAX_TRANSLATION_SCALE:
            span = next(o.value.span for o in decl.options if o.name.name == "scale")
            ctx.reporter.error(
                f"option 'scale' is {options['scale']}, more than the limit of {MAX_TRANSLATION_SCALE:g} for a law over "
                f"{groups[0].name or groups[0]}",
                span,
                f"translations are drawn N(0, s^2); past {MAX_TRANSLATION_SCALE:g}, x + t in float32 keeps none of x's "
                f"digits (and near 1e38 overflows): use a scale of at most {MAX_TRANSLATION_SCALE:g}",
            )
        return
    span = next(o.span for o in decl.options if o.name.name == "scale")
    ctx.reporter.error(
        f"option 'scale' sets how far a non-compact group's elements reach, but law {decl.name.name} binds no non-compact group",
        span,
        "use it on a law over SO(1, n), O(1, n), translations(n), E(n) or SE(n); a finite or compact group is drawn "
        "uniformly, with no scale",
    )


def _part_text(f: GroupDef, scale) -> str:
    if f.kind in ("SO1", "O1"):
        text = (
            f"a boost of rapidity |N(0, {scale}^2)| in a uniform direction times a Haar rotation of SO({f.arg})"
            if f.kind == "SO1"
            else f"a boost of rapidity |N(0, {scale}^2)| in a uniform direction times a Haar element of O({f.arg}), "
            "times time reversal with probability 1/2"
        )
    elif f.kind == "translations":
        text = f"a translation with N(0, {scale}^2) coordinates"
    elif f.kind in ("E", "SE"):
        rot = "SO" if f.kind == "SE" else "O"
        text = f"a Haar element of {rot}({f.arg}) and a translation with N(0, {scale}^2) coordinates"
    elif f.continuous:
        text = f"Haar measure on {f}"
    else:
        text = f"uniform over {f}"
    return text


def sampling_text(gdef: GroupDef, scale) -> str:
    """How elements of a group with a non-compact factor are drawn (no Haar measure: validation covers this law)."""
    parts = gdef.factors or (gdef,)
    body = "; ".join((f"{f.name or f}: " if len(parts) > 1 else "") + _part_text(f, scale) for f in parts)
    return body + " (a non-compact group has no uniform distribution: validation covers this one only)"


def _spellings(spec) -> dict:
    """Per model, the domain names its parameters and output are written with (None where written otherwise)."""
    out = {}
    for st in spec.ast.statements:
        if isinstance(st, ast.ModelDecl):
            params = tuple(p.type.name if isinstance(p.type, ast.Name) else None for p in st.params)
            out[st.name.name] = (params, st.output.name if isinstance(st.output, ast.Name) else None)
    return out


def _spelled(operand, body, spellings: dict) -> str | None:
    """The domain name the acted value is written with: a model's output, or the parameter a variable is passed as."""
    if isinstance(operand, ast.Call) and operand.func.name in spellings:
        return spellings[operand.func.name][1]
    if not isinstance(operand, ast.Name):
        return None
    for node in ast.walk(body):
        if isinstance(node, ast.Call) and node.func.name in spellings:
            for i, arg in enumerate(node.args):
                inner = arg.operand if isinstance(arg, ast.Act) else arg
                if isinstance(inner, ast.Name) and inner.name == operand.name and i < len(spellings[node.func.name][0]):
                    return spellings[node.func.name][0][i]
    return None


def spelled_action_warnings(spec, reporter) -> None:
    """Warn where E(n)/SE(n) moves a value written with one domain name by the action declared on another name of
    the same type (domains are structural): ``action G on Vel by matrix(dim=-1)`` also makes ``g . c(x)`` with
    ``c: ... -> Point`` (Point = Vel = tensor[3]) rotate without translating."""
    declared = {}
    for a in spec.actions:
        group = spec.groups.get(a.group)
        if a.by is not None and group is not None and group.kind in ("E", "SE"):
            declared.setdefault(a.group, []).append(a)
    if not declared:
        return
    spellings = _spellings(spec)
    for law in spec.laws.values():
        for node, gdef, domain in law.acts:
            for g in (gdef, *gdef.factors):
                mine = (*declared.get(g.name, ()), *declared.get(g.alias_of, ()))  # 'group K = G' acts as G
                for a in mine:
                    if spec.domains.get(a.domain) != domain:
                        continue
                    written = _spelled(node.operand, law.decl.body, spellings)
                    if written is None or written not in spec.domains or any(b.domain == written for b in mine):
                        continue  # as declared for that name (the same action, written again, is allowed)
                    what = "R x, without translating" if a.by.name == "matrix" else "x -> R x + t"
                    reporter.warning(
                        f"{g.name} moves {written} here by the action declared on {a.domain} ({a.by}: {what}): "
                        f"{written} and {a.domain} are one type, {domain}, and a group acts on a type one way",
                        node.span,
                        f"for values of {written} that should move otherwise, bind another group (group {g.name}2 = "
                        f"{g}) with its own action; if {written} moves like {a.domain}, write {a.domain} for it",
                        notes=[(a.span, f"the action of {g.name} on {a.domain} is declared here")] if a.span else (),
                    )
