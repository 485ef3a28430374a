"""symspec.validate and `symspec validate`: exact models pass, broken laws are found, numbers are honest."""

from __future__ import annotations

import json
import re
import textwrap

import networkx as nx
import pytest
import torch
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

import symspec
from symspec.cli import main
from symspec.errors import ModelError
from symspec.validation import wilson_interval

MODULAR = str(ROOT / "examples" / "modular_addition.sym")
GRAPH = str(ROOT / "examples" / "graph_distance.sym")
COMPARISON = str(ROOT / "examples" / "comparison.sym")
IMAGE = str(ROOT / "examples" / "image_d4.sym")
CLOUD = str(ROOT / "examples" / "point_cloud.sym")


class Table(torch.nn.Module):
    """A model on Z_p x Z_p given by a function of (a, b): confident logits on fn(a, b)."""

    def __init__(self, p, fn):
        super().__init__()
        self.p, self.fn = p, fn
        self.scale = torch.nn.Parameter(torch.tensor(10.0))

    def forward(self, a, b):
        return self.scale * torch.nn.functional.one_hot(self.fn(a, b) % self.p, self.p).float()


def modular(p=7):
    return symspec.load(MODULAR, params={"p": p})


def test_exact_models_pass_every_law_of_every_finite_example():
    p = 7
    report = symspec.validate(modular(p), add=Table(p, lambda a, b: a + b))
    assert report.passed and [law.name for law in report.laws] == ["commutes", "shift", "assoc"]
    assert all(law.mode == "exhaustive" and law.violations == 0 for law in report.laws)
    assert [law.cases for law in report.laws] == [p * p, p**3, p**3]

    n = 3
    dist = torch.tensor(nx.floyd_warshall_numpy(nx.grid_2d_graph(n, n))).long()

    class Dist(torch.nn.Module):
        def forward(self, u, v):
            return 10 * torch.nn.functional.one_hot(dist[u, v], 2 * n - 1).float()

    report = symspec.validate(symspec.load(GRAPH, params={"n": n}), dist=Dist())
    assert report.passed, report.render()
    geodesic = report["geodesic"]  # exhaustive over w: the guard skips w off every shortest path
    assert geodesic.cases + geodesic.skipped == (n * n) ** 3 and 0 < geodesic.skipped < (n * n) ** 3
    assert report["automorphism"].cases == (n * n) ** 2 * 7  # every element of D4 but the identity (not a case)

    class Greater(torch.nn.Module):
        def forward(self, a, b):
            return 20.0 * torch.sign((a - b).float()) - 10.0 * (a == b).float()

    report = symspec.validate(symspec.load(COMPARISON, params={"m": 6}), gt=Greater())
    assert report.passed, report.render()
    assert report["antisymmetric"].skipped == 6  # a == b
    assert report["bradley_terry"].cases == 20  # a > b > c: 6 choose 3


@pytest.mark.parametrize(
    "fn, broken",
    [(lambda a, b: a, "commutes"), (lambda a, b: torch.maximum(a, b), "shift")],
    ids=["first-argument", "max"],
)
def test_a_model_breaking_one_law_is_flagged_on_that_law_only(fn, broken):
    p = 7
    model = Table(p, fn)
    report = symspec.validate(modular(p), add=model)
    assert [law.name for law in report.laws if not law.passed] == [broken]
    law = report[broken]
    assert law.violations > 0 and law.examples and law.worst > 0
    for ex in law.examples:  # every counterexample really violates the law when evaluated again
        v = {k: torch.tensor([val]) for k, val in ex["values"].items()}
        if broken == "commutes":
            lhs, rhs = model(v["a"], v["b"]).argmax(-1), model(v["b"], v["a"]).argmax(-1)
        else:
            lhs, rhs = model((v["a"] + v["k"]) % p, v["b"]).argmax(-1), (model(v["a"], v["b"]).argmax(-1) + v["k"]) % p
        assert int(lhs) != int(rhs)
        assert list(ex["sides"].values()) == [int(lhs), int(rhs)]


def test_exhaustive_and_monte_carlo_agree_within_the_interval():
    """The exact rate lies in the Monte Carlo 95% interval about 95% of the time (coverage over 20 seeds)."""
    p = 11
    model = Table(p, lambda a, b: torch.where(a == 1, a + 2 * b, a + b))  # wrong on one row
    exact = symspec.validate(modular(p), add=model, laws=["commutes", "shift"])
    assert all(e.mode == "exhaustive" and e.interval == (e.rate, e.rate) and 0 < e.rate < 1 for e in exact.laws)
    covered = total = 0
    for seed in range(20):
        sampled = symspec.validate(modular(p), add=model, laws=["commutes", "shift"], cap=0, samples=2000, seed=seed)
        for e, s in zip(exact.laws, sampled.laws):
            assert s.mode == "monte carlo" and s.cases == 2000
            lo, hi = s.interval
            covered += lo <= e.rate <= hi
            total += 1
            lo, hi = wilson_interval(s.violations, s.cases, z=3.89)  # 99.99%: a miss here is a bug, not chance
            assert lo <= e.rate <= hi, (e.name, seed, e.rate, s.interval)
    assert covered / total >= 0.85, (covered, total)


def test_every_input_mode_enumerates_inputs_and_draws_the_rest():
    p = 13
    model = Table(p, lambda a, b: torch.where(b == 4, a + b + 1, a + b))  # shift holds; commutes and assoc break
    report = symspec.validate(modular(p), add=model, cap=500, samples=1000)
    assert [law.mode for law in report.laws] == ["exhaustive", "every input", "every input"]
    assert [law.cases for law in report.laws] == [p * p, p * p * 2, p * p * 2]  # 169 inputs, min(1000, 500) // 169 draws
    assert report["shift"].passed and not report["assoc"].passed and report["assoc"].interval[1] > report["assoc"].rate


def test_tabulated_and_direct_calls_give_the_same_report():
    """A model on finite inputs is evaluated once per input and indexed; calling it per case gives the same report."""
    p = 11
    model = Table(p, lambda a, b: torch.where(b == 2, a, a + b))

    def run(**kwargs):
        report = symspec.validate(modular(p), add=model, cap=500, samples=2000, seed=4, **kwargs)
        data = json.loads(report.to_json())
        for law in data["laws"]:
            law.pop("seconds")
        return report.tabulated, data

    (tab, with_table), (none, direct) = run(tabulate=True), run(tabulate=False)
    assert tab == {"add": {"inputs": p * p, "seconds": tab["add"]["seconds"]}} and none == {}
    with_table.pop("tabulated"), direct.pop("tabulated")
    assert with_table == direct and not with_table["passed"]
    auto, _ = run()
    assert "add" in auto  # 121 inputs < 1331 cases: tabulated by default


def test_the_seed_replays_the_report():
    p = 11
    model = Table(p, lambda a, b: torch.where(b == 2, a, a + b))
    kwargs = dict(add=model, cap=0, samples=3000)

    def run(seed):
        data = json.loads(symspec.validate(modular(p), seed=seed, **kwargs).to_json())
        for part in [*data["laws"], *data["tabulated"].values()]:
            assert part.pop("seconds") >= 0  # the only field a replay may change
        return data

    first = run(5)
    assert first["laws"][0]["violations"] > 0 and first["laws"][0]["examples"]
    assert run(5) == first
    assert run(6) != first


def test_nan_outputs_are_violations_and_said_so():
    p = 5

    class Nan(Table):
        def forward(self, a, b):
            out = super().forward(a, b).clone()
            out[a == 3] = float("nan")
            return out

    report = symspec.validate(modular(p), add=Nan(p, lambda a, b: a + b), laws=["commutes"])
    law = report["commutes"]
    assert not law.passed and law.nonfinite == law.violations == 2 * p - 1  # a == 3 or b == 3
    assert "non-finite" in law.note and all(ex.get("nonfinite") for ex in law.examples)
    assert json.loads(report.to_json())["laws"][0]["worst"] is None  # inf is not JSON: null


def test_wrong_output_shape_names_the_model_and_both_shapes():
    class Short(torch.nn.Module):
        def forward(self, a, b):
            return torch.zeros(a.shape[0], 6)

    with pytest.raises(ModelError, match=r"model 'add' returned shape \(49, 6\) for 49 inputs; expected \(49, 7\)"):
        symspec.validate(modular(7), add=Short())


def test_validate_bad_numeric_options_are_usage_errors():
    add = Table(5, lambda a, b: a + b)
    for kwargs, message in (
        ({"samples": 0}, "samples must be at least 1, got 0"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"cap": -1}, "cap must be at least 0, got -1"),
        ({"max_rate": -0.1}, "max_rate must be between 0 and 1, got -0.1"),
        ({"seed": 2**62}, f"seed {2**62}: must be smaller than"),
    ):
        with pytest.raises(symspec.UsageError, match=re.escape(message)):
            symspec.validate(modular(5), add=add, **kwargs)


def test_missing_and_unknown_models_and_laws_are_usage_errors():
    with pytest.raises(ModelError, match="missing add"):
        symspec.validate(modular(5))
    with pytest.raises(symspec.UsageError, match="unknown law.*commutes, shift, assoc"):
        symspec.validate(modular(5), add=Table(5, lambda a, b: a + b), laws=["comutes"])


def test_tensor_laws_pass_for_invariant_models_and_fail_otherwise():
    spec = symspec.load(IMAGE, params={"size": 6})

    class Invariant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(1, 10)

        def forward(self, x):
            return self.head(x.pow(2).flatten(1).sum(1, keepdim=True))

    torch.manual_seed(0)
    ok = symspec.validate(spec, classify=Invariant(), samples=500)
    bad = symspec.validate(spec, classify=torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 10)), samples=500)
    assert ok.passed and ok["invariant"].mode == "monte carlo"
    assert not bad.passed and bad["invariant"].rate > 0.3
    assert bad["invariant"].examples[0]["values"]["x"]["shape"] == [6, 6]

    cloud = symspec.load(CLOUD)
    report = symspec.validate(
        cloud,
        energy=lambda x: (x - x.mean(1, keepdim=True)).pow(2).sum((1, 2)),
        forces=lambda x: x - x.mean(1, keepdim=True),
        samples=500,
        dims={"N": 5},
    )
    assert report.passed, report.render()
    report = symspec.validate(cloud, energy=lambda x: x[:, 0, 0], forces=lambda x: x, samples=500, laws=["invariant"])
    assert not report.passed


def test_wilson_interval_matches_the_formula():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 100)
    assert lo == 0.0 and hi == pytest.approx(0.0370, abs=1e-4)
    lo, hi = wilson_interval(5, 100)
    assert (lo, hi) == (pytest.approx(0.0215, abs=1e-4), pytest.approx(0.1118, abs=1e-4))


def test_json_schema_and_plot(tmp_path):
    p = 7
    report = symspec.validate(modular(p), add=Table(p, lambda a, b: a), seed=1)
    data = json.loads(report.to_json())
    assert set(data) >= {"spec", "file", "seed", "device", "samples", "cap", "passed", "laws"}
    assert data["seed"] == 1 and data["passed"] is False
    law = data["laws"][0]
    keys = {"name", "span", "class", "mode", "cases", "skipped", "violations", "rate", "interval", "tol", "passed"}
    assert keys | {"worst", "divergence", "examples", "nonfinite"} <= set(law)
    assert law["span"].endswith("modular_addition.sym:23:1") and law["class"] == "equivariance"
    assert set(law["examples"][0]) >= {"values", "sides", "loss"}
    out = report.plot(str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.endswith("r.png")
    text = report.render()
    assert "commutes" in text and "FAIL" in text and "worst counterexamples" in text


MODELS_PY = """
import torch

class Table(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(p, p, p))

    def forward(self, a, b):
        return self.logits[a, b]

def build(p):
    return Table(p)

def exact(p):
    t = Table(p)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    with torch.no_grad():
        t.logits[a, b, (a + b) % p] = 10.0
    return t

def wrong_shape(p):
    return lambda a, b: torch.zeros(a.shape[0], 3)

def explode():
    raise RuntimeError("weights missing")

def chatty(p):
    print("building the model")  # user code that prints must not break `--json -`
    return exact(p)
"""


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    name = f"vmodels_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODELS_PY))
    monkeypatch.chdir(tmp_path)
    return tmp_path, name


def test_cli_exit_codes_json_and_checkpoint(models_dir, capsys):
    path, mod = models_dir
    common = ["validate", MODULAR, "--param", "p=5"]
    assert main([*common, "--model", f"{mod}:exact", "--json", str(path / "r.json")]) == 0
    assert json.loads((path / "r.json").read_text())["passed"] is True
    assert "passed: 3 of 3 laws" in capsys.readouterr().out
    # untrained (all-zero logits): argmax is class 0 everywhere, so shift fails at decision level with loss 0
    assert main([*common, "--model", f"add={mod}:build"]) == 1
    out = capsys.readouterr().out
    assert "shift     equivariance  exhaustive  125    0        100" in out and "FAILED: 2 of 3" in out

    exact = __import__(mod).exact(5)
    torch.save(exact.state_dict(), path / "ckpt.pt")
    with torch.no_grad():
        exact.logits[0, 1] = torch.arange(5.0)  # break commutativity at (0, 1)
    torch.save({"state_dict": exact.state_dict()}, path / "broken.pt")
    assert main([*common, "--model", f"{mod}:build", "--checkpoint", str(path / "ckpt.pt")]) == 0
    assert main([*common, "--model", f"{mod}:build", "--checkpoint", str(path / "broken.pt"), "--plot", "p.png"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "a=0 b=1" in out and (path / "p.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "{mod}:wrong_shape"], "model 'add' returned shape (25, 3) for 25 inputs; expected (25, 5)"),
        (["--model", "{mod}:explode"], "factory {mod}:explode for model 'add' raised RuntimeError: weights missing"),
        (["--model", "{mod}:nothing"], "'{mod}' has no attribute 'nothing'"),
        (["--model", "no_such_module_xyz:build"], "cannot import 'no_such_module_xyz'"),
        (["--model", "{mod}"], "expected PKG.MOD:FACTORY"),
        ([], "give the model(s) with --model: add=PKG.MOD:FACTORY"),
        (["--model", "{mod}:exact", "--laws", "comutes"], "unknown law(s) comutes"),
        (["--model", "mul={mod}:exact"], "the spec has no model 'mul'"),
        (["--model", "{mod}:exact", "--checkpoint", "nope.pt"], "--checkpoint nope.pt: no such file"),
        (["--model", "{mod}:exact", "--device", "banana"], "device 'banana': Expected one of"),
    ],
    ids=["shape", "factory-raises", "no-factory", "no-module", "malformed", "no-model", "law", "model-name", "ckpt", "device"],
)
def test_cli_bad_models_and_usage_exit_2(models_dir, capsys, args, message):
    _, mod = models_dir
    assert main(["validate", MODULAR, "--param", "p=5", *[a.format(mod=mod) for a in args]]) == 2
    assert message.format(mod=mod) in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_device_without_cuda_is_a_usage_error(models_dir, capsys):
    _, mod = models_dir
    assert main(["validate", MODULAR, "--param", "p=5", "--model", f"{mod}:exact", "--device", "cuda"]) == 2
    assert "device 'cuda': CUDA is not available here" in capsys.readouterr().err


def test_cli_invalid_spec_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.sym"
    bad.write_text("spec s\nmodel f(a: Nope) -> bool\n")
    assert main(["validate", str(bad), "--model", "x:y"]) == 2
    assert "bad.sym:2:12" in capsys.readouterr().err


@settings(max_examples=25, deadline=None)
@given(p=st.integers(2, 7), data=st.data())
def test_exhaustive_counts_equal_brute_force_on_random_tables(p, data):
    """Any function Z_p x Z_p -> Z_p: the violation counts are exactly those of a brute-force count."""
    cells = data.draw(st.lists(st.integers(0, p - 1), min_size=p * p, max_size=p * p))
    table = torch.tensor(cells).view(p, p)
    report = symspec.validate(modular(p), add=Table(p, lambda a, b: table[a, b]), tabulate=data.draw(st.booleans()))
    r = range(p)
    t = table.tolist()
    assert report["commutes"].violations == sum(t[a][b] != t[b][a] for a in r for b in r)
    assert report["shift"].violations == sum(t[(a + k) % p][b] != (t[a][b] + k) % p for a in r for b in r for k in r)
    assert report["assoc"].violations == sum(t[t[a][b]][c] != t[a][t[b][c]] for a in r for b in r for c in r)
    assert all(law.mode == "exhaustive" and law.skipped == 0 for law in report.laws)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(2, 6), data=st.data())
def test_bool_laws_and_guards_equal_brute_force_on_random_relations(m, data):
    """Any relation on range(m): decisions, soft-logic laws and guards counted exactly."""
    cells = data.draw(st.lists(st.booleans(), min_size=m * m, max_size=m * m))
    rel = torch.tensor(cells).view(m, m)
    report = symspec.validate(symspec.load(COMPARISON, params={"m": m}), gt=lambda a, b: torch.where(rel[a, b], 10.0, -10.0))
    r = range(m)
    R = rel.tolist()
    assert report["irreflexive"].violations == sum(R[a][a] for a in r)
    anti = report["antisymmetric"]
    assert (anti.cases, anti.skipped) == (m * (m - 1), m)
    assert anti.violations == sum(R[a][b] != (not R[b][a]) for a in r for b in r if a != b)
    assert report["transitive"].violations == sum(R[a][b] and R[b][c] and not R[a][c] for a in r for b in r for c in r)
    bt = report["bradley_terry"]
    triples = [(a, b, c) for a in r for b in r for c in r if a > b > c]
    assert (bt.cases, bt.skipped) == (len(triples), m**3 - len(triples))
    assert bt.violations == sum(R[a][c] != (R[a][b] and R[b][c]) for a, b, c in triples)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_metric_laws_equal_brute_force_on_random_distance_tables(data):
    """Any table of predicted distances on the 3x3 grid: sums of class outputs and the between guard counted exactly."""
    n, nodes, classes = 3, 9, 5
    cells = data.draw(st.lists(st.integers(0, classes - 1), min_size=nodes * nodes, max_size=nodes * nodes))
    pred = torch.tensor(cells).view(nodes, nodes)
    report = symspec.validate(
        symspec.load(GRAPH, params={"n": n}),
        dist=lambda u, v: 10 * torch.nn.functional.one_hot(pred[u, v], classes).float(),
        laws=["symmetric", "zero", "triangle", "geodesic"],
    )
    true = nx.floyd_warshall_numpy(nx.grid_2d_graph(n, n))  # nodes in row-major order, as symspec numbers them
    P, r = pred.tolist(), range(nodes)
    assert report["symmetric"].violations == sum(P[u][v] != P[v][u] for u in r for v in r)
    assert report["zero"].violations == sum(P[u][u] != 0 for u in r)
    assert report["triangle"].violations == sum(P[u][v] > P[u][w] + P[w][v] for u in r for v in r for w in r)
    between = [(u, v, w) for u in r for v in r for w in r if true[u][w] + true[w][v] == true[u][v]]
    geodesic = report["geodesic"]
    assert (geodesic.cases, geodesic.skipped) == (len(between), nodes**3 - len(between))
    assert geodesic.violations == sum(P[u][v] != P[u][w] + P[w][v] for u, v, w in between)


# ---- regressions: JSON on stdout, models a law does not call, usage errors --------------------------------


def test_validate_json_stdout_is_json_only(models_dir):
    """`--json -`: the whole of stdout is one JSON document; the table goes to stderr."""
    import subprocess
    import sys

    path, mod = models_dir
    for factory, code in (("exact", 0), ("build", 1), ("chatty", 0)):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "symspec",
                "validate",
                MODULAR,
                "--param",
                "p=5",
                "--model",
                f"{mod}:{factory}",
                "--json",
                "-",
            ],
            capture_output=True,
            text=True,
            cwd=path,
        )
        assert proc.returncode == code, proc.stderr
        data = json.loads(proc.stdout)  # fails on any text before or after the JSON
        assert data["passed"] is (code == 0) and [law["name"] for law in data["laws"]] == ["commutes", "shift", "assoc"]
        assert "laws hold within tolerance" in proc.stderr and "Traceback" not in proc.stderr
        assert ("building the model" in proc.stderr) is (factory == "chatty")


TWO_MODELS = """\
param p = 5
domain Zp = cyclic(p)
model add(a: Zp, b: Zp) -> class(Zp)
model mul(a: Zp, b: Zp) -> class(Zp)
law commutes: add(a, b) == add(b, a)
law assoc: add(add(a, b), c) == add(a, add(b, c))
law mul_commutes: mul(a, b) == mul(b, a)
law mul_zero: mul(a, 0) == 0
"""


@pytest.fixture
def two_models(tmp_path):
    path = tmp_path / "two.sym"
    path.write_text(TWO_MODELS)
    return symspec.load(str(path))


def _needs_models_field(spec) -> None:
    """Constraint laws name their models only through the generated ``LAWS[law]["models"]``."""
    if "models" not in symspec.compile(spec).LAWS["assoc"]:
        pytest.skip('the code generator does not write LAWS[law]["models"] yet (the models a constraint law calls)')


def test_symmetry_loss_demands_only_the_models_its_laws_use(two_models):
    add = Table(5, lambda a, b: a + b)
    batch = {"a": torch.arange(5), "b": torch.arange(5).flip(0)}
    loss = symspec.compile(two_models.select(["commutes"])).SymmetryLoss(add=add)  # no mul: no selected law calls it
    assert torch.isfinite(loss(batch)) and set(loss.terms) == {"commutes"}
    with pytest.raises(TypeError, match=r"missing \['mul'\], unknown \[\]; mul is used by law mul_commutes, law mul_zero"):
        symspec.compile(two_models).SymmetryLoss(add=add)
    with pytest.raises(TypeError, match=r"missing \['mul'\].*mul is used by law mul_zero$"):
        symspec.compile(two_models.select(["mul_zero"])).SymmetryLoss(add=add)
    with pytest.raises(TypeError, match=r"unknown \['sub'\]"):
        symspec.compile(two_models.select(["commutes"])).SymmetryLoss(add=add, sub=add)


def test_symmetry_loss_demands_only_the_models_its_constraint_laws_use(two_models):
    _needs_models_field(two_models)
    mod = symspec.compile(two_models.select(["commutes", "assoc"]))
    assert mod.LAWS["assoc"]["models"] == ("add",)
    loss = mod.SymmetryLoss(add=Table(5, lambda a, b: a + b))
    assert torch.isfinite(loss({"a": torch.arange(5), "b": torch.arange(5)})) and set(loss.terms) == {"commutes", "assoc"}


def test_validate_laws_demands_only_the_models_those_laws_use(two_models):
    add = Table(5, lambda a, b: a + b)
    report = symspec.validate(two_models, add=add, laws=["commutes"])
    assert report.passed and [law.name for law in report.laws] == ["commutes"] and set(report.tabulated) <= {"add"}
    with pytest.raises(ModelError, match=r"missing mul \(used by law mul_commutes, law mul_zero\)"):
        symspec.validate(two_models, add=add)
    with pytest.raises(ModelError, match=r"missing add \(used by law commutes\)"):
        symspec.validate(two_models, mul=add, laws=["commutes", "mul_commutes"])
    _needs_models_field(two_models)
    report = symspec.validate(two_models, add=add, laws=["commutes", "assoc"])
    assert report.passed and report["assoc"].cases == 5**3


def test_cli_validate_laws_demands_only_the_models_those_laws_use(two_models, models_dir, capsys):
    _, mod = models_dir
    spec = two_models.file
    assert main(["validate", spec, "--model", f"add={mod}:exact", "--laws", "commutes"]) == 0
    assert main(["validate", spec, "--model", f"{mod}:exact", "--laws", "commutes"]) == 0  # the one model those laws use
    assert "passed: 1 of 1 laws" in capsys.readouterr().out
    assert main(["validate", spec, "--model", f"add={mod}:exact"]) == 2
    assert "no --model for mul (used by law mul_commutes, law mul_zero)" in capsys.readouterr().err
    assert main(["validate", spec, "--laws", "mul_zero"]) == 2
    assert "give the model(s) with --model: mul=PKG.MOD:FACTORY" in capsys.readouterr().err
    args = ["--model", f"add={mod}:exact", "--checkpoint", "mul=x.pt", "--laws", "commutes"]
    assert main(["validate", spec, *args]) == 2
    assert "--checkpoint for mul without a --model for it" in capsys.readouterr().err
    _needs_models_field(two_models)
    assert main(["validate", spec, "--model", f"add={mod}:exact", "--laws", "commutes,assoc"]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--laws", ","], "--laws ',' names no law; the spec's laws: commutes, shift, assoc"),
        (["--max-rate", "1.5"], "--max-rate must be between 0 and 1, got 1.5"),
        (["--json", "no/such/dir/r.json"], "--json no/such/dir/r.json: no such directory 'no/such/dir'"),
        (["--plot", "no/such/dir/r.png"], "--plot no/such/dir/r.png: no such directory 'no/such/dir'"),
        (["--json", "."], "--json .: is a directory"),
        (["--plot", "r.xyz"], "--plot r.xyz: Format 'xyz' is not supported"),
        (["--seed", str(2**60)], f"seed {2**60}: must be smaller than"),
    ],
    ids=["no-laws", "max-rate", "json-dir", "plot-dir", "json-is-dir", "plot-format", "seed"],
)
def test_cli_validate_usage_errors_are_messages_exit_2(models_dir, capsys, args, message):
    _, mod = models_dir
    assert main(["validate", MODULAR, "--param", "p=5", "--model", f"{mod}:exact", *args]) == 2
    err = capsys.readouterr().err
    assert f"symspec: error: {message}" in err and "Traceback" not in err
