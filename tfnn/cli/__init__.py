"""The ``tfnn`` command line (the top of the house): ``main`` routes to the
commands in ``tfnn.cli.commands``; ``flags`` turns config dataclasses into
argparse options."""

from tfnn.cli.main import main

__all__ = ["main"]
