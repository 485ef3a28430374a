"""Stage 5: measure a trained model against its spec (``symspec validate``; docs/validation.md).

The package is ``symspec.validation`` (not ``symspec.validate``) so that the
function ``symspec.validate`` is never shadowed by a submodule of that name.
"""

from .report import LawReport, Report, wilson_interval
from .run import validate

__all__ = ["validate", "Report", "LawReport", "wilson_interval"]
