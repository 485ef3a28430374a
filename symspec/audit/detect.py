"""Attention seen at run time: one forward under a ``TorchFunctionMode`` that watches for attention scores.

Scores are the product of two activations (``matmul``/``@``/``bmm``/``baddbmm``/``einsum`` with neither operand a
parameter nor a reshaped/transposed parameter), followed through scaling and masking; attention is a softmax of
scores, ``scaled_dot_product_attention`` or ``multi_head_attention_forward``.  Each such call is attributed to the
innermost module running it (forward hooks keep the stack); calls inside attention the structural search identified
are skipped, the others become notes: that attention's symmetries are not counted.  This sees what ``torch.fx``
cannot trace (data-dependent control flow) and needs no naming convention.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["unidentified_attention"]

_PRODUCTS = {"matmul", "__matmul__", "__rmatmul__", "bmm", "baddbmm", "einsum"}
_SOFTMAX = {"softmax", "log_softmax", "_softmax", "softmin"}
_DIRECT = {
    "scaled_dot_product_attention": "scaled_dot_product_attention",
    "multi_head_attention_forward": "multi_head_attention_forward",
}
_CARRY = {  # ops that keep scores scores (scaling, masking, casting, reshaping)
    "div", "__truediv__", "div_", "__itruediv__", "mul", "__mul__", "__rmul__", "mul_", "__imul__", "add", "__add__",
    "__radd__", "add_", "__iadd__", "sub", "__sub__", "sub_", "masked_fill", "masked_fill_", "where", "float", "double",
    "to", "type_as", "contiguous", "view", "reshape", "transpose", "permute", "__getitem__", "tril", "triu", "clamp",
    "tanh", "__neg__", "neg",
}  # fmt: skip
_SHAPE = {"t", "transpose", "permute", "view", "reshape", "T", "mT", "__get__", "expand", "unsqueeze", "to", "contiguous",
          "__getitem__", "chunk", "split", "type_as", "float", "double"}  # fmt: skip


def _name(func) -> str:
    return getattr(func, "__name__", "") or ""


def _tensors(x):
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _tensors(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _tensors(v)


def _mark(out, attr: str) -> None:
    for t in _tensors(out):
        try:
            setattr(t, attr, True)
        except (AttributeError, RuntimeError):  # noqa: PERF203 - a tensor subclass refusing attributes
            pass


class _Watch(TorchFunctionMode):
    def __init__(self, params: set, stack: list, skip: set, seen: dict):
        super().__init__()
        self.params, self.stack, self.skip, self.seen = params, stack, skip, seen

    def _weight(self, t) -> bool:
        return isinstance(t, torch.Tensor) and (id(t) in self.params or getattr(t, "_symspec_weight", False))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = _name(func)
        ins = [t for t in _tensors((args, kwargs))]
        if name in _SHAPE and ins and self._weight(ins[0]):
            _mark(out, "_symspec_weight")
        what = None
        if name in _DIRECT:
            what = _DIRECT[name]
        elif name in _PRODUCTS:
            operands = [t for t in ins if t.is_floating_point()]
            if len(operands) >= 2 and not any(self._weight(t) for t in operands):
                _mark(out, "_symspec_scores")
        elif name in _CARRY and any(getattr(t, "_symspec_scores", False) for t in ins):
            _mark(out, "_symspec_scores")
        elif name in _SOFTMAX and ins and getattr(ins[0], "_symspec_scores", False):
            what = f"{name} over a product of two activations"
        if what and not (set(self.stack) & self.skip):
            where = self.stack[-1] if self.stack else ""
            self.seen.setdefault(where, what)
        return out


def unidentified_attention(model: nn.Module, inputs: tuple, identified: set) -> tuple[dict, str | None]:
    """``({module name: what was seen}, error)`` for attention running outside the ``identified`` modules (ids).

    One forward of ``model`` (as it is: call it on an eval-mode copy) under ``no_grad``; ``error``: why the forward
    failed (then nothing is reported).
    """
    names = {}
    for n, m in model.named_modules():
        names.setdefault(id(m), n)
    stack: list = []
    skip = set(identified)
    seen: dict = {}
    params = {id(p) for p in model.parameters()}

    def push(m, args):
        stack.append(id(m))

    def pop(m, args, out):
        if stack and stack[-1] == id(m):
            stack.pop()

    hooks = []
    for m in model.modules():
        hooks.append(m.register_forward_pre_hook(push))
        hooks.append(m.register_forward_hook(pop, always_call=True))
    try:
        with torch.no_grad(), _Watch(params, stack, skip, seen):
            model(*inputs)
    except Exception as err:  # noqa: BLE001 - the audit goes on without this check, and says so
        return {}, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160]
    finally:
        for h in hooks:
            h.remove()
    return {names.get(k, "?"): v for k, v in seen.items()}, None
