"""Audit a model's own parameter symmetries (``docs/model-symmetries.md``); imports torch.

``symspec.audit(model, example_inputs)`` (this package is callable) finds attention QK/VO GL(d_head) symmetries, key
and value biases, ReLU-family rescalings, norm scales and the softmax shift, verifies each numerically, and reports
counts, the functional rank and per-head invariant spectra.  ``QuotientOptimizer`` trains on the quotient.
"""

from __future__ import annotations

import sys
import types

from .find import find_symmetries
from .quotient import QuotientOptimizer, canonicalize, project_out
from .report import AuditReport
from .run import audit

__all__ = ["audit", "AuditReport", "find_symmetries", "QuotientOptimizer", "project_out", "canonicalize"]


class _CallableModule(types.ModuleType):
    """``symspec.audit`` is both this package and the function: ``symspec.audit(model, x)``."""

    def __call__(self, *args, **kwargs) -> AuditReport:
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
