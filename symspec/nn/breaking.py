"""``break_attention``: fixed, unlearned query/value biases that break attention's parameter symmetries.

Attention is unchanged by ``W_Q -> M W_Q, W_K -> M^{-T} W_K`` and ``W_V -> N W_V, W_O -> W_O N^{-1}``
per head; adding fixed biases ``q = W_Q x + b_Q`` and ``v = W_V x + b_V`` before the scores breaks
both (docs/model-symmetries.md, section "Breaking symmetries").  Two kinds of module are patched:

- ``nn.MultiheadAttention`` (and so ``nn.TransformerEncoderLayer``/``DecoderLayer``): its class is
  switched to a subclass whose forward adds the biases to the in-projection bias;
- custom attention following the protocol: an integer ``n_head`` (or ``num_heads``) and either
  ``q_proj``/``k_proj``/``v_proj`` or one fused ``c_attn``/``qkv_proj`` whose output is ``[q | k | v]``
  along the last axis, heads laid out head-major (``reshape(..., n_head, d_head)``); forward hooks
  add the biases to the projections' outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import UsageError
from .biases import SLOTS, check_option, current_bias, install_buffers, resample

__all__ = [
    "break_attention",
    "apply_breaks",
    "DEFAULT_QUERY",
    "DEFAULT_VALUE",
    "HEAD_ATTRIBUTES",
    "BrokenMultiheadAttention",
    "head_count",
]

DEFAULT_QUERY = (0.5, (0.05, 0.15))
"""b_Q: mean 0.5, std linspace(0.05, 0.15, d_head)."""
DEFAULT_VALUE = (0.5, 0.05)
"""b_V: mean 0.5, std 0.05."""

_FUSED_NAMES = ("c_attn", "qkv_proj")
HEAD_ATTRIBUTES = ("n_head", "num_heads", "n_heads", "nhead", "num_attention_heads")
"""Attributes read for the number of heads, in this order (the same as ``symspec audit``)."""
_SPLIT_NAMES = ("q_proj", "k_proj", "v_proj")


class BrokenMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` with the fixed query/value biases added to its in-projection bias.

    Always the slow (``F.multi_head_attention_forward``) path: the native fast path would read
    ``in_proj_bias`` without the added biases.
    """

    def forward(  # type: ignore[override]
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        if query.is_nested or key.is_nested or value.is_nested:
            raise UsageError("a broken MultiheadAttention (symspec.nn.break_attention) does not take nested tensors")
        is_batched = query.dim() == 3
        key_padding_mask = F._canonical_mask(
            mask=key_padding_mask,
            mask_name="key_padding_mask",
            other_type=F._none_or_dtype(attn_mask),
            other_name="attn_mask",
            target_type=query.dtype,
        )
        attn_mask = F._canonical_mask(
            mask=attn_mask, mask_name="attn_mask", other_type=None, other_name="", target_type=query.dtype, check_other=False
        )
        if self.batch_first and is_batched:
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = F.multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self._broken_in_proj_bias(),
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight if separate else None,
            k_proj_weight=self.k_proj_weight if separate else None,
            v_proj_weight=self.v_proj_weight if separate else None,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and is_batched:
            return out.transpose(1, 0), weights
        return out, weights

    def _broken_in_proj_bias(self) -> Tensor:
        """``in_proj_bias + [b_Q | 0 | b_V]`` (``[b_Q | 0 | b_V]`` alone without a learned bias)."""
        like = self.out_proj.weight
        parts = [current_bias(self, "query"), None, current_bias(self, "value")]
        added = torch.cat([p if p is not None else like.new_zeros(self.embed_dim) for p in parts])
        return added if self.in_proj_bias is None else self.in_proj_bias + added


class _Resample:
    """Forward pre-hook: a fresh draw of the biases on every training forward (also blocks native fast paths)."""

    def __call__(self, module: nn.Module, args: Any) -> None:
        if module.training:
            resample(module, module._symspec_generator)


class _AddBias:
    """Forward hook on a projection of a protocol attention: adds the owner's current biases to its output."""

    def __init__(self, owner: nn.Module, slots: tuple[str | None, ...]) -> None:
        self.owner = owner
        self.slots = slots  # one entry per chunk of the projection's output: "query", "value" or None

    def __call__(self, module: nn.Module, args: Any, output: Tensor) -> Tensor:
        chunk = output.shape[-1] // len(self.slots)
        parts = [current_bias(self.owner, s) if s else None for s in self.slots]
        if all(p is None for p in parts):
            return output
        added = torch.cat([p if p is not None else output.new_zeros(chunk) for p in parts])
        return output + added.to(output.dtype)


def head_count(module: nn.Module) -> int | None:
    """The head count a module states in one of ``HEAD_ATTRIBUTES`` (a positive int), or None."""
    for name in HEAD_ATTRIBUTES:
        n = getattr(module, name, None)
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return n
    return None


def _out_features(proj: nn.Module) -> int | None:
    n = getattr(proj, "out_features", None)
    if isinstance(n, int):
        return n
    weight = getattr(proj, "weight", None)
    return weight.shape[0] if isinstance(weight, Tensor) and weight.dim() == 2 else None


def _protocol(module: nn.Module) -> tuple[list[tuple[nn.Module, tuple[str | None, ...]]], int, int] | None:
    """``(projections with their chunk slots, n_head, d_head)`` if ``module`` follows the protocol, else None."""
    n_head = head_count(module)
    if n_head is None or isinstance(module, nn.MultiheadAttention):
        return None
    children = dict(module.named_children())
    if all(isinstance(children.get(n), nn.Module) for n in _SPLIT_NAMES):
        q, v = children["q_proj"], children["v_proj"]
        width_q, width_v = _out_features(q), _out_features(v)
        if width_q is None or width_v is None or width_q % n_head or width_q != width_v:
            raise UsageError(
                f"break_attention: {type(module).__name__} has q_proj/v_proj but their output widths "
                f"({width_q}, {width_v}) are not equal multiples of n_head = {n_head}"
            )
        return [(q, ("query",)), (v, ("value",))], n_head, width_q // n_head
    for name in _FUSED_NAMES:
        fused = children.get(name)
        if isinstance(fused, nn.Module):
            width = _out_features(fused)
            if width is None or width % (3 * n_head):
                raise UsageError(
                    f"break_attention: {type(module).__name__}.{name} must output [q | k | v] "
                    f"of width 3 * n_head * d_head (n_head = {n_head}), got width {width}"
                )
            return [(fused, ("query", None, "value"))], n_head, width // (3 * n_head)
    return None


_DYNAMIC: dict[type, type] = {}


def _broken_class(cls: type) -> type:
    if cls is nn.MultiheadAttention or issubclass(cls, BrokenMultiheadAttention):
        return BrokenMultiheadAttention if cls is nn.MultiheadAttention else cls
    if cls.forward is not nn.MultiheadAttention.forward:
        raise UsageError(
            f"break_attention: {cls.__name__} subclasses nn.MultiheadAttention with its own forward; "
            "make it follow the protocol (n_head with q_proj/k_proj/v_proj or c_attn) instead"
        )
    if cls not in _DYNAMIC:
        _DYNAMIC[cls] = type(
            f"Broken{cls.__name__}", (BrokenMultiheadAttention, cls), {"forward": BrokenMultiheadAttention.forward}
        )
    return _DYNAMIC[cls]


def _clear(module: nn.Module) -> None:
    """Remove an earlier patch's hooks (a second break_attention replaces the options)."""
    for handle in getattr(module, "_symspec_break_handles", ()):
        handle.remove()
    module._symspec_break_handles = []


def _patch(module: nn.Module, options: dict[str, Any], generator: torch.Generator | None, n_head: int, d_head: int) -> None:
    like = next(iter(module.parameters()), None)
    if like is None:
        like = torch.empty(0)
    module._symspec_broken = {slot: options[slot] is not None for slot in SLOTS}
    module._symspec_generator = generator
    for slot in SLOTS:
        if options[slot] is not None:
            install_buffers(module, slot, options[slot], n_head, d_head, like)
        else:
            for suffix in ("", "_mean", "_std"):
                module._buffers.pop(f"break_{slot}{suffix}", None)
    module._symspec_break_handles.append(module.register_forward_pre_hook(_Resample()))


def break_attention(
    model: nn.Module,
    query: Any = DEFAULT_QUERY,
    value: Any = DEFAULT_VALUE,
    generator: torch.Generator | None = None,
    modules: str | Sequence[str] | None = None,
) -> list[str]:
    """Add fixed query/value biases to every attention of ``model``; returns the patched modules' names.

    ``query``/``value``: ``(mean, std)`` with ``std`` a number or ``(lo, hi)`` (``linspace(lo, hi,
    d_head)``), or None to leave that projection alone.  The biases are buffers of shape
    ``(n_head, d_head)`` (one draw per layer, copied to every head), redrawn on every training
    forward from ``generator`` (None: torch's global generator on the module's device), held at
    the mean in eval.  ``modules``: glob patterns (``fnmatch``, case-sensitive) on the qualified
    module names; only matching attention is patched (None: all).  Patched modules carry
    ``_symspec_broken = {"query": bool, "value": bool}``.
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"break_attention takes an nn.Module, got {type(model).__name__}")
    options = {"query": check_option("query", query), "value": check_option("value", value)}
    if options["query"] is None and options["value"] is None:
        raise UsageError("break_attention: query and value are both None; nothing to break")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise UsageError(f"break_attention: generator must be a torch.Generator or None, got {type(generator).__name__}")
    patterns = [modules] if isinstance(modules, str) else modules
    if patterns is not None and not (patterns and all(isinstance(p, str) for p in patterns)):
        raise UsageError(f"break_attention: modules= takes a glob pattern or a list of them, got {modules!r}")
    names = []
    for name, module in model.named_modules():
        if patterns is not None and not any(fnmatchcase(name, p) for p in patterns):
            continue
        if isinstance(module, nn.MultiheadAttention):
            n_head = module.num_heads
            d_head = module.head_dim
            _clear(module)
            module.__class__ = _broken_class(type(module))
            _patch(module, options, generator, n_head, d_head)
            names.append(name)
            continue
        found = _protocol(module)
        if found is None:
            continue
        projections, n_head, d_head = found
        _clear(module)
        _patch(module, options, generator, n_head, d_head)
        for proj, slots in projections:
            module._symspec_break_handles.append(proj.register_forward_hook(_AddBias(module, slots)))
        names.append(name)
    if not names:
        where = "" if patterns is None else f" among the modules matching {list(patterns)!r}"
        raise UsageError(
            f"break_attention: no attention found in {type(model).__name__}{where}; looked for nn.MultiheadAttention "
            f"(also inside nn.TransformerEncoderLayer/DecoderLayer) and modules with an integer head count "
            f"({'/'.join(HEAD_ATTRIBUTES)}) and either q_proj, k_proj, v_proj or a fused c_attn/qkv_proj "
            "(docs/model-symmetries.md)"
        )
    for module in model.modules():
        if isinstance(module, nn.TransformerEncoder):
            # its nested-tensor fast path hands nested tensors to the layers, which the slow path refuses
            module.use_nested_tensor = False
    return names


_BREAK_KEYS = frozenset({"query", "value", "modules"})


def apply_breaks(model: nn.Module, breaks: Sequence[dict[str, Any]], generator: torch.Generator | None = None) -> list[str]:
    """``break_attention(model, **entry, generator=generator)`` for every entry, in order; the patched names, each once.

    The call a compiled ``break`` statement makes (``mod.break_symmetries``): each entry holds
    ``query``, ``value`` and ``modules`` (missing keys take ``break_attention``'s defaults).  A later
    entry that matches the same attention replaces the earlier one's options.
    """
    names: list[str] = []
    for entry in breaks:
        unknown = set(entry) - _BREAK_KEYS
        if unknown:
            raise UsageError(f"apply_breaks: unknown option(s) {sorted(unknown)}; expected some of {sorted(_BREAK_KEYS)}")
        for name in break_attention(model, generator=generator, **entry):
            if name not in names:
                names.append(name)
    return names
