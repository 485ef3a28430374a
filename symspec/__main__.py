"""``python -m symspec`` is the ``symspec`` command."""

import sys

from .cli import main

sys.exit(main())
