"""Fuzzing: no input text makes symspec raise anything but SpecError.

Five sources, a few thousand cases in all: strings generated from the
grammar itself (hypothesis.extra.lark), random text, token-level mutations
(delete, duplicate, swap, truncate) of the valid corpus, splices of two
corpus specs cut at token boundaries, and corpus specs whose integers are
replaced by huge, negative or zero values.
"""

from __future__ import annotations

import re

from conftest import EXAMPLES, FUZZ_SCALE, VALID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import symspec
from symspec.errors import SpecError
from symspec.syntax import grammar_text

FUZZ = settings(
    max_examples=800 * FUZZ_SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
# grammar-generated specs cost about 55 ms each (parse and the whole analysis): fewer per run, SYMSPEC_FUZZ_SCALE
# multiplies them for a deep run
GRAMMAR = settings(FUZZ, max_examples=300 * FUZZ_SCALE)
CORPUS = [p.read_text(encoding="utf-8") for p in (*EXAMPLES, *VALID)]
TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|==|!=|<=|>=|=>|->|#[^\n]*|.", re.S)


def survives(text: str) -> None:
    """Checking ``text`` either succeeds or raises SpecError whose report renders."""
    try:
        symspec.loads(text, "fuzz.sym")
    except SpecError as err:
        assert err.diagnostics, "a SpecError carries at least one diagnostic"
        rendered = err.render()
        assert "fuzz.sym:" in rendered and "Traceback" not in rendered


_GRAMMAR = Lark(grammar_text(), parser="lalr", lexer="contextual", start="start")
_SPACES = {"NAME": st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,6}\Z"), "_NL": st.just("\n")}


@GRAMMAR
@given(from_lark(_GRAMMAR, explicit=_SPACES))
def test_grammar_generated_specs(text):
    survives(text)


def _spaced(text: str) -> str:
    """Grammar strings glue tokens together; separate them as a person would."""
    return " ".join(TOKEN.findall(text))


@GRAMMAR
@given(from_lark(_GRAMMAR, explicit=_SPACES))
def test_grammar_generated_specs_with_spacing(text):
    survives(_spaced(text).replace(" \n ", "\n"))


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_random_text(text):
    survives(text)


@FUZZ
@given(st.text(alphabet="domain grouplawmodel()[]{}<>|=^,.:-+*#\n 0123456789abxyzZp", max_size=300))
def test_random_spec_alphabet(text):
    survives(text)


@st.composite
def mutated(draw):
    source = draw(st.sampled_from(CORPUS))
    tokens = TOKEN.findall(source)
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "replace"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif op == "truncate":
            tokens = tokens[:i]
        elif op == "replace":
            tokens[i] = draw(
                st.sampled_from(["(", ")", "{", "}", "[", "]", "x", ".", "=>", "0", "-", "law", "forall", "\n", "é", "1e-3", "<"])
            )
    return "".join(tokens)


@settings(max_examples=1500 * FUZZ_SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_corpus(text):
    survives(text)


@settings(max_examples=300 * FUZZ_SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_compiling_mutated_specs_never_crashes(text):
    from symspec.codegen import compile_source

    try:
        spec = symspec.loads(text, "fuzz.sym")
    except SpecError:
        return
    try:
        compile_source(spec)
    except SpecError as err:
        assert err.diagnostics


@st.composite
def spliced(draw):
    """The start of one corpus spec glued to the end of another, cut at token boundaries."""
    first = TOKEN.findall(draw(st.sampled_from(CORPUS)))
    second = TOKEN.findall(draw(st.sampled_from(CORPUS)))
    head = first[: draw(st.integers(0, len(first)))]
    start = draw(st.integers(0, len(second)))
    tail = second[start : start + draw(st.integers(0, len(second)))]
    if draw(st.booleans()):  # a third piece: the rest of the first spec
        tail += first[len(head) + draw(st.integers(0, max(0, len(first) - len(head)))) :]
    return "".join(head + tail)


@FUZZ
@given(spliced())
def test_spliced_corpus_specs(text):
    survives(text)


_INT_TOKEN = re.compile(r"\d+")
HUGE = [
    str(2**63),
    str(2**63 - 1),
    str(2**64),
    str(2**100),
    str(2**31),
    str(10**30),
    "9" * 4301,
    "1" + "0" * 5000,
    "0",
    "00",
    "1e400",
    "-" + str(2**63 - 1),
    "-" + str(2**100),
    "-1",
]


@st.composite
def huge_integers(draw):
    """A corpus spec with some of its integer tokens replaced by huge, negative or zero values."""
    tokens = TOKEN.findall(draw(st.sampled_from(CORPUS)))
    ints = [i for i, t in enumerate(tokens) if _INT_TOKEN.fullmatch(t)]
    if ints:
        for i in draw(st.lists(st.sampled_from(ints), min_size=1, max_size=3, unique=True)):
            tokens[i] = draw(st.sampled_from(HUGE))
    return "".join(tokens)


@FUZZ
@given(huge_integers())
def test_corpus_specs_with_huge_integers(text):
    survives(text)
