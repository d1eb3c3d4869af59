"""A package's public names, loaded on first use (PEP 562).

Every package of tfnn exports its names the same way::

    from tfnn.lazy import lazy_exports

    _EXPORTS = {"Trainer": "tfnn.training.trainer", ...}
    __all__ = sorted(_EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

Each entry reads as an import: ``"Trainer": "tfnn.training.trainer"`` is
``from tfnn.training.trainer import Trainer``, done on first use of
``tfnn.training.Trainer`` (or ``from tfnn.training import Trainer``). So
``import tfnn`` and the command line's ``--help`` never wait for
TensorFlow, and a package's ``__init__.py`` is a table of where each of
its public names lives (docs/api.md describes them).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], object], Callable[[], list]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module it is imported from, as in
            ``from MODULE import NAME``: an attribute of that module, or,
            when the module is ``package`` itself, its submodule
            (``{"layers": "tfnn.nn"}`` in ``tfnn.nn`` exports
            ``tfnn.nn.layers``). A name must not be that of a submodule
            of ``package`` that it does not stand for: importing the
            submodule would replace it.

    Returns:
        ``(__getattr__, __dir__)``. ``__getattr__(name)`` imports and
        returns the name, and raises AttributeError, as a module does, for
        any name not in ``exports``; ``__dir__()`` lists the package's
        globals and its exports.
    """
    exports = dict(exports)

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(
                f"module {package!r} has no attribute {name!r}")
        if exports[name] == package:
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(exports[name]), name)

    def __dir__() -> list:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
