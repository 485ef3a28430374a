"""Arithmetic of law terms on reals and tensors: per-example broadcasting.

A law's reals are one value per example (``[n]``) and its tensors ``[n, *dims]``;
torch broadcasts from the last dim, which would pair a real's batch dim with a
tensor's last dim.  :func:`align_batch` inserts the missing dims after the
batch dim, so that ``x + t`` with ``x: [n, N, 3]`` and ``t: [n, 3]`` (or a real
``c: [n]``) broadcasts per example, as the law's types say.
"""

from __future__ import annotations

import torch

__all__ = ["align_batch"]


def align_batch(x, rank: int):
    """``x`` reshaped to ``[n, 1, ..., 1, *dims]`` with ``rank`` dims after the batch dim (``rank >= len(dims)``).

    A Python number, or a tensor with ``rank`` dims after its batch dim already, is returned as it is.
    """
    if not isinstance(x, torch.Tensor) or x.dim() == 0:
        return x
    missing = rank - (x.dim() - 1)
    if missing <= 0:
        return x
    return x.reshape(x.shape[0], *([1] * missing), *x.shape[1:])
