"""Exact evaluation of law formulas on finite domains: transforms as push maps, guards as masks."""

from __future__ import annotations

import math

import numpy as np

from ..syntax import ast
from .domains import BoolDomain, ClassOf, Cyclic, Labels, Range, Tensor
from .groups import MAX_POINTS, identity, is_finite_domain
from .lawir import NotTransform

__all__ = ["Evaluator", "output_perm", "evaluate_guard", "is_bijection"]


def is_bijection(values: np.ndarray, n: int) -> bool:
    """Whether ``values`` (``n`` integers in ``0..n-1``) hit every point: linear time (``np.unique`` sorts or hashes)."""
    values = np.asarray(values)
    if values.size != n:
        return False
    if n and (values.min() < 0 or values.max() >= n):
        return False
    return bool(np.bincount(values.ravel(), minlength=n).all())


class Evaluator:
    """Evaluates one argument expression as a map of its single variable's values."""

    def __init__(self, sym, spec, params: dict, group_of: dict):
        self.sym = sym
        self.spec = spec
        self.params = params  # parameter variable -> int value or group generator name
        self.group_of = group_of  # group variable -> GroupIR

    def values(self, e, var: str, domain, n_values: np.ndarray):
        out = self._values(e, var, domain, n_values)
        if isinstance(domain, Cyclic):  # + - * wrap: every intermediate value is reduced into 0..n-1
            return out if out is n_values else out % domain.n  # the variable's own values are in 0..n-1 already
        if isinstance(out, int) and abs(out) > 2**62:
            raise NotTransform  # far outside any range this domain holds
        return out

    def _into(self, inner, domain):
        """Indices into the domain's points of the values ``inner``; NotTransform if some value lies outside it."""
        inner = np.asarray(inner)
        if isinstance(domain, Cyclic):
            return inner % domain.n
        if isinstance(domain, Range):
            inner = inner - domain.lo
        size = domain.size if is_finite_domain(domain) else (math.prod(domain.dims) if isinstance(domain, Tensor) else 0)
        if inner.size and (inner.min() < 0 or inner.max() >= size):
            raise NotTransform  # a range value moved out of its range
        return inner

    def _values(self, e, var: str, domain, n_values: np.ndarray):
        if isinstance(e, ast.Name):
            if e.name == var:
                return n_values
            if e.name in self.params and not isinstance(self.params[e.name], str):
                return self.params[e.name]
            if e.name in self.spec.params:
                return self.spec.params[e.name]
            raise NotTransform
        if isinstance(e, ast.Int):
            return e.value
        if isinstance(e, ast.Neg):
            return -self.values(e.operand, var, domain, n_values)
        if isinstance(e, ast.BinOp):
            a = self.values(e.left, var, domain, n_values)
            b = self.values(e.right, var, domain, n_values)
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b}[e.op]()
        if isinstance(e, ast.Act) and isinstance(e.element, ast.Name) and e.element.name in self.group_of:
            inner = self.values(e.operand, var, domain, n_values)
            gen = self.params[e.element.name]
            if gen is None:
                return inner
            action = self.sym.action(self.group_of[e.element.name], domain, self.spec.domain_name(domain), e.span)
            if action is None or gen not in action.perms:
                raise NotTransform
            pushed = action.perms[gen][self._into(inner, domain)]
            return pushed + domain.lo if isinstance(domain, Range) else pushed
        raise NotTransform

    def perm(self, e, var: str, domain) -> np.ndarray:
        """The push map x -> e(x) on the domain's points; NotTransform unless a bijection."""
        if isinstance(domain, Tensor):
            n = math.prod(domain.dims) if all(isinstance(d, int) for d in domain.dims) else None
        elif is_finite_domain(domain):
            n = domain.size
        else:
            n = None
        if n is None or n > MAX_POINTS:
            raise NotTransform
        offset = domain.lo if isinstance(domain, Range) else 0  # range values are lo..hi-1, stored as 0..n-1
        base = identity(n) + offset
        out = np.asarray(self.values(e, var, domain, base))
        if out.shape != base.shape:
            out = np.broadcast_to(out, base.shape).copy()
        if isinstance(domain, Cyclic):
            pass  # values() reduced every value into 0..n-1
        elif isinstance(domain, Range):
            out = out - offset
            if out.min() < 0 or out.max() >= domain.size:
                raise NotTransform
        elif not isinstance(e, (ast.Name, ast.Act)):
            raise NotTransform  # arithmetic on labels, nodes or positions
        if not is_bijection(out, n):
            raise NotTransform
        return out.astype(np.int64)


def output_perm(ops: list, output, ev: Evaluator, sym, spec):
    """The push map of output ops (outermost first) on the output's finite points, or None."""
    if isinstance(output, ClassOf):
        domain = output.domain
        n = domain.size
    elif isinstance(output, BoolDomain):
        domain, n = output, 2
    elif isinstance(output, Tensor) and all(isinstance(d, int) for d in output.dims):
        domain, n = output, math.prod(output.dims)
    else:
        n = None
    if n is None or n > MAX_POINTS:  # not finite, or too many classes to tabulate
        if ops:
            raise NotTransform
        return None
    out = identity(n)
    for kind, arg in reversed(ops):  # innermost op first
        if kind == "not":
            if not isinstance(output, BoolDomain):
                raise NotTransform
            step = 1 - identity(2)
        elif kind == "act":
            gen = ev.params.get(arg.name)
            if gen is None:
                step = identity(n)
            else:
                action = sym.action(ev.group_of[arg.name], domain, spec.domain_name(domain), arg.span)
                if action is None or gen not in action.perms:
                    raise NotTransform
                step = action.perms[gen]
        elif isinstance(domain, Cyclic):
            v = identity(n)
            c = ev.values(arg, "", domain, v) if arg is not None else 0
            c = np.asarray(c)
            # only the op asked for is computed (each is a table over every class: 10^6 entries on cyclic(10^6))
            step = {"+": np.add, "-": np.subtract, "rsub": lambda a, b: b - a, "*": np.multiply}.get(kind, None)
            step = (-v if step is None else step(v, c)) % n
            # a shift or negation of cyclic(n) is always a bijection, a scaling by a constant u when gcd(u, n) = 1
            if c.ndim == 0:
                if kind == "*" and math.gcd(int(c) % n, n) != 1:
                    raise NotTransform
            elif not is_bijection(step, n):
                raise NotTransform
        else:
            raise NotTransform
        out = step[out]
    return out.astype(np.int64)


def evaluate_guard(e, env: dict, spec, sym):
    if isinstance(e, ast.Name):
        if e.name in env:
            return env[e.name]
        if e.name in spec.params:
            return spec.params[e.name]
        for d in spec.domains.values():
            if isinstance(d, Labels) and e.name in d.labels:
                return d.labels.index(e.name)
        raise NotTransform
    if isinstance(e, ast.Int):
        return e.value
    if isinstance(e, ast.Neg):
        return -evaluate_guard(e.operand, env, spec, sym)
    if isinstance(e, ast.BinOp):
        a, b = evaluate_guard(e.left, env, spec, sym), evaluate_guard(e.right, env, spec, sym)
        return {"+": a + b, "-": a - b, "*": a * b}[e.op]
    if isinstance(e, ast.Not):
        return ~np.asarray(evaluate_guard(e.operand, env, spec, sym), dtype=bool)
    if isinstance(e, ast.Logic):
        a = np.asarray(evaluate_guard(e.left, env, spec, sym), dtype=bool)
        b = np.asarray(evaluate_guard(e.right, env, spec, sym), dtype=bool)
        return {"and": a & b, "or": a | b, "=>": ~a | b}[e.op]
    if isinstance(e, ast.Compare):
        out = True
        for a, b, op in zip(e.operands, e.operands[1:], e.ops):
            x, y = evaluate_guard(a, env, spec, sym), evaluate_guard(b, env, spec, sym)
            out = out & {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]
        return out
    if isinstance(e, ast.Call) and e.func.name == "between":
        graph = sym.graph(e.args[0].name)
        dist = graph.distances
        u, v, w = (np.asarray(evaluate_guard(a, env, spec, sym)) for a in e.args[1:])
        return (dist[u, v] + dist[v, w] == dist[u, w]) & (dist[u, w] >= 0)
    if isinstance(e, ast.Call) and e.func.name in ("abs", "min", "max"):
        args = [np.asarray(evaluate_guard(a, env, spec, sym)) for a in e.args]
        return np.abs(args[0]) if e.func.name == "abs" else (np.minimum if e.func.name == "min" else np.maximum)(*args)
    raise NotTransform
