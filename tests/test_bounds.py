"""Bounded analysis (issue 12): every input is answered within 5 s and 1 GB, with a result or a SpecError naming the limit.

The size-and-time test runs each of the audit's reproducers in its own subprocess under a 1 GB address-space
limit (``RLIMIT_AS``), through the torch-free path (load, check, the generated module's text), several at a time,
and asserts each answered in under 5 s of CPU time (and 30 s of wall time, however loaded the machine).  The other tests pin the pieces: int64 bounds on computed integers, edge
counts and automorphism orders by formula, the bounded coset enumeration against sympy, the literal caps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import symspec
from symspec.errors import ParamError, SpecError

ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = 1 << 30  # bytes of address space per reproducer
TIME_LIMIT = 5.0  # seconds per reproducer (load + check + module text, imports excluded)


def _commuting(k: int, action: bool) -> str:
    gens = [f"g{i}" for i in range(k)]
    rels = [f"{g}^2" for g in gens] + [f"{a} {b} = {b} {a}" for i, a in enumerate(gens) for b in gens[i + 1 :]]
    text = f"group G = <{', '.join(gens)} | {', '.join(rels)}>\ndomain T = tensor[4]\nmodel f(v: T) -> real\n"
    if action:
        text += f"action G on T {{ {', '.join(g + ' -> flip(dim=0)' for g in gens)} }}\n"
        return text + "law l: forall g: G. f(g . v) == f(v)\n"
    return text + "law l: f(v) == f(v)\n"


def _automorphisms(graph: str) -> str:
    return (
        f"graph G = {graph}\ndomain V = nodes(G)\nmodel f(u: V) -> class(V)\n"
        "law l: forall a: automorphisms(G). f(a . u) == a . f(u)\n"
    )


MODULAR = (ROOT / "examples" / "modular_addition.sym").read_text(encoding="utf-8")
LIMIT_INT64 = "beyond the 64-bit integer limit (2^63 - 1)"

# name -> (source, params, expected): None for success, else a fragment the error's message must contain
REPRODUCERS = {
    # 27 s (check) and 100 s plus a MemoryError (module text) before: np.unique per transform, a 3p-entry joint
    # table written into the module, sympy membership on 3p points
    "modular_addition_p_1e6": (MODULAR, {"p": 1_000_000}, None),
    "cyclic_group_1e6": (  # drawn as numbers and applied by arithmetic (a table of 10^6 values per example before)
        "domain Z = cyclic(1000000)\ngroup C = cyclic(1000000)\nmodel f(a: Z) -> class(Z)\n"
        "law eq: forall g: C. f(g . a) == g . f(a)\n",
        None,
        None,
    ),
    "cyclic_group_60000": (
        "domain Z = cyclic(60000)\ngroup C = cyclic(60000)\nmodel f(a: Z) -> class(Z)\n"
        "law eq: forall g: C. f(g . a) == g . f(a)\n",
        None,
        None,
    ),
    "orbits_of_2_million_inputs": (MODULAR, {"p": 1414}, None),
    "orbits_of_8_million_inputs": (MODULAR, {"p": 2828}, None),  # 6.8 s and 920 MB before: union-find on 8 * 10^6
    "thirty_laws_on_cyclic_1e6": (  # 31 s and a MemoryError before: every law's push maps kept, each over 10^6 values
        "param p = 1000000\ndomain Z = cyclic(p)\nmodel f(a: Z, b: Z) -> class(Z)\n"
        + "".join(f"law s{i}: forall k: Z. f(a + k, b) == f(a, b) + k\n" for i in range(30)),
        None,
        "more than the limit of 9000000",
    ),
    "redundancy_on_3000_points": (  # sympy's membership test took 27 s at p = 1000
        "param p = 1000\ndomain Z = cyclic(p)\nmodel f(a: Z, b: Z) -> class(Z)\n"
        "law s1: forall k: Z. f(a + k, b) == f(a, b) + k\nlaw s2: forall k: Z. f(a, b + k) == f(a, b) + k\n"
        "law s3: forall k: Z. f(a + k, b - k) == f(a, b)\n",
        None,
        None,
    ),
    "cyclic_2_100": (
        "param t = 1073741824\ndomain Z = cyclic(t * t * t * 1024)\nmodel f(a: Z) -> class(2)\nlaw l: f(a) == f(a + 1)\n",
        None,
        LIMIT_INT64,
    ),
    "group_cyclic_2_100": (
        "param t = 1073741824\ngroup C = cyclic(t * t * t * 1024)\ndomain V = tensor[4]\nmodel f(v: V) -> real\n"
        "law l: forall g: C. f(g . v) == f(v)\n",
        None,
        LIMIT_INT64,
    ),
    "param_product_2_64": (
        "param t = 4611686018427387904\ndomain Z = cyclic(t * 4)\nmodel f(a: Z) -> class(2)\nlaw l: f(a) == f(a)\n",
        None,
        LIMIT_INT64,
    ),
    "param_override_2_70": (MODULAR, {"p": 2**70}, LIMIT_INT64),
    "range_1e30": (
        "param t = 1000000000000000\ndomain R = range(0, t * t)\nmodel f(a: R, b: R) -> real\n"
        "law l: f(a, b) >= f(b, a) when a > b\n",
        None,
        LIMIT_INT64,
    ),
    "range_wider_than_int64": (
        "param t = 4611686018427387904\ndomain R = range(-t, t)\nmodel f(a: R) -> real\nlaw l: f(a) == f(a)\n",
        None,
        LIMIT_INT64,
    ),
    "guards_over_range_1e18": (
        "param t = 1000000000\ndomain R = range(0, t * t)\nmodel f(a: R) -> real\n"
        "law l: forall c: R. f(a) >= f(c) when a > c and c != 3\nlaw m: forall c: R. f(a) >= f(c) when c * 9 == a\n"
        "law n: f(a) == f(a + 999999999999999999) when a < 3\n",
        None,
        None,
    ),
    "guard_square_beyond_int64": (  # c * c reaches 10^36: the generated code would wrap around silently
        "param t = 1000000000\ndomain R = range(0, t * t)\nmodel f(a: R) -> real\n"
        "law m: forall c: R. f(a) >= f(c) when c * c == a\n",
        None,
        "'c * c' can reach about 2^119, beyond the 64-bit integer limit (2^63 - 1)",
    ),
    "tensor_entries_2_64": (
        "param t = 4294967296\ndomain T = tensor[t, t]\nmodel f(x: T) -> real\nlaw l: f(x) == f(x)\n",
        None,
        LIMIT_INT64,
    ),
    "tensor_dims_2_31_layer": (  # np.eye(2^31) before: a ValueError traceback
        "domain T = tensor[2147483648, 3]\ngroup G = O(3)\nlayer L: T -> T under G\nmodel f(x: T) -> T\n"
        "law l: forall g: G. f(g . x) == g . f(x)\n",
        None,
        "too large to compute (limit 1600)",
    ),
    "tensor_dims_2_32_symmetric": (
        "param t = 65536\ndomain T = tensor[t * t, 3]\ngroup S = symmetric(t * t)\nmodel f(x: T) -> real\n"
        "law l: forall g: S. f(g . x) == f(x)\n",
        None,
        None,
    ),
    "huge_shift_in_action": (
        "param t = 4611686018427387904\ngroup G = <r | r^7>\ndomain Z = cyclic(7)\n"
        "action G on Z { r -> shift(k=t + 4611686018427387900) }\nmodel f(a: Z) -> class(Z)\nlaw l: forall g: G. f(g . a) == g . f(a)\n",
        None,
        None,
    ),
    "huge_shift_in_law": (
        "domain Z = cyclic(7)\nmodel f(a: Z) -> class(2)\nlaw m: f(a * 1537228672809129301) == f(a - 9223372036854775801)\n",
        None,
        None,
    ),
    "shift_beyond_int64_in_law": (  # a + 9223372036854775806 wrapped around in the generated code's int64
        "domain Z = cyclic(7)\nmodel f(a: Z) -> class(Z)\nlaw l: f(a + 9223372036854775806) == f(a) + 9223372036854775806\n",
        None,
        "'a + 9223372036854775806' can reach about 2^63, beyond the 64-bit integer limit (2^63 - 1)",
    ),
    "product_beyond_int64_in_law": (
        "domain Z = cyclic(4000000000)\nmodel f(a: Z) -> class(2)\nlaw l: forall k: Z. f(a * k) == f(a)\n",
        None,
        "'a * k' can reach about 2^63",
    ),
    "complete_10000": (_automorphisms("complete(10000)"), None, "has 49995000 edges; symspec handles at most 200000"),
    "grid_1414_1414": (_automorphisms("grid(1414, 1414)"), None, "symspec handles at most 200000"),
    "cycle_2000000": (_automorphisms("cycle(2000000)"), None, "symspec handles at most 200000"),
    "path_20000_automorphisms": (_automorphisms("path(20000)"), None, None),
    "cycle_30000_automorphisms": (_automorphisms("cycle(30000)"), None, "too large to tabulate (limit 50000)"),
    "torus_30_30": (_automorphisms("torus(30, 30)"), None, None),  # by closed form (the search took over 60 s at 70 x 70)
    "torus_4_300_search": (_automorphisms("torus(4, 300)"), None, "within the search bound (20000 steps"),
    "hypercube_1": (_automorphisms("hypercube(1)"), None, None),
    "hypercube_30": (_automorphisms("hypercube(30)"), None, "symspec handles at most 200000"),
    "commuting_involutions_8": (_commuting(8, False), None, None),  # 13 s before
    "commuting_involutions_12": (_commuting(12, False), None, None),  # over 60 s before
    "commuting_involutions_50": (_commuting(50, False), None, None),  # over 150 s before
    "commuting_involutions_50_acting": (_commuting(50, True), None, None),
    "triangle_group_333": ("group G = <a, b | a^3, b^3, (a b)^3>\n", None, "coset enumeration stopped at 5000 cosets"),
    "cyclic_presentation_1e6": ("group G = <r | r^1000000>\n", None, None),
    "dihedral_presentation_5000": ("group G = <r, s | r^2500, s^2, (s r)^2>\n", None, None),
    "long_relator": ("group G = <r, s | r^250000, s^2, (s r)^2>\n", None, "letters written out (the limit is 100000)"),
    "samples_1e12": (
        "param m = 1000000000000\ndomain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\n"
        "law l: forall k: Z. f(a + k) == f(a) + k [samples m]\n",
        None,
        "more than the limit of 1000",
    ),
    "symmetric_1_on_tensor_1_3": (
        "group S = symmetric(1)\ndomain T = tensor[1, 3]\nmodel f(x: T) -> real\nlaw l: forall g: S. f(g . x) == f(x)\n",
        None,
        None,
    ),
    "symmetric_100000": (  # 10 s before: 200,000 integers of permutation tables written into the module
        "group S = symmetric(100000)\ndomain T = tensor[100000]\nmodel f(v: T) -> real\nlaw l: forall g: S. f(g . v) == f(v)\n",
        None,
        None,
    ),
    "symmetric_4000000": (  # 3.7 s and 620 MB before: 8 million Python ints of push maps
        "domain T = tensor[4000000]\ngroup S = symmetric(4000000)\nmodel f(v: T) -> real\n"
        "law l: forall g: S. f(g . v) == f(v)\nlayer L: T -> real under S\n",
        None,
        None,
    ),
    "perm_on_dim_2_31": (  # 24 GB before (list(range(2^31)) to compare the perm with): its length is checked first
        "domain R = tensor[2147483648]\ngroup S = <w | w^2>\naction S on R { w -> permute(perm=(1, 0), dim=0) }\n"
        "model f(x: R) -> real\nlaw c: forall g: S. f(g . x) == f(x)\n",
        None,
        "perm (1, 0) has 2 entries, but dim 0 of tensor[2147483648] has size 2147483648",
    ),
    "flip_on_dim_2_31": (  # positions beyond the tabulated limit: answered at once, nothing sized by the dim built
        "domain R = tensor[2147483648]\ngroup S = <w | w^2>\naction S on R { w -> flip(dim=0) }\n"
        "model f(x: R) -> real\nlaw c: forall g: S. f(g . x) == f(x)\nlayer L: R -> R under S\n",
        None,
        "S acting on R",
    ),
    "ten_flips_on_3900000": (  # a MemoryError before: 10 push maps of 3.9 * 10^6 points, then their concatenation
        _commuting(10, True).replace("tensor[4]", "tensor[3900000]"),
        None,
        "more than the limit of 12000000 for all actions together",
    ),
    "fifty_flips_on_60000": (  # 8.4 s before: 1,275 relators checked on 60,000 points, sympy built on 50 x 60,000
        _commuting(50, True).replace("tensor[4]", "tensor[60000]"),
        None,
        "more than the limit of 40000000",
    ),
    "long_relator_on_1000000": (  # over 20 s before: 2,000 compositions of push maps of 10^6 points
        "group G = <w | w^2, " + " ".join(["w"] * 1000) + " = " + " ".join(["w"] * 1000) + ">\n"
        "domain T = tensor[1000000]\naction G on T { w -> flip(dim=0) }\nmodel f(v: T) -> real\n"
        "law l: forall g: G. f(g . v) == f(v)\n",
        None,
        "more than the limit of 40000000",
    ),
    "one_action_on_twenty_domains": (  # the same flip on the same points is checked against the relators once
        "group G = <w | w^2>\n"
        + "".join(f"domain T{i} = tensor[1900000, {i + 1}]\naction G on T{i} {{ w -> flip(dim=0) }}\n" for i in range(20))
        + "model f(v: T0) -> real\nlaw l: forall g: G. f(g . v) == f(v)\n",
        None,
        None,
    ),
    "two_hundred_groups_symmetric_1e6": (  # a MemoryError before: each group's own tables, 16 MB apiece
        "".join(f"group G{i} = symmetric(1000000)\n" for i in range(200)),
        None,
        None,
    ),
    "a_hundred_dihedral_degrees_near_1e6": (  # distinct degrees: tables until the limit, then named generators
        "domain T = tensor[1000000]\nmodel f(x: T) -> real\n"
        + "".join(f"law l{i}: forall g: dihedral({1000000 - i}). f(x) == f(x)\n" for i in range(100)),
        None,
        None,
    ),
    "shift_law_on_40_arguments_of_cyclic_1e6": (  # a MemoryError before: 7 settings x 40 push maps of 10^6 held
        "domain Z = cyclic(1000000)\nmodel f("
        + ", ".join(f"a{i}: Z" for i in range(40))
        + ") -> class(Z)\nlaw l: forall k: Z. f("
        + ", ".join(f"a{i} + k" for i in range(40))
        + ") == f("
        + ", ".join(f"a{i}" for i in range(40))
        + ") + k\n",
        None,
        "more than the limit of 30000000",
    ),
    "argument_swap_on_500_arguments_of_cyclic_1e6": (  # one setting alone: 500 push maps of 10^6 (4 GB)
        "domain Z = cyclic(1000000)\nmodel f("
        + ", ".join(f"a{i}: Z" for i in range(500))
        + ") -> class(Z)\nlaw l: f("
        + ", ".join(f"a{i}" for i in reversed(range(500)))
        + ") == f("
        + ", ".join(f"a{i}" for i in range(500))
        + ")\n",
        None,
        "more than the limit of 30000000",
    ),
    "forty_models_of_1e6_inputs": (  # 0.13 s of union-find per model, unbounded in the number of models before
        "domain Z = cyclic(1000)\n"
        + "".join(f"model f{i}(a: Z, b: Z) -> class(Z)\nlaw l{i}: f{i}(a, b) == f{i}(b, a)\n" for i in range(40)),
        None,
        None,
    ),
    "three_hundred_shift_laws_on_range_3e6": (  # 11.9 s before: a push map of 3 * 10^6 values evaluated per law
        "domain R = range(0, 3000000)\nmodel f(a: R) -> real\n"
        + "".join(f"law l{i}: f(a + {i + 1}) == f(a)\n" for i in range(300)),
        None,
        "more than the limit of 100000000 for all laws together",
    ),
    "three_hundred_scalings_on_cyclic_3e6": (  # 18.9 s before
        "domain Z = cyclic(3000000)\nmodel f(a: Z) -> real\n" + "".join(f"law l{i}: f(a * 2) == f(a)\n" for i in range(300)),
        None,
        "more than the limit of 100000000 for all laws together",
    ),
    "flip_on_4_41e6_positions": (  # said "sampling S acting on R is not supported", naming no limit
        "domain R = tensor[2100, 2100]\ngroup S = <w | w^2>\naction S on R { w -> flip(dim=0) }\n"
        "model f(x: R) -> real\nlaw c: forall g: S. f(g . x) == f(x)\n",
        None,
        "(4,410,000 positions) is not tabulated: actions on more than 4,000,000 positions are not",
    ),
    "a_hundred_rejection_laws_over_2e6_values": (  # 5.5 s before: each law's guard on every pair of values
        "domain Z = cyclic(1414)\nmodel f(a: Z) -> real\n"
        + "".join(f"law l{i}: forall c: Z, d: Z. f(c) >= f(d) when c * d == {i}\n" for i in range(100)),
        None,
        None,
    ),
}

_CHILD = r"""
import gc, json, resource, sys, time
batch = json.loads(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (batch["memory"], batch["memory"]))
import symspec
from symspec.codegen import compile_source
from symspec.errors import SpecError, UsageError
for case in batch["cases"]:
    start, cpu = time.perf_counter(), time.process_time()
    try:
        spec = symspec.loads(case["source"], case["name"] + ".sym", case["params"])
        symspec.check(spec)
        compile_source(spec)
        result = {"error": None}
    except (SpecError, UsageError) as err:
        result = {"error": str(err), "kind": type(err).__name__}
    except MemoryError:
        result = {"error": "MemoryError", "kind": "MemoryError"}
    spec = None
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = time.process_time() - cpu
    result["torch"] = "torch" in sys.modules
    result["name"] = case["name"]
    print(json.dumps(result), flush=True)
    gc.collect()
"""
BATCHES = 6  # subprocesses (each pays the interpreter's and symspec's start-up once), run a few at a time


def _run(names: list) -> dict:
    """Run reproducers one after another in one subprocess under the memory limit; name -> answer."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cases = [{"name": n, "source": REPRODUCERS[n][0], "params": REPRODUCERS[n][1]} for n in names]
    batch = json.dumps({"cases": cases, "memory": MEMORY_LIMIT})
    proc = subprocess.run([sys.executable, "-c", _CHILD, batch], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            answer = json.loads(line)
            out[answer["name"]] = answer
    crash = proc.stderr[-2000:] or f"exit code {proc.returncode}"
    return {n: out.get(n, {"crash": crash}) for n in names}


@pytest.fixture(scope="module")
def answers() -> dict:
    """Every reproducer's answer: the reproducers dealt into BATCHES subprocesses, a few running at a time."""
    names = list(REPRODUCERS)
    batches = [names[i::BATCHES] for i in range(BATCHES)]
    workers = max(2, min(3, os.cpu_count() or 2))
    merged: dict = {}
    with ThreadPoolExecutor(workers) as pool:
        for part in pool.map(_run, batches):
            merged.update(part)
    return merged


@pytest.mark.parametrize("name", list(REPRODUCERS))
def test_reproducer_is_answered_in_seconds_under_1_gb(name, answers):
    got = answers[name]
    assert "crash" not in got, got.get("crash")
    assert not got["torch"], "the check path imported torch"
    expected = REPRODUCERS[name][2]
    if expected is None:
        assert got["error"] is None, got["error"]
    else:
        assert got["error"] is not None and expected in got["error"], got["error"]
        assert got["kind"] in ("SpecError", "SpecTypeError", "SpecNameError", "ParamError", "CompileError") or (
            "Spec" in got["kind"]
        ), got["kind"]
    # the work is timed in CPU seconds (a loaded machine stretches wall time; several batches share the cores);
    # wall time only has to rule out a hang or a wait
    assert got["cpu_seconds"] < TIME_LIMIT, f"{name} took {got['cpu_seconds']:.1f} s of CPU"
    assert got["seconds"] < 6 * TIME_LIMIT, f"{name} took {got['seconds']:.1f} s of wall time"


# ---- integers beyond int64 -----------------------------------------------------------------------


def test_computed_integer_beyond_int64_is_an_error_at_its_span():
    text = "param t = 4611686018427387904\ndomain Z = cyclic(t * 4)\nmodel f(a: Z) -> class(2)\nlaw l: f(a) == f(a)\n"
    with pytest.raises(SpecError) as info:
        symspec.loads(text, "big.sym")
    (err,) = info.value.errors
    assert (err.span.line, err.span.column) == (2, 19)
    assert err.message == "the modulus of cyclic(n) 't * 4' is about 2^64, beyond the 64-bit integer limit (2^63 - 1)"
    assert err.hint


def test_largest_int64_values_are_accepted():
    spec = symspec.loads("param t = 9223372036854775807\ndomain Z = cyclic(t)\nmodel f(a: Z) -> class(2)\nlaw l: f(a) == f(a)\n")
    assert spec.params["t"] == 2**63 - 1


def test_param_overrides_beyond_int64_are_param_errors():
    from symspec.pipeline import parse_param_overrides

    with pytest.raises(ParamError, match="64-bit integer limit"):
        parse_param_overrides(["p=" + "9" * 5000])  # rejected before int() parses 5000 digits
    with pytest.raises(ParamError, match="64-bit integer limit"):
        symspec.loads(MODULAR, params={"p": 2**63})
    assert parse_param_overrides(["p=9223372036854775807"]) == {"p": 2**63 - 1}


# ---- graphs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, args",
    [
        ("grid", (3, 4)),
        ("grid", (2, 3, 4)),
        ("cylinder", (3, 5)),
        ("torus", (4, 5)),
        ("cycle", (7,)),
        ("path", (6,)),
        ("complete", (6,)),
        ("hypercube", (4,)),
        ("petersen", ()),
    ],
)
def test_edge_counts_from_arguments_match_the_built_graph(kind, args):
    from symspec.analysis.graphs import build_graph
    from symspec.analysis.structures import GraphDef, graph_edge_count

    count = {"petersen": 10, "hypercube": 2 ** (args[0] if args else 0)}.get(kind)
    nodes = count if count is not None else int(np.prod(args))
    built = build_graph(GraphDef("G", kind, args, nodes))
    assert graph_edge_count(kind, list(args)) == built.num_edges


CLOSED_FORMS = [
    ("cycle", (5,)),
    ("path", (4,)),
    ("complete", (5,)),
    ("grid", (2, 3)),
    ("grid", (3, 3)),
    ("grid", (2, 2, 2)),
    ("hypercube", (3,)),
    ("cylinder", (1, 5)),
    ("cylinder", (2, 3)),
    ("cylinder", (3, 5)),
    ("cylinder", (4, 6)),
    ("torus", (3, 3)),
    ("torus", (3, 5)),
    ("torus", (5, 5)),
    ("torus", (6, 6)),
]


@pytest.mark.parametrize("kind, args", CLOSED_FORMS)
def test_closed_form_automorphisms_are_the_whole_group(kind, args):
    from networkx.algorithms.isomorphism import GraphMatcher

    from symspec.analysis.graphs import automorphism_generators, build_graph, closed_form_order
    from symspec.analysis.structures import GraphDef

    nodes = 2 ** args[0] if kind == "hypercube" else int(np.prod(args))
    graph = build_graph(GraphDef("G", kind, args, nodes))
    gens = automorphism_generators(graph)
    g = graph.networkx()
    assert graph.automorphisms_by == "closed form"
    assert all(g.has_edge(int(p[u]), int(p[v])) for p in gens for u, v in g.edges)
    assert closed_form_order(graph.definition, 1000)[0] == sum(1 for _ in GraphMatcher(g, g).isomorphisms_iter())


@pytest.mark.parametrize("kind, args", CLOSED_FORMS)
def test_automorphism_orders_by_formula_match_schreier_sims(kind, args):
    from symspec.analysis.graphs import automorphism_generators, build_graph, closed_form_order
    from symspec.analysis.structures import GraphDef
    from symspec.analysis.symmetry import perm_group

    nodes = 2 ** args[0] if kind == "hypercube" else int(np.prod(args))
    graph = build_graph(GraphDef("G", kind, args, nodes))
    group = perm_group(automorphism_generators(graph))
    order, abelian, _ = closed_form_order(graph.definition, 1000)
    assert (order, abelian) == (int(group.order()), bool(group.is_abelian))


# ---- presentations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "presentation, order, abelian",
    [
        ("<a, b | a^2, b^3, (a b)^4>", 24, False),  # S4
        ("<x, y | x^2, y^3, (x y)^5>", 60, False),  # A5
        ("<a, b | a^2, b^3, (a b)^7, (a b a^-1 b^-1)^4>", 168, False),  # PSL(2, 7)
        ("<i, j | i^4, i^2 = j^2, j i j^-1 = i^-1>", 8, False),  # Q8
        ("<a, b, c | a^2, b^2, c^2, (a b)^3, (b c)^3, (a c)^2>", 24, False),  # the Coxeter group A3 = S4
        ("<r, s | r^12, s^2, (s r)^2>", 24, False),  # D12
        ("<a, b | a^4, b^6, a b = b a>", 24, True),  # Z4 x Z6, by Smith normal form
        ("<a, b | a^6, b^4, a b a^-1 b^-1>", 24, True),
        ("<a, b | a^3, b^5, (a b)^2>", 60, False),  # the (2, 3, 5) triangle group: A5 again
    ],
)
def test_bounded_coset_enumeration_finds_known_orders(presentation, order, abelian):
    g = symspec.loads(f"group G = {presentation}\n").ir.groups["G"]
    assert (g.order, g.abelian) == (order, abelian)


def test_abelianization_of_commuting_generators_gives_the_order_without_enumerating():
    from symspec.analysis.presentations import abelian_invariants

    assert np.prod(abelian_invariants(2, [[4, 0], [0, 6]])) == 24
    assert abelian_invariants(2, [[2, 3]]).count(0) == 1  # rank 1 of 2: infinite
    g = symspec.loads("group G = <a, b, c | a^1000000, b^6, c^2, a b = b a, a c = c a, b c = c b>\n").ir.groups["G"]
    assert (g.order, g.abelian) == (12_000_000, True)


# ---- bounded work elsewhere ---------------------------------------------------------------------------


def test_bijection_test_is_linear_and_exact():
    from symspec.analysis.evaluate import is_bijection

    assert is_bijection(np.array([2, 0, 1]), 3)
    assert not is_bijection(np.array([2, 2, 1]), 3)
    assert not is_bijection(np.array([0, 1, 3]), 3)
    assert is_bijection((np.arange(10**6) * 7 + 3) % 10**6 if np.gcd(7, 10**6) == 1 else np.arange(10**6), 10**6)


def test_samples_beyond_the_limit_is_an_error_naming_it():
    with pytest.raises(SpecError, match=r"option 'samples' is 1001, more than the limit of 1000"):
        symspec.loads(
            "domain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw l: forall k: Z. f(a + k) == f(a) + k [samples 1001]\n"
        )
    symspec.loads("domain Z = cyclic(5)\nmodel f(a: Z) -> class(Z)\nlaw l: forall k: Z. f(a + k) == f(a) + k [samples 1000]\n")


def test_trivial_group_on_a_tensor_compiles():
    from symspec.codegen import compile_source

    spec = symspec.loads(
        "group S = symmetric(1)\ndomain T = tensor[1, 3]\nmodel f(x: T) -> T\nlaw l: forall g: S. f(g . x) == g . f(x)\n"
    )
    text = compile_source(symspec.check(spec))
    assert "GroupSampler" in text


def test_symmetric_group_past_the_table_cap_draws_uniform_permutations():
    from symspec.codegen import compile_source

    spec = symspec.loads(
        "group S = symmetric(30000)\ndomain T = tensor[30000]\nmodel f(v: T) -> real\nlaw l: forall g: S. f(g . v) == f(v)\n"
    )
    text = compile_source(symspec.check(spec))
    assert "'kind': 'symmetric'" in text or '"kind": "symmetric"' in text


def test_value_and_roll_ops_reduce_huge_arguments_before_arithmetic():
    from symspec.transforms import op_push

    big = 2**63 - 2  # v + big would wrap around in int64 without the reduction (then not a permutation)
    assert op_push("shift", {"k": big}, n=7).tolist() == [(v + big) % 7 for v in range(7)]
    assert op_push("scale", {"u": big}, n=7).tolist() == [(v * big) % 7 for v in range(7)]
    assert op_push("roll", {"dim": 0, "shift": big}, shape=(7,)).tolist() == [(v + big) % 7 for v in range(7)]
