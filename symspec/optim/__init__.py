"""Optimizers for models with symmetries of their own (docs/model-symmetries.md): ``ECD`` and ``Quotient``.

``Quotient`` is ``symspec.audit.quotient.QuotientOptimizer`` (training on the quotient by the model's
symmetries), loaded on first use: importing ``symspec.optim`` does not import the audit machinery.
"""

from .ecd import ECD

__all__ = ["ECD", "Quotient"]


def __getattr__(name: str):
    if name == "Quotient":
        from ..audit.quotient import QuotientOptimizer

        return QuotientOptimizer
    raise AttributeError(f"module 'symspec.optim' has no attribute {name!r}")
