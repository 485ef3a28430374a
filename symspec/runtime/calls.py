"""Model calls of one loss step, evaluated in one batched forward per model.

Laws ask for model outputs on transformed inputs; ``CallBatch`` collects the
requests, then concatenates every request of a model into one forward and
splits the output (``fused=True``), or runs them one by one (``fused=False``:
less memory). The default fuses on accelerators, where one large forward
beats several launches, and not on the CPU, where the copies cost more than
they save (``benchmarks/bench_loss.py``: fused 1.2x slower on a 2-core CPU).
Requests that depend on other outputs (nested calls) go in a later round.
"""

from __future__ import annotations

import torch

__all__ = ["CallBatch", "SymmetryLossBase"]


class CallBatch:
    def __init__(self, models: dict, fused: bool | None = None):
        self.models = models
        self.fused = fused  # None: fuse on accelerators, not on the CPU (measured: benchmarks/bench_loss.py)
        self.pending: list = []  # (handle, model, args)
        self.outputs: list = []

    def add(self, model: str, *args: torch.Tensor) -> int:
        handle = len(self.outputs) + len(self.pending)
        self.pending.append((handle, model, args))
        return handle

    def run(self) -> None:
        requests, self.pending = self.pending, []
        self.outputs.extend([None] * len(requests))
        by_model: dict = {}
        for handle, model, args in requests:
            by_model.setdefault(model, []).append((handle, args))
        for model, items in by_model.items():
            fn = self.models[model]
            fused = self.fused if self.fused is not None else items[0][1][0].device.type != "cpu"
            if not fused or len(items) == 1:
                for handle, args in items:
                    self.outputs[handle] = fn(*args)
                continue
            sizes = [args[0].shape[0] for _, args in items]
            joined = [torch.cat([args[i] for _, args in items]) for i in range(len(items[0][1]))]
            for (handle, _), out in zip(items, torch.split(fn(*joined), sizes)):
                self.outputs[handle] = out

    def __getitem__(self, handle: int) -> torch.Tensor:
        return self.outputs[handle]


class SymmetryLossBase(torch.nn.Module):
    """What every compiled ``SymmetryLoss`` shares: its models, tables, options and the weighted sum.

    A generated subclass sets ``MODELS`` (model -> parameter names),
    ``WEIGHTS`` (law or prior -> weight) and ``TABLES`` (buffer name -> index
    table), and writes ``forward``.
    """

    MODELS: dict = {}
    WEIGHTS: dict = {}
    TABLES: dict = {}

    def __init__(self, *, generator=None, fused=None, **models):
        super().__init__()
        missing = sorted(set(self.MODELS) - set(models))
        unknown = sorted(set(models) - set(self.MODELS))
        if missing or unknown:
            raise TypeError(f"SymmetryLoss takes the models {sorted(self.MODELS)}; missing {missing}, unknown {unknown}")
        self.models = dict(models)
        for index, model in enumerate(self.models.values()):
            if isinstance(model, torch.nn.Module):
                self.add_module(f"model{index}", model)
        self.generator = generator
        self.fused = fused
        self.terms: dict = {}
        for name, table in self.TABLES.items():
            self.register_buffer(name, table, persistent=False)

    def total(self, terms: dict) -> torch.Tensor:
        """Keep the terms (detached) and return their weighted sum."""
        self.terms = {name: value.detach() for name, value in terms.items()}
        return sum(self.WEIGHTS[name] * value for name, value in terms.items())
