"""Groups drawn as numbers and acting by arithmetic (``rt.GroupSampler``'s ``arithmetic`` factor).

A cyclic group, ``dihedral(n)`` and direct products of them acting on the
values of finite domains by ``v -> +-v + b`` draw one number per element in
``[0, order)`` and act with ``(a v + b) % n``: no table of elements, so laws on
``cyclic(10^6)`` compile. These tests pin that the arithmetic path is the
table path's distribution (element by element where the numbering agrees),
that every element is drawn, and the runtime pieces around it (the
permutation pushforward of table elements, ``invert``, the Lipschitz prior's
batch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

import symspec
from symspec import runtime as rt
from symspec.codegen import compile_source, draws
from symspec.codegen.draws import group_description

BIG = """param N = 1000000
domain Z = cyclic(N)
group C = cyclic(N)
model f(x: Z, y: Z) -> class(Z)
law inv: forall g: C. f(g . x, g . y) == f(x, y)
"""

SMALL = """param N = {n}
domain Z = cyclic(N)
domain W = cyclic(2 * N)
group C = cyclic(N)
group P = <c | c^{n}>
action P on W {{ c -> shift(2) }}
model f(x: Z, y: Z) -> class(Z)
model h(r: W) -> class(W)
law inv: forall g: C. f(g . x, g . y) == f(x, y)
law eq: forall g: C. f(g . x, y) == g . f(x, y)
law req: forall g: P. h(g . r) == g . h(r)
"""

DIHEDRAL = """domain Z = cyclic(12)
group D = dihedral(12)
action D on Z by shift
group A = <a | a^4>
action A on Z { a -> shift(3) }
group B = <b | b^3>
action B on Z { b -> shift(4) }
group G = A x B
model f(a: Z, b: Z) -> class(Z)
law d: forall g: D. f(g . a, g . b) == g . f(a, b)
law p: forall g: G. f(g . a, g . b) == g . f(a, b)
"""


SCALES = """group U = <u | u^2>
action U on Z { u -> scale(5) }
domain P = cyclic(13)
group M = <m | m^4>
action M on P { m -> scale(5) }
model k(a: P) -> class(P)
law u: forall g: U. f(g . a, b) == g . f(a, b)
law m: forall g: M. k(g . a) == g . k(a)
"""


class Logits(torch.nn.Module):
    """A deterministic model of two (or one) finite inputs with ``classes`` class logits."""

    def __init__(self, size: int, classes: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = torch.nn.Parameter(torch.randn(size, classes, generator=g, dtype=torch.float64))
        self.offset = 0

    def forward(self, *args):
        out = 0
        for i, a in enumerate(args):
            out = out + self.table[(a - self.offset) * (i + 1) % self.table.shape[0]]
        return out


def _sampler(spec, law: str, var: str = "g") -> rt.GroupSampler:
    gir = spec.ir.group(spec.laws[law].variables[var].group)
    keys = {spec.domain_name(d): d for _n, _g, d in spec.laws[law].acts}
    return rt.GroupSampler(gir.name, group_description(spec, gir, keys))


def _table_sampler(spec, law: str, monkeypatch) -> rt.GroupSampler:
    with monkeypatch.context() as m:
        m.setattr(draws, "ARITHMETIC", False)
        return _sampler(spec, law)


def _perms(sampler: rt.GroupSampler, key: str, n: int, lo: int = 0) -> list:
    """Each enumerated element's permutation of the values of ``key``, as tuples."""
    (every,) = sampler.every()
    values = torch.arange(lo, lo + n).expand(every.shape[0], n)  # row i: every value, moved by element i
    return [
        tuple(row.tolist())
        for row in sampler.act(every.unsqueeze(-1).expand(-1, n).reshape(-1), key, values.reshape(-1)).view(-1, n)
    ]


# ---- the spec: compiles in seconds, runs ------------------------------------------------------------------------

_CHILD = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
start = time.perf_counter()
import symspec
from symspec.cli import main
from symspec.codegen import compile_source
spec = symspec.loads(sys.argv[1], "big.sym")
text = compile_source(spec)
code = main(["check", sys.argv[2]])
print(json.dumps({"seconds": time.perf_counter() - start, "chars": len(text), "check": code, "arithmetic": '"arithmetic"' in text}))
"""


def test_cyclic_1e6_group_law_checks_and_compiles_in_seconds_under_1gb(tmp_path):
    path = tmp_path / "big.sym"
    path.write_text(BIG, encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, BIG, str(path)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["check"] == 0 and out["arithmetic"]
    assert out["chars"] < 20_000  # no table of elements or values in the module
    assert out["seconds"] < 5, out


def test_cyclic_1e6_loss_augment_and_validate_run_on_cpu():
    spec = symspec.loads(BIG, "big.sym")
    mod = symspec.compile(spec)
    assert type(mod.SAMPLER_inv_g.factors[0]).__name__ == "_Arithmetic"
    assert mod.SAMPLER_inv_g.order is None  # too many to enumerate: drawn, never listed
    n = 1_000_000

    def f(x, y):  # invariant under g: depends on y - x only (a few logits, the rest -inf-free zeros)
        logits = torch.zeros(x.shape[0], n, dtype=torch.float32)
        logits.scatter_(-1, ((y - x) % n).unsqueeze(-1), 5.0)
        return logits

    loss = mod.SymmetryLoss(models={"f": f}, generator=torch.Generator().manual_seed(0))
    batch = {"x": torch.tensor([0, 5, 999_999, 123_456]), "y": torch.tensor([1, 999_998, 3, 123_456])}
    value = loss(batch)
    assert torch.isfinite(value) and float(value) < 1e-5  # invariant model: the law holds
    out = mod.augment(batch, generator=torch.Generator().manual_seed(1))
    assert torch.equal((out["y"] - out["x"]) % n, (batch["y"] - batch["x"]) % n)  # one shift for both
    assert not torch.equal(out["x"], batch["x"])
    report = symspec.validate(spec, models={"f": f}, samples=8, seed=0)
    assert report["inv"].violations == 0 and report["inv"].cases == 8


def test_cyclic_1e6_draws_cover_the_group():
    sampler = _sampler(symspec.loads(BIG, "big.sym"), "inv")
    (k,) = sampler.draw(200_000, torch.Generator().manual_seed(3))
    assert k.dtype == torch.long and int(k.min()) >= 0 and int(k.max()) < 1_000_000
    assert int(k.max()) > 990_000 and int(k.min()) < 10_000  # spread over [0, 10^6), not a small range
    x = torch.tensor([999_999])
    assert int(sampler.act(torch.tensor([2]), "Z", x)) == 1
    assert int(sampler.act_inverse(torch.tensor([2]), "Z", torch.tensor([1]))) == 999_999


# ---- arithmetic == tables for small groups ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [7, 12])
def test_small_cyclic_law_values_equal_the_table_path(n, monkeypatch):
    source = SMALL.format(n=n)
    spec = symspec.loads(source, "small.sym")
    arithmetic = compile_source(spec)
    with monkeypatch.context() as m:
        m.setattr(draws, "ARITHMETIC", False)
        tables = compile_source(symspec.loads(source, "small.sym"))
        table_mod = symspec.compile(symspec.loads(source, "small.sym"))
    assert '"kind": "arithmetic"' in arithmetic and '"kind": "arithmetic"' not in tables
    arith_mod = symspec.compile(spec)
    f, h = Logits(n, n, seed=1), Logits(2 * n, 2 * n, seed=2)
    g = torch.Generator().manual_seed(5)
    batch = {
        "x": torch.randint(0, n, (64,), generator=g),
        "y": torch.randint(0, n, (64,), generator=g),
        "r": torch.randint(0, 2 * n, (64,), generator=g),
    }
    values = []
    for mod in (arith_mod, table_mod):
        loss = mod.SymmetryLoss(models={"f": f, "h": h}, generator=torch.Generator().manual_seed(11))
        total = loss(batch)
        values.append((total, dict(loss.terms)))
    assert torch.equal(values[0][0], values[1][0])
    assert values[0][1].keys() == values[1][1].keys() == {"inv", "eq", "req"}
    for name in values[0][1]:
        assert torch.equal(values[0][1][name], values[1][1][name]), name
    # every element, both ways: the same permutation for the same number
    for law, key, size in (("eq", "Z", n), ("req", "W", 2 * n)):
        assert _perms(_sampler(spec, law), key, size) == _perms(_table_sampler(spec, law, monkeypatch), key, size)


def test_values_from_lo_act_like_the_table():
    ops = {"r": [("shift", {"k": 1})], "s": [("negate", {})]}
    table = rt.GroupSampler("D", [{"kind": "finite", "name": "D", "order": 10, "on": {"v": {"n": 5, "lo": 3, "ops": ops}}}])
    arith = rt.GroupSampler(
        "D",
        [
            {
                "kind": "arithmetic",
                "name": "D",
                "order": 10,
                "steps": [5, 2],
                "on": {"v": {"n": 5, "lo": 3, "maps": [(1, 1), (-1, 0)]}},
            }
        ],
    )
    mine, theirs = _perms(arith, "v", 5, 3), _perms(table, "v", 5, 3)
    assert sorted(mine) == sorted(theirs) and len(set(mine)) == 10
    assert all(min(p) == 3 and max(p) == 7 for p in mine)


@pytest.mark.parametrize("law", ["d", "p"])
def test_dihedral_and_products_are_the_table_paths_elements(law, monkeypatch):
    spec = symspec.loads(DIHEDRAL, "dihedral.sym")
    sampler, table = _sampler(spec, law), _table_sampler(spec, law, monkeypatch)
    assert type(sampler.factors[0]).__name__ == "_Arithmetic" and type(table.factors[0]).__name__ == "_Finite"
    assert sampler.order == table.order == {"d": 24, "p": 12}[law]
    mine, theirs = _perms(sampler, "Z", 12), _perms(table, "Z", 12)
    assert len(set(mine)) == len(mine) and sorted(mine) == sorted(theirs)  # a bijection onto the same elements
    # class outputs: the pushforward of each element is its permutation of the classes, and act_inverse undoes act
    (every,) = sampler.every()
    logp = torch.log_softmax(torch.randn(every.shape[0], 12, dtype=torch.float64), -1)
    moved = sampler.act(every, "Z", logp, "dist")
    for i, perm in enumerate(mine):
        assert torch.equal(moved[i, list(perm)], logp[i])
    assert torch.equal(sampler.act_inverse(every, "Z", moved, "dist"), logp)
    values = torch.arange(12).repeat(every.shape[0] // 12 + 1)[: every.shape[0]]
    assert torch.equal(sampler.act_inverse(every, "Z", sampler.act(every, "Z", values)), values)


def test_dihedral_law_checks_agree_with_the_table_path_exhaustively(monkeypatch):
    f = Logits(12, 12, seed=4)
    reports = [symspec.validate(symspec.loads(DIHEDRAL, "dihedral.sym"), models={"f": f}, seed=0)]
    with monkeypatch.context() as m:
        m.setattr(draws, "ARITHMETIC", False)
        reports.append(symspec.validate(symspec.loads(DIHEDRAL, "dihedral.sym"), models={"f": f}, seed=0))
    for law in ("d", "p"):
        a, t = reports[0][law], reports[1][law]
        moving = {"d": 24, "p": 12}[law] - 1  # the identity is not a case (docs/validation.md)
        assert a.mode == t.mode == "exhaustive" and a.cases == t.cases == 12 * 12 * moving
        assert a.violations == t.violations and a.violations > 0
        assert a.divergence == pytest.approx(t.divergence, rel=1e-9)


@pytest.mark.parametrize("law,order", [("d", 24), ("p", 12)])
def test_every_element_is_drawn(law, order):
    sampler = _sampler(symspec.loads(DIHEDRAL, "dihedral.sym"), law)
    (k,) = sampler.draw(50 * order, torch.Generator().manual_seed(0))
    assert sorted(set(k.tolist())) == list(range(order))
    perms = _perms(sampler, "Z", 12)
    images = {perms[i] for i in k.tolist()}
    assert len(images) == order  # every element of the group, not only of a subgroup or coset


def test_unit_scales_are_arithmetic_and_other_groups_keep_tables(monkeypatch):
    spec = symspec.loads(DIHEDRAL + SCALES, "scales.sym")
    for law, order in (("u", 2), ("m", 4)):
        sampler, table = _sampler(spec, law), _table_sampler(spec, law, monkeypatch)
        assert type(sampler.factors[0]).__name__ == "_Arithmetic" and sampler.order == table.order == order
        mine = _perms(sampler, "Z", 12) if law == "u" else _perms(sampler, "P", 13)
        theirs = _perms(table, "Z", 12) if law == "u" else _perms(table, "P", 13)
        assert mine == theirs  # one generator: element k is g^k both ways
        (every,) = sampler.every()
        key = "Z" if law == "u" else "P"
        values = torch.arange(len(mine[0])).repeat(order)
        numbers = every.repeat_interleave(len(mine[0]))
        assert torch.equal(sampler.act_inverse(numbers, key, sampler.act(numbers, key, values)), values)
    graphs = symspec.load(ROOT / "examples" / "graph_distance.sym")
    law = graphs.laws["automorphism"]
    (factor,) = group_description(graphs, graphs.ir.group(law.variables["g"].group), {"Node": law.acts[0][2]})
    assert factor["kind"] == "finite"  # a graph's automorphisms: every element as a table row


def test_scale_on_65537_values_compiles_without_tables():
    source = "domain Z = cyclic(65537)\ngroup U = <u | u^65536>\naction U on Z { u -> scale(3) }\n"
    source += "model f(x: Z) -> class(Z)\nlaw l: forall g: U. f(g . x) == g . f(x)\n"
    spec = symspec.loads(source, "scale.sym")
    assert '"kind": "arithmetic"' in compile_source(spec)
    sampler = _sampler(spec, "l")
    k = torch.tensor([0, 1, 2, 16, 65535, 32768])
    v = torch.ones_like(k)
    assert sampler.act(k, "Z", v).tolist() == [pow(3, int(e), 65537) for e in k]
    assert torch.equal(sampler.act_inverse(k, "Z", sampler.act(k, "Z", v * 5)), v * 5)
    logp = torch.log_softmax(torch.randn(6, 65537, dtype=torch.float64), -1)
    moved = sampler.act(k, "Z", logp, "dist")
    for i, e in enumerate(k.tolist()):
        assert float(moved[i, pow(3, e, 65537) * 7 % 65537]) == float(logp[i, 7])
    assert torch.equal(sampler.act_inverse(k, "Z", moved, "dist"), logp)


# ---- runtime pieces ---------------------------------------------------------------------------------------------------


def test_finite_class_outputs_match_the_general_pushforward(monkeypatch):
    spec = symspec.loads(DIHEDRAL, "dihedral.sym")
    table = _table_sampler(spec, "d", monkeypatch)
    (every,) = table.every()
    logp = torch.log_softmax(torch.randn(every.shape[0], 12, dtype=torch.float64), -1)
    logp[:, 3] = float("-inf")
    push = table.factors[0].rows["Z"][every]
    assert torch.equal(table.act(every, "Z", logp, "dist"), rt.pushforward(logp, push))
    assert torch.equal(table.act_inverse(every, "Z", logp, "dist"), rt.pushforward(logp, rt.invert(push)))


def test_invert_permutations_and_non_permutations():
    p = torch.stack([torch.randperm(9, generator=torch.Generator().manual_seed(i)) for i in range(5)])
    inv = rt.invert(p)
    assert torch.equal(rt.compose(inv, p), torch.arange(9).expand(5, 9))
    assert torch.equal(rt.invert(p[0]), torch.argsort(p[0]))
    bad = torch.tensor([0, 0, 2])  # 1 has no preimage: marked -1, never uninitialized memory
    assert rt.invert(bad).tolist()[1] == -1
    with pytest.raises((IndexError, RuntimeError)):
        torch.arange(3).gather(-1, rt.invert(bad))


def test_lipschitz_prior_without_batch_fields_names_what_it_needs():
    spec = symspec.loads(
        "domain Z = cyclic(5)\nmodel f(a: Z, b: Z) -> class(Z)\nlaw l: forall u: Z, v: Z. f(u, v) == f(v, u)\n"
        "prior smooth: lipschitz(f) [weight 0.1]\n",
        "lip.sym",
    )
    mod = symspec.compile(spec)

    def f(a, b):
        return torch.nn.functional.one_hot((a + b) % 5, 5).float()

    loss = mod.SymmetryLoss(models={"f": f})
    with pytest.raises(TypeError, match=r"prior smooth \(lipschitz\(f\)\) evaluates f on the batch's fields 'a', 'b'.*loss\(8\)"):
        loss(8)
    with pytest.raises(KeyError, match="prior smooth .*the batch has: a"):
        loss({"a": torch.tensor([1, 2])})
    value = loss({"a": torch.tensor([1, 2]), "b": torch.tensor([0, 1])})
    assert torch.isfinite(value)


def test_no_module_text_for_cyclic_tables():
    text = compile_source(symspec.loads(BIG, "big.sym"))
    assert "ELEMENTS_" not in text
    assert "JOINT_" not in text
