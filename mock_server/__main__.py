"""``python -m mock_server`` is ``memmock``."""

import sys

from .cli import main

sys.exit(main())
