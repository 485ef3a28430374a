"""The units of Z/nZ as a table: a law variable over ``units(n)`` is drawn (or enumerated) as an index into it."""

from __future__ import annotations

import torch

__all__ = ["unit_values"]


def unit_values(n: int) -> torch.Tensor:
    """The values 1..n-1 coprime to n, increasing (``[0]`` for n = 1, where 0 is the unit), as a long tensor."""
    if n == 1:
        return torch.zeros(1, dtype=torch.long)
    values = torch.arange(1, n, dtype=torch.long)
    return values[torch.gcd(values, torch.tensor(n, dtype=torch.long)) == 1]
