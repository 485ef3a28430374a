"""symspec: a compiler for task symmetries.

State what leaves a task unchanged in a ``.sym`` file; symspec parses and
checks it (this package's front end) and compiles it to PyTorch.  Importing
``symspec`` does not import torch.
"""

from .analysis import Spec
from .errors import ParamError, SpecError, SpecNameError, SpecSyntaxError, SpecTypeError, SymspecError, UsageError
from .pipeline import check, compile, load, loads
from .syntax import parse
from .version import __version__


def __getattr__(name):
    if name == "assert_equivariant":  # imports torch: only on demand
        from .testing import assert_equivariant

        return assert_equivariant
    if name == "audit":  # imports torch: only on demand; the package is callable (docs/model-symmetries.md)
        import importlib

        return importlib.import_module(".audit", __name__)
    if name in ("nn", "optim"):  # import torch: only on demand (docs/model-symmetries.md)
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'symspec' has no attribute {name!r}")


def check_data(spec, data, model=None, laws=None, **kwargs):
    """Check a labelled dataset against a spec's laws, as a partial model; returns a report (imports torch; docs/data.md)."""
    from .data.check import check_data as _check_data

    return _check_data(spec, data, model, laws, **kwargs)


def suggest(data, signature=None, spec=None, model=None, **kwargs):
    """The laws a labelled dataset supports, as a spec with evidence (imports torch; docs/data.md)."""
    from .data.suggest import suggest as _suggest

    return _suggest(data, signature, spec, model, **kwargs)


def validate(spec, /, **kwargs):
    """Check a spec's laws on trained models and return a report (imports torch; docs/validation.md)."""
    from .validation import validate as _validate

    return _validate(spec, **kwargs)


__all__ = [
    "__version__",
    "load",
    "loads",
    "compile",
    "check",
    "validate",
    "check_data",
    "suggest",
    "assert_equivariant",
    "audit",
    "nn",
    "optim",
    "parse",
    "Spec",
    "SymspecError",
    "SpecError",
    "SpecSyntaxError",
    "SpecNameError",
    "SpecTypeError",
    "UsageError",
    "ParamError",
]
