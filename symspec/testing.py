"""Test helpers: check that a module commutes with a spec's group, as e3nn's ``assert_equivariant`` does.

``assert_equivariant(module, spec, layer, x)`` draws random elements of the
layer's group, applies each to the input and to the output by the spec's
actions, and compares ``module(g . x)`` with ``g . module(x)`` in the input's
dtype with a dtype-scaled tolerance (float64 by default: 1e-10 relative).
"""

from __future__ import annotations

import torch

from . import runtime as rt
from .analysis.domains import RealDomain, Tensor

__all__ = ["assert_equivariant", "TOLERANCE"]

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}


def _ops(action, gens) -> dict:
    return {g: [(op, dict(args)) for op, args in action.ops[g]] for g in gens}


def _sampler(spec, gir, action, domain, generator):
    """A function x -> g . x for one random element per call (batch-wide), following the spec's action."""
    if action is None or action.kind == "trivial" or isinstance(domain, RealDomain):
        return None
    if action.perms and not gir.continuous:
        return ("table", rt.action_table(_ops(action, gir.generators), shape=tuple(domain.dims)))
    parts = []
    for f in gir.factors or (gir,):
        a = spec.ir.action(f, domain)
        if a.perms and f.generators:  # a finite factor on fixed dims: a random element of its table
            parts.append(("table", rt.action_table(_ops(a, f.generators), shape=tuple(domain.dims))))
        elif not f.generators and a.kind != "matrix":
            continue
        elif a.kind == "matrix":
            parts.append(("matrix", f.definition.arg, f.definition.kind == "SO", a.matrix_dim))
        elif a.kind == "symbolic" and f.definition.kind == "symmetric":
            dims = dict(next(iter(a.ops.values()))[0][1])["dims"]
            parts.append(("permute", dims))
        else:
            raise ValueError(f"assert_equivariant cannot sample {f.name} acting on {domain}")
    return ("parts", parts)


def assert_equivariant(
    module, spec, layer: str, x: torch.Tensor, elements: int = 8, generator=None, atol: float | None = None
) -> float:
    """Raise AssertionError unless ``module`` commutes with the group of ``layer`` on ``x``; return the worst error.

    ``x`` is ``[batch, c_in, *shape]``; every example gets the same element per
    trial, ``elements`` trials (all elements when the group is a small table).
    """
    if layer not in spec.layers:
        raise KeyError(f"spec has no layer '{layer}'; its layers are {sorted(spec.layers)}")
    gir, src, dst = spec.ir.layers[layer]
    definition = spec.layers[layer]
    sample_in = _sampler(spec, gir, src, definition.source, generator)
    sample_out = _sampler(spec, gir, dst, definition.target, generator)
    tol = atol if atol is not None else TOLERANCE.get(x.dtype, 1e-6)
    y = module(x)
    scale = max(1.0, float(y.detach().abs().max()))
    worst = 0.0
    if sample_in is not None and sample_in[0] == "table":
        tables = [sample_in[1]] + ([sample_out[1]] if sample_out is not None else [])
        rows = rt.joint_elements(tables)
        picks = (
            range(rows[0].shape[0])
            if rows[0].shape[0] <= elements
            else torch.randint(0, rows[0].shape[0], (elements,), generator=generator).tolist()
        )
        for r in picks:
            gx = rt.act_on_positions(x, rows[0][r].to(x.device), len(definition.source.dims))
            gy = rt.act_on_positions(y, rows[1][r].to(y.device), len(definition.target.dims)) if sample_out is not None else y
            worst = max(worst, float((module(gx) - gy).detach().abs().max()))
    else:
        out_parts = sample_out[1] if sample_out is not None else [None] * len(sample_in[1])
        for _ in range(elements):
            gx, gy = x, y
            for part, out_part in zip(sample_in[1], out_parts):
                if part[0] == "table":  # the same random element on input and output: rows of a joint table
                    rows = rt.joint_elements([part[1]] + ([out_part[1]] if out_part is not None else []))
                    r = int(torch.randint(0, rows[0].shape[0], (1,), generator=generator))
                    gx = rt.act_on_positions(gx, rows[0][r].to(x.device), len(definition.source.dims))
                    if out_part is not None:
                        gy = rt.act_on_positions(gy, rows[1][r].to(y.device), len(definition.target.dims))
                elif part[0] == "permute":
                    n = x.shape[2 + part[1][0]]
                    perm = rt.random_permutations(1, n, generator, x.device).expand(x.shape[0], n)
                    for d in part[1]:  # event dim d sits after the batch and channel dims
                        gx = rt.permute_event_dim(gx, perm, d + 1)
                        if isinstance(definition.target, Tensor):
                            gy = rt.permute_event_dim(gy, perm, d + 1)
                else:
                    _, size, special, dim = part
                    q = rt.haar_orthogonal(1, size, special, generator, x.device, torch.float64).expand(x.shape[0], size, size)
                    gx = rt.matrix_event_dim(gx, q, dim + 1)
                    if isinstance(definition.target, Tensor):
                        gy = rt.matrix_event_dim(gy, q, dim + 1)
            worst = max(worst, float((module(gx) - gy).detach().abs().max()))
    assert worst <= tol * scale, f"layer {layer} is not equivariant: error {worst:.3g} > {tol * scale:.3g}"
    return worst
