"""Find a model's continuous parameter symmetries from its structure (module walk, then ``torch.fx`` where it traces).

Attention: ``nn.MultiheadAttention`` (fused or separate q/k/v weights, kdim/vdim, with or without bias), the
attention inside ``nn.TransformerEncoderLayer``/``DecoderLayer``, and custom attention that follows the protocol of
``docs/model-symmetries.md`` (``c_attn``/``c_proj`` or ``q_proj``/``k_proj``/``v_proj``/``out_proj`` Linears and an
``n_head``-like attribute).  MLPs and norms: ``Linear -> ReLU/LeakyReLU/PReLU -> [Dropout] -> Linear`` and
``LayerNorm``/``RMSNorm`` read only by Linear maps, from the Transformer layers' known forward or the fx graph.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn

from ..nn.breaking import HEAD_ATTRIBUTES, head_count
from .symmetries import (
    BiasCoordinates,
    Cols,
    DiagonalScaling,
    PairSymmetry,
    Rows,
    RowShift,
    ScaleEntry,
    SoftmaxShift,
    ValueBias,
)

__all__ = ["Found", "find_symmetries", "HEAD_ATTRIBUTES", "PROTOCOL_HINT", "softmax_shift"]

_RELU_MODULES = (nn.ReLU, nn.LeakyReLU, nn.PReLU)
_RELU_FUNCTIONS = (F.relu, torch.relu, F.leaky_relu, torch.relu_)
_PASS_MODULES = (nn.Dropout, nn.Identity)
_NORMS = (nn.LayerNorm,) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())
_PROTOCOL_LINEARS = ("c_attn", "qkv_proj", "c_proj", "q_proj", "k_proj", "v_proj", "out_proj", "o_proj")
PROTOCOL_HINT = (
    "(protocol: c_attn or qkv_proj with c_proj/out_proj/o_proj, or q_proj/k_proj/v_proj with one of those, "
    f"as Linears and an {HEAD_ATTRIBUTES[0]} attribute)"
)
_ATTENTION_NAME = re.compile(r"attn|attention", re.IGNORECASE)


@dataclass
class Found:
    """What the structural search found: symmetry claims, attention modules (for spectra) and notes."""

    symmetries: list = field(default_factory=list)
    attention: list = field(default_factory=list)  # (module name, QK PairSymmetry, VO PairSymmetry)
    notes: list = field(default_factory=list)
    identified: list = field(default_factory=list)  # names of the attention modules whose projections were identified
    unidentified: list = field(default_factory=list)  # names of modules noted as attention by their class name alone


class _Names:
    """Canonical parameter names (``named_parameters`` order) and how many modules hold each parameter."""

    def __init__(self, model: nn.Module):
        self.of = {id(p): n for n, p in model.named_parameters()}
        self.holders: dict = {}
        for m in model.modules():  # distinct modules: one module used twice shares nothing with another
            for p in m._parameters.values():
                if p is not None:
                    self.holders[id(p)] = self.holders.get(id(p), 0) + 1

    def __call__(self, p) -> str | None:
        return None if p is None else self.of.get(id(p))

    def tied(self, p) -> bool:
        return p is not None and self.holders.get(id(p), 0) > 1


_ROPE = re.compile(r"rope|rotary", re.IGNORECASE)


def _rope(m: nn.Module) -> str | None:
    """The name of an attribute or child that suggests rotary position embeddings (a truthy one), else None."""
    for key, value in list(vars(m).items()) + list(m.named_children()):
        if _ROPE.search(key) and not key.startswith("_") and value is not None and value is not False:
            return key
    return None


def _broken(m: nn.Module) -> dict:
    b = getattr(m, "_symspec_broken", None)
    return b if isinstance(b, dict) else {}


def _broken_note(m: nn.Module, slot: str, rows: Rows, d: str) -> str:
    """What a fixed bias breaks: the draws of training mode break the whole GL per head; the eval-mode forward adds
    the mean ``b``, which a learned bias of the projection absorbs (``b_learned -> M (b_learned + b) - b``: every
    dimension stays a symmetry of the eval-mode function), and without one the maps fixing ``b`` remain."""
    head = f"broken by the fixed {slot} bias drawn on every training-mode forward"
    mean = getattr(m, f"break_{slot}_mean", None)
    if rows.bias is not None:
        return (
            f"{head}; in eval mode the bias is its mean, which the learned {slot} bias absorbs, so the eval-mode "
            f"function keeps all h {d}^2 dimensions (its functional rank is that of the unbroken model)"
        )
    if isinstance(mean, torch.Tensor) and not bool(mean.any()):
        return f"{head}; in eval mode the bias is its mean, 0, so the eval-mode function keeps all h {d}^2 dimensions"
    return (
        f"{head}; in eval mode the bias is its mean b, and the maps fixing b remain: h {d} ({d} - 1) dimensions of the "
        "eval-mode function"
    )


def _attention_symmetries(found: Found, name: str, m: nn.Module, names: _Names, q: Rows, k: Rows, v: Rows, o: nn.Linear, h: int):
    """QK, VO, key bias and value bias of one attention module, given its per-head row layouts."""
    broken = _broken(m)
    ow = names(o.weight)
    qk = PairSymmetry(
        "attention_qk", name, h * q.d * q.d, x=q, y=Rows(k.weight, k.start, h, k.d), broken=bool(broken.get("query"))
    )
    vo = PairSymmetry("attention_vo", name, h * v.d * v.d, x=v, y=Cols(ow, 0, h, v.d), broken=bool(broken.get("value")))
    if qk.broken:
        qk.note = _broken_note(m, "query", q, "d_k")
    if vo.broken:
        vo.note = _broken_note(m, "value", v, "d_v")
    found.attention.append((name, qk, vo))
    rope = _rope(m)
    if rope:
        found.notes.append(
            f"{name}: rotary position embedding detected (attribute '{rope}'): its QK symmetry shrinks to the rotations "
            "commuting with RoPE and the key bias no longer cancels; neither is counted"
        )
        found.symmetries.append(vo)
    else:
        found.symmetries += [qk, vo]
    zero = bool(getattr(m, "add_zero_attn", False))  # the zero key scores 0 whatever b_K; its zero value skips b_V
    if zero and (k.bias is not None or v.bias is not None):
        found.notes.append(f"{name}: add_zero_attn: the key and value biases no longer cancel; not counted")
    if k.bias is not None and not rope and not zero:
        found.symmetries.append(BiasCoordinates("key_bias", name, h * k.d, name=k.bias, start=k.bias_start, size=h * k.d))
    if v.bias is not None and o.bias is not None and not zero:
        found.symmetries.append(
            ValueBias(
                "value_bias", name, h * v.d, bias=v.bias, start=v.bias_start, size=h * v.d, out_weight=ow, out_bias=names(o.bias)
            )
        )


def _mha(found: Found, name: str, m: nn.MultiheadAttention, names: _Names) -> None:
    if m.bias_k is not None or m.bias_v is not None:
        found.notes.append(f"{name}: add_bias_kv (learned extra key/value) is not handled; its symmetries are not counted")
        return
    e, h = m.embed_dim, m.num_heads
    d = e // h
    bias = names(m.in_proj_bias)
    if m._qkv_same_embed_dim:
        w = names(m.in_proj_weight)
        q, k, v = (Rows(w, i * e, h, d, bias, i * e if bias else 0) for i in range(3))
    else:
        q, k, v = (
            Rows(names(p), 0, h, d, bias, i * e if bias else 0)
            for i, p in enumerate((m.q_proj_weight, m.k_proj_weight, m.v_proj_weight))
        )
    _attention_symmetries(found, name, m, names, q, k, v, m.out_proj, h)


def _protocol(found: Found, name: str, m: nn.Module, names: _Names) -> bool:
    """Custom attention by the documented protocol; False when the module does not follow it."""
    h = head_count(m)
    lin = {a: getattr(m, a, None) for a in _PROTOCOL_LINEARS}
    lin = {a: x for a, x in lin.items() if isinstance(x, nn.Linear)}
    if h is None or not lin:
        return False
    fused = lin.get("c_attn") or lin.get("qkv_proj")
    out = lin.get("c_proj") or lin.get("out_proj") or lin.get("o_proj")
    if fused is not None and out is not None:
        ca = fused
        if ca.out_features % 3 or (ca.out_features // 3) % h:
            found.notes.append(
                f"{name}: the fused projection has {ca.out_features} outputs, not 3 x a multiple of {h} heads; not counted"
            )
            return True
        e = ca.out_features // 3
        w, b = names(ca.weight), names(ca.bias)
        q, k, v = (Rows(w, i * e, h, e // h, b, i * e if b else 0) for i in range(3))
        _attention_symmetries(found, name, m, names, q, k, v, out, h)
        return True
    if all(a in lin for a in ("q_proj", "k_proj", "v_proj")) and out is not None:
        qp, kp, vp = lin["q_proj"], lin["k_proj"], lin["v_proj"]
        if qp.out_features != kp.out_features or qp.out_features % h or vp.out_features % h:
            found.notes.append(
                f"{name}: q/k/v projections of {qp.out_features}/{kp.out_features}/{vp.out_features} outputs "
                f"do not split into {h} equal heads (grouped-query attention?); not counted"
            )
            return True
        q, k, v = (Rows(names(p.weight), 0, h, p.out_features // h, names(p.bias), 0) for p in (qp, kp, vp))
        _attention_symmetries(found, name, m, names, q, k, v, out, h)
        return True
    return False


def _relu_like(act) -> bool:
    return isinstance(act, _RELU_MODULES) or act in _RELU_FUNCTIONS


def _unit_scaling(kind: str, module: str, first: nn.Linear, second: nn.Linear, names: _Names, source: str) -> DiagonalScaling:
    entries = [ScaleEntry(names(first.weight), 0, 1.0)]
    if first.bias is not None:
        entries.append(ScaleEntry(names(first.bias), 0, 1.0))
    entries.append(ScaleEntry(names(second.weight), 1, -1.0))
    return DiagonalScaling(kind, module, first.out_features, entries=tuple(entries), units=first.out_features, source=source)


def _norm_scaling(module: str, norm: nn.Module, consumers: list, names: _Names, source: str) -> DiagonalScaling | None:
    """``consumers``: (weight parameter, (row start, stop) or None) of every Linear map reading the norm's output."""
    if getattr(norm, "weight", None) is None or len(tuple(norm.normalized_shape)) != 1:
        return None
    units = norm.normalized_shape[0]
    entries = [ScaleEntry(names(norm.weight), 0, 1.0)]
    if getattr(norm, "bias", None) is not None:
        entries.append(ScaleEntry(names(norm.bias), 0, 1.0))
    entries += [ScaleEntry(names(w), 1, -1.0, 0, rows) for w, rows in consumers]
    return DiagonalScaling("norm_scale", module, units, entries=tuple(entries), units=units, source=source)


def _mha_consumers(m: nn.MultiheadAttention, which: tuple) -> list:
    """The Linear maps of ``m`` reading its query/key/value inputs (``which``: indices 0, 1, 2)."""
    e = m.embed_dim
    if m._qkv_same_embed_dim:
        return [(m.in_proj_weight, (i * e, (i + 1) * e)) for i in which]
    return [((m.q_proj_weight, m.k_proj_weight, m.v_proj_weight)[i], None) for i in which]


def _protocol_consumers(m: nn.Module) -> list:
    for a in ("c_attn", "qkv_proj"):
        if isinstance(getattr(m, a, None), nn.Linear):
            return [(getattr(m, a).weight, None)]
    return [(getattr(m, a).weight, None) for a in ("q_proj", "k_proj", "v_proj")]


def _transformer_layer(found: Found, name: str, layer: nn.Module, names: _Names) -> None:
    """MLP rescaling and norm scales of ``nn.TransformerEncoderLayer``/``DecoderLayer`` (their forward is known)."""
    act = layer.activation
    if _relu_like(act) or getattr(layer, "activation_relu_or_gelu", 0) == 1:
        found.symmetries.append(
            _unit_scaling("relu_rescaling", f"{name}.linear1", layer.linear1, layer.linear2, names, "structure")
        )
    if not layer.norm_first:
        return  # post-norm: each norm's output is also the residual stream
    decoder = isinstance(layer, nn.TransformerDecoderLayer)
    plan = [("norm1", _mha_consumers(layer.self_attn, (0, 1, 2)))]
    if decoder:
        plan += [("norm2", _mha_consumers(layer.multihead_attn, (0,))), ("norm3", [(layer.linear1.weight, None)])]
    else:
        plan += [("norm2", [(layer.linear1.weight, None)])]
    for norm_name, consumers in plan:
        s = _norm_scaling(f"{name}.{norm_name}", getattr(layer, norm_name), consumers, names, "structure")
        if s is not None:
            found.symmetries.append(s)


class _Tracer(fx.Tracer):
    def __init__(self, leaves: set):
        super().__init__()
        self.leaves = leaves

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return id(m) in self.leaves or super().is_leaf_module(m, qualname)


def _through(node: fx.Node, mods: dict) -> list:
    """The users of ``node``'s value, looking through Dropout/Identity modules (each with that value as input)."""
    out = []
    for u in node.users:
        if u.op == "call_module" and isinstance(mods.get(u.target), _PASS_MODULES):
            out += _through(u, mods)
        else:
            out.append(u)
    return out


def _graph_patterns(found: Found, prefix: str, gm: fx.GraphModule, names: _Names, protocol: set) -> None:
    mods = dict(gm.named_modules())

    def full(t: str) -> str:
        return f"{prefix}.{t}" if prefix else t

    calls: dict = {}  # how many times each module is called in this graph
    for n in gm.graph.nodes:
        if n.op == "call_module":
            calls[n.target] = calls.get(n.target, 0) + 1
    pairs: dict = {}  # (first, second) Linear targets -> matched calls of the ReLU pattern

    def is_linear(u: fx.Node, v: fx.Node) -> bool:
        return (
            u.op == "call_module" and isinstance(mods.get(u.target), nn.Linear) and len(u.args) == 1 and not u.kwargs
        ) and _reaches(u.args[0], v, mods)

    for node in gm.graph.nodes:
        if node.op != "call_module":
            continue
        m = mods.get(node.target)
        if isinstance(m, nn.Linear):
            users = _through(node, mods)
            if len(users) != 1:
                continue
            act = users[0]
            is_act = (
                (act.op == "call_module" and isinstance(mods.get(act.target), _RELU_MODULES))
                or (act.op == "call_function" and act.target in _RELU_FUNCTIONS)
                or (act.op == "call_method" and act.target == "relu")
            )
            if not is_act or not act.args or not _reaches(act.args[0], node, mods):
                continue
            nxt = _through(act, mods)
            if len(nxt) == 1 and is_linear(nxt[0], act):
                key = (node.target, nxt[0].target)
                pairs[key] = pairs.get(key, 0) + 1
        elif isinstance(m, _NORMS):
            users = _through(node, mods)
            consumers = []
            for u in users:
                um = mods.get(u.target) if u.op == "call_module" else None
                if isinstance(um, nn.Linear) and len(u.args) == 1 and not u.kwargs:
                    consumers.append((um.weight, None))
                elif isinstance(um, nn.MultiheadAttention) and not any(_reaches(a, node, mods) for a in u.kwargs.values()):
                    which = tuple(i for i, a in enumerate(u.args[:3]) if a is not None and _reaches(a, node, mods))
                    if not which or any(_reaches(a, node, mods) for a in u.args[3:]):
                        consumers = None
                        break
                    consumers += _mha_consumers(um, which)
                elif um is not None and id(um) in protocol and len(u.args) == 1 and not u.kwargs:
                    consumers += _protocol_consumers(um)
                else:
                    consumers = None
                    break
            # a consumer called elsewhere too (or a norm called twice) would see the rescaled weights on other inputs
            readers = [u.target for u in users]
            if consumers and (calls[node.target] > 1 or any(calls[t] > 1 for t in readers)):
                consumers = None
            if consumers and not any(names.tied(w) for w, _ in consumers):
                s = _norm_scaling(full(node.target), m, consumers, names, "fx")
                if s is not None:
                    found.symmetries.append(s)
    _claim_pairs(found, pairs, calls, mods, full, names)
    _residual_shifts(found, gm, mods, calls, full, names, protocol)


def _is_add(n: fx.Node) -> bool:
    return (n.op == "call_function" and n.target in (operator.add, torch.add)) or (n.op == "call_method" and n.target == "add")


def _residual_shifts(found: Found, gm: fx.GraphModule, mods: dict, calls: dict, full, names: _Names, protocol: set) -> None:
    """Writers into a residual stream read only through LayerNorms: each may shift along the all-ones direction.

    A stream is a set of additions whose results are read only by LayerNorms (over the last axis) or other stream
    additions; a writer is a Linear, a protocol attention (its output projection) or an Embedding whose value goes
    only into stream additions.
    """
    adds = {n for n in gm.graph.nodes if _is_add(n)}

    def reads_ok(n: fx.Node, stream: set) -> bool:
        for u in _through(n, mods):
            um = mods.get(u.target) if u.op == "call_module" else None
            if u in stream:
                continue
            if type(um) is nn.LayerNorm and len(tuple(um.normalized_shape)) == 1 and len(u.args) == 1 and not u.kwargs:
                continue
            return False
        return True

    stream = set(adds)
    changed = True
    while changed:
        changed = False
        for n in list(stream):
            if not reads_ok(n, stream):
                stream.discard(n)
                changed = True
    if not stream:
        return
    for n in gm.graph.nodes:
        if n.op != "call_module" or calls.get(n.target, 0) != 1 or not n.users:
            continue
        if not all(u in stream for u in _through(n, mods)):
            continue
        m = mods[n.target]
        out = None
        if isinstance(m, nn.Linear):
            out, where = m, n.target
        elif id(m) in protocol:
            out = next(
                (getattr(m, a) for a in ("c_proj", "out_proj", "o_proj") if isinstance(getattr(m, a, None), nn.Linear)), None
            )
            where = f"{n.target}.{next(a for a in ('c_proj', 'out_proj', 'o_proj') if getattr(m, a, None) is out)}" if out else ""
        elif isinstance(m, nn.Embedding) and not names.tied(m.weight):
            found.symmetries.append(
                RowShift("residual_shift", full(n.target), m.num_embeddings, source="fx", weight=names(m.weight))
            )
            continue
        if out is None or names.tied(out.weight):
            continue
        s = SoftmaxShift("residual_shift", full(where), 0, source="fx", weight=names(out.weight), bias=names(out.bias))
        s.dim = out.in_features + (1 if out.bias is not None else 0)
        found.symmetries.append(s)


def _claim_pairs(found: Found, pairs: dict, calls: dict, mods: dict, full, names: _Names) -> None:
    """ReLU claims for Linear pairs whose every call is part of the pattern (a shared MLP called twice counts once)."""
    for (a, b), n in pairs.items():
        first, second = mods[a], mods[b]
        if n == calls[a] == calls[b] and not (names.tied(first.weight) or names.tied(second.weight)):
            found.symmetries.append(_unit_scaling("relu_rescaling", full(a), first, second, names, "fx"))


def _reaches(arg, node: fx.Node, mods: dict) -> bool:
    """``arg`` is ``node``'s value (possibly through Dropout/Identity)."""
    while (
        isinstance(arg, fx.Node)
        and arg is not node
        and arg.op == "call_module"
        and isinstance(mods.get(arg.target), _PASS_MODULES)
    ):
        arg = arg.args[0]
    return arg is node


def _more_inside(m: nn.Module) -> bool:
    """A protocol attention holding parameters besides its projections (an MLP, norms): its interior is searched too
    (not for parameter-free children such as a rotary embedding, whose tracing would only add a note)."""
    own = {a for a in _PROTOCOL_LINEARS if isinstance(getattr(m, a, None), nn.Linear)}
    return any(n not in own and next(c.parameters(), None) is not None for n, c in m.named_children())


def _trace(found: Found, prefix: str, m: nn.Module, leaves: set, names: _Names, protocol: set) -> None:
    if not list(m.children()) or (id(m) in leaves and not (id(m) in protocol and _more_inside(m))):
        return  # handled by the module walk, or nothing inside to search
    if isinstance(m, (nn.ModuleList, nn.ModuleDict)):
        for child_name, child in m.named_children():
            _trace(found, f"{prefix}.{child_name}" if prefix else child_name, child, leaves, names, protocol)
        return
    try:
        graph = _Tracer(leaves).trace(m)
        gm = fx.GraphModule(m, graph)
    except Exception as err:  # noqa: BLE001 - any tracing failure: search the children instead, and say so
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        found.notes.append(f"{prefix or '(model)'}: torch.fx could not trace it ({first[:120]}); its children were searched")
        for child_name, child in m.named_children():
            _trace(found, f"{prefix}.{child_name}" if prefix else child_name, child, leaves, names, protocol)
        return
    _graph_patterns(found, prefix, gm, names, protocol)


def find_symmetries(model: nn.Module) -> Found:
    """Every symmetry claim the structure supports (unverified), attention modules and notes."""
    found = Found()
    names = _Names(model)
    leaves: set = set()
    protocol: set = set()
    identified: list = []
    for name, m in model.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            _mha(found, name, m, names)
            leaves.add(id(m))
            identified.append(name)
        elif _protocol(found, name, m, names):
            leaves.add(id(m))
            protocol.add(id(m))
            identified.append(name)
    for name, m in model.named_modules():
        if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            _transformer_layer(found, name, m, names)
            leaves.add(id(m))
    for name, m in model.named_modules():
        if (
            _ATTENTION_NAME.search(type(m).__name__)
            and not isinstance(m, (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer))
            and not any(i == name or i.startswith(name + ".") or name.startswith(i + ".") for i in identified)
        ):
            found.unidentified.append(name)
            found.notes.append(
                f"{name or '(model)'} ({type(m).__name__}): looks like attention but its projections were not identified "
                f"{PROTOCOL_HINT}; its symmetries are not counted"
            )
    found.identified = identified + [
        n for n, m in model.named_modules() if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer))
    ]
    _trace(found, "", model, leaves, names, protocol)
    for name, m in model.named_modules():  # a protocol attention is a leaf of its parent's graph: its own interior
        if name and id(m) in protocol and _more_inside(m):
            _trace(found, name, m, leaves, names, protocol)
    seen: set = set()  # a module called twice appears twice in the graph: one claim
    unique = []
    for s in found.symmetries:
        if None in s.names:  # a weight computed by a parametrization (weight_norm, ...): not a parameter of its own
            if (s.kind, s.module) not in seen:
                found.notes.append(
                    f"{s.module}: {s.kind} acts on a parametrized weight (torch.nn.utils.parametrize); not counted"
                )
        elif (s.kind, s.module) not in seen:
            unique.append(s)
        seen.add((s.kind, s.module))
    found.symmetries = unique
    found.attention = [a for a in found.attention if None not in a[1].names + a[2].names]
    return found


def softmax_shift(model: nn.Module, example_inputs: tuple) -> tuple[SoftmaxShift | None, str | None]:
    """The Linear whose output is the model's output (logits), as a softmax-shift claim; else a note why not."""
    names = _Names(model)
    outputs: dict = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, n=n: outputs.__setitem__(n, out))
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear)
    ]
    try:
        with torch.no_grad():
            out = model(*example_inputs)
    finally:
        for hk in hooks:
            hk.remove()
    if isinstance(out, (tuple, list)):
        out = out[0] if out and isinstance(out[0], torch.Tensor) else None
    for n, o in outputs.items():
        if o is out:
            lin = model.get_submodule(n)
            if names(lin.weight) is None:
                return None, f"{n}: the output Linear's weight is parametrized (torch.nn.utils.parametrize): no softmax shift"
            tied = names.tied(lin.weight)
            if lin.bias is None and tied:
                return None, f"{n}: the output Linear has no bias and a tied weight: no softmax shift"
            s = SoftmaxShift(
                "softmax_shift", n, 0, source="output", weight=names(lin.weight), bias=names(lin.bias), with_weight=not tied
            )
            s.dim = (lin.in_features if not tied else 0) + (1 if lin.bias is not None else 0)
            if tied:
                s.note = "weight tied: only the bias shift"
            return s, None
    return None, "no Linear produces the model's output directly: no softmax shift counted"
