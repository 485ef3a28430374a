"""Attention symmetry breaking and ECD at CPU size: a character LM and the modular-addition transformer.

    python examples/train_symmetry_breaking.py                       # the full comparison: 3 seeds, ~7.5 CPU minutes
    python examples/train_symmetry_breaking.py --steps 100 --seeds 1 --json out.json

Part 1, language model.  A GPT-style decoder (token and position embeddings, pre-LayerNorm blocks with
causal self-attention following the protocol of docs/model-symmetries.md: ``n_head``, fused ``c_attn``
and ``c_proj``; GELU MLP; untied head) is trained as a character model on a fixed slice of CPython's
standard library sources (``CORPUS_MODULES``, concatenated in that order; the last ``--val-frac`` is the
validation text; its sha256 is printed and stored, and it is the same for every run on the same CPython
version).  The same initialization, batches and steps for every optimizer configuration (``CONFIGS``):
AdamW, ECD, ECD + break, AdamW + break, ECD on the quotient (``symspec.optim.Quotient``), and ECD with
the paper's F0 = 2.  Validation loss (eval mode: broken biases at their mean) every ``--eval-every``
steps.

Part 2, modular addition.  The one-layer transformer of examples/train_modular_addition.py (its data
split and model, imported), full batch, ECD with and without ``break``, and AdamW as the reference;
test accuracy every ``--eval-every`` steps.

Each run prints one flushed line; then a table of final losses / accuracies (mean and spread over seeds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from train_modular_addition import Transformer, build_task  # noqa: E402
from trainlib import check_output_paths  # noqa: E402

import symspec  # noqa: E402
from symspec.nn import break_attention, rank_generator  # noqa: E402
from symspec.optim import ECD, Quotient  # noqa: E402

__all__ = [
    "CORPUS_MODULES",
    "CONFIGS",
    "PAPER_ECD",
    "MOD_CONFIGS",
    "GPT",
    "BreakableTransformer",
    "load_corpus",
    "train_lm",
    "train_modadd",
    "main",
]

# ASCII-only modules of the standard library (CPython 3.11), in this order.
CORPUS_MODULES = (
    "abc.py", "ast.py", "bisect.py", "colorsys.py", "contextlib.py", "copy.py", "dataclasses.py", "enum.py",
    "fnmatch.py", "keyword.py", "numbers.py", "operator.py", "queue.py", "random.py", "string.py",
    "textwrap.py", "types.py", "weakref.py",
)  # fmt: skip

# name -> (optimizer, break the attention, on the quotient, ECD options replacing --ecd-lr / --ecd-F0)
PAPER_ECD = {"lr": 1.0, "F0": 2.0}
CONFIGS = {
    "adamw": ("adamw", False, False, {}),
    "adamw+break": ("adamw", True, False, {}),
    "ecd": ("ecd", False, False, {}),
    "ecd+break": ("ecd", True, False, {}),
    "ecd+quotient": ("ecd", False, True, {}),
    "ecd(paper)": ("ecd", False, False, PAPER_ECD),
    "ecd(paper)+break": ("ecd", True, False, PAPER_ECD),
}
MOD_CONFIGS = {"adamw": ("adamw", False), "ecd": ("ecd", False), "ecd+break": ("ecd", True)}


# ----------------------------------------------------------------------------- data


def load_corpus(max_chars: int | None = None) -> tuple[str, str]:
    """The corpus text (``CORPUS_MODULES`` of this interpreter's stdlib, concatenated) and its sha256."""
    root = Path(os.__file__).parent
    text = "".join((root / name).read_text(encoding="utf-8") for name in CORPUS_MODULES)
    text = "".join(c if c.isascii() else "?" for c in text) if not text.isascii() else text
    if max_chars is not None:
        text = text[:max_chars]
    return text, hashlib.sha256(text.encode("ascii")).hexdigest()


# ----------------------------------------------------------------------------- the language model


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention with the protocol's names: ``n_head``, fused ``c_attn`` -> [q|k|v], ``c_proj``."""

    def __init__(self, d_model: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).view(b, t, 3, self.n_head, c // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class Block(nn.Module):
    """Pre-LayerNorm block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))`` (GELU, width 4 d_model)."""

    def __init__(self, d_model: int, n_head: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_head)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only transformer: token + position embeddings, ``n_layer`` blocks, final LayerNorm, untied head."""

    def __init__(self, vocab: int, d_model: int = 64, n_head: int = 4, n_layer: int = 2, context: int = 64):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(context, d_model)
        self.h = nn.ModuleList([Block(d_model, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab)
        for name, p in self.named_parameters():  # GPT-2's initialization
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


# ----------------------------------------------------------------------------- the modular-addition adapter


class BreakableTransformer(Transformer):
    """examples/train_modular_addition.py's ``Transformer`` with the protocol's names (``n_head``, ``qkv_proj``,
    ``out_proj``) so that ``break_attention`` and ``symspec.audit`` find its attention; same forward and parameters."""

    def __init__(self, p: int):
        super().__init__(p)
        self.n_head = self.heads
        self.qkv_proj = self._modules.pop("qkv")
        self.out_proj = self._modules.pop("out")

    @property
    def qkv(self) -> nn.Module:  # the parent's forward reads self.qkv / self.out
        return self.qkv_proj

    @property
    def out(self) -> nn.Module:
        return self.out_proj


# ----------------------------------------------------------------------------- optimizers


def make_optimizer(kind: str, model: nn.Module, args, ecd: dict, seed: int, quotient_batch=None) -> tuple:
    """AdamW or ECD (``args``' hyperparameters, ``ecd``'s lr and F0), wrapped in ``Quotient`` given ``quotient_batch``
    (audited on it); returns the optimizer and the quotient's audit counts (None without)."""
    if kind == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=args.adam_lr, weight_decay=args.adam_wd, betas=(0.9, 0.95))
    else:
        opt = ECD(model.parameters(), lr=ecd["lr"], eta=args.ecd_eta, F0=ecd["F0"], nu=args.ecd_nu, weight_decay=0.0)
    info = None
    if quotient_batch is not None:
        report = symspec.audit(model, quotient_batch, softmax_output=True, rank=False, seed=seed)
        opt = Quotient(opt, model, report)
        info = {"redundant": report.redundant, "by_kind": report.by_kind(), "rejected": len(report.rejected)}
    return opt, info


def optimizer_record(kind: str, args, ecd: dict) -> dict:
    if kind == "adamw":
        return {"name": "AdamW", "lr": args.adam_lr, "weight_decay": args.adam_wd, "betas": [0.9, 0.95]}
    return {"name": "ECD", "lr": ecd["lr"], "eta": args.ecd_eta, "F0": ecd["F0"], "nu": args.ecd_nu, "weight_decay": 0.0}


def take_step(opt, loss_fn) -> float:
    """One step with a closure (ECD needs the loss; AdamW takes it too); returns the loss."""

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        return loss

    return float(opt.step(closure).detach())


def audit_broken(model: nn.Module, example) -> dict:
    """Which QK/VO claims the audit reports as broken, and the broken dimension (no rank, no checks needed)."""
    report = symspec.audit(model, example, softmax_output=True, rank=False)
    kinds = {s.kind for s in report.symmetries if s.broken}
    return {"broken_dim": report.broken, "broken_kinds": sorted(kinds), "redundant": report.redundant}


# ----------------------------------------------------------------------------- runs


def train_lm(name: str, seed: int, text: str, vocab: str, args) -> dict:
    """One language-model run; returns its record (config, history of validation losses, final loss)."""
    kind, broken, quotient, overrides = CONFIGS[name]
    ecd = {"lr": args.ecd_lr, "F0": args.ecd_F0, **overrides}
    index = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = int(len(data) * (1 - args.val_frac))
    train, val = data[:cut], data[cut:]
    T = args.context
    starts = torch.linspace(0, len(val) - T - 1, args.val_windows).long()
    val_x = torch.stack([val[s : s + T] for s in starts])
    val_y = torch.stack([val[s + 1 : s + T + 1] for s in starts])

    torch.manual_seed(seed)
    model = GPT(len(vocab), args.d_model, args.n_head, args.n_layer, T)
    batches = torch.Generator().manual_seed(10_000 + seed)  # same batches for every config of a seed

    def batch():
        s = torch.randint(0, len(train) - T - 1, (args.batch,), generator=batches)
        ix = s[:, None] + torch.arange(T)
        return train[ix], train[ix + 1]

    started = time.perf_counter()
    audit_info = None
    if broken:
        break_attention(model, generator=rank_generator(seed))
        audit_info = audit_broken(model, val_x[:2])
    opt, quotient_info = make_optimizer(kind, model, args, ecd, seed, val_x[:2] if quotient else None)

    @torch.no_grad()
    def validate() -> float:
        model.eval()
        loss = F.cross_entropy(model(val_x).flatten(0, 1), val_y.flatten())
        model.train()
        return float(loss)

    history = [{"step": 0, "val_loss": validate()}]
    for step in range(1, args.steps + 1):
        x, y = batch()
        train_loss = take_step(opt, lambda x=x, y=y: F.cross_entropy(model(x).flatten(0, 1), y.flatten()))
        if not math.isfinite(train_loss):
            history.append({"step": step, "train_loss": train_loss, "val_loss": float("nan")})
            break
        if step % args.eval_every == 0 or step == args.steps:
            history.append({"step": step, "train_loss": train_loss, "val_loss": validate()})
    config = {
        "task": "char_lm",
        "config": name,
        "seed": seed,
        "steps": args.steps,
        "optimizer": optimizer_record(kind, args, ecd),
        "break": broken,
        "quotient": quotient,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if audit_info is not None:
        config["audit"] = audit_info
    if quotient_info is not None:
        config["quotient_audit"] = quotient_info
    return {"config": config, "history": history, "final_val_loss": history[-1]["val_loss"]}


def train_modadd(name: str, seed: int, args) -> dict:
    """One modular-addition run (full batch, ``--mod-steps``); returns its record with the final test accuracy."""
    kind, broken = MOD_CONFIGS[name]
    task = build_task(args.p, args.frac, "transformer", seed)
    torch.manual_seed(seed)
    model = BreakableTransformer(args.p)
    started = time.perf_counter()
    tr, te = task.train, task.test
    audit_info = None
    if broken:
        break_attention(model, generator=rank_generator(seed))
        audit_info = audit_broken(model, (te["a"][:8], te["b"][:8]))
    if kind == "adamw":
        opt = torch.optim.AdamW(model.parameters(), **task.optim)
        record_opt = {"name": "AdamW", **{k: list(v) if isinstance(v, tuple) else v for k, v in task.optim.items()}}
    else:
        ecd = {"lr": args.mod_ecd_lr, "F0": args.mod_ecd_F0}
        opt = ECD(model.parameters(), lr=ecd["lr"], eta=args.ecd_eta, F0=ecd["F0"], nu=args.ecd_nu)
        record_opt = optimizer_record("ecd", args, ecd)

    @torch.no_grad()
    def evaluate() -> tuple[float, float]:
        model.eval()
        out = model(te["a"], te["b"])
        model.train()
        return float((out.argmax(-1) == te["target"]).float().mean()), float(F.cross_entropy(out, te["target"]))

    history = []
    for step in range(1, args.mod_steps + 1):
        train_loss = take_step(opt, lambda: F.cross_entropy(model(tr["a"], tr["b"]), tr["target"]))
        if step % args.mod_eval_every == 0 or step == args.mod_steps or not math.isfinite(train_loss):
            acc, test_loss = evaluate()
            history.append({"step": step, "train_loss": train_loss, "test_loss": test_loss, "test_acc": acc})
            if not math.isfinite(train_loss):
                break
    config = {
        "task": "modular_addition",
        "config": name,
        "seed": seed,
        "steps": args.mod_steps,
        "p": args.p,
        "frac": args.frac,
        "optimizer": record_opt,
        "break": broken,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if audit_info is not None:
        config["audit"] = audit_info
    return {"config": config, "history": history, "final_test_acc": history[-1]["test_acc"]}


# ----------------------------------------------------------------------------- summary


def _spread(values: list) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}"


def summary(records: list, key: str, label: str) -> list:
    """Rows: config, mean ± sample std over seeds, mean seconds per run, per-seed values (in the configs' order)."""
    by: dict = {}
    for r in records:
        by.setdefault(r["config"]["config"], []).append((r[key], r["config"]["seconds"]))
    lines = [f"{'config':<18}{label + ' (mean ± std over seeds)':>36}{'s/run':>8}   per seed"]
    for name, runs in by.items():
        values = [v for v, _ in runs]
        seconds = statistics.fmean(s for _, s in runs)
        lines.append(f"{name:<18}{_spread(values):>36}{seconds:>8.1f}   {', '.join(f'{v:.4f}' for v in values)}")
    return lines


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="language-model training steps per run (default 300)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 per configuration (default 3)")
    p.add_argument("--configs", default=",".join(CONFIGS), help=f"language-model configs (default all: {','.join(CONFIGS)})")
    p.add_argument("--eval-every", type=int, default=25, help="validation loss every N steps (default 25)")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--n-head", type=int, default=4, help="heads (d_head = d_model / n_head; default 4 x 16)")
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--val-frac", type=float, default=0.1, help="the last fraction of the corpus is validation text")
    p.add_argument("--val-windows", type=int, default=64, help="fixed, evenly spaced validation windows")
    p.add_argument("--max-chars", type=int, default=None, help="use only the first N characters of the corpus")
    p.add_argument("--adam-lr", type=float, default=3e-3)
    p.add_argument("--adam-wd", type=float, default=0.1)
    p.add_argument("--ecd-lr", type=float, default=1.0, help="ECD lr (paper 1)")
    p.add_argument("--ecd-eta", type=float, default=100.0, help="ECD eta (paper 100)")
    p.add_argument("--ecd-F0", type=float, default=0.0, help="ECD F0 of the language-model configs without one (default 0)")
    p.add_argument("--ecd-nu", type=float, default=0.0, help="ECD bounce (paper 0)")
    p.add_argument("--mod-configs", default=",".join(MOD_CONFIGS), help="modular-addition configs ('' to skip part 2)")
    p.add_argument("--mod-steps", type=int, default=200, help="modular-addition steps per run (default 200)")
    p.add_argument("--mod-eval-every", type=int, default=25)
    p.add_argument("--mod-ecd-lr", type=float, default=10.0, help="ECD lr on modular addition (default 10)")
    p.add_argument("--mod-ecd-F0", type=float, default=0.0, help="ECD F0 on modular addition (default 0)")
    p.add_argument("--p", type=int, default=59, help="modulus (default 59)")
    p.add_argument("--frac", type=float, default=0.4, help="training fraction of the pairs (default 0.4)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", default=None, metavar="OUT", help="write every run as JSON")
    return p


def _names(ap: argparse.ArgumentParser, text: str, known: dict, option: str) -> list:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in names if x not in known]
    if unknown:
        ap.error(f"{option}: unknown {', '.join(unknown)}; valid: {', '.join(known)}")
    return names


def main(argv: list | None = None) -> dict:
    ap = parser()
    args = ap.parse_args(argv)
    for option in ("steps", "seeds", "eval_every", "mod_steps", "mod_eval_every", "threads", "context", "batch"):
        if getattr(args, option) < 1:
            ap.error(f"--{option.replace('_', '-')} must be positive")
    if args.d_model % args.n_head:
        ap.error(f"--d-model {args.d_model} is not a multiple of --n-head {args.n_head}")
    check_output_paths(ap, args)
    configs = _names(ap, args.configs, CONFIGS, "--configs")
    mod_configs = _names(ap, args.mod_configs, MOD_CONFIGS, "--mod-configs")
    torch.set_num_threads(args.threads)
    text, digest = load_corpus(args.max_chars)
    vocab = "".join(sorted(set(text)))
    cut = int(len(text) * (1 - args.val_frac))
    corpus = {"modules": list(CORPUS_MODULES), "python": sys.version.split()[0], "chars": len(text), "sha256": digest,
              "vocab": len(vocab), "train_chars": cut, "val_chars": len(text) - cut}  # fmt: skip
    print(f"corpus: {len(text)} chars of {len(CORPUS_MODULES)} stdlib modules (Python {corpus['python']}), "
          f"vocabulary {len(vocab)}, sha256 {digest[:16]}", flush=True)  # fmt: skip
    lm: list = []
    for seed in range(args.seeds):
        for name in configs:
            r = train_lm(name, seed, text, vocab, args)
            lm.append(r)
            curve = " ".join(f"{h['val_loss']:.3f}" for h in r["history"])
            print(f"lm {name:<16} seed {seed}  final val {r['final_val_loss']:.4f}  {r['config']['seconds']:6.1f}s  curve {curve}",
                  flush=True)  # fmt: skip
    mod: list = []
    for seed in range(args.seeds):
        for name in mod_configs:
            r = train_modadd(name, seed, args)
            mod.append(r)
            curve = " ".join(f"{h['test_acc']:.3f}" for h in r["history"])
            print(f"modadd {name:<12} seed {seed}  final test acc {r['final_test_acc']:.4f}  {r['config']['seconds']:6.1f}s  "
                  f"curve {curve}", flush=True)  # fmt: skip
    if lm:
        print(f"\nchar LM, validation loss (nats/char) after {args.steps} steps")
        print("\n".join(summary(lm, "final_val_loss", "val loss")))
    if mod:
        print(f"\nmodular addition (p {args.p}, {args.frac:.0%} train), test accuracy after {args.mod_steps} steps")
        print("\n".join(summary(mod, "final_test_acc", "test acc")))
    sys.stdout.flush()
    result = {"corpus": corpus, "args": vars(args), "lm": lm, "modular_addition": mod}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
