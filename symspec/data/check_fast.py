"""Labels of class outputs as one-hot logits that are never written out: checks cost O(cases), not O(cases x classes).

A data label as a class output is the logits ``0`` at the label and ``-SURE`` elsewhere (:class:`TableModel`).
Written out, every check pays for the whole class dimension (``p = 1000``: a thousand floats per call,
log-softmax, argmax, divergences). :class:`OneHot` is that tensor held as its labels only: the operations
a compiled check applies to class outputs (``log_softmax``, ``argmax``, splitting a fused batch, the
finiteness test) and the runtime's divergences and pushforwards of one-hot distributions (:class:`FastRuntime`)
are computed from the labels, exactly as the written-out tensor would give them; any other operation
writes the tensor out (``__torch_dispatch__``) and runs as usual, so the result is always the same.
"""

from __future__ import annotations

import types

import torch
from torch.utils._pytree import tree_map

__all__ = ["OneHot", "FastRuntime", "fast_validator"]

SURE = 1000.0  # the gap between the label's logit and the others' (exp(-1000) is exactly 0 in float32)
_LOG_SOFTMAX = {torch.log_softmax, torch.Tensor.log_softmax, torch.nn.functional.log_softmax}
_ARGMAX = {torch.argmax, torch.Tensor.argmax}
_SPLIT = {torch.split, torch.Tensor.split}
_RESHAPE = {torch.Tensor.reshape, torch.reshape, torch.Tensor.view}
_AMINMAX = {torch.aminmax, torch.Tensor.aminmax}
_SELF = {torch.Tensor.detach, torch.Tensor.contiguous}


def _last(dim, ndim: int = 2) -> bool:
    return dim is not None and not isinstance(dim, tuple | list) and dim in (-1, ndim - 1)


class OneHot(torch.Tensor):
    """A ``[m, classes]`` float32 tensor of logits ``0`` at ``labels`` and ``-SURE`` elsewhere, stored as the labels."""

    labels: torch.Tensor

    @staticmethod
    def __new__(cls, labels: torch.Tensor, classes: int):
        shape = (labels.shape[0], classes)
        out = torch.Tensor._make_wrapper_subclass(cls, shape, dtype=torch.float32, device=labels.device)
        out.labels = labels
        return out

    def dense(self) -> torch.Tensor:
        """The tensor written out."""
        out = torch.full(tuple(self.shape), -SURE, dtype=torch.float32, device=self.labels.device)
        return out.scatter_(1, self.labels[:, None], 0.0)

    def __repr__(self) -> str:
        return f"OneHot(labels={self.labels!r}, classes={self.shape[1]})"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        x = args[0] if args else None
        if isinstance(x, OneHot):
            fast = _fast(func, x, args[1:], kwargs)
            if fast is not NotImplemented:
                return fast
        return torch._C._disabled_torch_function_impl(func, types, args, kwargs)

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        def plain(v):
            return v.dense() if isinstance(v, OneHot) else v

        return func(*tree_map(plain, args), **tree_map(plain, kwargs or {}))


def _fast(func, x: OneHot, rest: tuple, kwargs: dict):
    """``func(x, *rest, **kwargs)`` from the labels, or NotImplemented."""
    if func in _LOG_SOFTMAX:  # log_softmax of [0, -SURE, ...] is itself, exactly
        dim = rest[0] if rest else kwargs.get("dim")
        if _last(dim) and kwargs.get("dtype") in (None, torch.float32):
            return OneHot(x.labels, x.shape[1])
    elif func in _ARGMAX:
        dim = rest[0] if rest else kwargs.get("dim")
        if _last(dim) and not kwargs.get("keepdim", rest[1] if len(rest) > 1 else False):
            return x.labels.clone()
    elif func in _SPLIT:
        sizes = rest[0] if rest else kwargs.get("split_size_or_sections", kwargs.get("split_size"))
        dim = rest[1] if len(rest) > 1 else kwargs.get("dim", 0)
        if dim == 0 and sizes is not None:
            return tuple(OneHot(part, x.shape[1]) for part in x.labels.split(sizes))
    elif func in _RESHAPE:
        shape = rest[0] if len(rest) == 1 and isinstance(rest[0], tuple | list | torch.Size) else rest
        if tuple(shape) in ((x.shape[0], -1), tuple(x.shape)):
            return x
    elif func in _AMINMAX:
        dim = kwargs.get("dim")
        if dim in (1, -1) and not kwargs.get("keepdim", False):
            low = torch.full((x.shape[0],), -SURE if x.shape[1] > 1 else 0.0, dtype=torch.float32)
            return torch.return_types.aminmax((low, torch.zeros(x.shape[0], dtype=torch.float32)))
    elif func in _SELF:
        return x
    return NotImplemented


class _Shift:
    """``rt.shift_table(n, k)`` not written out: class j of the pushed distribution is class ``j + k`` (mod n)."""

    def __init__(self, n: int, k, device, rt):
        self.n, self.k, self.device, self.rt = n, k, device, rt

    def table(self) -> torch.Tensor:
        return self.rt.shift_table(self.n, self.k, self.device)


class FastRuntime:
    """The runtime module as a compiled check sees it, with one-hot fast paths (every other name: the runtime's)."""

    def __init__(self, rt):
        self._rt = rt

    def __getattr__(self, name: str):
        return getattr(self._rt, name)

    def shift_table(self, n: int, k, device=None):
        return _Shift(n, k, device, self._rt)

    def pushforward_permutation(self, logp, inverse):
        if isinstance(logp, OneHot) and isinstance(inverse, _Shift):
            k = torch.as_tensor(inverse.k, dtype=torch.long)
            return OneHot((logp.labels - k) % inverse.n, logp.shape[1])  # class j comes from j + k
        if isinstance(inverse, _Shift):
            inverse = inverse.table()
        if isinstance(logp, OneHot) and inverse.dim() == 1:  # class j is class inverse[j]: the label moves to j
            where = torch.empty_like(inverse)
            where[inverse] = torch.arange(inverse.shape[0], device=inverse.device)
            return OneHot(where[logp.labels], logp.shape[1])
        return self._rt.pushforward_permutation(logp, inverse)

    def sum_distribution(self, logp, logq):
        """X + Y of two labels is their sum, with certainty (a convolution over n x m classes: 51 s at 10^5)."""
        if isinstance(logp, OneHot) and isinstance(logq, OneHot):
            return OneHot(logp.labels + logq.labels, logp.shape[1] + logq.shape[1] - 1)
        return self._rt.sum_distribution(logp, logq)

    def sym_kl_logprobs(self, logp, logq, dim: int = -1):
        if isinstance(logp, OneHot) and isinstance(logq, OneHot) and _last(dim):
            same = logp.labels == logq.labels
            return torch.where(same, 0.0, SURE).to(torch.float32)
        return self._rt.sym_kl_logprobs(logp, logq, dim)

    def cross_entropy_to(self, logits, target, dim: int = -1):
        if isinstance(logits, OneHot) and _last(dim):
            target = torch.as_tensor(target, dtype=torch.long).expand(logits.labels.shape)
            return torch.where(logits.labels == target, 0.0, SURE).to(torch.float32)
        return self._rt.cross_entropy_to(logits, target, dim)

    def expectation_logprobs(self, logp, offset: int):
        if isinstance(logp, OneHot):
            return (logp.labels + offset).to(torch.float32)
        return self._rt.expectation_logprobs(logp, offset)


def fast_validator(module, models: dict):
    """``module.Validator(models=models)`` whose check methods see :class:`FastRuntime` as ``rt``."""
    base = module.Validator
    scope = {**vars(module), "rt": FastRuntime(module.rt)}
    methods = {}
    for info in module.CHECKS.values():
        name = info.get("method")
        if name and hasattr(base, name) and name not in methods:
            f = getattr(base, name)
            methods[name] = types.FunctionType(f.__code__, scope, f.__name__, f.__defaults__, f.__closure__)
    return type(f"Fast{base.__name__}", (base,), methods)(models=models)
