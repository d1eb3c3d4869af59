"""``python -m tfnn …`` is the ``tfnn`` command (tfnn.cli)."""

import sys

from tfnn.cli import main

sys.exit(main())
