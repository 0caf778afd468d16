"""``python -m kandisco``: the same as the ``kandisco`` command."""

import sys

from .cli import main

sys.exit(main())
