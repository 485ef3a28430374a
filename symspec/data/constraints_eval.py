"""Exact evaluation of a law's formula on a dataset's dense table, over a broadcast grid of its variables.

A model call reads the label of its input from the dense table (the first row of that input, as
:meth:`Table.lookup` answers) and whether it is present; a case counts only when every call is present.
Semantics are the validator's decisions (docs/validation.md): class outputs are their values, bool outputs
0/1, reals compared within the law's tolerances; values of ``cyclic(n)`` wrap, ``range`` values do not.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..analysis.domains import Cyclic
from ..analysis.terms import Kind
from ..syntax import ast

__all__ = ["Unsupported", "Dense", "Evaluator", "DENSE_LIMIT"]

DENSE_LIMIT = 1 << 25  # input spaces up to this size get a dense table (int32 positions + labels)


class Unsupported(Exception):
    """The law uses something this evaluator does not evaluate (the generic path checks it instead)."""


class Dense:
    """A table as dense tensors over its input space: ``pos`` (position of the first row, -1 absent), ``value``."""

    def __init__(self, table):
        if not table.finite() or table.space() > DENSE_LIMIT:
            raise Unsupported("the input space is not finite or too large for a dense table")
        self.table = table
        self.shape = tuple(table.sizes[p] for p in table.params)
        space = math.prod(self.shape)
        # each input's first row (Table.lookup's rule) by one scatter of the rows' keys: O(space) int32, no
        # per-input query (the space may be 2^25 inputs for a few rows)
        none = torch.iinfo(torch.int32).max
        pos = torch.full((space,), none, dtype=torch.int32)
        if len(table):
            pos.scatter_reduce_(0, table.key(), torch.arange(len(table), dtype=torch.int32), "amin")
        pos[pos == none] = -1
        self.pos = pos.view(self.shape)
        target = table.target
        if table.output in ("class", "bool"):  # int32 unless a label (a class of range(lo, hi)) does not fit
            wide = target.numel() > 0 and (int(target.max()) > 2**31 - 1 or int(target.min()) < -(2**31))
            target = target.to(torch.int64 if wide else torch.int32)
        elif table.output == "real":
            target = target.to(torch.float64)
        else:
            raise Unsupported("tensor outputs")
        if len(table) == 0:
            self.value = torch.zeros(self.shape, dtype=target.dtype)
        else:  # converted per row first, then gathered: one tensor of the space in the final dtype
            self.value = target[pos.clamp(min=0)].view(self.shape)

    def row(self, index: tuple) -> int:
        """The file row of one input (by indices value - low), -1 when absent."""
        p = int(self.pos[index])
        return int(self.table.rows[p]) if p >= 0 else -1


class Evaluator:
    """Evaluates typed law terms on a broadcast grid: ``env`` maps each variable to its values (broadcastable)."""

    def __init__(self, spec, dense: Dense, model: str, lows: dict, tol: float, rtol: float):
        self.spec = spec
        self.dense = dense
        self.model = model
        self.lows = lows  # variable -> the low of its domain (its values minus low index the table)
        self.tol, self.rtol = tol, rtol
        self._graph_distances: dict = {}

    # ---- values ------------------------------------------------------------

    def present(self, term, env: dict) -> torch.Tensor:
        """Whether every model call in ``term`` is present in the data (broadcast)."""
        out = torch.ones((), dtype=torch.bool)
        for node in ast.walk(term):
            if isinstance(node, ast.Call) and getattr(node, "model", False):
                out = out & (self.dense.pos[self._index(node, env)] >= 0)
        return out

    def _index(self, call, env: dict) -> tuple:
        if call.func.name != self.model:
            raise Unsupported(f"calls model {call.func.name}, not {self.model}")
        table = self.dense.table
        out = []
        for p, arg in zip(table.params, call.args):
            if not isinstance(arg, ast.Name) or arg.name not in env:
                raise Unsupported("a model argument that is not a law variable")
            out.append(env[arg.name] - table.lows[p])
        return tuple(out)

    def value(self, t, env: dict):
        """('int' | 'real' | 'bool', tensor, modulus or None)."""
        kind = t.ty.kind if getattr(t, "ty", None) is not None else None
        if isinstance(t, ast.Call) and getattr(t, "model", False):
            v = self.dense.value[self._index(t, env)]
            out = self.dense.table.output
            if out == "bool":
                return ("bool", v != 0, None)
            if out == "real":
                return ("real", v, None)
            d = t.ty.domain
            return ("int", v, d.n if isinstance(d, Cyclic) else None)
        if isinstance(t, ast.Call) and t.func.name == "between":
            return ("bool", self._between(t, env), None)
        if isinstance(t, ast.Name):
            if t.name in env and kind is Kind.VALUE:
                d = t.ty.domain
                return ("int", env[t.name], d.n if isinstance(d, Cyclic) else None)
            if kind in (Kind.CONST, Kind.LABEL):
                return ("int", torch.tensor(int(t.ty.value)), None)
            raise Unsupported(f"the name {t.name}")
        if isinstance(t, ast.Int):
            return ("int", torch.tensor(int(t.value)), None)
        if isinstance(t, ast.Real):
            return ("real", torch.tensor(float(t.value), dtype=torch.float64), None)
        if isinstance(t, ast.BinOp) and t.op in ("+", "-", "*"):
            ka, a, _ = self.value(t.left, env)
            kb, b, _ = self.value(t.right, env)
            if "bool" in (ka, kb):
                raise Unsupported("arithmetic on bool")
            if ka == "int" and kb == "int":
                a, b = a.to(torch.int64), b.to(torch.int64)
            r = a + b if t.op == "+" else a - b if t.op == "-" else a * b
            kind_out = "int" if ka == kb == "int" else "real"
            return self._wrap(kind_out, r, t)
        if isinstance(t, ast.Neg):
            k, a, _ = self.value(t.operand, env)
            if k == "bool":
                raise Unsupported("negated bool")
            return self._wrap(k, -a.to(torch.int64) if k == "int" else -a, t)
        if isinstance(t, ast.Not | ast.Logic | ast.Compare):
            return ("bool", self.truth(t, env), None)
        raise Unsupported(f"the term {type(t).__name__}")

    def _wrap(self, kind: str, r, t):
        d = getattr(getattr(t, "ty", None), "domain", None)
        if kind == "int" and isinstance(d, Cyclic):
            return ("int", torch.remainder(r, d.n), d.n)
        return (kind, r, None)

    def graph_distances(self, graph: str) -> torch.Tensor:
        """A declared graph's shortest-path lengths [n, n] (int32, -1 unreachable), built once."""
        if graph not in self._graph_distances:
            ir = getattr(self.spec, "ir", None)
            if ir is None or graph not in ir.graphs:
                raise Unsupported(f"graph {graph} has no built distances")
            try:
                dist = ir.graphs[graph].distances
            except ValueError as err:  # too many nodes to keep all distances
                raise Unsupported(str(err)) from None
            self._graph_distances[graph] = torch.from_numpy(np.array(dist, dtype=np.int32))  # a copy: the IR is sealed
        return self._graph_distances[graph]

    def _between(self, t, env: dict) -> torch.Tensor:
        if len(t.args) != 4 or not all(isinstance(a, ast.Name) for a in t.args):
            raise Unsupported("between with unusual arguments")
        dist = self.graph_distances(t.args[0].name)
        u, w, v = (self.value(a, env)[1] for a in t.args[1:])
        duw, dwv, duv = dist[u, w], dist[w, v], dist[u, v]
        return (duw + dwv == duv) & (duw >= 0) & (dwv >= 0)

    # ---- truth -------------------------------------------------------------

    def truth(self, t, env: dict) -> torch.Tensor:
        """The decided truth of a formula (bool tensor, broadcast)."""
        if isinstance(t, ast.Not):
            return ~self.truth(t.operand, env)
        if isinstance(t, ast.Logic):
            a, b = self.truth(t.left, env), self.truth(t.right, env)
            return a & b if t.op == "and" else a | b if t.op == "or" else ~a | b
        if isinstance(t, ast.Compare):
            return self.compare(t, env)[0]
        kind, v, _ = self.value(t, env)
        if kind != "bool":
            raise Unsupported("a non-bool formula")
        return v

    def compare(self, t, env: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(holds, excess) of a comparison chain: excess > 0 measures how far a failing link is from holding."""
        holds, excess = torch.ones((), dtype=torch.bool), torch.zeros((), dtype=torch.float64)
        operands = [self.value(o, env) for o in t.operands]
        for (ka, a, _), (kb, b, _), op in zip(operands, operands[1:], t.ops):
            if ka == "bool" or kb == "bool":
                if op not in ("==", "!=") or ka == kb == "bool" and op == "!=":
                    raise Unsupported("an order between bools")
                a = a.to(torch.int64) if ka == "bool" else a
                b = b.to(torch.int64) if kb == "bool" else b
            real = "real" in (ka, kb)
            a = a.to(torch.float64) if real else a.to(torch.int64)
            b = b.to(torch.float64) if real else b.to(torch.int64)
            h, e = self._link(a, b, op, real)
            holds = holds & h
            excess = torch.maximum(excess, e)
        return holds, excess

    def _link(self, a, b, op: str, real: bool) -> tuple:
        if real:
            slack = self.tol + self.rtol * b.abs() if op == "==" else self.tol
            if op == "==":
                d = (a - b).abs()
                return d <= slack, torch.where(d <= slack, 0.0, d)
            if op == "!=":
                raise Unsupported("!= between reals")
            # the validator's at_most: a <= b + tol (strictness is not tested on reals)
            holds = a <= b + self.tol if op in ("<=", "<") else b <= a + self.tol
            d = a - b if op in ("<=", "<") else b - a
            return holds, torch.where(holds, 0.0, d).to(torch.float64)
        if op == "==":
            return a == b, (a - b).abs().to(torch.float64)
        if op == "!=":
            return a != b, (a == b).to(torch.float64)
        d = {"<=": a - b, "<": a - b + 1, ">=": b - a, ">": b - a + 1}[op]
        return d <= 0, d.clamp(min=0).to(torch.float64)
