"""The ``tfnn`` command line (the top of the house): ``main`` (in
``router``) routes to the commands in ``tfnn.cli.commands``; ``flags``
turns config dataclasses into argparse options. ``python -m tfnn`` and
``python -m tfnn.cli`` run it too."""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "main": "tfnn.cli.router",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
