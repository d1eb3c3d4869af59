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

__version__ = "0.1.0"

_SUBMODULES = (
    "activations",
    "assignment",
    "config",
    "data",
    "experiments",
    "export",
    "initializers",
    "layers",
    "models",
    "optimizers",
    "rbm",
    "runner",
    "schedules",
    "training",
    "tta",
)
_NAMES = {
    "ModelConfig": "config",
    "build_model": "models",
    "build_mlp": "models",
    "build_cnn": "models",
    "Trainer": "training",
    "TrainConfig": "training",
    "History": "training",
}

__all__ = sorted((*_SUBMODULES, *_NAMES))


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"tfnn.{name}")
    if name in _NAMES:
        module = _importlib.import_module(f"tfnn.{_NAMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'tfnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
