"""Deep fuzz: many inputs through every front door; cases by kind, non-SpecError exceptions, the slowest input.

    python benchmarks/fuzz_deep.py --cases 100000 --jobs 2 --out benchmarks/results/fuzz_deep.json

Every case is checked as ``symspec check`` does (parse, analysis, the whole
lowering): it must pass or raise ``SpecError``. Anything else is recorded by
signature (exception type and the innermost symspec frame) with a reproducer;
so is every input over ``--slow`` seconds. Each worker runs under an
address-space limit (``--mem-gb``) and every case under a wall-clock alarm
(``--timeout``), so a blow-up is counted, never fatal. Kinds:

- ``bytes``: byte flips, insertions and deletions of a corpus file, read by ``load`` (undecodable bytes too)
- ``tokens``: token deletions, duplications, swaps, truncations and replacements of a corpus spec
- ``splice``: the head of one corpus spec joined to the tail of another at token boundaries
- ``huge_int``: integer tokens of a corpus spec replaced by huge, negative or boundary values
- ``unicode``: random text from all of Unicode, and odd characters (NUL, form feed, U+2028, BOM) put into corpus specs
- ``grammar``: strings generated from the grammar itself
- ``wellformed``: the grammar-aware well-typed generator of the test suite (``tests/wellformed.py``)
- ``wellformed_mutated``: well-typed specs, then token mutations
- ``cli``: files written to disk (odd names included) and run through ``symspec check`` and ``symspec compile -o``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import random
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|==|!=|<=|>=|=>|->|#[^\n]*|.", re.S)
INTEGER = re.compile(r"(?<![\w.])\d+(?![\w.])")
HUGE = ["0", "1", "-1", "2", str(2**31), str(2**31 - 1), str(2**53 + 1), str(2**63 - 1), str(2**63), str(2**64), "10^9",
        "2^100", "10^30", str(10**30), "9" * 4301, "1" * 5000, "2^63", "2^62 * 4", "10^18", "1e400", "1e-400", "0.0"]  # fmt: skip
ODD = ["\x00", "\x0c", "\x0b", "\u2028", "\u2029", "\x85", "\ufeff", "\r", "\t", "\udcff", "\U0001f600", "é", "\x1b"]
REPLACEMENTS = ["(", ")", "{", "}", "[", "]", "x", ".", "=>", "0", "-", "law", "forall", "\n", "é", "1e-3", "<", "^", "*",
                "model", "group", "domain", "graph", "when", "param", ",", ":", "=", "99999999999999999999"]  # fmt: skip
KINDS = ["bytes", "tokens", "splice", "huge_int", "unicode", "grammar", "wellformed", "wellformed_mutated", "cli"]


def corpus() -> list[str]:
    files = sorted((ROOT / "examples").glob("*.sym")) + sorted((ROOT / "tests" / "specs").glob("*/*.sym"))
    return [p.read_text(encoding="utf-8") for p in files]


def mutate_tokens(rng: random.Random, text: str) -> str:
    tokens = TOKEN.findall(text)
    for _ in range(rng.randint(1, 4)):
        if not tokens:
            break
        i = rng.randrange(len(tokens))
        op = rng.choice(["delete", "duplicate", "swap", "truncate", "replace"])
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif op == "truncate":
            tokens = tokens[:i]
        else:
            tokens[i] = rng.choice(REPLACEMENTS)
    return "".join(tokens)


def splice(rng: random.Random, a: str, b: str) -> str:
    ta, tb = TOKEN.findall(a), TOKEN.findall(b)
    return "".join(ta[: rng.randint(0, len(ta))] + tb[rng.randint(0, len(tb)) :])


def huge_ints(rng: random.Random, text: str) -> str:
    spots = list(INTEGER.finditer(text))
    if not spots:
        return text + f"\nparam big = {rng.choice(HUGE)}\n"
    for m in sorted(rng.sample(spots, min(len(spots), rng.randint(1, 3))), key=lambda m: -m.start()):
        text = text[: m.start()] + rng.choice(HUGE) + text[m.end() :]
    return text


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(buf) + 1)
        op = rng.choice(["flip", "insert", "delete"])
        if op == "insert" or not buf:
            buf[i:i] = bytes([rng.randrange(256)])
        elif op == "delete":
            del buf[min(i, len(buf) - 1)]
        else:
            buf[min(i, len(buf) - 1)] = rng.randrange(256)
    return bytes(buf)


def odd_unicode(rng: random.Random, text: str) -> str:
    if rng.random() < 0.4:  # random text drawn from all of Unicode (surrogates included)
        return "".join(
            chr(rng.randrange(0x110000)) if rng.random() < 0.3 else rng.choice("law x(a)=\n0123")
            for _ in range(rng.randint(0, 300))
        )
    chars = list(text)
    for _ in range(rng.randint(1, 5)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(ODD))
    return "".join(chars)


class Stats:
    def __init__(self) -> None:
        self.cases: dict[str, int] = {}
        self.kind_seconds: dict[str, float] = {}
        self.errors: dict[str, dict] = {}  # signature -> {"count", "kind", "example", "trace"}
        self.slowest: dict = {"seconds": 0.0}
        self.slow: list = []
        self.seconds = 0.0

    def merge(self, other: dict) -> None:
        for k, v in other["cases"].items():
            self.cases[k] = self.cases.get(k, 0) + v
        for k, v in other["kind_seconds"].items():
            self.kind_seconds[k] = self.kind_seconds.get(k, 0.0) + v
        for sig, e in other["errors"].items():
            if sig in self.errors:
                self.errors[sig]["count"] += e["count"]
            else:
                self.errors[sig] = e
        if other["slowest"]["seconds"] > self.slowest["seconds"]:
            self.slowest = other["slowest"]
        self.slow += other["slow"]
        self.seconds += other["seconds"]

    def as_dict(self) -> dict:
        return {
            "cases": self.cases,
            "kind_seconds": self.kind_seconds,
            "errors": self.errors,
            "slowest": self.slowest,
            "slow": self.slow,
            "seconds": self.seconds,
        }


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


def _signature(err: BaseException) -> tuple[str, str]:
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "/symspec/" in f.filename.replace(os.sep, "/")]
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(err).__name__} at {where}", "".join(traceback.format_exception(err)[-6:])


def _run_one(stats: Stats, kind: str, text, args, action) -> None:
    from symspec.errors import SpecError

    stats.cases[kind] = stats.cases.get(kind, 0) + 1
    start = time.perf_counter()
    signal.alarm(args.timeout)
    try:
        action(text)
    except SpecError as err:
        err.render()  # the report must render too
    except _Alarm:
        sig = f"timeout over {args.timeout} s"
        entry = stats.errors.setdefault(sig, {"count": 0, "kind": kind, "example": repr(text)[:4000], "trace": ""})
        entry["count"] += 1
    except (Exception, RecursionError, MemoryError) as err:  # noqa: BLE001 - everything but SpecError is a finding
        sig, trace = _signature(err)
        entry = stats.errors.setdefault(sig, {"count": 0, "kind": kind, "example": repr(text)[:4000], "trace": trace})
        entry["count"] += 1
    finally:
        signal.alarm(0)
    took = time.perf_counter() - start
    stats.kind_seconds[kind] = stats.kind_seconds.get(kind, 0.0) + took
    if took > stats.slowest["seconds"]:
        stats.slowest = {"seconds": took, "kind": kind, "example": repr(text)[:2000]}
    if took > args.slow:
        stats.slow.append({"seconds": round(took, 2), "kind": kind, "example": repr(text)[:2000]})


def _check_text(text: str) -> None:
    from symspec.pipeline import check, loads

    check(loads(text, "fuzz.sym"))


def worker(job: tuple) -> dict:
    kind, count, seed, args = job
    limit = int(args.mem_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(10_000)
    rng = random.Random(seed)
    texts = corpus()
    stats = Stats()
    start = time.perf_counter()
    if kind in ("grammar", "wellformed", "wellformed_mutated"):
        _hypothesis_kind(stats, kind, count, seed, args, rng)
    elif kind == "bytes":
        from symspec.pipeline import check, load

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "fuzz.sym")
            for _ in range(count):
                data = flip_bytes(rng, rng.choice(texts).encode("utf-8"))
                with open(path, "wb") as f:
                    f.write(data)
                _run_one(stats, kind, data, args, lambda _d: check(load(path)))
    elif kind == "cli":
        _cli_kind(stats, count, args, rng, texts)
    else:
        make = {
            "tokens": lambda: mutate_tokens(rng, rng.choice(texts)),
            "splice": lambda: splice(rng, rng.choice(texts), rng.choice(texts)),
            "huge_int": lambda: huge_ints(rng, rng.choice(texts)),
            "unicode": lambda: odd_unicode(rng, rng.choice(texts)),
        }[kind]
        for _ in range(count):
            _run_one(stats, kind, make(), args, _check_text)
    stats.seconds = time.perf_counter() - start
    return stats.as_dict()


def _hypothesis_kind(stats: Stats, kind: str, count: int, seed: int, args, rng: random.Random) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    if kind == "grammar":
        from hypothesis import strategies as st
        from hypothesis.extra.lark import from_lark
        from lark import Lark

        from symspec.syntax import grammar_text

        grammar = Lark(grammar_text(), parser="lalr", lexer="contextual", start="start")
        spaces = {"NAME": st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,6}\Z"), "_NL": st.just("\n")}
        strategy = from_lark(grammar, explicit=spaces).map(lambda t: " ".join(TOKEN.findall(t)).replace(" \n ", "\n"))
    else:
        from wellformed import specs

        strategy = specs()
        if kind == "wellformed_mutated":
            strategy = strategy.map(lambda t: mutate_tokens(random.Random(hash(t)), t))

    @hseed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(text):
        _run_one(stats, kind, text, args, _check_text)

    run()


ODD_NAMES = ["plain.sym", 'q"""uote.sym', "new\nline.sym", "back\\slash.sym", os.fsdecode(b"byte\xff.sym"), "sp ace.sym"]


def _cli_kind(stats: Stats, count: int, args, rng: random.Random, texts: list) -> None:
    from symspec.cli.main import main

    def run_cli(pair) -> None:
        path, out = pair
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for argv in (["check", path], ["compile", path, "-o", out]):
                code = main(argv)
                if code not in (0, 1):
                    raise AssertionError(f"symspec {argv[0]} exited {code}")

    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            text = rng.choice([mutate_tokens, huge_ints, odd_unicode])(rng, rng.choice(texts))
            name = f"{i}_{rng.choice(ODD_NAMES)}"
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:  # lone surrogates: bytes that are not UTF-8
                f.write(text)
            _run_one(stats, "cli", text, args, lambda _t, path=path: run_cli((path, path + ".py")))
            os.unlink(path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path + ".py")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases in all (split evenly over the kinds)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=20, help="seconds one case may take before it counts as a hang")
    parser.add_argument("--slow", type=float, default=5.0, help="record inputs slower than this (seconds)")
    parser.add_argument("--mem-gb", type=float, default=2.0, help="address-space limit of each worker")
    parser.add_argument("--chunk", type=int, default=500, help="cases per job")
    parser.add_argument("--out", default=None, help="write the JSON summary here")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    per_kind = max(1, args.cases // len(kinds))
    jobs = []
    for k, kind in enumerate(kinds):
        size = min(args.chunk, 100) if kind == "cli" else args.chunk
        for j, start in enumerate(range(0, per_kind, size)):
            jobs.append((kind, min(size, per_kind - start), args.seed * 1_000_003 + k * 10_007 + j, args))
    total = Stats()
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.jobs, maxtasksperchild=4) as pool:
        for i, result in enumerate(pool.imap_unordered(worker, jobs), 1):
            total.merge(result)
            done = sum(total.cases.values())
            print(f"\r{i}/{len(jobs)} jobs, {done} cases, {len(total.errors)} signatures", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    summary = total.as_dict()
    summary["wall_seconds"] = time.perf_counter() - started
    summary["total_cases"] = sum(total.cases.values())
    summary["exceptions"] = sum(e["count"] for e in total.errors.values())
    print(f"{summary['total_cases']} cases in {summary['wall_seconds']:.0f} s (jobs={args.jobs})")
    for kind in kinds:
        n, seconds = total.cases.get(kind, 0), total.kind_seconds.get(kind, 0.0)
        print(f"  {kind:20s} {n:7d} cases  {1000 * seconds / max(n, 1):7.1f} ms/case")
    print(f"non-SpecError exceptions: {summary['exceptions']} ({len(total.errors)} signatures)")
    for sig, e in sorted(total.errors.items(), key=lambda kv: -kv[1]["count"]):
        print(f"  {e['count']:6d}  {sig}  [{e['kind']}]  e.g. {e['example'][:160]}")
    slowest = total.slowest
    print(f"slowest input: {slowest['seconds']:.2f} s ({slowest.get('kind')}): {slowest.get('example', '')[:160]}")
    print(f"inputs over {args.slow} s: {len(total.slow)}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 1 if summary["exceptions"] else 0


if __name__ == "__main__":
    sys.exit(main())
