"""Adagrad dual averaging, TF1's ``AdagradDAOptimizer`` as a Keras
optimizer (note 003)."""

from __future__ import annotations

import keras
from keras import ops

from tfnn.nn.optimizers.proximal import ProximalOptimizer, positive_float


@keras.saving.register_keras_serializable(package="tfnn")
class AdagradDA(ProximalOptimizer):
    """Adagrad Dual Averaging: weights in closed form from gradient sums.

    The rule of TF1's ``ApplyAdagradDA``, with ``t`` the step count after
    this step (1 on the first step, TF1's ``global_step + 1``):

    ```python
    grad_acc += g                      # starts at 0
    grad_sq_acc += g**2                # starts at initial value
    if l1 > 0:
        w = (sign(-grad_acc) * max(abs(grad_acc) - l1 * t, 0) * lr
             / (l2 * t * lr + sqrt(grad_sq_acc)))
    else:
        w = -grad_acc * lr / (l2 * t * lr + sqrt(grad_sq_acc))
    ```

    The new weight does not depend on the old one: it is recomputed from the
    accumulated gradients, so a coordinate whose average gradient
    ``|grad_acc| / t`` stays below ``l1`` is exactly zero. TF1's docs warn
    that this suits sparse linear models more than deep networks.

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` or a callable.
            Defaults to ``0.01``.
        initial_gradient_squared_accumulator_value: starting value of
            ``grad_sq_acc``, ``> 0``. Defaults to ``0.1`` (TF1's default).
        {{l1_l2_args}}

    Reference:
        - [Duchi et al., 2011](http://jmlr.org/papers/v12/duchi11a.html),
          "Adaptive Subgradient Methods for Online Learning and Stochastic
          Optimization".
        - ``tf.compat.v1.train.AdagradDAOptimizer``.
    """

    CONFIG = ("initial_gradient_squared_accumulator_value",)

    def __init__(
        self,
        learning_rate=0.01,
        initial_gradient_squared_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, l1_regularization_strength,
                         l2_regularization_strength, **kwargs)
        self.initial_gradient_squared_accumulator_value = positive_float(
            "initial_gradient_squared_accumulator_value",
            initial_gradient_squared_accumulator_value)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._grad_accumulators = self.slots(var_list,
                                             "gradient_accumulator")
        self._grad_squared_accumulators = self.slots(
            var_list, "gradient_squared_accumulator",
            self.initial_gradient_squared_accumulator_value)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        index = self._get_variable_index(variable)
        grad_acc = self._grad_accumulators[index]
        grad_sq_acc = self._grad_squared_accumulators[index]
        self.assign_add(grad_acc, gradient)
        self.assign_add(grad_sq_acc, ops.square(gradient))
        t = ops.cast(self.iterations + 1, dtype)  # TF1's global_step + 1
        l1 = self.l1_regularization_strength
        l2 = self.l2_regularization_strength
        denominator = ops.add(
            ops.multiply(ops.multiply(l2, t), lr), ops.sqrt(grad_sq_acc)
        )
        if l1 > 0:
            numerator = ops.multiply(
                ops.sign(ops.negative(grad_acc)),
                ops.maximum(
                    ops.subtract(ops.abs(grad_acc), ops.multiply(l1, t)), 0.0
                ),
            )
        else:
            numerator = ops.negative(grad_acc)
        self.assign(
            variable, ops.divide(ops.multiply(numerator, lr), denominator)
        )
