"""symspec.runtime: small torch kernels the generated modules import.

Device- and dtype-agnostic (everything follows its inputs), no Python loop
over examples, randomness from a ``torch.Generator``.  Each submodule lists
its public names in ``__all__``; this package exports exactly their union.
"""

from . import (
    actions,
    arith,
    breaking,
    calls,
    checks,
    conv,
    descriptors,
    distributions,
    divergences,
    fields,
    groups,
    layers,
    logic,
    physics,
    priors,
    sampling,
    steerable,
    tables,
)
from .actions import *  # noqa: F403
from .arith import *  # noqa: F403
from .breaking import *  # noqa: F403
from .calls import *  # noqa: F403
from .checks import *  # noqa: F403
from .conv import *  # noqa: F403
from .descriptors import *  # noqa: F403
from .distributions import *  # noqa: F403
from .divergences import *  # noqa: F403
from .fields import *  # noqa: F403
from .groups import *  # noqa: F403
from .layers import *  # noqa: F403
from .logic import *  # noqa: F403
from .physics import *  # noqa: F403
from .priors import *  # noqa: F403
from .sampling import *  # noqa: F403
from .steerable import *  # noqa: F403
from .tables import *  # noqa: F403

__all__ = [
    *actions.__all__,
    *arith.__all__,
    *breaking.__all__,
    *calls.__all__,
    *checks.__all__,
    *conv.__all__,
    *descriptors.__all__,
    *distributions.__all__,
    *divergences.__all__,
    *fields.__all__,
    *groups.__all__,
    *layers.__all__,
    *logic.__all__,
    *physics.__all__,
    *priors.__all__,
    *sampling.__all__,
    *steerable.__all__,
    *tables.__all__,
]
