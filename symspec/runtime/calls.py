"""Model calls of one loss step, evaluated in one batched forward per model.

Laws ask for model outputs on transformed inputs; ``CallBatch`` collects the
requests, then concatenates every request of a model into one forward and
splits the output (``fused=True``), or runs them one by one (less memory).
Requests that depend on other outputs (nested calls) go in a later round.
"""

from __future__ import annotations

import torch

__all__ = ["CallBatch"]


class CallBatch:
    def __init__(self, models: dict, fused: bool = True):
        self.models = models
        self.fused = fused
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
            if not self.fused or len(items) == 1:
                for handle, args in items:
                    self.outputs[handle] = fn(*args)
                continue
            sizes = [args[0].shape[0] for _, args in items]
            joined = [torch.cat([args[i] for _, args in items]) for i in range(len(items[0][1]))]
            for (handle, _), out in zip(items, torch.split(fn(*joined), sizes)):
                self.outputs[handle] = out

    def __getitem__(self, handle: int) -> torch.Tensor:
        return self.outputs[handle]
