"""Keras's Adam with each variable's update in TensorFlow's fused kernel
(note 003's "both" family: momentum + an adaptive step)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfnn")
class Adam(keras.optimizers.Adam):
    """Keras's Adam, each variable's update one fused kernel.

    The same rule, arguments, slots (``m``, ``v``) and config as
    ``keras.optimizers.Adam``; on TensorFlow the update of each dense
    gradient runs as TensorFlow's ``ResourceApplyAdam`` kernel (one pass
    over ``w``, ``m``, ``v`` and ``g``), where Keras issues a dozen
    element-wise operations per variable::

        m += (g - m)*(1-b1)
        v += (g**2 - v)*(1-b2)
        w -= lr*sqrt(1 - b2**t)/(1 - b1**t) * m / (sqrt(v) + eps)

    Keras's operations, in Keras's order: a step agrees with Keras's to
    float rounding (the kernel may fuse a multiply-add). In a graph-mode
    loop, where each operation costs the executor a dispatch, one kernel
    per variable makes the step faster and its trace shorter
    (docs/performance.md measures it); under XLA the two compile alike.
    AMSGrad and sparse gradients (``IndexedSlices``) take Keras's own
    update.
    """

    def update_step(self, gradient, variable, learning_rate):
        if (self.amsgrad or keras.backend.backend() != "tensorflow"
                or not is_dense(gradient)):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        m = tf_variable(self._momentums[index])
        v = tf_variable(self._velocities[index])
        tf.raw_ops.ResourceApplyAdam(
            var=tf_variable(variable).handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype))


def is_dense(gradient) -> bool:
    """Whether ``gradient`` is a dense tensor (not ``IndexedSlices``, the
    gradient of an embedding lookup)."""
    return not hasattr(gradient, "indices")


def tf_variable(variable):
    """The ``tf.Variable`` behind a Keras variable (or the variable)."""
    return variable.value if isinstance(variable, keras.Variable) else variable
