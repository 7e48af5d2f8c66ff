"""``python -m flowkit.cli``: the same as the ``flowkit`` command."""

import sys

from . import main

sys.exit(main())
