"""Geometry priors on embeddings and models (Hwang & Park name them; the formulas are symspec's).

- ``nuclear_prior(W) = ||W||_* / sqrt(rows * cols)``: the sum of singular values,
  normalized by size so one weight suits any embedding shape; it favours low rank.
- ``spectral_entropy(W) = -sum_i p_i log p_i`` with ``p_i = s_i / sum_j s_j`` over the
  singular values s (the log of the effective rank of Roy & Vetterli, 2007): low
  when the embedding's energy sits in few directions, high for diffuse ones.
- ``lipschitz_penalty``: the mean squared change of a model's output when one
  input moves to a neighbour -- the next value of an ordered finite domain
  (wrapping on cyclic ones), or a Gaussian step of size ``eps`` on real inputs,
  divided by ``eps^2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from .divergences import fp32

__all__ = ["nuclear_prior", "spectral_entropy", "lipschitz_penalty", "bound_tensor", "prior_input"]


def _matrix(w: torch.Tensor) -> torch.Tensor:
    w = fp32(w)
    return w.reshape(w.shape[0], -1) if w.dim() != 2 else w


def nuclear_prior(w: torch.Tensor) -> torch.Tensor:
    m = _matrix(w)
    return torch.linalg.svdvals(m).sum() / math.sqrt(m.shape[0] * m.shape[1])


def spectral_entropy(w: torch.Tensor) -> torch.Tensor:
    s = torch.linalg.svdvals(_matrix(w))
    p = s / s.sum().clamp_min(torch.finfo(s.dtype).tiny)
    return -(p * p.clamp_min(torch.finfo(s.dtype).tiny).log()).sum()


def lipschitz_penalty(model, args: tuple, kinds: tuple, class_output: bool, eps: float = 1e-2, generator=None) -> torch.Tensor:
    """Mean squared output change per unit step of one randomly chosen input per example.

    ``kinds`` per argument: ``("cyclic", n)``, ``("range", lo, hi)``, ``("real",)``,
    or ``("fixed",)`` for inputs that have no neighbours (labels, nodes).
    """
    movable = [i for i, k in enumerate(kinds) if k[0] != "fixed"]
    if not movable:
        raise ValueError("lipschitz(...) needs a model with an ordered or real input")
    n = args[0].shape[0]
    device = args[0].device
    which = torch.tensor(movable, device=device)[torch.randint(0, len(movable), (n,), generator=generator, device=device)]
    moved = []
    scale = 1.0
    for i, (x, kind) in enumerate(zip(args, kinds)):
        pick = which == i
        if kind[0] == "cyclic":
            step = (x + 1) % kind[1]
        elif kind[0] == "range":
            step = torch.where(x + 1 < kind[2], x + 1, x - 1)
        elif kind[0] == "real":
            noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
            step = x + eps * noise
            scale = eps
        else:
            step = x
        shape = (-1,) + (1,) * (x.dim() - 1)
        moved.append(torch.where(pick.view(shape), step, x))
    before, after = fp32(model(*args)), fp32(model(*moved))  # a half-precision change squared over eps^2 overflows
    if class_output:
        before, after = torch.log_softmax(before, -1), torch.log_softmax(after, -1)
    diff = torch.where(before == after, torch.zeros_like(before), after - before).reshape(n, -1)  # -inf on both: no change
    return diff.pow(2).sum(-1).mean() / scale**2


def bound_tensor(bound: dict, name: str, prior: str) -> torch.Tensor:
    """The tensor a prior regularizes, passed as ``loss(batch, name=tensor)``."""
    try:
        return bound[name]
    except KeyError:
        raise TypeError(f"prior {prior} needs the tensor {name}: call loss(batch, {name}=...)") from None


def prior_input(batch, name: str, prior: str, model: str, inputs: tuple) -> torch.Tensor:
    """``batch[name]``, an input of ``model`` that the Lipschitz prior ``prior`` evaluates it on.

    TypeError when ``batch`` is not a mapping (``loss(N)``: nothing to
    evaluate the model on), KeyError when it lacks the field; both name the
    prior and every input it needs.
    """
    needs = f"prior {prior} (lipschitz({model})) evaluates {model} on the batch's fields {', '.join(map(repr, inputs))}"
    if not isinstance(batch, Mapping):
        got = repr(batch) if isinstance(batch, int | float | str) else type(batch).__name__
        raise TypeError(f"{needs}: pass loss(batch) with a mapping holding them, not loss({got})")
    try:
        return batch[name]
    except KeyError:
        raise KeyError(f"{needs}; the batch has: {', '.join(map(str, batch)) or 'nothing'}") from None
