"""``python -m tfnn.cli …`` is the ``tfnn`` command (for a Python whose
scripts folder is not on PATH, and for the processes tfnn starts itself:
workers, servers)."""

import sys

from tfnn.cli.router import main

sys.exit(main())
