"""Models from the notes' vocabulary: the MLP/CNN factories, test-time
shifts and ensembles.

``load(path)`` reads a saved ``.keras`` model with every tfnn layer,
initializer and optimizer known to Keras.
"""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "build_cnn": "tfnn.models.factories",
    "build_mlp": "tfnn.models.factories",
    "build_model": "tfnn.models.factories",
    "custom_objects": "tfnn.models.saving",
    "load_model": "tfnn.models.saving",
    "save_model": "tfnn.models.saving",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
