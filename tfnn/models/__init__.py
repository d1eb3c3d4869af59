"""Models from the notes' vocabulary: the MLP/CNN factories, test-time
shifts and ensembles.

``load(path)`` reads a saved ``.keras`` model with every tfnn layer,
initializer and optimizer known to Keras.
"""

from tfnn.models.factories import (
    augmentation_layers,
    build_cnn,
    build_mlp,
    build_model,
)
from tfnn.models.saving import custom_objects, load_model, save_model

__all__ = ["augmentation_layers", "build_cnn", "build_mlp", "build_model",
           "custom_objects", "load_model", "save_model"]
