"""Saving and loading tfnn models as ``.keras`` files.

A ``.keras`` file names its custom classes (``tfnn>LeakyReLU`` …); Keras
finds them only once the modules that define them are imported.
:func:`load_model` imports them here, in one place, and hands Keras the
classes explicitly, so no caller imports a module just for its side effect.
"""

from __future__ import annotations

import os

import keras

from tfnn.models import tta
from tfnn.nn import (
    batch_norm,
    dropout,
    initializers,
    layers,
    optimizers,
    rbm,
    schedules,
)

# Every module that defines a registered (serializable) tfnn class.
_DEFINING_MODULES = (layers, batch_norm, dropout, initializers, optimizers,
                     rbm, schedules, tta)


def custom_objects() -> dict[str, type]:
    """``{registered name: class}`` of every serializable tfnn class.

    The registered name is Keras's ``"tfnn>ClassName"``.
    """
    found = {}
    for module in _DEFINING_MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__:
                name = keras.saving.get_registered_name(value)
                if name.startswith("tfnn>"):
                    found[name] = value
    return found


def load_model(path: str, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` model that may use any tfnn layer, initializer or
    optimizer.

    Args:
        path: the ``.keras`` file.
        compile: also restore the optimizer and loss. Defaults to True.
    """
    return keras.saving.load_model(path, custom_objects=custom_objects(),
                                   compile=compile)


def save_model(model: keras.Model, path: str) -> None:
    """``model.save`` to a temporary file, then rename: a reader never sees
    half a file."""
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)
