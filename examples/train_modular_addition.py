"""Modular addition with and without symmetry-prompting losses (Hwang & Park, arXiv 2603.01968).

    python examples/train_modular_addition.py                 # CPU defaults: p 59, 40% train, MLP
    python examples/train_modular_addition.py --laws commutes --json run.json
    python examples/train_modular_addition.py --arch transformer --p 113 --frac 0.3 --device cuda

Trains on a random ``--frac`` of all (a, b) pairs, full batch, AdamW (lr 1e-3,
weight decay 1, betas 0.9/0.98), and reports the first step at which test
accuracy reaches 0.99 and 1.0. The laws come from examples/modular_addition.sym,
compiled with ``p`` set to ``--p``.
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from trainlib import PairMLP, Task, build_task_or_exit, check_frac, common_parser, main_runs  # noqa: E402

import symspec  # noqa: E402

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "modular_addition.sym")


class Transformer(nn.Module):
    """One decoder layer, no LayerNorm: tokens ``a b =``, d_model 128, 4 heads, d_mlp 512, ReLU; read out at ``=``."""

    def __init__(self, p: int, d_model: int = 128, heads: int = 4, d_mlp: int = 512):
        super().__init__()
        self.p, self.heads = p, heads
        self.embed = nn.Embedding(p + 1, d_model)  # token p is '='
        self.pos = nn.Parameter(torch.randn(3, d_model) / d_model**0.5)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_mlp), nn.ReLU(), nn.Linear(d_mlp, d_model))
        self.unembed = nn.Linear(d_model, p)

    def forward(self, a, b):
        eq = torch.full_like(a, self.p)
        x = self.embed(torch.stack([a, b, eq], 1)) + self.pos
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(attn.transpose(1, 2).reshape(n, t, d))
        x = x + self.mlp(x)
        return self.unembed(x[:, -1])


def model(p: int = 59, arch: str = "mlp") -> nn.Module:
    """The model factory for ``symspec validate --model examples.train_modular_addition:model``."""
    return PairMLP(p, p) if arch == "mlp" else Transformer(p)


def build_task(p: int, frac: float, arch: str, seed: int) -> Task:
    spec = symspec.load(SPEC, params={"p": p})
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))
    cut = int(round(frac * p * p))
    data = {"a": a, "b": b, "target": (a + b) % p}
    train = {k: v[order[:cut]] for k, v in data.items()}
    test = {k: v[order[cut:]] for k, v in data.items()}
    return Task(
        name="modular_addition",
        spec=spec,
        train=train,
        test=test,
        make_model=(lambda: PairMLP(p, p)) if arch == "mlp" else (lambda: Transformer(p)),
        task_loss=nn.functional.cross_entropy,
        predict=lambda out: out.argmax(-1),
        call=lambda model, batch: model(batch["a"], batch["b"]),
        config={"p": p, "frac": frac, "arch": arch},
        optim={"lr": 1e-3, "weight_decay": 1.0, "betas": (0.9, 0.98)},
    )


def main(argv=None) -> list:
    parser = common_parser(__doc__.splitlines()[0])
    parser.add_argument("--p", type=int, default=59, help="the modulus (default 59; the paper's is 113)")
    parser.add_argument("--frac", type=float, default=0.4, help="fraction of all pairs used for training (default 0.4)")
    parser.add_argument("--arch", choices=("mlp", "transformer"), default="mlp", help="model (default mlp)")
    args = parser.parse_args(argv)
    check_frac(parser, args.frac)
    task = build_task_or_exit(parser, build_task, args.p, args.frac, args.arch, args.seed)
    return main_runs(task, args, parser, ["none", "commutes", "commutes,shift"], default_max_steps=20_000)


if __name__ == "__main__":
    main()
