"""The function every format is converted from: the SavedModel's own
``serving_default`` with a known-rank input.

The SavedModel's signatures take ``images`` of unknown rank (``[batch, 28,
28]`` or ``[batch, 784]``); converters need a rank (LiteRT's XNNPack
delegate cannot prepare a graph without one: "failed to reshape"). So the
loaded signature is wrapped in a ``tf.function`` with the input spec
``float32 [None, 28, 28]``: the same graph (the preprocessing in it, the
model with ``training=False``), raw pixels 0..255 in, ``probabilities``
and ``classes`` out::

    serve(images[None, 28, 28]) = serving_default(images)

Reference: TensorFlow, "Concrete functions" and ``tf.function``'s
``input_signature``, https://www.tensorflow.org/guide/function.
"""

from __future__ import annotations

import tensorflow as tf

from tfnn.shipping.integrity import load_savedmodel
from tfnn.shipping.metadata import INPUT_NAME, OUTPUT_NAMES

IMAGE_SHAPE = (28, 28)


def input_spec() -> tf.TensorSpec:
    """``float32 [None, 28, 28]`` named ``images``."""
    return tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32, name=INPUT_NAME)


def conversion_module(version_dir) -> tf.Module:
    """A ``tf.Module`` whose ``serve`` is ``serving_default`` of the
    SavedModel at ``version_dir`` with a ``[None, 28, 28]`` input.

    The module holds the loaded SavedModel (its variables live as long as
    the module does).
    """
    module = tf.Module()
    module.loaded = load_savedmodel(version_dir)
    signature = module.loaded.signatures["serving_default"]

    @tf.function(input_signature=[input_spec()])
    def serve(images):
        out = signature(**{INPUT_NAME: images})
        return {name: out[name] for name in OUTPUT_NAMES}

    module.serve = serve
    return module
