"""Declared actions: transforms resolved, checked on the domains they act on, with hints that name valid fixes."""

from __future__ import annotations

import math

from ..errors import Span
from ..syntax import ast
from .composed import COMPOSED_TRANSFORMS, check_relabel, composed_transform
from .context import Context
from .domains import Cyclic, Labels, Tensor, describe, eval_int
from .physics import check_noncompact_transform, noncompact_hint
from .scope import did_you_mean
from .structures import (
    BLOCK_TRANSFORMS,
    BY_FAMILIES,
    BY_TRANSFORMS,
    CYCLIC_TRANSFORMS,
    NONCOMPACT_FAMILIES,
    REQUIRED,
    ActionDef,
    GroupDef,
    TransformDef,
)
from .units import check_units_transform, units_by_compose

__all__ = ["resolve_action", "by_transforms"]


def _value(ctx: Context, expr, kind: str, what: str):
    if kind == "int":
        return eval_int(ctx, expr, what)
    items = expr.items if isinstance(expr, ast.Tuple) else (expr,) if kind == "ints" else None
    if items is None:
        hint = "write a tuple like (0, 1)" if kind != "pair" else "write dims=(-2, -1)"
        ctx.reporter.error(f"{what} must be a tuple of integers", expr.span, hint)
        return None
    values = []
    for it in items:
        v = eval_int(ctx, it, what)
        if v is None:
            return None
        values.append(v)
    if kind == "pair" and len(values) != 2:
        ctx.reporter.error(f"{what} must name exactly two dims, got {len(values)}", expr.span, "write dims=(-2, -1)")
        return None
    return tuple(values)


def _transform(ctx: Context, expr, table: dict, context: str) -> TransformDef | None:
    if table is BLOCK_TRANSFORMS and isinstance(expr, ast.Name) and expr.name == "identity":
        return TransformDef("compose", (("parts", ()),), expr.span)  # 'r -> identity': the empty composition
    if table is BLOCK_TRANSFORMS and isinstance(expr, ast.Call) and expr.func.name == "identity":
        n = len(expr.args)
        ctx.reporter.error(
            f"identity takes no arguments, got {n}", expr.span, "write 'identity' alone: the generator leaves the domain as it is"
        )
        return None
    if table is BLOCK_TRANSFORMS and isinstance(expr, ast.Call) and expr.func.name in COMPOSED_TRANSFORMS:
        return composed_transform(ctx, expr, lambda e: _transform(ctx, e, table, context))  # compose(...), relabel(...)
    if isinstance(expr, ast.Name):
        call_name, args, span = expr.name, (), expr.span
        name_span = expr.span
    elif isinstance(expr, ast.Call):
        call_name, args, span = expr.func.name, expr.args, expr.span
        name_span = expr.func.span
    else:
        ctx.reporter.error("expected a transform", expr.span, "transforms are " + ", ".join(table))
        return None
    if call_name not in table:
        other = BLOCK_TRANSFORMS if table is BY_TRANSFORMS else BY_TRANSFORMS
        if call_name in other or (call_name in COMPOSED_TRANSFORMS and table is BY_TRANSFORMS):  # composed.py
            hint = (
                f"'{call_name}' maps one generator; give a presentation's generators transforms in an action block"
                if table is BY_TRANSFORMS
                else f"'{call_name}' describes a whole family group; use 'action G on D by {call_name}(...)'"
            )
        else:
            hint = did_you_mean(call_name, table, f"{context} transforms are " + ", ".join(table))
        ctx.reporter.error(f"unknown transform '{call_name}' {context}", name_span, hint)
        return None
    params = table[call_name]
    names = [p[0] for p in params]
    given: dict[str, object] = {}
    positional = [a for a in args if not isinstance(a, ast.KwArg)]
    keywords = [a for a in args if isinstance(a, ast.KwArg)]
    if any(isinstance(a, ast.KwArg) for a in args[: len(positional)]) and positional:
        ctx.reporter.error(
            "positional arguments must come before keyword arguments", span, "put the positional ones first: roll(1, dim=0)"
        )
        return None
    if not params and args:
        ctx.reporter.error(
            f"{call_name} takes no arguments, got {len(args)}", span, f"write '{call_name}' alone, without brackets"
        )
        return None
    if call_name == "matrix" and positional and isinstance(positional[0], ast.Tuple):  # matrix((-2, -1))
        ctx.reporter.error(
            "matrix takes one dim by position; several dims are named with dims=",
            positional[0].span,
            f"write matrix(dims={_tuple_text(positional[0])})",
        )
        return None
    if len(positional) > len(params):
        ctx.reporter.error(
            f"{call_name} takes at most {len(params)} argument{'s' if len(params) != 1 else ''}, got {len(positional)}", span
        )
        return None
    for (pname, kind, _), a in zip(params, positional):
        given[pname] = (a, kind)
    for kw in keywords:
        pname = kw.name.name
        if pname not in names:
            ctx.reporter.error(
                f"{call_name} has no argument '{pname}'",
                kw.name.span,
                did_you_mean(pname, names, f"its arguments are: {', '.join(names) or 'none'}"),
            )
            return None
        if pname in given:
            ctx.reporter.error(f"argument '{pname}' is given twice", kw.span, "give each argument once")
            return None
        given[pname] = (kw.value, dict((p[0], p[1]) for p in params)[pname])
    resolved = []
    for pname, kind, default in params:
        if pname in given:
            node, _ = given[pname]
            v = _value(ctx, node, kind if kind != "perm" else "ints", f"{call_name}'s {pname}")
            if v is None:
                return None
            resolved.append((pname, v))
        elif default is REQUIRED:
            ctx.reporter.error(
                f"{call_name} needs its argument '{pname}'", span, f"write {call_name}({', '.join(f'{n}=...' for n in names)})"
            )
            return None
        else:
            resolved.append((pname, default))
    if call_name == "matrix":  # one dim (dim=-1) or several at once (dims=(-2, -1)): exactly one of them kept
        if "dim" in given and "dims" in given:
            ctx.reporter.error(
                "matrix takes dim or dims, not both", span, "write matrix(dim=-1) for one dim, matrix(dims=(-2, -1)) for several"
            )
            return None
        keep = "dims" if "dims" in given else "dim"
        resolved = [(k, v) for k, v in resolved if k == keep]
    return TransformDef(call_name, tuple(resolved), span)


def _tuple_text(node: ast.Tuple) -> str:
    """A tuple of integer literals as written (``(-2, -1)``); ``(-2, -1)`` for anything else."""
    values = []
    for it in node.items:
        if isinstance(it, ast.Int):
            values.append(str(it.value))
        elif isinstance(it, ast.Neg) and isinstance(it.operand, ast.Int):
            values.append(str(-it.operand.value))
        else:
            return "(-2, -1)"
    return "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"


def _dim_size(ctx: Context, domain: Tensor, dim: int, span: Span, what: str):
    rank = len(domain.dims)
    if not -rank <= dim < rank:
        ctx.reporter.error(
            f"{what} {dim} is out of range for {domain}, which has {rank} dim{'s' if rank != 1 else ''}",
            span,
            f"its dims are 0..{rank - 1}, or -{rank}..-1 from the end",
        )
        return REQUIRED
    return domain.dims[dim]


def _check_transform_on(ctx: Context, t: TransformDef, domain, domain_name: str, group: GroupDef | None) -> bool:
    """Check that transform ``t`` can act on ``domain``; for `by` forms, also fit the family group."""
    if group is not None and group.kind in NONCOMPACT_FAMILIES:
        return check_noncompact_transform(ctx, t, domain, domain_name, group)
    if group is not None and group.kind == "units":  # scale, or compose(...) around a bare scale (analysis/units.py)
        return check_units_transform(
            ctx, t, domain, domain_name, group, lambda p: _check_transform_on(ctx, p, domain, domain_name, None)
        )
    if t.name == "compose":  # each part on the domain (analysis/composed.py)
        return all(_check_transform_on(ctx, p, domain, domain_name, group) for p in t.arg("parts"))
    if t.name == "relabel":
        return check_relabel(ctx, t, domain, domain_name)
    span = t.span
    if t.name in CYCLIC_TRANSFORMS:
        if not isinstance(domain, Cyclic):
            ctx.reporter.error(
                f"{t.name} acts on cyclic domains, but {describe(domain, domain_name)} is not cyclic",
                span,
                _by_hint(ctx, group, domain, group.name, domain_name)
                if group is not None
                else (
                    "tensor domains use rot90, flip, roll, permute or transpose"
                    if isinstance(domain, Tensor)
                    else _set_hint(domain)
                ),
            )
            return False
        if group is not None and group.kind in ("cyclic", "dihedral") and isinstance(group.arg, int) and group.arg != domain.n:
            ctx.reporter.error(
                f"{group.kind}({group.arg}) cannot act by shift on {domain}: the sizes differ",
                span,
                f"{group.kind}({domain.n}) acts by shift on {domain}",
            )
            return False
        if t.name == "scale" and math.gcd(t.arg("u"), domain.n) != 1:
            ctx.reporter.error(
                f"scale({t.arg('u')}) is not invertible on {domain}: {t.arg('u')} and {domain.n} share a factor",
                span,
                "a scaling acts as a symmetry only for units u with gcd(u, n) = 1",
            )
            return False
        return True
    if not isinstance(domain, Tensor):
        ctx.reporter.error(
            f"{t.name} acts on tensor dims, but {describe(domain, domain_name)} is not a tensor domain",
            span,
            _by_hint(ctx, group, domain, group.name, domain_name)
            if group is not None
            else ("cyclic domains use shift, scale or negate" if isinstance(domain, Cyclic) else _set_hint(domain)),
        )
        return False
    if t.name in ("rot90", "transpose"):
        dims = t.arg("dims") if t.name == "rot90" else (t.arg("i"), t.arg("j"))
        sizes = [_dim_size(ctx, domain, d, span, "dim") for d in dims]
        if REQUIRED in sizes:
            return False
        rank = len(domain.dims)
        if dims[0] % rank == dims[1] % rank:
            pairs = [(i, j) for j in range(rank) for i in range(j) if domain.dims[i] == domain.dims[j]]
            ctx.reporter.error(
                f"{t.name} needs two different dims, got {dims[0]} and {dims[1]}",
                span,
                (
                    f"write {t.name}(dims=({pairs[-1][0]}, {pairs[-1][1]}))"
                    if t.name == "rot90"
                    else f"write transpose({pairs[-1][0]}, {pairs[-1][1]})"
                )
                if pairs
                else f"no two dims of {domain} have equal sizes",
            )
            return False
        if sizes[0] != sizes[1]:
            pairs = [(i, j) for j in range(rank) for i in range(j) if domain.dims[i] == domain.dims[j]]
            if not pairs:
                hint = f"only square slices can be rotated or transposed onto themselves, and no two dims of {domain} are equal"
            elif t.name == "rot90":
                hint = (
                    f"dims {pairs[-1][0]} and {pairs[-1][1]} have equal sizes: write rot90(dims=({pairs[-1][0]}, {pairs[-1][1]}))"
                )
            else:
                hint = f"dims {pairs[-1][0]} and {pairs[-1][1]} have equal sizes: write transpose({pairs[-1][0]}, {pairs[-1][1]})"
            ctx.reporter.error(
                f"{t.name} over dims {dims} of {domain} needs equal sizes, got {sizes[0]} and {sizes[1]}", span, hint
            )
            return False
        return True
    if t.name == "matrix" and "dims" in dict(t.args):
        return _check_matrix_dims(ctx, t, domain, group)
    if t.name in ("flip", "roll", "matrix"):
        size = _dim_size(ctx, domain, t.arg("dim"), span, "dim")
        if size is REQUIRED:
            return False
        if group is not None and isinstance(group.arg, int) and isinstance(size, int) and size != group.arg:
            ctx.reporter.error(
                f"{group.kind}({group.arg}) cannot act on dim {t.arg('dim')} of {domain}, which has size {size}",
                span,
                _matching_dims_hint(domain, group.arg, f"{group.kind}({group.arg})", t.name, "dim"),
            )
            return False
        return True
    if t.name == "permute":
        if "perm" in dict(t.args):
            size = _dim_size(ctx, domain, t.arg("dim"), span, "dim")
            if size is REQUIRED:
                return False
            perm = t.arg("perm")
            if not isinstance(size, int):
                ctx.reporter.error(
                    f"permute(perm=...) needs a fixed size, but dim {t.arg('dim')} of {domain} is {size}",
                    span,
                    f"declare 'param {size} = ...' to fix its size",
                )
                return False
            if len(perm) != size:  # before anything sized by the dim: its size may be 2^31
                ctx.reporter.error(
                    f"perm {_perm_text(perm)} has {len(perm)} entr{'y' if len(perm) == 1 else 'ies'}, "
                    f"but dim {t.arg('dim')} of {domain} has size {size}",
                    span,
                    f"list each of 0..{size - 1} once"
                    + (f", as in perm=({', '.join(str((i + 1) % size) for i in range(size))})" if size <= 8 else ""),
                )
                return False
            if sorted(perm) != list(range(size)):
                ctx.reporter.error(
                    f"perm {_perm_text(perm)} is not a permutation of 0..{size - 1}",
                    span,
                    f"list each of 0..{size - 1} once"
                    + (f", as in perm=({', '.join(str((i + 1) % size) for i in range(size))})" if size <= 8 else ""),
                )
                return False
            return True
        want = group.arg if group is not None else None
        if group is not None and group.kind == "automorphisms":
            graph = ctx.graphs.get(group.arg)  # resolved when the group was
            want = graph.num_nodes if graph is not None else None
        for d in t.arg("dims"):
            size = _dim_size(ctx, domain, d, span, "dim")
            if size is REQUIRED:
                return False
            if want is not None and size != want:
                what = str(group) if group.kind != "automorphisms" else f"{group} (of a graph with {want} nodes)"
                ctx.reporter.error(
                    f"{what} cannot permute dim {d} of {domain}, which has size {size}",
                    span,
                    _matching_dims_hint(domain, want, str(group), "permute", "dims"),
                )
                return False
        return True
    return True  # pragma: no cover - every transform is handled above


def _check_matrix_dims(ctx: Context, t: TransformDef, domain: Tensor, group: GroupDef | None) -> bool:
    """``matrix(dims=...)``: at least one dim, each once, each of the matrix group's size."""
    span, dims = t.span, t.arg("dims")
    rank = len(domain.dims)
    n = group.arg if group is not None else None
    fits = [i - rank for i, d in enumerate(domain.dims) if d == n]
    example = "(" + ", ".join(map(str, fits[-2:] or [-2, -1])) + ("," if len(fits) == 1 else "") + ")"
    if not dims:
        ctx.reporter.error("matrix(dims=()) lists no dims", span, f"list the dims the matrix acts on: matrix(dims={example})")
        return False
    seen: dict = {}
    for d in dims:
        size = _dim_size(ctx, domain, d, span, "dim")
        if size is REQUIRED:
            return False
        if d % rank in seen:
            same = "" if seen[d % rank] == d else f" (as {seen[d % rank]} and {d})"
            ctx.reporter.error(
                f"matrix(dims={_value_text(dims)}) lists dim {d % rank} of {domain} twice{same}",
                span,
                f"list each dim once: matrix(dims={example})",
            )
            return False
        seen[d % rank] = d
        if n is not None and size != n:
            ctx.reporter.error(
                f"{group.kind}({n}) cannot act on dim {d} of {domain}, which has size {size}",
                span,
                f"matrix(dims=...) applies the same {n} x {n} matrix on every listed dim, so each needs size {n}: "
                + (
                    f"write matrix(dims={example})"
                    if len(fits) > 1
                    else f"only dim {fits[0]} has size {n}: write matrix(dim={fits[0]})"
                    if fits
                    else f"no dim of {domain} has size {n}"
                ),
            )
            return False
    return True


def _value_text(v: tuple) -> str:
    return "(" + ", ".join(map(str, v)) + ("," if len(v) == 1 else "") + ")"


def _set_hint(domain) -> str | None:
    """For a set(...) domain: its transform (analysis/composed.py)."""
    if not isinstance(domain, Labels):
        return None
    a, b = (domain.labels + domain.labels)[:2]
    return f"set domains permute their labels by name: relabel({a}={b}, {b}={a})"


def _perm_text(perm: tuple) -> str:
    """``perm`` as written, its middle elided past 12 entries (a message repeats it, never a page of it)."""
    if len(perm) <= 12:
        return str(perm)
    return "(" + ", ".join(map(str, perm[:5])) + ", ..., " + ", ".join(map(str, perm[-3:])) + ")"


def by_transforms(kind: str, n, domain) -> tuple:
    """(the `by` transforms, written out, that let a family of size ``n`` act on ``domain``; what each needs)."""
    dims = tuple(domain.dims) if isinstance(domain, Tensor) else ()
    rank = len(dims)
    sized = [i for i, d in enumerate(dims) if d == n]
    fits, needs = [], []
    for t in (t for t, families in BY_FAMILIES.items() if kind in families):
        if t == "permute":
            if sized:
                fits.append(f"permute(dims=({sized[0]},))")
            needs.append(f"permute needs a tensor dim of size {n}")
        elif t in ("roll", "matrix"):
            if sized:
                fits.append(f"roll(dim={sized[0]})" if t == "roll" else f"matrix(dim={sized[-1] - rank})")
            needs.append(f"{t} needs a tensor dim of size {n}")
        elif t == "shift":
            if isinstance(domain, Cyclic) and domain.n == n:
                fits.append("shift")
            needs.append(f"shift needs the domain cyclic({n})")
        elif t == "rot90" and n == 4:
            pairs = [(i - rank, j - rank) for j in range(rank) for i in range(j) if dims[i] == dims[j]]
            if pairs:
                fits.append(f"rot90(dims=({pairs[-1][0]}, {pairs[-1][1]}))")
            needs.append("rot90 needs two tensor dims of equal size")
    return fits, needs


def _by_hint(ctx: Context, group: GroupDef, domain, group_name: str, domain_name: str) -> str:
    if group.kind in NONCOMPACT_FAMILIES:
        return noncompact_hint(group, domain, group_name, domain_name)
    n = group.arg
    if group.kind == "automorphisms":
        graph = ctx.graphs.get(group.arg)
        n = graph.num_nodes if graph is not None else None
    fits, needs = by_transforms(group.kind, n, domain)
    if fits:
        return f"write 'action {group_name} on {domain_name} by " + "' or 'by ".join(fits) + "'"
    return f"{group} cannot act on {describe(domain, domain_name)}: " + "; ".join(needs)


def _matching_dims_hint(domain: Tensor, size, group_text: str, transform: str, key: str) -> str:
    """A hint naming the dims of ``domain`` of the size a family needs, or saying that none has it."""
    rank = len(domain.dims)
    dims = [i for i, d in enumerate(domain.dims) if d == size]
    if not dims:
        return f"no dim of {domain} has size {size}, so {group_text} cannot act on it by {transform}"
    if key == "dims":
        written = "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"
        which = f"dim {dims[0]} has" if len(dims) == 1 else "dims " + ", ".join(map(str, dims)) + " have"
        return f"{which} size {size}: write {transform}(dims={written})"
    if len(dims) == 1 or transform == "matrix":
        pick = dims[-1] - rank if transform == "matrix" else dims[0]
        return f"dim {pick} has size {size}: write {transform}(dim={pick})"
    return "dims " + ", ".join(map(str, dims)) + f" have size {size}: write {transform}(dim={dims[0]}), for one"


def _is_identity(expr) -> bool:
    """``by identity`` (with or without arguments, which are an error): valid for any group and any domain."""
    name = expr.name if isinstance(expr, ast.Name) else expr.func.name if isinstance(expr, ast.Call) else None
    return name == "identity"


def resolve_action(ctx: Context, decl: ast.ActionDecl) -> ActionDef | None:
    group = ctx.group_ref(ast.Name(decl.group.span, decl.group.name))
    domain_sym = ctx.symbols.lookup(decl.domain.name)
    domain = None
    if domain_sym is None or domain_sym.kind != "domain":
        what = "unknown domain" if domain_sym is None else f"'{decl.domain.name}' is not a domain; actions act on domains:"
        ctx.reporter.error(
            f"{what} '{decl.domain.name}'" if domain_sym is None else what + f" '{decl.domain.name}'",
            decl.domain.span,
            did_you_mean(decl.domain.name, ctx.symbols.names_of("domain")),
            kind="name",
        )
    else:
        domain = ctx.domain_of(decl.domain.name)
    if group is None or domain is None:
        return None
    if decl.maps is not None:
        if group.kind != "presentation":
            ctx.reporter.error(
                f"group '{decl.group.name}' is {group} and has no named generators",
                decl.group.span,
                _by_hint(ctx, group, domain, decl.group.name, decl.domain.name)
                if group.kind != "product"
                else "declare actions for each factor of the product",
            )
            return None
        maps = []
        seen: dict[str, Span] = {}
        ok = True
        for m in decl.maps:
            gen = m.generator.name
            if gen not in group.generators:
                ctx.reporter.error(
                    f"'{gen}' is not a generator of {decl.group.name}",
                    m.generator.span,
                    did_you_mean(gen, group.generators, f"its generators are: {', '.join(group.generators)}"),
                    kind="name",
                )
                ok = False
                continue
            if gen in seen:
                ctx.reporter.error(
                    f"generator '{gen}' is mapped twice",
                    m.generator.span,
                    "map each generator once",
                    notes=[(seen[gen], "first mapped here")],
                )
                ok = False
                continue
            seen[gen] = m.generator.span
            t = _transform(ctx, m.transform, BLOCK_TRANSFORMS, "in an action block")
            if t is None or not _check_transform_on(ctx, t, domain, decl.domain.name, None):
                ok = False
                continue
            maps.append((gen, t))
        missing = [g for g in group.generators if g not in seen]
        if missing and ok:
            ctx.reporter.error(
                f"the action of {decl.group.name} on {decl.domain.name} gives no transform for {', '.join(repr(g) for g in missing)}",
                decl.span,
                "add " + ", ".join(f"'{g} -> TRANSFORM'" for g in missing) + " to the block",
            )
            return None
        return ActionDef(decl.group.name, decl.domain.name, tuple(maps), None, decl.span) if ok else None
    if _is_identity(decl.by):
        t = _transform(ctx, decl.by, BY_TRANSFORMS, "for a family group")
        return ActionDef(decl.group.name, decl.domain.name, (), t, decl.span) if t is not None else None
    if group.kind == "presentation":
        ctx.reporter.error(
            f"group '{decl.group.name}' is a presentation; give each generator a transform",
            decl.group.span,
            f"write 'action {decl.group.name} on {decl.domain.name} {{ "
            + ", ".join(f"{g} -> ..." for g in group.generators)
            + " }'",
        )
        return None
    if group.kind == "product":
        ctx.reporter.error(
            f"group '{decl.group.name}' is a direct product; it acts through its factors",
            decl.group.span,
            "declare an action for each factor instead",
        )
        return None
    if group.kind == "units" and isinstance(decl.by, ast.Call) and decl.by.func.name == "compose":
        t = units_by_compose(ctx, decl.by, lambda e: _transform(ctx, e, BLOCK_TRANSFORMS, "in compose(...)"))
        ok = t is not None and _check_transform_on(ctx, t, domain, decl.domain.name, group)
        return ActionDef(decl.group.name, decl.domain.name, (), t, decl.span) if ok else None
    t = _transform(ctx, decl.by, BY_TRANSFORMS, "for a family group")
    if t is None:
        return None
    families = BY_FAMILIES[t.name]
    if group.kind not in families or (t.name == "rot90" and group.arg != 4):
        ctx.reporter.error(
            f"{group} cannot act by {t.name}",
            t.span,
            f"{t.name} expresses the action of "
            + " or ".join({"SO1": "SO(1, n)", "O1": "O(1, n)"}.get(f, f"{f}(n)") for f in families)
            if t.name != "rot90"
            else "rot90 expresses the action of dihedral(4) on square images",
        )
        return None
    if not _check_transform_on(ctx, t, domain, decl.domain.name, group):
        return None
    return ActionDef(decl.group.name, decl.domain.name, (), t, decl.span)
