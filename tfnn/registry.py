"""A registry keyed by the names users type (the notes' vocabulary).

Every vocabulary module (activations, initializers, optimizers, schedules…)
keeps one :class:`Registry`. ``get()`` passes objects through, builds a fresh
object from a string key, and fails loudly with the list of valid keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def check_key(identifier, choices, kind: str) -> str:
    """The key of ``identifier`` among ``choices``, case and ``-`` folded
    (``"Leaky-ReLU"`` → ``"leaky_relu"``), as every name users type is.

    Raises:
        ValueError: ``Unknown {kind} 'x'; choose from [...]`` (sorted).
    """
    key = str(identifier).lower().replace("-", "_")
    if key not in choices:
        raise ValueError(f"Unknown {kind} {identifier!r}; "
                         f"choose from {sorted(choices)}")
    return key

class Registry:
    """A lowercase name → factory mapping with a helpful ``get``.

    Args:
        kind: what the registry holds, used in error messages
            (e.g. ``"activation"``).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, doc: str = ""):
        """Decorator: register ``factory`` under ``name`` (lowercase)."""

        def decorator(factory):
            self.add(name, factory, doc)
            return factory

        return decorator

    def add(self, name: str, factory: Callable[..., Any], doc: str = ""):
        key = name.lower()
        if key in self._factories:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._factories[key] = factory
        self._docs[key] = doc or (getattr(factory, "__doc__", "") or "").strip()

    def names(self) -> list[str]:
        """The valid keys, sorted."""
        return sorted(self._factories)

    def describe(self, name: str) -> str:
        """One line about ``name`` (the first line of its docstring)."""
        doc = self._docs[self.key(name)]
        return doc.splitlines()[0] if doc else ""

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name.lower() in self._factories

    def key(self, identifier: str) -> str:
        """The registered key for ``identifier`` (case and ``-`` folded).

        Raises:
            ValueError: naming the unknown identifier and the valid keys.
        """
        return check_key(identifier, self._factories, self.kind)

    def get(self, identifier, **kwargs):
        """Build the object named ``identifier`` with ``kwargs``.

        Non-string identifiers (already-built objects, callables) are
        returned unchanged; ``kwargs`` must then be empty.
        """
        if not isinstance(identifier, str):
            if kwargs:
                raise ValueError(
                    f"Keyword arguments {sorted(kwargs)} only apply to a "
                    f"{self.kind} given by name. Received: {identifier!r}"
                )
            return identifier
        return self._factories[self.key(identifier)](**kwargs)
