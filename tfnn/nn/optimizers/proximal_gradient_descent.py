"""Proximal gradient descent (FOBOS), TF1's
``ProximalGradientDescentOptimizer`` as a Keras optimizer (note 003)."""

from __future__ import annotations

import keras
from keras import ops

from tfnn.nn.optimizers.proximal import ProximalOptimizer, proximal_l1_l2


@keras.saving.register_keras_serializable(package="tfnn")
class ProximalGradientDescent(ProximalOptimizer):
    """Gradient descent followed by an l1/l2 proximal step (FOBOS).

    The rule of TF1's ``ApplyProximalGradientDescent``:

    ```python
    prox_v = w - lr * g
    if l1 > 0:
        w = sign(prox_v) * max(abs(prox_v) - lr * l1, 0) / (1 + lr * l2)
    else:
        w = prox_v / (1 + lr * l2)
    ```

    The ``max(.., 0)`` sets every weight with ``|prox_v| <= lr*l1`` to
    exactly zero, which is how l1 yields sparse weights. With ``l1 = l2 = 0``
    this is plain gradient descent. The rule keeps no state, so there are no
    slots to build.

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        {{l1_l2_args}}

    Reference:
        - Duchi & Singer, 2009, "Efficient Learning using Forward-Backward
          Splitting" (FOBOS), NIPS 22.
        - ``tf.compat.v1.train.ProximalGradientDescentOptimizer``.
    """

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        prox_v = ops.subtract(variable, ops.multiply(lr, gradient))
        self.assign(
            variable,
            proximal_l1_l2(
                prox_v,
                lr,
                self.l1_regularization_strength,
                self.l2_regularization_strength,
            ),
        )
