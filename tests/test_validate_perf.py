"""What validation's speed-ups must keep: each distinct input evaluated once per batch, chunked forwards,
and reports identical to calling the model on every case (docs/validation.md, "Performance")."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import ROOT

import symspec
from symspec.errors import ModelError
from symspec.runtime.descriptors import ClassOutput, Values
from symspec.validation import tabulate as tab

MODULAR = str(ROOT / "examples" / "modular_addition.sym")


class RandomLogits(torch.nn.Module):
    """A model on Z_p x Z_p: a random logit table (ties are unlikely, every law is violated somewhere)."""

    def __init__(self, p: int, seed: int = 0):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.randn(p, p, p, generator=torch.Generator().manual_seed(seed)))
        self.rows: list = []  # rows of each forward

    def forward(self, a, b):
        self.rows.append(int(a.shape[0]))
        return self.logits[a, b]


def _untimed(report) -> dict:
    data = json.loads(report.to_json())
    for law in data["laws"]:
        law.pop("seconds")
    for t in data["tabulated"].values():
        t.pop("seconds")
    return data


def _plain(self, *args):
    return self.model(*args)


@pytest.mark.parametrize(
    "batch_size, cap, modes",
    [(37, 100, ["exhaustive", "every input", "every input"]), (5000, 10, ["monte carlo"] * 3)],
)
def test_deduplicated_calls_give_the_report_of_calling_every_case(monkeypatch, batch_size, cap, modes):
    p = 7
    spec = symspec.load(MODULAR, params={"p": p})
    kwargs = dict(cap=cap, samples=900, seed=3, batch_size=batch_size, tabulate=False)
    model = RandomLogits(p)
    fast = _untimed(symspec.validate(spec, add=model, **kwargs))
    deduplicated_rows = sum(model.rows)
    model.rows.clear()
    monkeypatch.setattr(tab.Deduplicated, "__call__", _plain)  # every case's calls, as they are
    plain = _untimed(symspec.validate(spec, add=model, **kwargs))
    assert fast == plain and fast["tabulated"] == {} and not fast["passed"]
    assert [law["mode"] for law in fast["laws"]] == modes
    assert all(law["violations"] > 0 for law in fast["laws"])
    assert deduplicated_rows < sum(model.rows) / 2  # commutes' (a, b) and (b, a) are the same pairs, ...


def test_each_distinct_input_is_evaluated_once_per_batch_across_call_rounds():
    p = 11
    model = RandomLogits(p)
    d = tab.Deduplicated("add", model, (Values(0, p), Values(0, p)), ClassOutput(p), chunk=1000)
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randint(0, p, (500,), generator=gen), torch.randint(0, p, (500,), generator=gen)
    assert torch.equal(d(a, b), model.logits[a, b])
    first = d.evaluated
    assert first == len(set(zip(a.tolist(), b.tolist())))
    c = torch.randint(0, p, (500,), generator=gen)
    assert torch.equal(d(b, c), model.logits[b, c])  # a second round: only the pairs not seen yet are evaluated
    assert d.evaluated == len(set(zip(a.tolist(), b.tolist())) | set(zip(b.tolist(), c.tolist())))
    seen = d.evaluated
    assert torch.equal(d(a, b), model.logits[a, b]) and d.evaluated == seen  # nothing new
    d.clear()
    assert torch.equal(d(a, b), model.logits[a, b]) and d.evaluated == seen + first


def test_values_outside_the_domains_are_passed_through_unchanged():
    calls = []

    def model(a, b):
        calls.append((a.clone(), b.clone()))
        return torch.stack([a, b], 1).float().repeat(1, 3)[:, :5]

    d = tab.Deduplicated("add", model, (Values(0, 5), Values(0, 5)), ClassOutput(5), chunk=4)
    a, b = torch.tensor([0, 7, 0, -1]), torch.tensor([1, 1, 1, 2])
    assert torch.equal(d(a, b), model(a, b)) and torch.equal(calls[0][0], a)  # one call, every row as given
    x = torch.tensor([0.5, 1.0])
    assert torch.equal(d(x, x), model(x, x))  # not integers: as given


def test_chunked_forwards_and_a_table_equal_one_forward():
    p = 13
    model = RandomLogits(p)
    table = tab.Tabulated("add", model, (Values(0, p), Values(0, p)), ClassOutput(p), 50, torch.device("cpu"))
    assert max(model.rows) <= 50 and sum(model.rows) == p * p
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    assert torch.equal(table.table, model.logits[a.reshape(-1), b.reshape(-1)])
    assert table.all_outputs_finite
    assert tab.forward_chunk(10**6, "cpu") == tab.CPU_CHUNK and tab.forward_chunk(100, "cpu") == 100
    assert tab.forward_chunk(10**6, "meta") == 10**6  # accelerators: the batch size as given


@pytest.mark.parametrize("tabulate", [True, False])
def test_nan_outputs_still_count_with_tables_and_deduplicated_calls(tabulate):
    p = 5
    model = RandomLogits(p)
    with torch.no_grad():
        model.logits[3] = float("nan")  # a == 3
    report = symspec.validate(symspec.load(MODULAR, params={"p": p}), add=model, laws=["commutes"], tabulate=tabulate)
    law = report["commutes"]
    assert law.nonfinite == 2 * p - 1 and law.violations >= law.nonfinite and "non-finite" in law.note
    assert bool(report.tabulated) is tabulate


def test_a_failing_forward_names_the_model_once():
    class Broken(torch.nn.Module):
        def forward(self, a, b):
            raise RuntimeError("weights missing")

    for tabulate in (True, False):
        with pytest.raises(ModelError, match=r"^model add raised RuntimeError: weights missing$"):
            symspec.validate(symspec.load(MODULAR, params={"p": 5}), add=Broken(), tabulate=tabulate)

    class Short(torch.nn.Module):
        def forward(self, a, b):
            return torch.zeros(a.shape[0], 4)

    with pytest.raises(
        ModelError, match=r"^model 'add' returned shape \(25, 4\) for 25 inputs; expected \(25, 5\): one logit per class$"
    ):
        symspec.validate(symspec.load(MODULAR, params={"p": 5}), add=Short(), laws=["commutes"], tabulate=False)


def test_domains_too_large_to_key_are_never_keyed():
    calls = []

    def model(*args):
        calls.append(args[0].shape[0])
        return torch.zeros(args[0].shape[0], 3)

    huge = (Values(0, 10**7),) * 3  # 10^21 inputs: an int64 key would wrap
    d = tab.Deduplicated("f", model, huge, ClassOutput(3), chunk=8)
    x = torch.tensor([5, 5, 5])
    assert d(x, x, x).shape == (3, 3) and calls == [3] and d.evaluated == 0
