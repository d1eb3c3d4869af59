"""``python -m tfnn …`` runs ``python -m tfnn.cli …``: the command line's
one entry point (tfnn/cli/__main__.py), not a second copy of it."""

import runpy

runpy.run_module("tfnn.cli", run_name="__main__", alter_sys=True)
