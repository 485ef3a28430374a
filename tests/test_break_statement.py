"""The ``break`` statement end to end: parse, fmt, errors, explain, lowering, and the compiled ``break_symmetries``."""

from __future__ import annotations

import ast as pyast
import copy
import json

import pytest
import torch
from conftest import INVALID, ROOT, VALID, expectation
from torch import nn

import symspec
from symspec.cli import main
from symspec.codegen import compile_source
from symspec.errors import SpecError, UsageError
from symspec.syntax import ast, parse
from symspec.syntax.fmt import ast_key, format_source

BREAK_VALID = [p for p in VALID if p.name.startswith("break_")]
BREAK_INVALID = [p for p in INVALID if p.name.startswith("break_")]
HEAD = "param p = 7\ndomain Zp = cyclic(p)\nmodel add(a: Zp, b: Zp) -> class(Zp)\nlaw commutes: add(a, b) == add(b, a)\n"


def _spec(tail: str, file: str = "b.sym"):
    return symspec.loads(HEAD + tail, file)


def _net(seed: int = 0, dtype=torch.float64) -> nn.Module:
    """Two encoder layers under ``blocks`` and a stray attention under ``side``, no dropout."""
    torch.manual_seed(seed)
    net = nn.Module()
    net.blocks = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True), 2)
    net.side = nn.MultiheadAttention(16, 2, batch_first=True)
    return net.to(dtype)


def _run(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net.blocks(x)


def test_corpus_has_break_specs():
    assert len(BREAK_VALID) >= 2 and len(BREAK_INVALID) >= 15


@pytest.mark.parametrize("path", BREAK_VALID + BREAK_INVALID, ids=lambda p: p.name)
def test_both_engines_build_the_same_ast(path):
    text = path.read_text(encoding="utf-8")
    try:
        fast = parse(text, str(path))
    except SpecError as err:
        with pytest.raises(SpecError) as other:
            parse(text, str(path), engine="lark")
        assert [d.message for d in other.value.errors] == [d.message for d in err.errors]
        return
    assert fast == parse(text, str(path), engine="lark")  # spans included


@pytest.mark.parametrize("path", BREAK_VALID, ids=lambda p: p.name)
def test_fmt_round_trips(path):
    text = path.read_text(encoding="utf-8")
    out = format_source(text, str(path))
    assert ast_key(parse(out)) == ast_key(parse(text))
    assert format_source(out, str(path)) == out


def test_fmt_canonical_layout():
    text = "break   h :attention( add )[ value_std 0.1 ,modules  blocks ]\n"
    assert format_source(HEAD + text).splitlines()[-1] == "break h: attention(add) [value_std 0.1, modules blocks]"


def test_break_is_a_keyword_only_where_a_statement_starts():
    tree = parse("param break = 3\nbreak b: attention(break)\nlaw break: f(break) == f(break)\n")
    kinds = [type(s).__name__ for s in tree.statements]
    assert kinds == ["ParamDecl", "BreakDecl", "LawDecl"]
    b = tree.statements[1]
    assert isinstance(b, ast.BreakDecl) and b.name.name == "b" and b.kind.name == "attention"
    assert (b.span.line, b.span.column, b.name.span.column, b.args[0].span.column) == (2, 1, 7, 20)


@pytest.mark.parametrize("path", BREAK_INVALID, ids=lambda p: p.name)
def test_every_error_at_its_position(path, capsys):
    line, column, message = expectation(path)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{path}:{line}:{column}: error: {message}\n" in err, err


@pytest.mark.parametrize(
    ("tail", "where", "message", "hint"),
    [
        ("break h: attention(ad)\n", "5:20", "attention(...) takes a model, but 'ad' is not declared", "did you mean 'add'?"),
        ("break h: attention(add) [query_std_hi 0.01, query_std 0.1]\n", "5:39", "option 'query_std_hi' (0.01) is below", "swap"),
        ("break h: attention(add) [value_sd 1]\n", "5:26", "unknown break option 'value_sd'", "did you mean 'value_std'?"),
        ("break h: attention(add) [value_std -1]\n", "5:36", "option 'value_std' must be non-negative, got -1", ">= 0"),
    ],
)
def test_errors_carry_a_hint(tail, where, message, hint):
    with pytest.raises(SpecError) as info:
        _spec(tail)
    diag = info.value.errors[0]
    assert f"{diag.span.line}:{diag.span.column}" == where and diag.message.startswith(message) and hint in diag.hint


def test_options_are_resolved_with_the_paper_defaults():
    spec = _spec(
        "break h: attention(add)\nbreak t: attention(mul) [query_mean -1, query_std 0.2, value none, modules blk]\n"
        "model mul(a: Zp, b: Zp) -> class(Zp)\n"
    )
    h, t = spec.breaks["h"], spec.breaks["t"]
    assert (h.model, h.query, h.value, h.modules) == ("add", (0.5, (0.05, 0.15)), (0.5, 0.05), None)
    assert (t.model, t.query, t.value, t.modules) == ("mul", (-1.0, 0.2), None, "blk")
    assert t.entry() == {"query": (-1.0, 0.2), "value": None, "modules": ("blk", "blk.*")}


def test_explain_mentions_the_break(tmp_path, capsys):
    path = tmp_path / "b.sym"
    path.write_text(HEAD + "break heads: attention(add) [value none]\n", encoding="utf-8")
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "breaks\n  heads  of add  line 5\n    attention: query bias mean 0.5 std linspace(0.05, 0.15, d_head), no value bias"
        in out
    )
    assert main(["explain", "--json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["breaks"] == {
        "heads": {"kind": "attention", "model": "add", "line": 5, "query": [0.5, [0.05, 0.15]], "value": None, "modules": None}
    }


def test_no_break_no_breaks_in_the_module(monkeypatch):
    monkeypatch.chdir(ROOT)
    source = compile_source(symspec.load("examples/modular_addition.sym"), "generated/modular_addition.py")
    assert "BREAKS" not in source and "break_symmetries" not in source
    assert source == (ROOT / "generated" / "modular_addition.py").read_text(encoding="utf-8")


def _imports(source: str) -> set:
    out = set()
    for node in pyast.walk(pyast.parse(source)):
        if isinstance(node, pyast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, pyast.ImportFrom):
            out.add(node.module if node.module != "symspec" else "symspec." + node.names[0].name)
    return out


def test_lowered_breaks_and_imports():
    spec = _spec("break heads: attention(add) [query_mean 0.25, value_std 0.01, modules blocks]\n")
    source = compile_source(spec)
    assert _imports(source) <= {"__future__", "torch", "symspec.runtime"}
    mod = symspec.compile(spec)
    assert mod.BREAKS == (
        {
            "break": "heads",
            "model": "add",
            "query": (0.25, (0.05, 0.15)),
            "value": (0.5, 0.01),
            "modules": ("blocks", "blocks.*"),
            "span": "b.sym:5:1",
        },
    )


def test_break_symmetries_patches_an_encoder():
    mod = symspec.compile(_spec("break heads: attention(add) [modules blocks]\n"))
    net = _net()
    reference = copy.deepcopy(net)
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    before = _run(net, x)
    names = mod.break_symmetries(net, torch.Generator().manual_seed(1))
    assert names == ["blocks.layers.0.self_attn", "blocks.layers.1.self_attn"]
    assert not hasattr(net.side, "break_query")  # outside the subtree
    net.train()
    a, b = _run(net, x), _run(net, x)
    assert not torch.allclose(a, b) and not torch.allclose(a, before)  # a fresh draw every training forward
    net.eval()
    with torch.no_grad():
        e1, e2 = _run(net, x), _run(net, x)
    assert torch.equal(e1, e2)
    # eval is the mean: the same weights broken with every std 0 give it in training mode
    symspec.nn.break_attention(reference, query=(0.5, 0.0), value=(0.5, 0.0), modules=["blocks.*"])
    reference.train()
    torch.testing.assert_close(e1, _run(reference, x), rtol=1e-12, atol=1e-12)
    assert "blocks.layers.0.self_attn.break_query" in net.state_dict()


def test_options_reach_the_buffers():
    mod = symspec.compile(
        _spec("break heads: attention(add) [query_mean -0.5, query_std 0.1, query_std_hi 0.3, value_mean 2, value_std 0]\n")
    )
    net = _net()
    assert len(mod.break_symmetries(net)) == 3  # no modules option: every attention
    for m in (net.blocks.layers[0].self_attn, net.side):
        d = m.head_dim
        torch.testing.assert_close(m.break_query_mean, torch.full((d,), -0.5, dtype=torch.float64))
        torch.testing.assert_close(m.break_query_std, torch.linspace(0.1, 0.3, d, dtype=torch.float64))
        torch.testing.assert_close(m.break_value_mean, torch.full((d,), 2.0, dtype=torch.float64))
        torch.testing.assert_close(m.break_value_std, torch.zeros(d, dtype=torch.float64))
    x = torch.randn(2, 4, 16, dtype=torch.float64)
    net.train()
    _run(net, x)
    m = net.blocks.layers[0].self_attn
    assert torch.equal(m.break_value, torch.full_like(m.break_value, 2.0))  # std 0: the mean
    q = m.break_query
    assert torch.equal(q, q[:1].expand_as(q)) and not torch.equal(q[0], m.break_query_mean)  # one draw, every head


def test_value_none_and_query_none():
    net = _net()
    mod = symspec.compile(_spec("break heads: attention(add) [value none]\n"))
    mod.break_symmetries(net)
    m = net.side
    assert m._symspec_broken == {"query": True, "value": False} and not hasattr(m, "break_value")
    mod = symspec.compile(_spec("break heads: attention(add) [query none]\n"))
    mod.break_symmetries(net)  # a second call replaces the options
    assert m._symspec_broken == {"query": False, "value": True} and not hasattr(m, "break_query")


def test_several_broken_models_need_of():
    spec = _spec(
        "model mul(a: Zp, b: Zp) -> class(Zp)\nbreak h: attention(add) [value none]\nbreak t: attention(mul) [query none]\n"
    )
    mod = symspec.compile(spec)
    with pytest.raises(UsageError, match="the spec breaks add, mul; pass of=NAME"):
        mod.break_symmetries(_net())
    with pytest.raises(UsageError, match="no break of model 'sub'"):
        mod.break_symmetries(_net(), of="sub")
    net = _net()
    mod.break_symmetries(net, of="mul")
    assert net.side._symspec_broken == {"query": False, "value": True}


def test_a_model_without_attention_names_the_statement():
    mod = symspec.compile(_spec("break heads: attention(add) [modules nowhere]\n", file="nets/b.sym"))
    with pytest.raises(UsageError, match=r"^nets/b\.sym:5:1: break heads: break_attention: no attention found"):
        mod.break_symmetries(_net())


def test_generator_makes_draws_repeatable():
    mod = symspec.compile(_spec("break heads: attention(add)\n"))
    x = torch.randn(2, 4, 16, dtype=torch.float64)
    outs = []
    for _ in range(2):
        net = _net()
        mod.break_symmetries(net, generator=torch.Generator().manual_seed(5))
        net.train()
        outs.append(_run(net, x))
    assert torch.equal(*outs)


@pytest.mark.parametrize(
    "text",
    [
        "spec s\nparam p = 3\ndomain Zp = cyclic(p)\nmodel BREAKS(a: Zp) -> class(Zp)\nmodel rt(a: Zp) -> class(Zp)\n"
        "law break_symmetries: BREAKS(a) == rt(a)\nbreak break_symmetries2: attention(BREAKS) [modules __import__]\n",
        "spec s\nparam p = 3\ndomain Zp = cyclic(p)\nmodel exec(a: Zp) -> class(Zp)\nlaw torch: exec(a) == exec(a)\n"
        "break rt: attention(exec) [modules os]\n",
    ],
)
def test_names_cannot_inject_code(text):
    spec = symspec.loads(text, 'x"); import os; ("\n.sym')
    source = compile_source(spec)
    assert _imports(source) <= {"__future__", "torch", "symspec.runtime"}
    mod = symspec.compile(spec)
    (entry,) = mod.BREAKS
    assert entry["span"] == 'x"); import os; ("\n.sym:' + f"{text.count(chr(10))}:1"
    assert entry["model"] in ("BREAKS", "exec") and entry["modules"][0] in ("__import__", "os")
    assert callable(mod.break_symmetries) and isinstance(mod.BREAKS, tuple)
    net = nn.Module()
    setattr(net, entry["modules"][0], nn.MultiheadAttention(8, 2))
    assert mod.break_symmetries(net) == [entry["modules"][0]]
