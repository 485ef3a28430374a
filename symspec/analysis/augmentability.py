"""Which equivariance laws give a data augmentation, and why the others do not (``LawIR.augment``)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..syntax import ast
from ..syntax.unparse import unparse
from .domains import BoolDomain, ClassOf, Cyclic, Range, RealDomain, Tensor, Units
from .evaluate import Evaluator
from .lawir import NotTransform, names_in
from .units import totient, unit_values

__all__ = ["augmentation"]


# ---- augmentation policy ---------------------------------------------------------------
#
# An equivariance law M(f(T x)) == B(f(x)) gives the augmentation (x, y) -> (T x, M^-1(B(y))) when T is
# invertible and every output op (on either side) is one whose effect on a target can be computed from the
# target alone and undone: negation, not, a shift by a constant or drawn value, a scaling by a unit mod n,
# a group action.

_MAX_ENUMERATED = 100_000  # values of a factor's variables tried when checking that a scaling is invertible


def augmentation(law, spec, sym, model, base, base_ops, moved, moved_ops, sources) -> tuple:
    """(augment, why): the augmentation in words, or why the law gives none."""
    if any(name == "target" for name, _ in model.params):  # augment writes the label to batch["target"]
        return False, (
            f"model {model.name} has a parameter named 'target', the batch key augment writes the label to "
            "(rename the parameter to augment with this law)"
        )
    for i, arg in enumerate(moved.args):
        x = base.args[sources[i]].name
        why = _invertible(arg, x, model.params[sources[i]][1], law, spec, sym)
        if why is not None:
            return False, f"the input transform is not invertible: {why}"
    output = model.output
    for kind, arg in list(base_ops) + list(moved_ops):
        why = _target_op(kind, arg, output, law, spec, sym)
        if why is not None:
            return False, why
    for kind, arg in moved_ops:  # undone on the target: the generator inverts a scaling known when compiling only
        drawn = sorted(v for v in names_in(arg) if v in law.variables) if kind == "*" else []
        if drawn:
            return False, (
                f"the output transform scales by {unparse(arg)}, drawn per example ({', '.join(drawn)}): "
                "augment cannot undo it on the target"
            )
    target = "target"
    for kind, arg in reversed(base_ops):  # innermost first
        target = _op_text(kind, arg, target, output, invert=False)
    for kind, arg in moved_ops:  # undo the moved side's ops, outermost first
        target = _op_text(kind, arg, target, output, invert=True)
    inputs = f"({', '.join(unparse(a) for a in base.args)}) -> ({', '.join(unparse(a) for a in moved.args)})"
    return True, f"inputs {inputs}; " + ("target unchanged" if target == "target" else f"target -> {target}")


def _op_text(kind: str, arg, t: str, output, invert: bool) -> str:
    wrapped = t if t.replace("_", "").isalnum() else f"({t})"
    c = unparse(arg) if arg is not None else ""
    if kind == "neg":
        return f"-{wrapped}"
    if kind == "not":
        return f"not {wrapped}"
    if kind == "act":
        return f"{c}^-1 . {wrapped}" if invert else f"{c} . {wrapped}"
    if kind == "rsub":
        return f"{c} - {wrapped}"
    if kind == "*" and invert:
        n = output.domain.n
        try:
            return f"{wrapped} * {pow(int(c), -1, n)}"  # a literal unit: its inverse mod n
        except ValueError:
            return f"{wrapped} * {c}^-1 (mod {n})"
    if invert:
        kind = {"+": "-", "-": "+"}[kind]
    return f"{wrapped} {kind} {c}"


def _factor_why(factor, domain, law, spec, sym) -> str | None:
    """Why scaling values of a cyclic domain by ``factor`` is not invertible for every value it takes, or None."""
    n = domain.n
    names = sorted(v for v in names_in(factor) if v in law.variables)
    what = f"scaling by {unparse(factor)}"
    if isinstance(factor, ast.Name) and factor.name in law.variables:
        d = law.variables[factor.name].domain
        if isinstance(d, Units) and d.n % n == 0:  # a unit mod a multiple of n is a unit mod n (analysis/units.py)
            return None
    if any(law.variables[v].group is not None for v in names):
        return f"{what} depends on a group element"
    domains = [law.variables[v].domain for v in names]
    if not all(isinstance(d, Cyclic | Range) for d in domains):
        return f"{what} is not an integer scaling"
    # a units(n) variable takes only the units (analysis/units.py)
    sizes = [totient(d.n) if isinstance(d, Units) else d.size for d in domains]
    total = int(np.prod(sizes, dtype=object)) if domains else 1
    if total > _MAX_ENUMERATED:
        return f"cannot tell whether {what} is invertible mod {n} for each of its {total} values"
    axes = [
        unit_values(d.n) if isinstance(d, Units) else np.arange(d.size) + (d.lo if isinstance(d, Range) else 0) for d in domains
    ]
    grids = np.meshgrid(*axes, indexing="ij")
    env = {v: g.reshape(-1) for v, g in zip(names, grids)}
    try:
        values = np.asarray(Evaluator(sym, spec, env, {}).values(factor, "", domain, np.zeros(0, dtype=np.int64)))
    except NotTransform:
        return f"{what} is not an integer scaling"
    except OverflowError:  # a modulus beyond 64 bits
        return f"cannot tell whether {what} is invertible mod {n}"
    values = np.broadcast_to(values, (total,))
    bad = [i for i, v in enumerate(values.tolist()) if math.gcd(int(v), n) != 1]
    if not bad:
        return None
    if not names:
        return f"{what} is not invertible mod {n}"
    at = ", ".join(f"{v} = {int(env[v][bad[0]])}" for v in names)
    return f"{what} is not invertible mod {n} (at {at})"


def _invertible(e, x: str, domain, law, spec, sym) -> str | None:
    """Why ``e`` (an argument built from variable ``x`` of ``domain``) is not a bijection of the domain, or None."""
    if isinstance(domain, Range) and not (isinstance(e, ast.Name) and e.name == x):
        return _range_bijection(e, x, domain, law, spec, sym)
    while True:
        if isinstance(e, ast.Name) and e.name == x:
            return None
        if isinstance(e, ast.Act):
            e = e.operand  # a group action is a bijection
        elif isinstance(e, ast.Not) and isinstance(domain, BoolDomain):
            e = e.operand
        elif isinstance(e, ast.Neg) and isinstance(domain, Cyclic | RealDomain | Tensor):
            e = e.operand
        elif isinstance(e, ast.BinOp) and isinstance(domain, Cyclic | RealDomain | Tensor):
            mine, other = (e.left, e.right) if x in names_in(e.left) else (e.right, e.left)
            if e.op == "*":
                if isinstance(domain, Cyclic):
                    why = _factor_why(other, domain, law, spec, sym)
                    if why is not None:
                        return why
                elif not (isinstance(other, ast.Int | ast.Real) and other.value != 0) and not _nonzero_draw(other, law):
                    return f"scaling by {unparse(other)} is not known to be nonzero"
            elif e.op not in ("+", "-"):
                return f"{unparse(e)} is not a shift, scaling, negation or group action"
            e = mine
        else:
            return f"{unparse(e)} is not a shift, scaling, negation or group action of {x} on {domain}"


def _nonzero_draw(e, law) -> bool:
    """``e`` is a variable drawn from a real interval without 0 (``forall k: real(0.1, 10)``)."""
    var = law.variables.get(e.name) if isinstance(e, ast.Name) else None
    d = getattr(var, "domain", None)
    return isinstance(d, RealDomain) and d.bounded and (d.lo > 0 or d.hi <= 0)


def _range_bijection(e, x: str, domain, law, spec, sym) -> str | None:
    """Whether ``e`` maps ``range(lo, hi)`` onto itself for every value of its parameters (tried one by one)."""
    names = sorted(v for v in names_in(e) if v in law.variables and v != x)
    if any(law.variables[v].group is not None for v in names):
        return f"{unparse(e)} moves values of {domain}, which do not wrap"
    domains = [law.variables[v].domain for v in names]
    if not all(isinstance(d, Cyclic | Range) for d in domains):
        return f"{unparse(e)} is not a shift, scaling or negation of {x}"
    total = int(np.prod([d.size for d in domains], dtype=object)) if domains else 1
    if total * domain.size > 10 * _MAX_ENUMERATED:
        return f"{unparse(e)} moves values of {domain}, which do not wrap"
    lows = [d.lo if isinstance(d, Range) else 0 for d in domains]
    for combo in itertools.product(*[range(lo, lo + d.size) for lo, d in zip(lows, domains)]):
        try:
            Evaluator(sym, spec, dict(zip(names, combo)), {}).perm(e, x, domain)
        except NotTransform:
            at = f" (at {', '.join(f'{v} = {c}' for v, c in zip(names, combo))})" if names else ""
            return f"{unparse(e)} does not map {domain} onto itself{at}: range values do not wrap"
    return None


def _target_op(kind: str, arg, output, law, spec, sym) -> str | None:
    """Why an output op cannot be applied to (and undone on) a target, or None."""
    if kind == "act":
        return None
    domain = output.domain if isinstance(output, ClassOf) else output
    if kind == "not":
        return None if isinstance(domain, BoolDomain) else "not applies only to bool outputs"
    if isinstance(domain, Cyclic):
        if kind == "*":
            why = _factor_why(arg, domain, law, spec, sym)
            return None if why is None else f"the output transform is not invertible: {why}"
        return None  # negation and shifts wrap mod n
    if isinstance(domain, RealDomain | Tensor):
        if kind in ("neg", "+", "-", "rsub"):
            return None
        kind_of = "real" if isinstance(domain, RealDomain) else "a real tensor"
        return f"the output is {kind_of} and the transform (scaling by {unparse(arg)}) is not an action, a negation or a shift"
    if isinstance(domain, Range):
        return f"shifting or scaling a class of {domain} can leave it (range classes do not wrap)"
    return f"the output transform is not an action on the classes of {domain}"
