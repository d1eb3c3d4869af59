"""Activation layers that Keras does not ship in the form the notes use.

Note 003 lists sigmoid, tanh, ReLU, Leaky ReLU, PReLU, ELU and Maxout, plus
TensorFlow 1's ``tf.nn`` activations (``relu6``, ``crelu``, ``relu_x`` …).
Keras covers most of them; the layers here fill the gaps:

* :class:`LeakyReLU` – ``max(αx, x)`` with the notes' ``alpha`` (0.01 by
  default, note 003 also uses 0.1). Keras 3's layer calls it
  ``negative_slope`` and defaults to 0.3; both names are accepted here.
* :class:`ReLUX` – ReLU capped at ``max_value`` (``tf.nn.relu_x``).
* :class:`CReLU` – concatenated ReLU ``[relu(x), relu(−x)]``: doubles width.
* :class:`Maxout` – ``max_j (w_jᵀx + b_j)`` over ``k`` pieces. The pieces
  are the ``k·units`` outputs of the preceding linear layer, so a maxout
  unit carries ``k`` times the parameters of a ReLU unit (note 004 says
  this of Leaky ReLU by mistake; it is Maxout that doubles them, k=2).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfnn")
class LeakyReLU(keras.layers.Layer):
    """Leaky ReLU: ``f(x) = x if x >= 0 else α·x``.

    Args:
        alpha: slope for ``x < 0``. Defaults to 0.01 (the notes also use
            0.1). Must be in ``[0, 1)``.
        negative_slope: Keras 3's name for ``alpha``; give one, not both.

    Call arguments:
        inputs: a tensor of any shape.
    """

    def __init__(self, alpha=None, negative_slope=None, **kwargs):
        super().__init__(**kwargs)
        if alpha is not None and negative_slope is not None:
            raise ValueError(
                "Give `alpha` or `negative_slope`, not both. Received: "
                f"alpha={alpha}, negative_slope={negative_slope}"
            )
        slope = alpha if alpha is not None else negative_slope
        slope = 0.01 if slope is None else float(slope)
        if not 0.0 <= slope < 1.0:
            raise ValueError(
                f"`alpha` must be in [0, 1). Received: alpha={slope}"
            )
        self.alpha = slope
        self.supports_masking = True

    def call(self, inputs):
        return ops.where(inputs >= 0, inputs, self.alpha * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="tfnn")
class ReLUX(keras.layers.Layer):
    """ReLU capped at ``max_value``: ``f(x) = min(max(0, x), max_value)``.

    ``relu6`` is ``ReLUX(6.0)``.

    Args:
        max_value: the cap, a positive number. Defaults to 1.0.
    """

    def __init__(self, max_value=1.0, **kwargs):
        super().__init__(**kwargs)
        if max_value <= 0:
            raise ValueError(
                f"`max_value` must be positive. Received: max_value={max_value}"
            )
        self.max_value = float(max_value)

    def call(self, inputs):
        return ops.clip(inputs, 0.0, self.max_value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value}


@keras.saving.register_keras_serializable(package="tfnn")
class CReLU(keras.layers.Layer):
    """Concatenated ReLU: ``f(x) = concat([relu(x), relu(-x)], axis)``.

    The output is twice as wide as the input along ``axis``.

    Args:
        axis: the axis to concatenate along. Defaults to -1.

    Reference: Shang et al., 2016, "Understanding and Improving CNNs via
    Concatenated Rectified Linear Units".
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs):
        return ops.concatenate([ops.relu(inputs), ops.relu(-inputs)], self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if shape[self.axis] is not None:
            shape[self.axis] *= 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@keras.saving.register_keras_serializable(package="tfnn")
class Maxout(keras.layers.Layer):
    """Maxout over ``pieces`` linear pieces: ``f = max_j (w_jᵀx + b_j)``.

    The layer takes the ``units·pieces`` outputs of a linear layer (Dense or
    Conv) and returns ``units`` values: feature ``i`` is the maximum of
    inputs ``i·pieces … i·pieces + pieces − 1`` (the grouping of
    ``tf.contrib.layers.maxout``). The model factories therefore make the
    linear layer before it ``pieces`` times wider: a maxout layer with
    ``k = 2`` has twice the parameters of a ReLU layer of the same width.

    Args:
        pieces: ``k``, the number of linear pieces per unit. Defaults to 2.

    Attributes:
        input_multiplier: ``pieces``; how much wider the linear layer before
            this one must be to produce ``units`` outputs.
    """

    def __init__(self, pieces=2, **kwargs):
        super().__init__(**kwargs)
        if int(pieces) != pieces or pieces < 1:
            raise ValueError(
                "`pieces` must be a positive integer. "
                f"Received: pieces={pieces}"
            )
        self.pieces = int(pieces)

    @property
    def input_multiplier(self):
        return self.pieces

    def build(self, input_shape):
        width = input_shape[-1]
        if width is not None and width % self.pieces:
            raise ValueError(
                f"Maxout with pieces={self.pieces} needs an input width "
                f"divisible by {self.pieces}. Received: width={width}"
            )

    def call(self, inputs):
        shape = ops.shape(inputs)
        width = inputs.shape[-1]
        grouped = ops.reshape(  # (..., units, pieces)
            inputs, (*shape[:-1], width // self.pieces, self.pieces)
        )
        return ops.max(grouped, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.pieces)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}
