"""Groups made concrete: generators, their actions on domains, orders.

Every group gets named generators.  An *action* of a group on a domain
gives each generator a transform; on a finite domain (values, or the
positions of a tensor with fixed dims) the transform is a permutation of
points, stored as a *push* map (point i moves to perm[i]) with numpy.  Words
act on the left: ``r s`` is ``r`` after ``s``, and an action's op sequence
is applied right to left the same way (the last op acts first).  The
transforms and the permutation helpers (identity, compose, inverse, power)
are ``symspec.transforms``'s, re-exported here.  Orders of families come
from their formulas, of permutation groups from sympy's Schreier-Sims on the
generators, of bare presentations from Todd-Coxeter with a coset cap; no
group is ever enumerated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ..errors import Span
from ..syntax import ast
from ..transforms import compose, identity, inverse, op_push, ops_push, power
from .domains import BoolDomain, Cyclic, Labels, Nodes, Range, Tensor
from .sealed import Sealed
from .structures import GroupDef

__all__ = [
    "ActionKind",
    "ActionSource",
    "GroupIR",
    "ActionIR",
    "compose",
    "inverse",
    "identity",
    "power",
    "word_perm",
    "word_text",
    "relator_text",
    "family_generators",
    "family_order",
    "transform_perm",
    "ops_perm",
    "finite_shape",
    "is_finite_domain",
    "instantiate",
    "points_of",
    "SYMBOLIC_TEST_SIZES",
    "COSET_CAP",
    "MAX_FACTORIAL",
    "MAX_SCHREIER_SIMS_WORK",
    "MAX_POINTS",
]

COSET_CAP = 5_000  # sympy's coset enumeration is pure Python: ~1 s at this cap
SYMBOLIC_TEST_SIZES = (5, 6)  # symbolic dims are instantiated at these sizes to check relators
MAX_POINTS = 4_000_000  # finite actions on more points than this stay symbolic
MAX_SCHREIER_SIMS_WORK = 3_000_000  # sympy's Schreier-Sims (pure Python) runs when (largest orbit) x (points) is at most this
MAX_FACTORIAL = 1_000  # symmetric(n) and alternating(n) beyond this have their order shown as n! (order None)


def word_perm(word: ast.Word, perms: dict, n: int) -> np.ndarray:
    """The push map of a word, generators' push maps given."""
    out = identity(n)
    for factor in word.powers:
        base = word_perm(factor.base, perms, n) if isinstance(factor.base, ast.Word) else perms[factor.base.name]
        out = compose(out, power(base, factor.exponent))
    return out


def word_text(word: ast.Word) -> str:
    if not word.powers:
        return "1"
    parts = []
    for p in word.powers:
        base = f"({word_text(p.base)})" if isinstance(p.base, ast.Word) else p.base.name
        parts.append(base if p.exponent == 1 else f"{base}^{p.exponent}")
    return " ".join(parts)


def relator_text(rel: ast.Relator) -> str:
    return word_text(rel.lhs) if rel.rhs is None else f"{word_text(rel.lhs)} = {word_text(rel.rhs)}"


class ActionKind(str, Enum):
    """What an action moves."""

    VALUES = "values"  # the values of a finite domain (push maps on 0..n-1)
    POSITIONS = "positions"  # the positions of a tensor of fixed shape (push maps on flattened positions)
    SYMBOLIC = "symbolic"  # positions of a tensor with symbolic dims (ops only; sized at run time)
    MATRIX = "matrix"  # SO(n) / O(n) by matrix product on a dim (or the same matrix on several dims)
    TRIVIAL = "trivial"  # nothing moves
    AFFINE = "affine"  # translations(n), E(n), SE(n): x -> R x + t on a dim (R = 1 for translations)

    def __str__(self) -> str:
        return self.value


class ActionSource(str, Enum):
    """Where an action comes from."""

    DECLARED = "declared"  # an action statement
    DEFAULT = "default"  # a built-in default action

    def __str__(self) -> str:
        return self.value


@dataclass
class ActionIR(Sealed):
    """How one group acts on one domain."""

    group: str
    domain: str  # the domain's name, or its text when inline
    domain_type: object
    source: ActionSource
    kind: ActionKind
    ops: dict = field(default_factory=dict)  # generator -> tuple of (op, args) applied right to left
    perms: dict = field(default_factory=dict)  # generator -> push map, for finite kinds
    matrix_dim: int | tuple | None = None  # the dim a matrix acts on, or a tuple of dims it acts on at once (R M R^T)
    span: Span | None = None
    texts: dict = field(default_factory=dict)  # generator -> the transform as the user wrote it
    parts: tuple = ()  # a direct product's: each factor's action, in factor order (a trivial one where it has none)

    def __post_init__(self) -> None:
        self.source = ActionSource(self.source)
        self.kind = ActionKind(self.kind)

    @property
    def points(self) -> int | None:
        if not self.perms:
            return None
        return len(next(iter(self.perms.values())))

    def describe(self, generator: str) -> str:
        if generator in self.texts:
            return self.texts[generator]
        ops = self.ops.get(generator, ())
        return " then ".join(_op_text(op) for op in reversed(ops)) or "identity"


def _perm_text(perm: tuple) -> str:
    """Cycle notation for short permutations, a size otherwise."""
    if len(perm) > 12:
        moved = sum(1 for i, p in enumerate(perm) if i != p)
        return f"a permutation moving {moved} of {len(perm)} points"
    seen, cycles = set(), []
    for i in range(len(perm)):
        if i in seen or perm[i] == i:
            continue
        cycle, j = [], i
        while j not in seen:
            seen.add(j)
            cycle.append(str(j))
            j = perm[j]
        cycles.append("(" + " ".join(cycle) + ")")
    return "".join(cycles) or "()"


def _op_text(op) -> str:
    name, args = op
    if not args:
        return name
    shown = []
    for k, v in args:
        shown.append(_perm_text(v) if k == "perm" and name in ("relabel", "permute_dims") else f"{k}={v}")
    if name == "relabel":
        return shown[0]
    return f"{name}(" + ", ".join(shown) + ")"


@dataclass
class GroupIR(Sealed):
    """A group, concretely: generators, order, and its actions."""

    name: str
    definition: GroupDef
    generators: tuple = ()
    order: int | None = None
    order_text: str = ""
    abelian: bool | None = None
    continuous: bool = False
    lie_dimension: int = 0
    how: str = ""  # how the order was found
    factors: tuple = ()
    actions: dict = field(default_factory=dict)  # domain key -> ActionIR
    perms: dict = field(default_factory=dict)  # generator -> push map on the family's own points (families, automorphisms)

    @property
    def finite(self) -> bool:
        return not self.continuous


# ---- families ------------------------------------------------------------------------


def family_generators(kind: str, n) -> dict:
    """Named generators of a finite family, as push maps on 0..n-1 (empty for trivial groups)."""
    if not isinstance(n, int):
        return {}
    idx = identity(n)
    if kind == "cyclic":
        return {"c": (idx + 1) % n} if n > 1 else {}
    if kind == "dihedral":  # rotation and reflection of the n-gon's vertices
        return {"r": (idx + 1) % n, "s": (-idx) % n} if n > 1 else {"s": idx.copy()}
    if kind == "symmetric":
        if n < 2:
            return {}
        t = idx.copy()
        t[[0, 1]] = [1, 0]
        return {"t": t, "c": (idx + 1) % n} if n > 2 else {"t": t}
    if kind == "alternating":
        if n < 3:
            return {}
        c3 = idx.copy()
        c3[[0, 1, 2]] = [1, 2, 0]
        if n == 3:
            return {"c3": c3}
        if n % 2:
            return {"c3": c3, "c": (idx + 1) % n}
        c = idx.copy()
        c[1:] = np.roll(idx[1:], -1)
        return {"c3": c3, "c": c}
    raise ValueError(kind)


def family_order(kind: str, n) -> tuple:
    """(order, abelian, text) of a family from its formula; order None when symbolic or continuous."""
    if kind == "cyclic":
        return n, True, str(n)
    if kind == "dihedral":
        return 2 * n, n <= 2, str(2 * n)
    if kind == "symmetric":
        if not isinstance(n, int):
            return None, None, f"{n}!"
        if n > MAX_FACTORIAL:  # exact, but thousands of digits long: shown as the formula
            return None, False, f"{n}!"
        return math.factorial(n), n <= 2, str(math.factorial(n))
    if kind == "alternating":
        if not isinstance(n, int):
            return None, None, f"{n}!/2"
        if n > MAX_FACTORIAL:
            return None, False, f"{n}!/2"
        order = math.factorial(n) // 2 if n >= 2 else 1
        return order, n <= 3, str(order)
    if kind == "SO":
        if n == 1:
            return 1, True, "1"
        return None, n == 2, "infinite"
    if kind == "O":
        if n == 1:
            return 2, True, "2"
        return None, False, "infinite"
    raise ValueError(kind)


# ---- transforms as permutations ----------------------------------------------------------


def transform_perm(op: tuple, domain, shape: tuple | None) -> np.ndarray:
    """The push map of one op on a finite domain (``shape`` None) or a tensor of fixed ``shape``."""
    return op_push(*op, shape=shape, n=domain.size if shape is None else None)


def ops_perm(ops: tuple, domain, shape: tuple | None) -> np.ndarray:
    """Push map of a sequence of ops applied right to left (the last op acts first; ``symspec.transforms``)."""
    return ops_push(ops, shape=shape, n=domain.size if shape is None else None)


def finite_shape(domain) -> tuple | None:
    """The points a domain's elements permute: None for values, a shape for fixed tensors."""
    if isinstance(domain, Tensor):
        return tuple(domain.dims)
    return None


def is_finite_domain(domain) -> bool:
    return isinstance(domain, (Cyclic, Range, Labels, Nodes, BoolDomain))


def instantiate(domain: Tensor, size: int) -> Tensor:
    return Tensor(tuple(d if isinstance(d, int) else size for d in domain.dims))


def points_of(domain) -> int | None:
    if isinstance(domain, Tensor):
        if all(isinstance(d, int) for d in domain.dims):
            return math.prod(domain.dims)  # exact: numpy's int64 product wraps for huge tensors
        return None
    if is_finite_domain(domain):
        return domain.size
    return None
