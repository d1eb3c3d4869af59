"""Proximal Adagrad, TF1's ``ProximalAdagradOptimizer`` as a Keras
optimizer (note 003)."""

from __future__ import annotations

import keras
from keras import ops

from tfnn.nn.optimizers.proximal import (
    ProximalOptimizer,
    positive_float,
    proximal_l1_l2,
)


@keras.saving.register_keras_serializable(package="tfnn")
class ProximalAdagrad(ProximalOptimizer):
    """Adagrad's per-coordinate step followed by an l1/l2 proximal step.

    The rule of TF1's ``ApplyProximalAdagrad`` (no epsilon: the accumulator
    starts at ``initial_accumulator_value > 0``):

    ```python
    accum += g**2                      # accum starts at initial value
    lr_t = lr / sqrt(accum)
    prox_v = w - lr_t * g
    if l1 > 0:
        w = sign(prox_v) * max(abs(prox_v) - lr_t * l1, 0) / (1 + lr_t * l2)
    else:
        w = prox_v / (1 + lr_t * l2)
    ```

    With ``l1 = l2 = 0`` this is TF1's Adagrad (``w -= lr*g/sqrt(accum)``).

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        initial_accumulator_value: starting value of ``accum``, ``> 0``.
            Defaults to ``0.1`` (TF1's default).
        {{l1_l2_args}}

    Reference:
        - [Duchi et al., 2011](http://jmlr.org/papers/v12/duchi11a.html),
          "Adaptive Subgradient Methods for Online Learning and Stochastic
          Optimization".
        - ``tf.compat.v1.train.ProximalAdagradOptimizer``.
    """

    CONFIG = ("initial_accumulator_value",)

    def __init__(
        self,
        learning_rate=0.01,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, l1_regularization_strength,
                         l2_regularization_strength, **kwargs)
        self.initial_accumulator_value = positive_float(
            "initial_accumulator_value", initial_accumulator_value)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.slots(
            var_list, "accumulator", self.initial_accumulator_value)

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        accum = self._accumulators[self._get_variable_index(variable)]
        self.assign_add(accum, ops.square(gradient))
        lr_t = ops.divide(lr, ops.sqrt(accum))  # per coordinate
        prox_v = ops.subtract(variable, ops.multiply(lr_t, gradient))
        self.assign(
            variable,
            proximal_l1_l2(
                prox_v,
                lr_t,
                self.l1_regularization_strength,
                self.l2_regularization_strength,
            ),
        )
