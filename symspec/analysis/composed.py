"""Action-block transforms beyond one op: ``compose(t_1, ..., t_k)`` and ``relabel(a=b, ...)`` on ``set`` domains.

``compose(t_1, t_2, ..., t_k)`` is ``t_1`` after ``t_2`` after ... ``t_k`` (``t_k`` acts first), the composition
order of ``symspec.transforms``: ``compose(shift(-1), scale(3), shift(1))`` maps x to ``3 (x + 1) - 1``.  Its
op sequence is ``[t_1, ..., t_k]``, which ``transforms.ops_push`` applies right to left.  A composition is
one generator's transform; compositions may nest (they are flattened).

``relabel(red=green, green=blue, blue=red)`` permutes the labels of a ``set(...)`` domain by name: each
``a=b`` sends label ``a`` to label ``b``; labels not listed stay.  It is stored as the ``relabel`` op of
``symspec.transforms`` (a push map: ``perm[index of a] = index of b``).

No new grammar: both are constructor calls (``gen_map: NAME "->" ctor``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..syntax import ast
from .context import Context
from .domains import Labels, describe
from .scope import did_you_mean
from .structures import TransformDef

__all__ = ["COMPOSED_TRANSFORMS", "composed_transform", "check_relabel", "op_sequence", "transform_text", "MAX_COMPOSED"]

COMPOSED_TRANSFORMS = ("compose", "relabel")
MAX_COMPOSED = 64  # ops in one generator's composition (each is a push map composed when the action is built)


def composed_transform(ctx: Context, expr: ast.Call, part: Callable) -> TransformDef | None:
    """``compose(...)`` (each argument resolved by ``part``, a block transform) or ``relabel(a=b, ...)``."""
    name = expr.func.name
    if name == "compose":
        if not expr.args or any(isinstance(a, ast.KwArg) for a in expr.args):
            ctx.reporter.error(
                "compose takes the transforms to compose, by position",
                expr.span,
                "write compose(shift(-1), scale(3), shift(1)): the last acts first",
            )
            return None
        parts: list = []
        for a in expr.args:
            t = part(a)
            if t is None:
                return None
            parts += list(t.arg("parts")) if t.name == "compose" else [t]
        if len(parts) > MAX_COMPOSED:
            ctx.reporter.error(
                f"compose(...) has {len(parts)} transforms, more than the limit of {MAX_COMPOSED}",
                expr.span,
                "compose fewer transforms",
            )
            return None
        return TransformDef("compose", (("parts", tuple(parts)),), expr.span)
    pairs = []
    for a in expr.args:
        if not (isinstance(a, ast.KwArg) and isinstance(a.value, ast.Name)):
            ctx.reporter.error(
                "relabel maps labels by name: write label=label",
                a.span,
                "write relabel(red=green, green=red): each label goes to the one after '='",
            )
            return None
        pairs.append((a.name.name, a.value.name, a.name.span, a.value.span))
    if not pairs:
        ctx.reporter.error("relabel(...) lists no labels", expr.span, "write relabel(red=green, green=red)")
        return None
    return TransformDef("relabel", (("map", tuple(pairs)),), expr.span)


def check_relabel(ctx: Context, t: TransformDef, domain, domain_name: str) -> bool:
    """``relabel(a=b, ...)`` on ``domain``: every name a label of it, each source once, a permutation."""
    if not isinstance(domain, Labels):
        ctx.reporter.error(
            f"relabel acts on set(...) domains, but {describe(domain, domain_name)} is not one",
            t.span,
            "cyclic domains use shift, scale or negate; tensor domains use rot90, flip, roll, permute or transpose",
        )
        return False
    labels = domain.labels
    known = set(labels)  # membership in a set: the tuple made relabel over 4*10^4 labels take minutes
    seen: dict = {}
    for src, dst, src_span, dst_span in t.arg("map"):
        for label, span in ((src, src_span), (dst, dst_span)):
            if label not in known:
                ctx.reporter.error(
                    f"'{label}' is not a label of {domain_name}",
                    span,
                    did_you_mean(label, labels, f"its labels are: {', '.join(labels)}"),
                    kind="name",
                )
                return False
        if src in seen:
            ctx.reporter.error(f"label '{src}' is relabelled twice", src_span, "send each label to one label")
            return False
        seen[src] = dst
    images = [seen.get(label, label) for label in labels]
    if len(set(images)) != len(images):
        twice = next(x for x in images if images.count(x) > 1)
        sources = [label for label, image in zip(labels, images) if image == twice]
        ctx.reporter.error(
            f"relabel(...) is not a permutation of {domain_name}: {' and '.join(sources)} both go to {twice}",
            t.span,
            "every label must go to a different label: list the whole cycle, as in relabel(red=green, green=red)",
        )
        return False
    return True


def op_sequence(t: TransformDef, domain, normalized: Callable) -> tuple:
    """The ``(op, args)`` sequence of a block transform on ``domain`` (applied right to left, ``symspec.transforms``).

    ``normalized(args, domain)`` reduces one op's arguments (negative dims, shifts mod n).
    """
    if t.name == "compose":
        return tuple(op for p in t.arg("parts") for op in op_sequence(p, domain, normalized))
    if t.name == "relabel":
        labels = domain.labels
        moves = {src: dst for src, dst, *_spans in t.arg("map")}
        position = {label: i for i, label in enumerate(labels)}
        perm = tuple(position[moves.get(label, label)] for label in labels)
        return (("relabel", (("perm", perm),)),)
    return ((t.name, normalized(t.args, domain)),)


def transform_text(t: TransformDef) -> str:
    """A composed transform as written: ``compose(shift(k=-1), scale(u=3), shift(k=1))``, ``relabel(red=green)``."""
    if t.name == "compose" and not t.arg("parts"):
        return "identity"  # 'r -> identity' in an action block
    if t.name == "compose":
        return (
            "compose(" + ", ".join(transform_text(p) if p.name in COMPOSED_TRANSFORMS else str(p) for p in t.arg("parts")) + ")"
        )
    return "relabel(" + ", ".join(f"{src}={dst}" for src, dst, *_spans in t.arg("map")) + ")"
