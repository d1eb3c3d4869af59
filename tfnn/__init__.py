"""tfnn: a Keras 3 / TensorFlow 2 reference port of study notes on training
neural networks: activations, weight initialization, BatchNorm, dropout and
optimizers, the training loop that shows them at work, and shipping the
trained model.

``import tfnn`` is instant and changes nothing in the interpreter: no
environment variable, no import hook. TensorFlow loads on first use of a
name below (each package exports its names lazily, :mod:`tfnn.lazy`;
docs/api.md lists them).
"""

from tfnn.lazy import lazy_exports

__version__ = "0.1.0"

# The house, bottom to top (each layer imports only from the layers before
# it; tests/test_architecture.py checks it):
#   batched_inference, config, lazy, provenance, registry, runtime
#             plain values, bookkeeping
#   nn        the notes' vocabulary: activations, layers, initializers,
#             optimizers, schedules, rbm
#   data      offline tfds build, preprocessing, tf.data pipelines
#   models    factories, test-time shifts, ensembles
#   training  train step, Trainer and its fast path, Keras fit, a whole run
#   shipping  SavedModel export, versions, verification
#   serving   TensorFlow Serving's REST API, model repository, client
#   studies   experiments, assignment, benchmark, gallery
#   cli       the tfnn command (and ``python -m tfnn``)
_EXPORTS = {
    "config": "tfnn",
    "data": "tfnn",
    "models": "tfnn",
    "nn": "tfnn",
    "serving": "tfnn",
    "shipping": "tfnn",
    "studies": "tfnn",
    "training": "tfnn",
    # The notes' vocabulary, one step from the top:
    # ``from tfnn import activations, initializers, optimizers``.
    "activations": "tfnn.nn",
    "initializers": "tfnn.nn",
    "layers": "tfnn.nn",
    "optimizers": "tfnn.nn",
    "schedules": "tfnn.nn",
    "ModelConfig": "tfnn.config",
    "TrainConfig": "tfnn.training",
    "build_model": "tfnn.models",
    "build_mlp": "tfnn.models",
    "build_cnn": "tfnn.models",
    "Trainer": "tfnn.training",
    "History": "tfnn.training",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
