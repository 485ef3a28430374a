"""Equivariant linear layers whose weights are tied by group orbits.

For a group acting by permuting positions, a linear map ``W`` from
``[c_in, *in_shape]`` to ``[c_out, *out_shape]`` commutes with the group
exactly when ``W[o, i]`` is constant on the orbits of the pairs ``(o, i)``
(and the bias on the orbits of ``o``).  The orbits come from the generators
by union-find -- the group is never enumerated -- and are stored once as an
index table; the forward pass gathers the weight matrix from the parameter
vector and does one matmul.
"""

from __future__ import annotations

import math
import operator

import torch

# The most entries one layer may hold in a tensor it allocates (its weight, or the dense kernel its forward builds
# from the tied weight): 2^30, 4 GiB in float32. A larger layer is a ValueError before anything is allocated.
MAX_LAYER_ENTRIES = 2**30


# (output position, input position) pairs an orbit layer may tie (the codegen refuses larger layers at compile time
# with the same limit, symspec.codegen.layers.MAX_ORBIT_PAIRS): D4's global layer on 64 x 64 takes 7.9 s to build
MAX_ORBIT_PAIRS = 4096**2


def _runtime_name(module: torch.nn.Module) -> str:
    """The name of the runtime class a module is (a compiled layer's class is named after the layer)."""
    return next(c.__name__ for c in type(module).__mro__ if c.__module__.startswith("symspec."))


def check_channels(
    module: torch.nn.Module, kind: str, c_in, c_out, per_pair: int = 1, names: tuple = ("c_in", "c_out")
) -> tuple[int, int]:
    """``(c_in, c_out)`` as ints, or a TypeError/ValueError naming the layer (a compiled layer by its name in the
    spec, ``kind`` the runtime class): channels are positive integers (not
    bools or floats), and ``c_in x c_out x per_pair`` (the entries per channel pair of the largest tensor the layer
    allocates) is at most ``MAX_LAYER_ENTRIES``."""
    name = type(module).__name__
    layer = kind if name == kind or type(module).__module__.startswith("symspec.") else f"layer {name} ({kind})"
    out = []
    for name, c in zip(names, (c_in, c_out)):
        if isinstance(c, bool):
            raise TypeError(f"{layer}: {name} must be a number of channels, got the bool {c}")
        try:
            c = operator.index(c)
        except TypeError:
            raise TypeError(f"{layer}: {name} must be an integer number of channels, got {c!r}") from None
        if c < 1:
            raise ValueError(f"{layer}: {name} must be at least 1, got {c}")
        out.append(c)
    entries = out[0] * out[1] * per_pair
    if entries > MAX_LAYER_ENTRIES:
        raise ValueError(
            f"{layer} with c_in={out[0]}, c_out={out[1]} would allocate {entries:,} weight entries ({per_pair:,} per channel pair), "
            f"over the limit of {MAX_LAYER_ENTRIES:,} (symspec.runtime.layers.MAX_LAYER_ENTRIES): use fewer channels"
        )
    return out[0], out[1]


__all__ = [
    "Float64Bases",
    "orbit_labels",
    "OrbitLinear",
    "DeepSetsLinear",
    "DeepSetsPool",
    "PairLinear",
    "PairPool",
    "PairToNodes",
    "NodesToPair",
    "NodesLinear",
    "NodesPool",
    "BasisLinear",
    "equivariant_basis",
    "invariant_basis",
]


def orbit_labels(edges: list, n: int) -> torch.Tensor:
    """Orbit index (0..k-1, in order of first appearance) of each of n points under the maps in ``edges``.

    ``edges`` holds push maps ``[n]``; union-find by hooking and pointer jumping, vectorized.
    """
    parent = torch.arange(n)
    flat = torch.arange(n)
    while True:
        changed = False
        for dst in edges:
            ps, pd = parent[flat], parent[dst]
            moving = ps != pd
            if not bool(moving.any()):
                continue
            changed = True
            lo = torch.minimum(ps[moving], pd[moving])
            hi = torch.maximum(ps[moving], pd[moving])
            parent.scatter_reduce_(0, hi, lo, reduce="amin")
            while True:
                grand = parent[parent]
                if torch.equal(grand, parent):
                    break
                parent = grand
        if not changed:
            break
    _, labels = torch.unique(parent, return_inverse=True)
    return labels


class OrbitLinear(torch.nn.Module):
    """``[batch, c_in, *in_shape] -> [batch, c_out, *out_shape]`` (``out_shape`` () for an invariant output).

    ``in_generators`` / ``out_generators``: push maps ``[g, points]`` of the
    same group generators on the input and output positions (an invariant
    output has one point that every generator fixes).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        in_generators: torch.Tensor,
        out_generators: torch.Tensor,
        in_shape,
        out_shape,
        bias: bool = True,
    ):
        super().__init__()
        self.c_in, self.c_out = c_in, c_out
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        p_in, p_out = in_generators.shape[-1], out_generators.shape[-1]
        if p_out * p_in > MAX_ORBIT_PAIRS:
            raise ValueError(
                f"OrbitLinear: {p_in:,} input x {p_out:,} output positions make {p_out * p_in:,} position pairs to tie, "
                f"over the limit of {MAX_ORBIT_PAIRS:,}: use a convolutional layer ([kernel k]) or smaller shapes"
            )
        pairs = torch.arange(p_out * p_in)
        edges = [
            (out_generators[g][pairs // p_in] * p_in + in_generators[g][pairs % p_in]) for g in range(in_generators.shape[0])
        ]
        self.register_buffer("weight_orbits", orbit_labels(edges, p_out * p_in).view(p_out, p_in), persistent=False)
        self.num_orbits = int(self.weight_orbits.max()) + 1
        c_in, c_out = check_channels(self, "OrbitLinear", c_in, c_out, max(self.num_orbits, p_out * p_in))
        self.c_in, self.c_out = c_in, c_out
        fan_in = c_in * p_in
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, self.num_orbits) / math.sqrt(fan_in))
        if bias:
            out_edges = [out_generators[g] for g in range(out_generators.shape[0])]
            self.register_buffer("bias_orbits", orbit_labels(out_edges, p_out), persistent=False)
            self.bias = torch.nn.Parameter(torch.zeros(c_out, int(self.bias_orbits.max()) + 1))
        else:
            self.bias = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != (self.c_in, *self.in_shape):  # a reshape would take [b, 5, 5, 2] for [b, 2, 5, 5]
            expected = ", ".join(["batch", str(self.c_in), *map(str, self.in_shape)])
            raise ValueError(f"{type(self).__name__} expects an input [{expected}], got {list(x.shape)}")
        batch = x.shape[0]
        flat = x.reshape(batch, self.c_in, -1)
        w = self.weight[:, :, self.weight_orbits]  # [c_out, c_in, p_out, p_in]
        y = torch.einsum("bip,oiqp->boq", flat, w.to(flat.dtype))
        if self.bias is not None:
            y = y + self.bias[:, self.bias_orbits].to(y.dtype)
        return y.reshape(batch, self.c_out, *self.out_shape)


def _mean(x: torch.Tensor, dims) -> torch.Tensor:
    """Mean over ``dims``, 0 over no entries (an empty graph: the means' terms vanish instead of turning NaN)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    count = math.prod([x.shape[d] for d in dims])  # a list: Dynamo cannot trace math.prod of a generator
    return x.mean(dims) if count else x.sum(dims)


def _check_input(layer: torch.nn.Module, x: torch.Tensor, c_in: int, nodes: int, features: tuple | None) -> None:
    """ValueError unless ``x`` is ``[batch, c_in, *nodes, *features]`` (``nodes`` node dims, equal sizes; ``features``
    None: any trailing dims). Channels and features are read as one axis, so a mismatch would otherwise pass
    silently whenever the sizes multiply alike."""
    shape = tuple(x.shape)
    ok = len(shape) >= 2 + nodes and shape[1] == c_in and len(set(shape[2 : 2 + nodes])) <= 1
    if features is not None:
        ok = ok and shape[2 + nodes :] == tuple(features)
    if not ok:
        node_dims = ", ".join(["N"] * nodes)
        rest = "*rest" if features is None else ", ".join(str(f) for f in features)
        expected = ", ".join(p for p in ("batch", str(c_in), node_dims, rest) if p)
        raise ValueError(f"{type(layer).__name__} expects an input [{expected}], got {list(shape)}")


class DeepSetsLinear(torch.nn.Module):
    """Permutation-equivariant ``[batch, c_in, N, *rest] -> [batch, c_out, N, *rest_out]`` for any N.

    ``y_n = A x_n + B mean_m x_m + c`` per channel pair: the identity and
    all-ones terms, the closed form of the equivariant maps of symmetric(N)
    on the first dim.  With ``rest_as_features`` the other dims are features
    mixed freely (nothing acts on them; ``rest_size`` positions in,
    ``out_features`` the output's feature shape, by default the input's);
    otherwise each of their coordinates is mapped alike (the maps that
    commute with rotations acting there).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        bias: bool = True,
        rest_as_features: bool = False,
        rest_size: int = 1,
        out_features: tuple | None = None,
        in_features: tuple | None = None,
    ):
        super().__init__()
        per_pair = rest_size * (rest_size if out_features is None else math.prod(out_features)) if rest_as_features else 1
        c_in, c_out = check_channels(self, "DeepSetsLinear", c_in, c_out, max(per_pair, 1))
        self.rest_as_features = rest_as_features
        self.c_in, self.rest_size = c_in, rest_size
        self.in_features = None if in_features is None else tuple(in_features)
        if self.in_features is not None and math.prod(self.in_features) != rest_size:
            raise ValueError(f"in_features {self.in_features} do not hold rest_size {rest_size} positions")
        self.c_out = c_out
        self.out_features = None if out_features is None else tuple(out_features)
        out_size = rest_size if self.out_features is None else math.prod(self.out_features)
        k_in, k_out = (c_in * rest_size, c_out * out_size) if rest_as_features else (c_in, c_out)
        self.identity = torch.nn.Parameter(torch.randn(k_out, k_in) / math.sqrt(2 * k_in))
        self.ones = torch.nn.Parameter(torch.randn(k_out, k_in) / math.sqrt(2 * k_in))
        # a bias is invariant under permutations; under rotations only zero is
        self.bias = torch.nn.Parameter(torch.zeros(k_out)) if bias and rest_as_features else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        _check_input(self, x, self.c_in, 1, self.in_features)
        if self.rest_as_features:  # [b, c, N, *rest] -> [b, c * rest, N]
            if math.prod(shape[3:]) != self.rest_size:
                raise ValueError(f"DeepSetsLinear expects {self.rest_size} feature positions per node, got {list(shape)}")
            x = x.movedim(2, -1).reshape(shape[0], self.c_in * self.rest_size, shape[2])
        n = x.shape[2]
        mean = x.mean(2, keepdim=True).expand_as(x) if n else x
        y = _mix(x, self.identity.to(x.dtype)) + _mix(mean, self.ones.to(x.dtype))
        if self.bias is not None:
            y = y + self.bias.to(y.dtype).view(1, -1, *([1] * (y.dim() - 2)))
        if self.rest_as_features:
            rest = shape[3:] if self.out_features is None else self.out_features
            y = y.reshape(shape[0], self.c_out, *rest, shape[2]).movedim(-1, 2)
        return y


class DeepSetsPool(torch.nn.Module):
    """Permutation-invariant ``[batch, c_in, N, *rest] -> [batch, c_out]``: mean over N (0 for no nodes), the rest as
    features. ``c_in`` counts channels times feature positions; ``in_features`` (the shape of ``rest``), when given,
    is checked on every input."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True, in_features: tuple | None = None):
        super().__init__()
        c_in, c_out = check_channels(self, "DeepSetsPool", c_in, c_out)
        self.in_features = None if in_features is None else tuple(in_features)
        if self.in_features is not None and c_in % max(math.prod(self.in_features), 1):
            raise ValueError(f"c_in {c_in} is not a multiple of the {math.prod(self.in_features)} feature positions")
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in) / math.sqrt(c_in))
        self.bias = torch.nn.Parameter(torch.zeros(c_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_features is not None:
            _check_input(self, x, self.weight.shape[1] // max(math.prod(self.in_features), 1), 1, self.in_features)
        elif x.dim() < 3 or math.prod(x.shape[1:2] + x.shape[3:]) != self.weight.shape[1]:
            raise ValueError(
                f"DeepSetsPool expects [batch, c, N, *rest] with c x rest = {self.weight.shape[1]}, got {list(x.shape)}"
            )
        pooled = _mean(x, 2).reshape(x.shape[0], self.weight.shape[1])
        y = pooled @ self.weight.to(x.dtype).T
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y


def _pair_basis(x: torch.Tensor) -> torch.Tensor:
    """The 15 linear maps of ``[..., N, N]`` that commute with permuting both last dims (Maron et al. 2019).

    Aggregates are means, so the scale does not grow with N. Returns ``[..., 15, N, N]``. The reference the
    layers' fused forward passes follow (map k is weight index k of :class:`PairLinear`).
    """
    n = x.shape[-1]
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    diag = torch.diagonal(x, dim1=-2, dim2=-1)  # [..., N]
    rows = x.mean(-1)  # mean over j of x_ij: [..., N] indexed by i
    cols = x.mean(-2)  # mean over i of x_ij: indexed by j
    total = x.mean((-2, -1))[..., None, None]
    trace = diag.mean(-1)[..., None, None]

    def as_diag(v):
        return v.unsqueeze(-1) * eye

    def along_rows(v):  # y_ij = v_i
        return v.unsqueeze(-1).expand(*v.shape, n)

    def along_cols(v):  # y_ij = v_j
        return v.unsqueeze(-2).expand(*v.shape[:-1], n, n)

    ones = torch.ones_like(x)
    maps = [
        x,
        x.transpose(-1, -2),
        as_diag(diag),
        as_diag(rows),
        as_diag(cols),
        total * eye,
        trace * eye,
        along_rows(rows),
        along_cols(rows),
        along_rows(cols),
        along_cols(cols),
        along_rows(diag),
        along_cols(diag),
        total * ones,
        trace * ones,
    ]
    return torch.stack(maps, dim=-3)


def _pair_to_real_basis(x: torch.Tensor) -> torch.Tensor:
    """The 2 invariant linear maps of ``[..., N, N]`` under permuting both dims: total mean, trace mean. ``[..., 2]``."""
    return torch.stack([_mean(x, (-2, -1)), _mean(torch.diagonal(x, dim1=-2, dim2=-1), -1)], dim=-1)


def _pair_to_nodes_basis(x: torch.Tensor) -> torch.Tensor:
    """The 5 equivariant linear maps ``[..., N, N] -> [..., N]``: diagonal, row mean, column mean, total and trace means
    broadcast (Maron et al. 2019; means, so the scale does not grow with N). Returns ``[..., 5, N]``."""
    n = x.shape[-1]
    diag = torch.diagonal(x, dim1=-2, dim2=-1)
    total = x.mean((-2, -1))[..., None].expand(*x.shape[:-2], n)
    trace = diag.mean(-1, keepdim=True).expand_as(diag)
    return torch.stack([diag, x.mean(-1), x.mean(-2), total, trace], dim=-2)


def _nodes_to_pair_basis(x: torch.Tensor) -> torch.Tensor:
    """The 5 equivariant linear maps ``[..., N] -> [..., N, N]``: x_i on the diagonal, x_i along rows (y_ij = x_i),
    along columns (y_ij = x_j), the mean of x on the diagonal and everywhere. Returns ``[..., 5, N, N]``. The
    reference of :class:`NodesToPair`'s fused forward pass."""
    n = x.shape[-1]
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    mean = x.mean(-1)[..., None, None]
    rows = x.unsqueeze(-1).expand(*x.shape, n)
    cols = x.unsqueeze(-2).expand(*x.shape[:-1], n, n)
    return torch.stack([x.unsqueeze(-1) * eye, rows, cols, mean * eye, mean.expand_as(rows)], dim=-3)


def _mix(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``[b, I, *rest] -> [b, O, *rest]`` by ``w [O, I]`` on the channels, as one matrix product (einsum picks
    batched products for these shapes, several times slower on CPU)."""
    return torch.tensordot(x, w, dims=([1], [1])).movedim(-1, 1)


def _assemble_pair(full, diag, rows, cols, everywhere) -> torch.Tensor:
    """``[b, o, N, N]``: ``full`` (or zero) plus ``diag`` on the diagonal, ``rows`` broadcast along rows
    (``y_ij += rows_i``), ``cols`` along columns (``y_ij += cols_j``), ``everywhere`` (``[b, o]``) at every entry."""
    y = rows.unsqueeze(-1) + cols.unsqueeze(-2) + everywhere[..., None, None]
    if full is not None:
        y = y + full
    return y + torch.diag_embed(diag)


class _GraphLinear(torch.nn.Module):
    """Shared parts of the graph layers under symmetric(N), with fixed feature dims after the node dims.

    The input ``[batch, c_in, *nodes, *in_features]`` is read as ``c_in x prod(in_features)`` channels and the
    output written as ``c_out x prod(out_features)`` (channel-major): each of the ``n_maps`` basis maps gets a full
    weight between those channels, ``[k_out, k_in, n_maps]``, N(0, 1/(n_maps k_in)); ``n_bias`` biases per output
    channel and feature position (the output's invariant vectors). Nothing acts on the features, so this spans
    every equivariant linear map (the basis of the node dims tensored with all feature-to-feature maps).
    """

    n_maps = 0
    n_bias = 1
    in_rank = 2  # node dims of the input (pair: 2, nodes: 1)
    out_rank = 2  # of the output (0: real)

    def __init__(
        self,
        c_in: int,
        c_out: int,
        bias: bool = True,
        in_features: tuple = (),
        out_features: tuple = (),
        feature_generators: tuple | None = None,
    ):
        super().__init__()
        if out_features and not self.out_rank:
            raise ValueError(f"{type(self).__name__} has an invariant output: no output features")
        self.in_features, self.out_features = tuple(in_features), tuple(out_features)
        f_in, f_out = math.prod(self.in_features), math.prod(self.out_features)
        c_in, c_out = check_channels(self, _runtime_name(self), c_in, c_out, max(f_in * f_out * self.n_maps, 1))
        self.c_in, self.c_out = c_in, c_out
        k_in, k_out = c_in * f_in, c_out * f_out
        std = 1 / math.sqrt(self.n_maps * k_in)
        self.tied = feature_generators is not None
        if not self.tied:
            self.weight = torch.nn.Parameter(torch.randn(k_out, k_in, self.n_maps) * std)
            self.bias = torch.nn.Parameter(torch.zeros(k_out, self.n_bias)) if bias else None
            return
        # a finite group permuting the features too: weights tied by its orbits on (output, input) feature pairs
        gen_in, gen_out = feature_generators
        gen_in, gen_out = torch.as_tensor(gen_in).reshape(-1, f_in), torch.as_tensor(gen_out).reshape(-1, f_out)
        if gen_in.shape[0] != gen_out.shape[0]:
            raise ValueError(f"feature_generators list {gen_in.shape[0]} and {gen_out.shape[0]} generators")
        pairs = torch.arange(f_out * f_in)
        edges = [gen_out[g][pairs // f_in] * f_in + gen_in[g][pairs % f_in] for g in range(gen_in.shape[0])]
        self.register_buffer("weight_orbits", orbit_labels(edges, f_out * f_in).view(f_out, f_in), persistent=False)
        self.register_buffer("bias_orbits", orbit_labels(list(gen_out), f_out), persistent=False)
        orbits, bias_orbits = int(self.weight_orbits.max()) + 1, int(self.bias_orbits.max()) + 1
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, orbits, self.n_maps) * std)
        self.bias = torch.nn.Parameter(torch.zeros(c_out, bias_orbits, self.n_bias)) if bias else None

    def _tied(self, like: torch.Tensor) -> tuple:
        """The weight ``[k_out, k_in, n_maps]`` and the bias ``[k_out, n_bias]`` (None without biases) in ``like``'s
        dtype: the parameters themselves, or gathered from the feature orbits' parameters (once per forward)."""
        w, b = self.weight, self.bias
        if self.tied:
            f_out, f_in = self.weight_orbits.shape
            w = w[:, :, self.weight_orbits].permute(0, 2, 1, 3, 4).reshape(self.c_out * f_out, self.c_in * f_in, -1)
            b = None if b is None else b[:, self.bias_orbits].reshape(self.c_out * f_out, -1)
        return w.to(like.dtype), None if b is None else b.to(like.dtype)

    def _fold(self, x: torch.Tensor) -> torch.Tensor:
        """``[b, c, *nodes, *features] -> [b, c * features, *nodes]`` (a ValueError for any other shape)."""
        _check_input(self, x, self.c_in, self.in_rank, self.in_features)
        if not self.in_features:
            return x
        rank, dims = self.in_rank, x.dim()
        x = x.movedim(tuple(range(2, 2 + rank)), tuple(range(dims - rank, dims)))
        return x.reshape(x.shape[0], self.c_in * math.prod(self.in_features), *x.shape[dims - rank :])

    def _unfold(self, y: torch.Tensor) -> torch.Tensor:
        """``[b, c_out * features, *nodes] -> [b, c_out, *nodes, *features]``."""
        if not self.out_features:
            return y
        rank = self.out_rank
        y = y.reshape(y.shape[0], self.c_out, *self.out_features, *y.shape[2:])
        return y.movedim(tuple(range(y.dim() - rank, y.dim())), tuple(range(2, 2 + rank)))

    @staticmethod
    def _weights(maps: list, weight: torch.Tensor) -> torch.Tensor:
        """Maps ``maps`` (a list of ``parts`` lists of map indices) of ``weight`` (``_tied``'s) as
        ``[parts * k_out, k_in * inputs]``: mixes inputs stacked ``[b, k_in, inputs, ...]`` (flattened) into every
        output part in one product."""
        w = weight[..., maps]  # [o, k, parts, inputs]
        return w.permute(2, 0, 1, 3).reshape(len(maps) * w.shape[0], -1)

    @staticmethod
    def _bias(k: int, bias: torch.Tensor | None) -> torch.Tensor | float:
        """Bias ``k`` of every output channel of ``bias`` (``_tied``'s), ``[k_out]`` (0.0 without biases)."""
        return 0.0 if bias is None else bias[:, k]


def _pair_vectors(x: torch.Tensor) -> tuple:
    """``[b, k, N, N]`` -> its node vectors ``[b, k * 3, N]`` (diagonal, row means, column means; channel major)
    and scalars ``[b, k * 2]`` (total mean, trace mean; 0 for no nodes)."""
    b, n = x.shape[0], x.shape[-1]
    diag = torch.diagonal(x, dim1=-2, dim2=-1)
    k = x.shape[1]
    vectors = torch.stack([diag, x.mean(-1), x.mean(-2)], dim=2).reshape(b, k * 3, n)
    scalars = torch.stack([_mean(x, (-2, -1)), _mean(diag, -1)], dim=2).reshape(b, k * 2)
    return vectors, scalars


# the weight indices of PairLinear's maps (as _pair_basis lists them), grouped by what the fused forward computes:
# per output part (diagonal, broadcast along rows, along columns), the vector inputs (diagonal, row means, column means)
_PAIR_VECTOR_MAPS = [[2, 3, 4], [11, 7, 9], [12, 8, 10]]
# per output part (diagonal, everywhere), the scalar inputs (total mean, trace mean)
_PAIR_SCALAR_MAPS = [[5, 6], [13, 14]]


class PairLinear(_GraphLinear):
    """Equivariant ``[batch, c_in, N, N, *F_in] -> [batch, c_out, N, N, *F_out]`` under permuting both node dims, any N.

    15 weights per channel and feature pair (the Bell number B(4)), 2 biases per output channel and feature (on the
    diagonal, everywhere). The forward pass never forms the 15 maps: two channel mixes on the N x N entries
    (identity, transpose), one on the node vectors (diagonal, row and column means) and one on the scalars.
    """

    n_maps = 15
    n_bias = 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._fold(x)
        vectors, scalars = _pair_vectors(x)
        w, b = self._tied(x)
        full = _mix(x, w[..., 0]) + _mix(x, w[..., 1]).transpose(-1, -2)
        vec = _mix(vectors, self._weights(_PAIR_VECTOR_MAPS, w)).unflatten(1, (3, -1))  # [b, 3, o, N]
        sca = (scalars @ self._weights(_PAIR_SCALAR_MAPS, w).T).unflatten(1, (2, -1))  # [b, 2, o]
        diag = vec[:, 0] + (sca[:, 0] + self._bias(0, b))[..., None]
        y = _assemble_pair(full, diag, vec[:, 1], vec[:, 2], sca[:, 1] + self._bias(1, b))
        return self._unfold(y)


class PairPool(_GraphLinear):
    """Invariant ``[batch, c_in, N, N, *F_in] -> [batch, c_out]`` under permuting both node dims, for any N.

    2 weights per channel and feature pair (total mean, trace mean), 1 bias per output channel.
    """

    n_maps = 2
    out_rank = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._fold(x)
        w, b = self._tied(x)
        return _pair_to_real_basis(x).flatten(1) @ self._weights([[0, 1]], w).T + self._bias(0, b)


class PairToNodes(_GraphLinear):
    """Equivariant ``[batch, c_in, N, N, *F_in] -> [batch, c_out, N, *F_out]`` under permuting the node dims.

    5 weights per channel and feature pair (diagonal, row mean, column mean, broadcast total and trace means), 1 bias
    per output channel and feature.
    """

    n_maps = 5
    out_rank = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._fold(x)
        vectors, scalars = _pair_vectors(x)
        w, b = self._tied(x)
        means = scalars @ self._weights([[3, 4]], w).T + self._bias(0, b)  # [b, o]
        return self._unfold(_mix(vectors, self._weights([[0, 1, 2]], w)) + means[..., None])


class NodesToPair(_GraphLinear):
    """Equivariant ``[batch, c_in, N, *F_in] -> [batch, c_out, N, N, *F_out]`` under permuting the node dims.

    5 weights per channel and feature pair (x on the diagonal, along rows, along columns, its mean on the diagonal
    and everywhere), 2 biases per output channel and feature (on the diagonal, everywhere) as :class:`PairLinear`.
    """

    n_maps = 5
    n_bias = 2
    in_rank = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._fold(x)
        w, b = self._tied(x)
        parts = _mix(x, self._weights([[0], [1], [2]], w)).unflatten(1, (3, -1))  # [b, 3, o, N]
        means = (_mean(x, -1) @ self._weights([[3], [4]], w).T).unflatten(1, (2, -1))  # [b, 2, o]
        diag = parts[:, 0] + (means[:, 0] + self._bias(0, b))[..., None]
        return self._unfold(_assemble_pair(None, diag, parts[:, 1], parts[:, 2], means[:, 1] + self._bias(1, b)))


class NodesLinear(_GraphLinear):
    """Equivariant ``[batch, c_in, N, *F_in] -> [batch, c_out, N, *F_out]`` under permuting the nodes: 2 weights per
    channel and feature pair (identity, mean), 1 bias per output channel and feature; :class:`DeepSetsLinear` with
    the graph layers' feature handling, for weights tied by a group that permutes the features too."""

    n_maps = 2
    in_rank = 1
    out_rank = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._fold(x)
        w, b = self._tied(x)
        means = _mean(x, -1) @ w[..., 1].T + self._bias(0, b)  # [b, o]
        return self._unfold(_mix(x, w[..., 0]) + means[..., None])


class NodesPool(_GraphLinear):
    """Invariant ``[batch, c_in, N, *F_in] -> [batch, c_out]`` under permuting the nodes: the mean over the nodes (0
    for none), 1 weight per channel and feature pair, 1 bias per output channel."""

    n_maps = 1
    in_rank = 1
    out_rank = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._fold(x)
        w, b = self._tied(x)
        return _mean(x, -1) @ w[..., 0].T + self._bias(0, b)


def _representation(reps: list, shape: tuple, dtype=torch.float64) -> list:
    """``(kind, matrix [P, P])`` on the flattened positions of ``shape`` for each generator of the group.

    ``reps``: ``("perm", push_table [g, P])`` for permutation factors (one
    ``"group"`` matrix per generator), or ``("so" | "o", n, dim)`` for rotations
    acting on a dim of size n (a ``"lie"`` matrix per Lie algebra generator,
    and for O(n) a ``"group"`` reflection); ``dim`` a tuple of dims is the same
    rotation on each (``R M R^T``): Lie generators summed over the dims, group
    elements multiplied (``()``: a rotation group that leaves the tensor
    unchanged, its generators zero and the identity).
    """
    points = math.prod(shape) if shape else 1
    mats = []
    for rep in reps:
        if rep[0] == "perm":
            for push in rep[1]:
                m = torch.zeros(points, points, dtype=dtype)
                m[push, torch.arange(points)] = 1.0
                mats.append(("group", m))
            continue
        kind, n, dim = rep
        dims = tuple(dim) if isinstance(dim, tuple | list) else (dim,)

        def lift(a, d):
            before, after = math.prod(shape[:d]), math.prod(shape[d + 1 :])
            return torch.kron(torch.kron(torch.eye(before, dtype=dtype), a), torch.eye(after, dtype=dtype))

        for i in range(n):
            for j in range(i + 1, n):
                a = torch.zeros(n, n, dtype=dtype)
                a[i, j], a[j, i] = -1.0, 1.0
                mats.append(("lie", sum((lift(a, d) for d in dims), torch.zeros(points, points, dtype=dtype))))
        if kind == "o":
            reflect = torch.eye(n, dtype=dtype)
            reflect[0, 0] = -1.0
            group = torch.eye(points, dtype=dtype)
            for d in dims:  # the lifts act on different dims: they commute
                group = group @ lift(reflect, d)
            mats.append(("group", group))
    return mats


def _trivial(like: list) -> list:
    """The trivial representation on one point, generator by generator."""
    one = torch.ones(1, 1, dtype=torch.float64)
    return [(kind, one if kind == "group" else 0 * one) for kind, _ in like]


def equivariant_basis(
    in_reps: list | None, out_reps: list | None, in_shape: tuple, out_shape: tuple, cutoff: float = 1e-9
) -> torch.Tensor:
    """Basis ``[k, P_out, P_in]`` of the linear maps W with ``rho_out(h) W = W rho_in(h)`` for every generator h.

    ``out_reps`` None (or ``in_reps`` None) is the trivial representation
    (invariant output, or a constant input). The null space of the stacked
    constraints ``kron(rho_out, I) - kron(I, rho_in^T)``, by SVD in float64; a
    singular value below ``cutoff * max(largest, 1)`` counts as zero. Both
    representations must list the same generators in the same order
    (ValueError otherwise).
    """
    rin = _representation(in_reps, in_shape) if in_reps is not None else None
    rout = _representation(out_reps, out_shape) if out_reps is not None else None
    if rin is None and rout is None:
        return torch.ones(1, 1, 1, dtype=torch.float64)
    if rin is None:
        rin = _trivial(rout)
    if rout is None:
        rout = _trivial(rin)
    if [kind for kind, _ in rin] != [kind for kind, _ in rout]:
        raise ValueError(
            f"the input and output representations list different generators: {[k for k, _ in rin]} vs {[k for k, _ in rout]}"
        )
    p_in = rin[0][1].shape[0] if rin else (math.prod(in_shape) if in_shape else 1)
    p_out = rout[0][1].shape[0] if rout else (math.prod(out_shape) if out_shape else 1)
    if not rin:
        return torch.eye(p_out * p_in, dtype=torch.float64).reshape(-1, p_out, p_in)
    eye_in, eye_out = torch.eye(p_in, dtype=torch.float64), torch.eye(p_out, dtype=torch.float64)
    blocks = [torch.kron(mo, eye_in) - torch.kron(eye_out, mi.T.contiguous()) for (_, mi), (_, mo) in zip(rin, rout)]
    constraints = torch.cat(blocks)
    _, s, vh = torch.linalg.svd(constraints, full_matrices=False)  # rows >= columns: vh is square, the null space in it
    scale = max(float(s.max()) if s.numel() else 1.0, 1.0)
    rank = int((s > cutoff * scale).sum())
    return vh[rank:].reshape(-1, p_out, p_in)


def invariant_basis(reps: list | None, shape: tuple, cutoff: float = 1e-9) -> torch.Tensor:
    """Basis ``[k, P]`` of the vectors v with ``rho(h) v = v`` (group generators) and ``d rho(A) v = 0`` (Lie algebra).

    The null space of the stacked ``rho(h) - I`` and ``d rho(A)``, solved as
    the equivariant maps from the trivial representation; ``reps`` None is the
    trivial representation on one point (basis ``[[1]]``). ``k`` is 0 when no
    nonzero vector is invariant (SO(n) on a vector).
    """
    if reps is None:
        return torch.ones(1, 1, dtype=torch.float64)
    return equivariant_basis(None, reps, (), tuple(shape), cutoff)[:, :, 0]


_BASIS_CACHE: dict = {}


class Float64Bases(torch.nn.Module):
    """A module whose ``FLOAT64_BUFFERS`` stay float64 through ``.to``/``.float``/``.half`` (they are only moved):
    a cast down and back would round them and break float64 equivariance. Forward casts them to the input's dtype."""

    FLOAT64_BUFFERS: tuple = ()

    def _apply(self, fn, recurse=True):
        kept = {name: self._buffers[name] for name in self.FLOAT64_BUFFERS if self._buffers.get(name) is not None}
        out = super()._apply(fn, recurse)
        for name, before in kept.items():
            after = self._buffers[name]
            if after.dtype != torch.float64:
                self._buffers[name] = before.to(after.device)
        return out


class BasisLinear(Float64Bases):
    """``[batch, c_in, *in_shape] -> [batch, c_out, *out_shape]`` spanned by an equivariant basis (matrix actions).

    The basis is solved once per (representations, shapes) and cached; the
    weight is ``sum_k theta[o, i, k] B_k`` and the bias ``sum_k b[o, k] v_k``
    over a basis ``v`` of the output's invariant vectors (no bias when there
    is none: SO(n) on a vector). Both bases are float64 buffers, cast to the
    input's dtype in the forward pass (and stay float64 through ``.float()``).
    """

    FLOAT64_BUFFERS = ("basis", "bias_basis")

    def __init__(self, c_in: int, c_out: int, in_reps: list, out_reps: list | None, in_shape, out_shape, bias: bool = True):
        super().__init__()
        key = (repr(in_reps), repr(out_reps), tuple(in_shape), tuple(out_shape))
        if key not in _BASIS_CACHE:
            _BASIS_CACHE[key] = (
                equivariant_basis(in_reps, out_reps, tuple(in_shape), tuple(out_shape)),
                invariant_basis(out_reps, tuple(out_shape)),
            )
        basis, bias_basis = _BASIS_CACHE[key]
        if basis.shape[0] == 0:
            raise ValueError("no nonzero linear map commutes with the group here")
        c_in, c_out = check_channels(self, "BasisLinear", c_in, c_out, basis.shape[0] + basis.shape[-2] * basis.shape[-1])
        self.register_buffer("basis", basis.clone(), persistent=False)
        self.out_shape = tuple(out_shape)
        fan_in = c_in * basis.shape[-1]
        norm = basis.reshape(basis.shape[0], -1).norm(dim=-1).mean()
        self.weight = torch.nn.Parameter(
            torch.randn(c_out, c_in, basis.shape[0]) / (math.sqrt(fan_in) * float(norm)) * math.sqrt(basis.shape[-2])
        )
        self.register_buffer("bias_basis", bias_basis.clone(), persistent=False)
        self.bias = torch.nn.Parameter(torch.zeros(c_out, bias_basis.shape[0])) if bias and bias_basis.shape[0] else None

    def _basis_as(self, name: str, dtype: torch.dtype) -> torch.Tensor:
        """A basis buffer (kept in float64) in ``dtype``, cast once per buffer and dtype, not on every forward."""
        table = getattr(self, name)
        if table.dtype == dtype:
            return table
        key = (name, id(table), table.device, dtype)
        casts = self.__dict__.setdefault("_basis_casts", {})
        found = casts.get(key)
        if found is None:
            if len(casts) > 8:  # buffers moved or replaced: drop old casts (a basis never changes its values)
                casts.clear()
            found = casts[key] = table.to(dtype)
        return found

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        flat = x.reshape(batch, x.shape[1], -1)
        w = torch.einsum("oik,kqp->oiqp", self.weight.to(x.dtype), self._basis_as("basis", x.dtype))
        y = torch.einsum("bip,oiqp->boq", flat, w)
        if self.bias is not None:
            y = y + torch.einsum("ok,kq->oq", self.bias.to(y.dtype), self._basis_as("bias_basis", y.dtype))
        return y.reshape(batch, -1, *self.out_shape)
