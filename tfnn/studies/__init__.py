"""What the notes claim, measured: ``experiments`` (one module per claim,
each ``run`` → data, ``plot`` → figure), ``assignment`` (note 003's staged
journey to MNIST records), ``benchmark`` (speed beside Keras fit and
PyTorch), ``speedrun`` (a cold process to 99 % test accuracy, timed) and
``gallery`` (docs/experiments.md). The helpers they share: ``mnist_runs``
(data cuts, one trainer), ``figures``, ``measures`` (ratios, percentages,
means), ``processes`` (a function run in a fresh, timed process) and
``torch_twin`` (the PyTorch copies of tfnn's models)."""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "assignment": "tfnn.studies",
    "benchmark": "tfnn.studies",
    "experiments": "tfnn.studies",
    "gallery": "tfnn.studies",
    "speedrun": "tfnn.studies",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
