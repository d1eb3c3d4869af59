"""The notes' vocabulary as Keras objects, each registry keyed by the names
users type: ``activations``, ``layers``, ``initializers``, ``optimizers``,
``schedules``, ``batch_norm`` and ``dropout`` (the notes' BatchNorm and
dropout as Keras layers) and ``rbm`` (restricted Boltzmann machine
pre-training)."""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "activations": "tfnn.nn",
    "batch_norm": "tfnn.nn",
    "dropout": "tfnn.nn",
    "initializers": "tfnn.nn",
    "layers": "tfnn.nn",
    "optimizers": "tfnn.nn",
    "rbm": "tfnn.nn",
    "schedules": "tfnn.nn",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
