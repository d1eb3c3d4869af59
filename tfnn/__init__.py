"""tfnn: a Keras 3 / TensorFlow 2 reference port of study notes on training
neural networks: activations, weight initialization, BatchNorm, dropout and
optimizers, the training loop that shows them at work, and shipping the
trained model.

``import tfnn`` is instant and silent; TensorFlow loads on first use of a
submodule or of a name below (PEP 562 lazy attributes).
"""

import importlib as _importlib
import os as _os

# TensorFlow's INFO/WARNING logs (oneDNN notices …) stay quiet unless the
# user asked for them.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Keras imports matplotlib for two plotting helpers tfnn never calls: held
# back until first used (0.45 s of every process; see tfnn.runtime).
from tfnn.runtime import defer_matplotlib_in_keras as _defer  # noqa: E402

_defer()

__version__ = "0.1.0"

# The house, bottom to top (each layer imports only from the layers before
# it; tests/test_architecture.py checks it):
#   batching, config, provenance, registry, runtime   plain values, bookkeeping
#   nn        the notes' vocabulary: activations, layers, initializers,
#             optimizers, schedules, rbm
#   data      offline tfds build, preprocessing, tf.data pipelines
#   models    factories, test-time shifts, ensembles
#   training  train step, Trainer and its fast path, Keras fit, a whole run
#   shipping  SavedModel export, versions, verification
#   serving   TensorFlow Serving's REST API, model repository, client
#   studies   experiments, assignment, benchmark, gallery
#   cli       the tfnn command
_SUBMODULES = {
    "batching": "tfnn.batching",
    "cli": "tfnn.cli",
    "config": "tfnn.config",
    "data": "tfnn.data",
    "models": "tfnn.models",
    "nn": "tfnn.nn",
    "provenance": "tfnn.provenance",
    "registry": "tfnn.registry",
    "runtime": "tfnn.runtime",
    "serving": "tfnn.serving",
    "shipping": "tfnn.shipping",
    "studies": "tfnn.studies",
    "training": "tfnn.training",
    # The notes' vocabulary, one step from the top as the README uses it:
    # ``from tfnn import activations, initializers, optimizers``.
    "activations": "tfnn.nn.activations",
    "initializers": "tfnn.nn.initializers",
    "layers": "tfnn.nn.layers",
    "optimizers": "tfnn.nn.optimizers",
    "schedules": "tfnn.nn.schedules",
}
_NAMES = {
    "ModelConfig": "tfnn.config",
    "TrainConfig": "tfnn.training",
    "build_model": "tfnn.models",
    "build_mlp": "tfnn.models",
    "build_cnn": "tfnn.models",
    "Trainer": "tfnn.training",
    "History": "tfnn.training",
}

__all__ = sorted((*_SUBMODULES, *_NAMES))


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(_SUBMODULES[name])
    if name in _NAMES:
        module = _importlib.import_module(_NAMES[name])
        return getattr(module, name)
    raise AttributeError(f"module 'tfnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
