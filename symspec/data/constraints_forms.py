"""Recognizing the constraint forms checked on data, by the law's structure (names and argument order free).

Forms: ``constant`` (one call compared with a constant, or a bool call asserted or negated), ``pair`` (a
formula of two calls with two variables swapped: antisymmetry, asymmetry), ``transitive`` (``A(x, y) and
B(y, z) => C(x, z)``) and ``triangle`` (``d(u, v) OP d(u, w) + d(w, v)``, any orientation of each call).
Every call is to one model with plain variables as arguments; positions other than the two compared
variables hold the same variables in every call (a context, such as the attribute of ``cmp(i, a, j)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..analysis.domains import FINITE, Cyclic
from ..analysis.terms import Kind
from ..syntax import ast

__all__ = ["Form", "recognize", "model_calls", "const_value"]


@dataclass
class Form:
    kind: str  # "constant" | "pair" | "transitive" | "triangle"
    variables: list  # the law's variables, chunked along the first
    calls: list  # the model calls in source order
    slots: tuple = ()  # (p, q): the argument positions of the compared variables (pair/transitive/triangle)
    context: dict = field(default_factory=dict)  # position -> variable, the same in every call
    detail: dict = field(default_factory=dict)  # form-specific: the atoms and path of a transitive law, ...


def model_calls(term) -> list:
    return [n for n in ast.walk(term) if isinstance(n, ast.Call) and getattr(n, "model", False)]


def _is_const(t) -> bool:
    if isinstance(t, ast.Int | ast.Real):
        return True
    if isinstance(t, ast.Neg):  # a negative literal (a class of range(-2, 5))
        return isinstance(t.operand, ast.Int | ast.Real)
    return isinstance(t, ast.Name) and getattr(t, "ty", None) is not None and t.ty.kind in (Kind.CONST, Kind.LABEL)


def const_value(t):
    """The value of a constant term (``_is_const``): a number, a negative literal, a param or a label."""
    if isinstance(t, ast.Neg):
        return -const_value(t.operand)
    return t.ty.value if isinstance(t, ast.Name) else t.value


def _is_atom(t, output: str) -> bool:
    """A bool call, or a class/real call compared with one constant by ``==``."""
    if isinstance(t, ast.Call) and getattr(t, "model", False):
        return output == "bool"
    if isinstance(t, ast.Compare) and len(t.ops) == 1 and t.ops[0] == "==":
        a, b = t.operands
        calls = [x for x in (a, b) if isinstance(x, ast.Call) and getattr(x, "model", False)]
        return len(calls) == 1 and _is_const(b if calls[0] is a else a)
    return False


def _is_formula(t, output: str) -> bool:
    """Atoms under not/and/or/=> and ``==`` between formulas."""
    if _is_atom(t, output):
        return True
    if isinstance(t, ast.Not):
        return _is_formula(t.operand, output)
    if isinstance(t, ast.Logic):
        return _is_formula(t.left, output) and _is_formula(t.right, output)
    if isinstance(t, ast.Compare) and t.ops == ("==",):
        return all(_is_formula(o, output) for o in t.operands)
    return False


def _args(call) -> tuple | None:
    if not all(isinstance(a, ast.Name) for a in call.args):
        return None
    return tuple(a.name for a in call.args)


def _slots(arg_lists: list, pair_vars: set) -> tuple | None:
    """(p, q, context) when every call has exactly its compared variables at p and q and the same context."""
    n = len(arg_lists[0])
    positions = [i for i in range(n) if any(args[i] in pair_vars for args in arg_lists)]
    if len(positions) != 2:
        return None
    p, q = positions
    context = {}
    for i in range(n):
        if i in (p, q):
            if not all(args[i] in pair_vars for args in arg_lists):
                return None
            continue
        names = {args[i] for args in arg_lists}
        if len(names) != 1 or names & pair_vars:
            return None
        context[i] = names.pop()
    return p, q, context


def recognize(info, table) -> Form | None:
    """The form of a checked law (``LawInfo``) on ``table``'s model, or None."""
    body, guard = info.body, info.guard
    if body is None or (info.decl.guard is not None and guard is None):
        return None
    calls = model_calls(body)
    if not calls or any(c.func.name != table.model for c in calls) or (guard is not None and model_calls(guard)):
        return None
    arg_lists = [_args(c) for c in calls]
    if any(a is None or len(a) != len(table.params) for a in arg_lists):
        return None
    if any(name not in info.variables for a in arg_lists for name in a):  # a constant by name (a param, a label)
        return None
    used = set()
    for t in (body, guard):
        if t is not None:
            used |= {n.name for n in ast.walk(t) if isinstance(n, ast.Name) and n.name in info.variables}
    for name in used:
        if not isinstance(info.variables[name].domain, FINITE):
            return None
    call_vars = {v for args in arg_lists for v in args}
    if used - call_vars:  # a variable only the guard mentions: not one of these forms
        return None
    order = [v for args in arg_lists for v in args]
    variables = list(dict.fromkeys(order))
    output = table.output
    if len(calls) == 1:
        return _constant(body, calls, variables, output)
    if len(calls) == 2:
        return _pair(body, calls, arg_lists, variables, output)
    if len(calls) == 3:
        return _transitive(body, calls, arg_lists, variables, output) or _triangle(
            body, calls, arg_lists, variables, output, table
        )
    return None


def _constant(body, calls, variables, output) -> Form | None:
    call = calls[0]
    ok = False
    if body is call or (isinstance(body, ast.Not) and _is_atom(body.operand, output)):
        ok = output == "bool" or body is not call
    elif isinstance(body, ast.Compare) and len(body.ops) == 1:
        a, b = body.operands
        const = b if a is call else a if b is call else None
        ok = const is not None and _is_const(const) and output in ("class", "bool", "real")
        if ok and output == "bool" and body.ops[0] != "==":
            ok = False
    if not ok:
        return None
    return Form("constant", variables, calls)


def _pair(body, calls, arg_lists, variables, output) -> Form | None:
    if not _is_formula(body, output):
        return None
    a, b = arg_lists
    for pair_vars in _candidate_pairs(a, b):
        found = _slots([a, b], pair_vars)
        if found is None:
            continue
        p, q, context = found
        if a[p] != a[q] and a[p] == b[q] and a[q] == b[p]:  # swapped
            return Form("pair", variables, calls, (p, q), context)
    return None


def _candidate_pairs(a: tuple, b: tuple) -> list:
    diff = {x for x, y in zip(a, b) if x != y} | {y for x, y in zip(a, b) if x != y}
    return [diff] if len(diff) == 2 else []


def _transitive(body, calls, arg_lists, variables, output) -> Form | None:
    if not (isinstance(body, ast.Logic) and body.op == "=>" and isinstance(body.left, ast.Logic) and body.left.op == "and"):
        return None
    atoms = [body.left.left, body.left.right, body.right]
    if not all(_is_atom(t, output) for t in atoms):
        return None
    atom_calls = [model_calls(t)[0] for t in atoms]
    args = [_args(c) for c in atom_calls]
    counts: dict = {}
    for a in args:
        for v in a:
            counts[v] = counts.get(v, 0) + 1
    triple = {v for v, k in counts.items() if k == 2}
    if len(triple) != 3:
        return None
    found = _slots(args, triple)
    if found is None:
        return None
    p, q, context = found
    (s1, t1), (s2, t2), (s3, t3) = ((a[p], a[q]) for a in args)
    if len({s1, t1}) < 2 or len({s2, t2}) < 2 or len({s3, t3}) < 2:
        return None
    if t1 == s2 and s3 == s1 and t3 == t2:
        path = (0, 1)  # x -A-> y -B-> z, conclusion x -> z
    elif t2 == s1 and s3 == s2 and t3 == t1:
        path = (1, 0)
    else:
        return None
    return Form("transitive", variables, calls, (p, q), context, {"atoms": atoms, "path": path})


def _triangle(body, calls, arg_lists, variables, output, table) -> Form | None:
    if not (isinstance(body, ast.Compare) and len(body.ops) == 1) or output not in ("class", "real"):
        return None
    if output == "class" and _cyclic_output(calls[0]):
        return None  # sums of cyclic classes wrap: not a triangle inequality
    left, right = body.operands
    op = body.ops[0]
    if isinstance(left, ast.BinOp):  # the sum on the left: mirror the comparison
        left, right = right, left
        op = {"<=": ">=", "<": ">", ">=": "<=", ">": "<", "==": "=="}[op]
    if not (isinstance(right, ast.BinOp) and right.op == "+" and isinstance(left, ast.Call)):
        return None
    parts = [right.left, right.right]
    if not all(isinstance(x, ast.Call) and getattr(x, "model", False) for x in parts):
        return None
    args = [_args(c) for c in (left, *parts)]
    # context positions hold one variable in all three calls (and it appears nowhere else); the other two are slots
    context, slot_positions = {}, []
    for i in range(len(args[0])):
        names = {a[i] for a in args}
        if len(names) == 1 and all(a.count(a[i]) == 1 for a in args):
            context[i] = names.pop()
        else:
            slot_positions.append(i)
    if len(slot_positions) != 2:
        return None
    p, q = slot_positions
    x = (args[0][p], args[0][q])
    if x[0] == x[1]:
        return None
    edges = [(a[p], a[q]) for a in args[1:]]
    others = {v for e in edges for v in e} - set(x)
    if len(others) != 1 or set(context.values()) & ({v for e in edges for v in e} | set(x)):
        return None
    (w,) = others
    first = [e for e in edges if x[0] in e and w in e]
    second = [e for e in edges if x[1] in e and w in e]
    if len(first) != 1 or len(second) != 1 or first[0] is second[0] or any(len(set(e)) != 2 for e in edges):
        return None
    detail = {"op": op, "sides": (left, right), "w": w, "u": x[0], "v": x[1], "first": first[0], "second": second[0]}
    return Form("triangle", variables, calls, (p, q), context, detail)


def _cyclic_output(call) -> bool:
    return isinstance(getattr(call.ty, "domain", None), Cyclic)
