"""``python -m tfnn …`` is the ``tfnn`` command."""

import sys

from tfnn.cli import main

sys.exit(main())
