"""Test helpers: check that a module commutes with a spec's group, as e3nn's ``assert_equivariant`` does.

``assert_equivariant(module, spec, layer, x)`` draws random elements of the
layer's group, applies each to the input and to the output, each by that
domain's own action in the spec, and compares ``module(g . x)`` with
``g . module(x)`` in the input's dtype with a dtype-scaled tolerance (float64:
1e-10 relative). By default it checks a copy of the module whose parameters
are all drawn at random, so that a layer which is equivariant only at its
initial values (a zero bias outside the invariant subspace) fails.

The spec's analysis is read only through the frozen lookups
``spec.ir.group(gdef)`` and ``spec.ir.action(gir, domain)``.
"""

from __future__ import annotations

import copy

import torch

from . import runtime as rt

__all__ = ["assert_equivariant", "layer_sampler", "randomized_copy", "TOLERANCE"]

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}

_ENDS = ("input", "output")  # the sampler's keys for the layer's source and target domains


def layer_sampler(spec, layer: str) -> rt.GroupSampler:
    """The ``rt.GroupSampler`` of a layer's group acting on its input (key ``"input"``) and output (``"output"``).

    Built from the same description as the compiled modules' samplers
    (``symspec.codegen.draws.group_description``): a finite group permuting
    fixed positions of both ends is one table of every element (random words
    past 5000 elements); otherwise each factor of a product is drawn on its
    own, acting on each end by that end's action (the identity where it acts
    trivially).
    """
    from .codegen.draws import group_description

    definition = spec.layers[layer]
    gir = spec.ir.group(definition.group)
    domains = dict(zip(_ENDS, (definition.source, definition.target)))
    try:
        factors = group_description(spec, gir, domains)
    except ValueError as why:
        raise ValueError(f"assert_equivariant: {why}") from None
    return rt.GroupSampler(gir.name, factors)


def randomized_copy(module: torch.nn.Module, generator: torch.Generator | None = None) -> torch.nn.Module:
    """A deep copy of ``module`` with every parameter drawn from N(0, 1) (drawn on the CPU, then cast to its device and dtype)."""
    out = copy.deepcopy(module)
    with torch.no_grad():
        for p in out.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64))
    return out


def assert_equivariant(
    module,
    spec,
    layer: str,
    x: torch.Tensor,
    elements: int = 8,
    generator: torch.Generator | None = None,
    atol: float | None = None,
    randomize: bool = True,
) -> float:
    """Raise AssertionError unless ``module`` commutes with the group of ``layer`` on ``x``; return the worst error.

    ``x`` is ``[batch, c_in, *shape]``; every example gets the same element per
    trial, ``elements`` trials (every element when the group is one table of
    at most ``elements`` elements). Each factor of a product acts on the input
    and on the output by that domain's own action (the identity where it acts
    trivially). ``randomize`` (default): check a copy of an ``nn.Module`` whose
    parameters are all drawn from N(0, 1) with ``generator``, so the check
    holds for any trained values, not only the initial ones (zero biases).
    The error is the largest absolute difference; the bound is ``atol``
    (default ``TOLERANCE[x.dtype]``) times ``max(1, max |module(x)|)``.
    """
    if not hasattr(spec, "layers"):
        raise TypeError(
            f"assert_equivariant takes the loaded spec (symspec.load(path) or symspec.loads(text, name)), "
            f"not {type(spec).__name__}"
        )
    if layer not in spec.layers:
        raise KeyError(f"spec has no layer '{layer}'; its layers are {sorted(spec.layers)}")
    sampler = layer_sampler(spec, layer)
    if randomize and isinstance(module, torch.nn.Module):
        module = randomized_copy(module, generator)
    tol = atol if atol is not None else TOLERANCE.get(x.dtype, 1e-6)
    drawn_on = generator.device if generator is not None else x.device
    with torch.no_grad():
        y = module(x)
        scale = max(1.0, float(y.abs().max())) if y.numel() else 1.0
        worst = 0.0
        exhaustive = sampler.order is not None and sampler.order <= elements
        every = sampler.every(drawn_on) if exhaustive else None
        for trial in range(sampler.order if exhaustive else elements):
            # one element per trial, shared by every example of the batch
            g = (
                rt.Elements(e[trial : trial + 1] for e in every)
                if exhaustive
                else sampler.draw(1, generator, drawn_on, like=dict(zip(_ENDS, (x, y))))
            )
            gx = sampler.act(g, "input", x)
            gy = sampler.act(g, "output", y)
            worst = max(worst, float((module(gx) - gy).abs().max()))
    assert worst <= tol * scale, f"layer {layer} is not equivariant: error {worst:.3g} > {tol * scale:.3g}"
    return worst
