"""The compiled ``break`` statement's runtime: a spec's ``BREAKS`` applied to a model (docs/model-symmetries.md).

The biases themselves live in :mod:`symspec.nn` (``break_attention``, ``apply_breaks``); this
module re-exports them so that a generated module needs only ``symspec.runtime``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from ..nn.breaking import apply_breaks, break_attention

__all__ = ["apply_breaks", "break_attention", "break_model"]

_ENTRY_KEYS = ("query", "value", "modules")


def break_model(
    model: nn.Module, breaks: Sequence[dict[str, Any]], of: str | None = None, generator: torch.Generator | None = None
) -> list[str]:
    """Apply the entries of ``breaks`` (a generated module's ``BREAKS``) that name model ``of``; the patched names.

    ``of=None`` takes the one model the spec breaks (a UsageError when it breaks several).  Each
    entry holds ``break``, ``model``, ``span`` and ``break_attention``'s ``query``, ``value`` and
    ``modules``; an error of ``break_attention`` is raised again with the statement's position.
    """
    models = list(dict.fromkeys(entry["model"] for entry in breaks))
    if of is None:
        if len(models) != 1:
            listed = ", ".join(models) or "no model"
            raise UsageError(f"break_symmetries: the spec breaks {listed}; pass of=NAME to say which one this model is")
        of = models[0]
    elif of not in models:
        raise UsageError(f"break_symmetries: the spec has no break of model {of!r}; it breaks {', '.join(models) or 'none'}")
    names: list[str] = []
    for entry in breaks:
        if entry["model"] != of:
            continue
        try:
            patched = apply_breaks(model, [{k: entry[k] for k in _ENTRY_KEYS}], generator)
        except UsageError as err:
            raise UsageError(f"{entry['span']}: break {entry['break']}: {err}") from None
        names += [n for n in patched if n not in names]
    return names
