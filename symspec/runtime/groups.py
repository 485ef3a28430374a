"""Drawing group elements and acting with them: one :class:`GroupSampler` per group and the domains it moves.

Every user that draws an element of a spec's group and applies it (the
compiled loss, ``augment``, ``symmetrize``, the Validator's checks and
``symspec.testing.assert_equivariant``) builds a ``GroupSampler`` once from a
literal description and calls ``draw``/``every`` and ``act``/``act_inverse``.

The description is a group name and a list of factors, each a dict:

``{"kind": "finite", "name": "D4", "order": 8, "on": {key: action, ...}}``
    A finite group acting by permuting points. ``action`` is
    ``{"shape": dims, "ops": {generator: [(op, args), ...]}}`` on the
    positions of a tensor (``symspec.transforms`` ops, the last acting first;
    leading dims no op touches may be symbolic names), or
    ``{"n": size, "lo": low, "ops": {...}}`` on the values ``lo..lo+n-1`` of a
    finite domain. Every element is enumerated (one table row each) when the
    order is at most ``max_order`` (5000), else elements are random words.
    Event dims the ops move may be symbolic (``("H", "H")``: rot90, flip,
    roll on an image of any size) when the order is at most ``max_order``:
    the elements are enumerated with each symbolic dim at ``PROBE_SIZE``, and
    each size met at run time gets its own element tables (rows in the same
    order: each element replayed as the word that reached it on the probe;
    built once per size and device, the last ``SIZED_TABLES`` sizes kept). A
    size where the ops satisfy other relations than on the probe is a
    ValueError; an action that is not faithful (on the probe and at every
    size) has fewer rows than the group has elements, as with fixed sizes.
``{"kind": "arithmetic", "name": "C", "order": 1000000, "steps": [m_1, ...], "on": {key: action, ...}}``
    A finite group whose every element is ``g_1^k_1 ... g_r^k_r`` for one
    ``k_i`` in ``[0, m_i)`` each (the product of the ``m_i`` is the order), and
    whose generators act on the values ``lo..lo+n-1`` of finite domains by
    ``v -> a v + b (mod n)`` with ``a`` a unit mod n (1 for a shift, -1 for a
    reflection): ``action`` is ``{"n": n, "lo": lo, "maps": [(a_1, b_1), ...]}``,
    one map per ``g_i``.
    An element is one number ``k_1 + m_1 (k_2 + m_2 (...))`` drawn uniformly
    in ``[0, order)`` (uniform over the group) and acts by arithmetic: no
    table of elements, whatever the order.
``{"kind": "SO" | "O", "name": ..., "n": 3, "on": {key: {"shape": dims, "matrix": dim}}}``
    Haar-random rotations acting as matrices on event dim ``dim``; ``dim`` a
    tuple of dims applies the same matrix on each (``R M R^T`` on two dims).
``{"kind": "symmetric", "name": ..., "on": {key: {"shape": dims, "permute": (dim, ...)}}}``
    Uniform permutations of symbolic size moving the event dims ``dims``
    together; the size is read at draw time from a tensor of the domain.
    ``{"values": n, "lo": lo}`` for a key permutes the n values of a finite
    domain instead (value ``lo + i`` goes to ``lo + perm[i]``).

``{"kind": "SO1" | "O1" | "translations" | "E" | "SE", ...}``
    Non-compact groups (Lorentz, translations, rigid motions), drawn from
    normals of scale ``"scale"``: see ``symspec/runtime/physics.py``.
    :meth:`GroupSampler.canonical` gives their translations from the inputs.

``key`` names a domain (any string); an action of ``None`` is the identity.
``draw`` returns an :class:`Elements` (a tuple, one tensor per factor):
element numbers ``[n]`` (rows of the tables) for an enumerated finite factor
and for an arithmetic one,
push maps ``[n, points]`` for random words, ``[n, k, k]`` float64 matrices,
``[n, size]`` permutations. Tensors act batch first (``x[b]`` gets element
``b``; an element drawn with ``n = 1`` acts on the whole batch); the event
dims are the last ``len(shape)`` dims of ``x``, so channel dims between the
batch and the event dims move together. Everything follows the inputs'
device and dtype; randomness comes only from the given ``torch.Generator``.
"""

from __future__ import annotations

import math

import torch

from ..transforms import MAX_TABLE_ORDER
from .actions import (
    MAX_WORD_ENTRIES,
    act_on_values,
    concat_actions,
    gather_positions,
    invert,
    joint_elements,
    matrix_event_dim,
    permute_event_dim,
    random_words,
)
from .actions import batch_elements as _batch
from .actions import event_axis as _axis
from .distributions import pushforward_permutation
from .physics import PHYSICS_KINDS, refuse_integer
from .sampling import haar_orthogonal, random_permutations, traceable
from .tables import action_table

__all__ = ["GroupSampler", "Elements", "MAX_TABLE_ORDER", "WORD_LENGTH"]

WORD_LENGTH = 64
MAX_SIZED_POSITIONS = 4_000_000  # positions of a symbolic-size event tabulated at run time (as analysis MAX_POINTS)
PROBE_SIZE = 5  # a symbolic dim's size while the elements of a finite group moving it are enumerated
SIZED_TABLES = 8  # run-time sizes whose element tables a finite factor keeps (the oldest is dropped)


class Elements(tuple):
    """Drawn group elements: one tensor per factor of the sampler, first dim the examples."""

    def __repr__(self) -> str:
        return f"Elements({', '.join(f'{tuple(t.shape)}' for t in self)})"


def _leading_untouched(shape: tuple, ops: dict) -> int:
    """How many leading dims of a tensor no op touches (they move together, like channels)."""
    touched = []
    for seq in ops.values():
        for _, args in seq:
            for k, v in dict(args).items():
                if k in ("dim", "i", "j"):
                    touched.append(v)
                elif k == "dims":
                    touched += list(v)
    return min(touched) if touched else len(shape)


def _shift(args: dict, delta: int) -> dict:
    out = {}
    for k, v in dict(args).items():
        if k in ("dim", "i", "j"):
            v = v + delta
        elif k == "dims":
            v = tuple(d + delta for d in v)
        out[k] = v
    return out


def _normal_form_words(gens: torch.Tensor, steps: list, batch: int, generator=None, pool: int = 1024) -> torch.Tensor:
    """``batch`` uniform elements ``g_1^k_1 ... g_r^k_r`` (``k_i`` uniform below its relative order ``steps[i]``: every
    element once, so uniform over the group), as push maps; each power by repeated squaring of the generator's map.
    At most ``pool`` (and MAX_WORD_ENTRIES entries) are built per call, the examples draw among them."""
    points = gens.shape[-1]
    words = max(1, min(batch, pool, MAX_WORD_ENTRIES // max(points, 1)))
    identity = torch.arange(points, device=gens.device).expand(words, points)
    out = identity
    for g, m in zip(gens, steps):
        k = torch.randint(0, int(m), (words,), generator=generator).to(gens.device)
        power, base, bit = identity, g, 0
        while (1 << bit) < int(m):
            use = ((k >> bit) & 1).bool().unsqueeze(-1)
            power = torch.where(use, base[power], power)  # base after power (powers of one map commute)
            base = base[base]
            bit += 1
        out = power.gather(-1, out)  # g_i^k_i after the earlier factors
    if words < batch:
        out = out[torch.randint(0, words, (batch,), generator=generator).to(gens.device)]
    return out


class _Finite:
    """A finite factor: element tables (every element) or generator push maps (random words), per moved domain."""

    def __init__(self, desc: dict, max_order: int):
        self.name = desc.get("name", "finite")
        self.keys, tables = [], []
        self.points, self.lows, self.ranks = {}, {}, {}
        self.symbolic, self.sized = {}, {}  # key -> (ops, event shape with names); (key, sizes) -> (rows, gathers)
        order = desc.get("order")
        for key, action in desc["on"].items():
            if action is None:
                continue
            ops = {g: [(op, dict(args)) for op, args in seq] for g, seq in action["ops"].items()}
            if "shape" in action:
                shape = tuple(action["shape"])
                lead = _leading_untouched(shape, ops)
                ops = {g: [(op, _shift(args, -lead)) for op, args in seq] for g, seq in ops.items()}
                event = shape[lead:]
                if not all(isinstance(d, int) for d in event):
                    # sizes known only at run time: elements enumerated on a probe grid, tables built per size (act)
                    if order is None or order > max_order:
                        raise ValueError(
                            f"{self.name} ({'of unknown order' if order is None else f'{order} elements'}) moves the "
                            f"symbolic dims of {key} {shape}: only groups of at most {max_order} elements are drawn there"
                        )
                    self.symbolic[key] = (ops, event)
                    event = tuple(PROBE_SIZE if not isinstance(d, int) else d for d in event)
                tables.append(action_table(ops, shape=event))
                self.ranks[key] = len(event)
            else:
                tables.append(action_table(ops, n=action["n"]))
                self.lows[key] = action.get("lo", 0)
            self.keys.append(key)
            self.points[key] = tables[-1].shape[-1]
        self.rows = self.gathers = self.generators = None
        self._words = None  # the probe's elements as words (_tree), for the tables at run-time sizes
        self.offsets = {}
        self.steps = desc.get("steps")  # relative orders of the generators: every element g_1^k_1 ... g_r^k_r once
        self.tables = tables
        if not tables or not tables[0].shape[0]:
            self.order = 1  # moves nothing: the identity
            return
        if order is None or order <= max_order:
            try:
                rows = joint_elements(tables, max_order=max_order)
            except ValueError:
                rows = None
            if rows is not None:
                self.rows = dict(zip(self.keys, rows))
                self.gathers = {k: invert(r) for k, r in self.rows.items()}  # inverse tables: positions and values
                self.order = rows[0].shape[0]
                return
        offset = 0
        for key in self.keys:
            self.offsets[key] = offset
            offset += self.points[key]
        self.generators = concat_actions(tables)  # in the order of self.keys, as self.offsets says
        self.order = None  # too many to enumerate

    def tensors(self) -> dict:
        out = {}
        for k in self.keys:
            if self.rows is not None:
                out[("rows", k)] = self.rows[k]
                if k in self.gathers:
                    out[("gather", k)] = self.gathers[k]
        if self.generators is not None:
            out["generators"] = self.generators
        return out

    def draw(self, n: int, generator, device, like, word_length: int, on) -> torch.Tensor:
        if self.generators is not None and self.steps is not None:
            return _normal_form_words(on["generators"], self.steps, n, generator)
        if self.generators is not None:
            return random_words(on["generators"], n, word_length, generator)
        return torch.randint(0, self.order, (n,), generator=generator, device=device)

    def every(self, device, repeat: int) -> torch.Tensor:
        if self.order is None:
            raise ValueError(f"{self.name} has too many elements to enumerate; draw random ones")
        return torch.arange(self.order, device=device).repeat_interleave(repeat)

    def _tree(self) -> tuple:
        """The probe's elements as words: breadth-first levels ``[(elements, parents, generators)]`` (element = generator
        after parent) and ``products[e, g]``, the element that generator g after element e is (built once)."""
        if self._words is not None:
            return self._words
        order, gens = self.order, self.tables[0].shape[0]
        probe = torch.cat([self.rows[k] for k in self.keys], dim=-1)  # one joint row per element (the enumeration's)
        moved = torch.cat([t[:, self.rows[k]].transpose(0, 1) for k, t in zip(self.keys, self.tables)], dim=-1)
        _, ids = torch.unique(torch.cat([probe, moved.reshape(order * gens, -1)]), dim=0, return_inverse=True)
        element_of = torch.full((int(ids.max()) + 1,), -1, dtype=torch.long)
        element_of[ids[:order]] = torch.arange(order)
        products = element_of[ids[order:]].view(order, gens)  # closed under the generators: never -1
        parent, via, frontier, levels = {0: None}, {}, [0], []
        while frontier:
            fresh = []
            for e in frontier:
                for g in range(gens):
                    f = int(products[e, g])
                    if f not in parent:
                        parent[f], via[f] = e, g
                        fresh.append(f)
            if fresh:
                levels.append(tuple(torch.tensor(v) for v in (fresh, [parent[f] for f in fresh], [via[f] for f in fresh])))
            frontier = fresh
        self._words = (levels, products)
        return self._words

    def _sized(self, key: str, sizes: tuple, device) -> tuple:
        """Element tables (push rows, gather rows) of ``key`` at the run-time ``sizes``, rows aligned with the probe's.

        Each element is replayed as the word that reached it on the probe (one batched gather per breadth-first
        level, no search at this size); then every generator after every element must be the element the probe
        says, else the ops satisfy other relations at this size than at the probe (a ValueError). The last
        ``SIZED_TABLES`` sizes are kept.
        """
        cached = self.sized.get((key, sizes, device))
        if cached is not None:
            return cached
        ops, event = self.symbolic[key]
        bound = {}
        if len(sizes) != len(event):
            raise ValueError(f"{self.name} acts on the last {len(event)} dims {event} of {key}, but a tensor has {sizes}")
        for name, size in zip(event, sizes):
            if isinstance(name, int) and name != size:
                raise ValueError(f"{self.name} acts on {key} of shape {event}, but a tensor has {sizes} there")
            if not isinstance(name, int) and bound.setdefault(name, size) != size:
                raise ValueError(f"{self.name}: dim {name} of {key} is {bound[name]} and {size} in one tensor {sizes}")
        positions = math.prod(sizes)
        if positions > MAX_SIZED_POSITIONS:
            raise ValueError(
                f"{self.name} acting on {key} at sizes {sizes}: {positions:,} positions, more than the "
                f"{MAX_SIZED_POSITIONS:,} an element table covers (the limit for fixed sizes too)"
            )
        generators = action_table(ops, shape=sizes)
        levels, products = self._tree()
        rows = torch.empty(self.order, generators.shape[-1], dtype=torch.long)
        rows[0] = torch.arange(generators.shape[-1])  # the enumeration lists the identity first
        for elements, parents, via in levels:
            rows[elements] = generators[via].gather(-1, rows[parents])
        for g in range(generators.shape[0]):
            if not torch.equal(generators[g][rows], rows[products[:, g]]):
                raise ValueError(
                    f"{self.name} acting on {key} at sizes {sizes} does not satisfy the relations its {self.order} "
                    f"elements satisfy with every symbolic dim of size {PROBE_SIZE}, where they were listed"
                )
        if len(self.sized) >= SIZED_TABLES:
            self.sized.pop(next(iter(self.sized)))  # the oldest size
        rows = rows.to(device)
        self.sized[(key, sizes, device)] = (rows, invert(rows))
        return self.sized[(key, sizes, device)]

    def _push(self, part, key, on) -> torch.Tensor:
        if self.generators is not None:
            o = self.offsets[key]
            return part[:, o : o + self.points[key]] - o
        return on[("rows", key)][part]

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key not in self.points or (self.rows is None and self.generators is None):  # not moved, or the trivial group
            return x
        part = _batch(part.to(x.device), x.shape[0])
        if key in self.symbolic:  # sizes bound now: this size's element tables (built once per size and device)
            if x.dim() <= self.ranks[key]:
                raise ValueError(f"{self.name} acts on the last {self.ranks[key]} dims of {key}: got a tensor {tuple(x.shape)}")
            rows, gathers = self._sized(key, tuple(x.shape[x.dim() - self.ranks[key] :]), x.device)
            if not x.numel():
                return x  # nothing to move (a size 0 or an empty batch)
            return gather_positions(x, rows[part] if inverse else gathers[part], self.ranks[key])
        if key in self.ranks:  # tensor positions: one gather (the push rows of g are the gather rows of g^-1)
            if self.generators is not None:
                push = self._push(part, key, on)
                index = push if inverse else invert(push)
            else:
                index = on[("rows", key)][part] if inverse else on[("gather", key)][part]
            return gather_positions(x, index, self.ranks[key])
        lo = self.lows[key]
        if self.rows is not None:  # element tables: index them by (element, value), no [batch, n] map per call
            if kind == "dist":  # class log-probabilities: the pushforward by g is one gather by g^-1's table
                return pushforward_permutation(x, on[("rows", key)][part] if inverse else on[("gather", key)][part])
            table = on[("gather", key)] if inverse else on[("rows", key)]
            return table[part, x - lo] + lo if lo else table[part, x]
        push = self._push(part, key, on)
        if kind == "dist":  # class log-probabilities: a permutation's pushforward is one gather by its inverse
            return pushforward_permutation(x, push if inverse else invert(push))
        if inverse:
            push = invert(push)
        return act_on_values(x - lo, push) + lo if lo else act_on_values(x, push)


class _Arithmetic:
    """A finite group drawn as element numbers and acting on values by ``v -> a v + b (mod n)``, a a unit mod n."""

    def __init__(self, desc: dict, max_order: int):
        self.name = desc.get("name", "arithmetic")
        self.steps = [int(m) for m in desc["steps"]]
        self.full_order = int(desc["order"])
        if self.full_order < 1 or math.prod(self.steps) != self.full_order:
            raise ValueError(f"{self.name}: steps {self.steps} do not multiply to the order {self.full_order}")
        self.on = {}
        for key, action in desc["on"].items():
            if action is None:
                continue
            size, lo = int(action["n"]), int(action.get("lo", 0))
            maps = [(int(a) % size, int(b) % size) for a, b in action["maps"]]
            if len(maps) != len(self.steps) or any(math.gcd(a, size) != 1 for a, _ in maps):
                raise ValueError(f"{self.name} on {key}: one map (a, b) with a a unit mod {size} per step; got {maps}")
            inverses = []
            for a, b in maps:  # v -> a^-1 (v - b)
                ai = pow(a, -1, size)
                inverses.append((ai, -ai * b % size))
            self.on[key] = (size, lo, maps, inverses)
        self.order = self.full_order if self.full_order <= max_order else None  # enumerated up to max_order

    def draw(self, n: int, generator, device, like, word_length: int, on) -> torch.Tensor:
        return torch.randint(0, self.full_order, (n,), generator=generator, device=device)

    def every(self, device, repeat: int) -> torch.Tensor:
        if self.order is None:
            raise ValueError(f"{self.name} has too many elements to enumerate; draw random ones")
        return torch.arange(self.order, device=device).repeat_interleave(repeat)

    @staticmethod
    def _power(a: int, b: int, k: torch.Tensor, size: int, bound: int) -> tuple:
        """``(v -> a v + b)^k`` per example as ``(A, B)`` tensors, ``0 <= k < bound``."""
        if a == 1:  # v -> v + k b
            return torch.ones_like(k), (k % size) * b % size
        if a == size - 1:  # an involution: itself for odd k, else the identity
            odd = k % 2
            return 1 + odd * (size - 2), odd * b
        out_a, out_b = torch.ones_like(k), torch.zeros_like(k)
        for bit in range(max(1, (bound - 1).bit_length())):  # repeated squaring; powers of one map commute
            take = ((k >> bit) & 1).bool()
            out_a, out_b = torch.where(take, out_a * a % size, out_a), torch.where(take, (out_b * a + b) % size, out_b)
            a, b = a * a % size, (a * b + b) % size
        return out_a, out_b

    def affine(self, part: torch.Tensor, key: str, inverse: bool = False) -> tuple:
        """``(A, B)`` per element (its inverse's with ``inverse``): v -> ``A v + B (mod n)`` on domain ``key``."""
        size, _lo, maps, inverses = self.on[key]
        rest = part.to(torch.long)
        digits = []
        for m in self.steps:
            digits.append(rest % m)
            rest = rest // m
        a, b = torch.ones_like(rest), torch.zeros_like(rest)
        # the element g_1^k_1 ... g_r^k_r: g_r^k_r acts first; its inverse g_r^-k_r ... g_1^-k_1: g_1^-k_1 first
        order = zip(inverses, digits, self.steps) if inverse else reversed(list(zip(maps, digits, self.steps)))
        for (ga, gb), k, m in order:
            sa, sb = self._power(ga, gb, k, size, m)
            a, b = sa * a % size, (sa * b + sb) % size
        return a, b

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key not in self.on:
            return x
        size, lo, _maps, _inverses = self.on[key]
        part = _batch(part.to(x.device), x.shape[0])
        if kind == "dist":  # class j of the result is class sigma^-1(j) of x: one gather
            a, b = self.affine(part, key, inverse=not inverse)
            index = (a.unsqueeze(-1) * torch.arange(size, device=x.device) + b.unsqueeze(-1)) % size
            index = index.view(index.shape[0], *([1] * (x.dim() - 2)), size).expand(x.shape)
            return x.gather(-1, index)
        a, b = self.affine(part, key, inverse=inverse)
        shape = (-1,) + (1,) * (x.dim() - 1)
        out = (a.view(shape) * (x - lo if lo else x) + b.view(shape)) % size
        return out + lo if lo else out


class _Matrix:
    """SO(n) / O(n): Haar matrices on one event dim, or the same matrix on each of several (a tensor representation)."""

    def __init__(self, desc: dict):
        self.name = desc.get("name", f"{desc['kind']}({desc['n']})")
        self.n = desc["n"]
        self.special = desc["kind"] == "SO"
        self.on = {k: (len(a["shape"]), a["matrix"]) for k, a in desc["on"].items() if a is not None}
        self.order = None

    def draw(self, n, generator, device, like, word_length, on) -> torch.Tensor:
        return haar_orthogonal(n, self.n, self.special, generator, device, torch.float64)

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key not in self.on:
            return x
        rank, dim = self.on[key]
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        self._check(key, x, rank, dims)
        q = _batch(part.to(x.device), x.shape[0])
        q = q.transpose(-1, -2) if inverse else q  # orthogonal: the inverse is the transpose, on every dim alike
        for d in dims:
            x = matrix_event_dim(x, q, _axis(x, rank, d))
        return x

    def _check(self, key: str, x: torch.Tensor, rank: int, dims: tuple) -> None:
        """Refuse an integer tensor (the rotation would be truncated) or one without the domain's rank or moved sizes."""
        refuse_integer(self, key, x)
        if x.dim() < rank + 1 or any(x.shape[_axis(x, rank, d) + 1] != self.n for d in dims):
            raise ValueError(
                f"{self.name} acts on dim(s) {list(dims)} of {key}, a rank-{rank} tensor domain with {self.n} "
                f"coordinates there, so a batch of {key} has {rank + 1} dims (batch first) and size {self.n} on those; "
                f"got a tensor of shape {list(x.shape)}"
            )


def _even(perm: torch.Tensor) -> torch.Tensor:
    """Uniform permutations made uniform even ones: an odd one has its first two entries swapped (times a
    transposition, a bijection between the odd and the even). The parity is n minus the number of cycles, each cycle
    found by its least point (pointer doubling: log2 n gathers)."""
    batch, n = perm.shape
    if n < 2:
        return perm
    index = torch.arange(n, device=perm.device).expand(batch, n)
    least, step = index.clone(), perm
    for _ in range(max(1, (n - 1).bit_length())):
        least = torch.minimum(least, least.gather(1, step))
        step = step.gather(1, step)
    odd = (n - (least == index).sum(1)) % 2 == 1
    out = perm.clone()
    out[odd, 0], out[odd, 1] = perm[odd, 1], perm[odd, 0]
    return out


class _Symmetric:
    """symmetric(N) with N read at draw time: uniform permutations moving some event dims together."""

    def __init__(self, desc: dict):
        self.name = desc.get("name", "symmetric")
        entries = {k: a for k, a in desc["on"].items() if a is not None}
        self.on = {k: (tuple(a["shape"]), tuple(a["permute"])) for k, a in entries.items() if "values" not in a}
        self.values = {k: (a["values"], a.get("lo", 0)) for k, a in entries.items() if "values" in a}  # n labels
        self.even = bool(desc.get("even", False))  # alternating(n): uniform even permutations
        self.order = None

    def _size(self, like) -> int:
        for n, _lo in self.values.values():
            return n
        for key, (shape, dims) in self.on.items():
            if isinstance(shape[dims[0]], int):
                return shape[dims[0]]
            if like and key in like:
                t = like[key]
                return t.shape[t.dim() - len(shape) + dims[0]]
        raise ValueError(f"drawing {self.name} needs a tensor to size it: like={{{next(iter(self.on), 'key')!r}: x}}")

    def draw(self, n, generator, device, like, word_length, on) -> torch.Tensor:
        perm = random_permutations(n, self._size(like), generator, device)
        return _even(perm) if self.even else perm

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key in self.values:  # the values of a finite domain: value v goes to push[v], as a finite factor's
            push = _batch(part.to(x.device), x.shape[0])
            if kind == "dist":
                return pushforward_permutation(x, push if inverse else invert(push))
            push = invert(push) if inverse else push
            lo = self.values[key][1]
            return act_on_values(x - lo, push) + lo if lo else act_on_values(x, push)
        if key not in self.on:
            return x
        shape, dims = self.on[key]
        perm = _batch(part.to(x.device), x.shape[0])
        if inverse:
            perm = invert(perm)
        for d in dims:
            x = permute_event_dim(x, perm, _axis(x, len(shape), d))
        return x


class _Constant:
    """One fixed element (a named generator in a law, ``D4.r``): its push map per moved domain; every draw is it.

    ``{"kind": "constant", "name": "D4.r", "on": {key: action, ...}}`` with ``action`` as for ``finite`` but
    ``"ops"`` the element's op sequence ``[(op, args), ...]`` (the last acting first). Elements are the number 0.
    """

    def __init__(self, desc: dict, max_order: int):
        self.name = desc.get("name", "constant")
        self.push, self.lows, self.ranks = {}, {}, {}
        for key, action in desc["on"].items():
            if action is None:
                continue
            ops = {"g": [(op, dict(args)) for op, args in action["ops"]]}
            if "shape" in action:
                shape = tuple(action["shape"])
                lead = _leading_untouched(shape, ops)
                ops = {"g": [(op, _shift(args, -lead)) for op, args in ops["g"]]}
                event = shape[lead:]
                if not all(isinstance(d, int) for d in event):
                    raise ValueError(f"{self.name} moves the symbolic dims of {key} {shape}: no finite table")
                self.push[key] = action_table(ops, shape=event)[0]
                self.ranks[key] = len(event)
            else:
                self.push[key] = action_table(ops, n=action["n"])[0]
                self.lows[key] = action.get("lo", 0)
        self.order = 1

    def tensors(self) -> dict:
        out = {}
        for k, p in self.push.items():
            out[("push", k)] = p
            out[("pull", k)] = invert(p.unsqueeze(0))[0]
        return out

    def draw(self, n: int, generator, device, like, word_length: int, on) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.long, device=device)

    def every(self, device, repeat: int) -> torch.Tensor:
        return torch.zeros(repeat, dtype=torch.long, device=device)

    def act(self, part, key, x, kind, on, inverse: bool) -> torch.Tensor:
        if key not in self.push:
            return x
        batch = x.shape[0]
        push, pull = on[("push", key)], on[("pull", key)]
        if key in self.ranks:  # gather rows: the pull map of g is the gather of g, its push map the gather of g^-1
            index = push if inverse else pull
            return gather_positions(x, index.unsqueeze(0).expand(batch, -1), self.ranks[key])
        if kind == "dist":
            return pushforward_permutation(x, push if inverse else pull)
        table = pull if inverse else push
        lo = self.lows[key]
        return act_on_values(x - lo, table) + lo if lo else act_on_values(x, table)


_KINDS = {
    "finite": _Finite,
    "arithmetic": _Arithmetic,
    "SO": _Matrix,
    "O": _Matrix,
    "symmetric": _Symmetric,
    "constant": _Constant,
}
_KINDS.update(PHYSICS_KINDS)  # non-compact groups: SO1, O1, translations, E, SE (runtime/physics.py)
_COUNTED = (_Finite, _Arithmetic, _Constant)  # factors drawn as element numbers (enumerable up to max_order)


class GroupSampler:
    """A group's elements, drawn and applied the same way by every user (see the module docstring).

    ``GroupSampler(name, factors)``: ``factors`` as described above. ``order``
    is the number of elements when every element is enumerated (one finite
    factor of at most ``max_order``), else None.
    """

    def __init__(self, name: str, factors: list, max_order: int = MAX_TABLE_ORDER, word_length: int = WORD_LENGTH):
        self.name = name
        self.word_length = word_length
        self.factors = []
        for f in factors:
            if f["kind"] not in _KINDS:
                raise ValueError(f"unknown group factor kind {f['kind']!r}; known: {sorted(_KINDS)}")
            cls = _KINDS[f["kind"]]
            self.factors.append(cls(f, max_order) if cls in _COUNTED else cls(f))
        self._devices: dict = {}

    def __repr__(self) -> str:
        return f"GroupSampler({self.name!r}, factors={[f.name for f in self.factors]})"

    @property
    def order(self) -> int | None:
        if len(self.factors) == 1 and isinstance(self.factors[0], _COUNTED):
            return self.factors[0].order
        return None

    def _on(self, device) -> list:
        """Each factor's tables on ``device`` (copied once per device)."""
        key = str(torch.device(device) if device is not None else torch.device("cpu"))
        found = self._devices.get(key)
        if found is None:
            found = self._devices[key] = [
                {k: t.to(device) for k, t in f.tensors().items()} if isinstance(f, _Finite | _Constant) else {}
                for f in self.factors
            ]
        return found

    def draw(self, n: int, generator: torch.Generator | None = None, device=None, like: dict | None = None) -> Elements:
        """``n`` random elements (uniform for enumerated and Haar groups, near-uniform random words otherwise).

        ``like`` maps domain keys to tensors of those domains, to size symbolic permutations.
        """
        on = self._on(device)
        generator = traceable(generator)
        return Elements(f.draw(n, generator, device, like, self.word_length, t) for f, t in zip(self.factors, on))

    def canonical(self, n: int, generator: torch.Generator | None = None, device=None, like: dict | None = None) -> Elements:
        """Like :meth:`draw`, but each translating factor (runtime/physics.py) gives, per example, the element that
        moves its tensor in ``like`` to a canonical position (centroid at 0); every other part is drawn as usual.
        A factor sees ``like`` as the factors before it moved it (it acts after them: ``SO(3) x translations(3)``
        centers the rotated tensor)."""
        on = self._on(device)
        parts = []
        for i, (f, t) in enumerate(zip(self.factors, on)):
            if hasattr(f, "canonical"):
                parts.append(f.canonical(n, generator, device, like))
            else:
                parts.append(f.draw(n, generator, device, like, self.word_length, t))
            if like and any(hasattr(later, "canonical") for later in self.factors[i + 1 :]):
                like = {k: f.act(parts[-1], k, x, None, t, inverse=False) for k, x in like.items()}
        return Elements(parts)

    def every(self, device=None, repeat: int = 1) -> Elements:
        """Every element, each ``repeat`` times in a row (``arange(order).repeat_interleave(repeat)``)."""
        if self.order is None:
            raise ValueError(f"{self.name}: only one finite group of at most a table's order can be enumerated")
        return Elements((self.factors[0].every(device, repeat),))

    def _elements(self, g) -> tuple:
        if isinstance(g, torch.Tensor):  # the elements of a one-factor group, as that factor's tensor
            g = (g,)
        if len(g) != len(self.factors):
            raise ValueError(f"{self.name} has {len(self.factors)} factor(s); got elements of {len(g)}")
        return g

    def act(self, g, key: str, x: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        """``g . x`` on domain ``key``: factor by factor, first factor first.

        ``kind``: ``"dist"`` for class log-probabilities over a finite domain
        (pushforward), else values of the domain or a tensor of it.
        """
        on = self._on(x.device)
        for f, part, t in zip(self.factors, self._elements(g), on):
            x = f.act(part, key, x, kind, t, inverse=False)
        return x

    def act_inverse(self, g, key: str, y: torch.Tensor, kind: str | None = None) -> torch.Tensor:
        """``g^-1 . y`` on domain ``key`` (the inverse of :meth:`act`)."""
        on = self._on(y.device)
        for f, part, t in reversed(list(zip(self.factors, self._elements(g), on))):
            y = f.act(part, key, y, kind, t, inverse=True)
        return y

    def pick(self, numbers: torch.Tensor) -> Elements:
        """The enumerated elements numbered ``numbers`` (rows of :meth:`every`)."""
        if self.order is None:
            raise ValueError(f"{self.name} is not enumerated")
        return Elements((numbers,))
