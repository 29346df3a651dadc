"""``python -m scratchnn``: the same as the ``scratchnn`` command."""

import sys

from .apps.cli import main

sys.exit(main())
