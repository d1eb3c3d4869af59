"""Batch normalization whose step on images is one fused kernel.

Note 004's BatchNorm, per channel ``c`` over the batch and the spatial
positions (``n = N·H·W`` values)::

    μ_B = mean(x),  σ²_B = mean((x − μ_B)²)          # biased variance
    y   = γ · (x − μ_B) / sqrt(σ²_B + ε) + β
    moving_mean ← m · moving_mean + (1 − m) · μ_B    # Keras's momentum m
    moving_var  ← m · moving_var  + (1 − m) · σ²_B

and at inference ``y = γ · (x − moving_mean) / sqrt(moving_var + ε) + β``.

Keras 3's ``BatchNormalization`` computes this from a dozen separate
operations (moments, subtract, rsqrt, multiply, add …) and its gradient
from as many again; on a small convnet they cost more than the
convolutions themselves (``python scripts/benchmark.py``'s speedrun rows;
docs/performance.md has the figures). TensorFlow has the whole forward as
one kernel and the whole backward as another (``FusedBatchNormV3`` and its
gradient, which oneDNN accelerates). :class:`BatchNormalization` uses
them for 4-D channels-last inputs, in training and at inference. At
inference the fused kernel also lets TensorFlow's graph optimizer fold the
normalization into the convolution before it, and the ReLU after it, as
one oneDNN kernel (``_FusedConv2D``): the speedrun CNN's test with its
shifts takes a quarter less time. Other ranks and axes, synchronized
(multi-replica) statistics, renorm and layers without γ or β keep Keras's
code (so do a symbolic ``training`` flag and ε below the fused kernel's
floor of 1.001e-5), so what it computes and saves is Keras's layer's.

``FusedBatchNormV3`` returns the *unbiased* batch variance
``σ²_B · n/(n − 1)`` for the moving average; it is scaled back by
``(n − 1)/n`` so the moving statistics are Keras's too.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfnn")
class BatchNormalization(keras.layers.BatchNormalization):
    """Keras's ``BatchNormalization`` (same arguments, same saved config)
    with one fused kernel for NHWC images (see the module).

    Call arguments:
        inputs: a tensor.
        training: normalize with the batch's statistics and update the
            moving ones (True) or with the moving ones.
    """

    def _fused(self, inputs, training) -> bool:
        rank = inputs.shape.rank
        # ``fused_batch_norm`` raises ε below 1.001e-5 to that floor (its
        # cuDNN contract): a smaller ε keeps Keras's exact formula.
        # ``training``: a Python flag (None is inference, as Keras reads
        # it); a symbolic one keeps Keras's code. A frozen layer
        # (``trainable=False``) normalizes with its moving statistics.
        # The kernel computes in float32: float64 keeps Keras's code.
        flag = training is None or isinstance(training, bool)
        return (flag and rank == 4
                and inputs.dtype in (tf.float16, tf.bfloat16, tf.float32)
                and (self.trainable or not training)
                and self.axis in (-1, rank - 1)
                and self.center and self.scale and self.epsilon > 1.001e-5
                and not self.synchronized and not self.renorm)

    def call(self, inputs, training=None, mask=None):
        if mask is not None or not self._fused(inputs, training):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)  # as Keras: statistics in float32
        if not training:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, tf.cast(self.gamma, tf.float32),
                tf.cast(self.beta, tf.float32),
                mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32),
                epsilon=self.epsilon, data_format="NHWC", is_training=False)
            return tf.cast(y, self.compute_dtype)
        y, mean, var = tf.compat.v1.nn.fused_batch_norm(
            x, tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32),
            epsilon=self.epsilon, data_format="NHWC", is_training=True)
        shape = tf.shape(x)
        n = tf.cast(shape[0] * shape[1] * shape[2], tf.float32)
        var = var * (n - 1.0) / tf.maximum(n, 2.0)  # back to σ²_B (biased)
        m = self.momentum
        self.moving_mean.assign(
            self.moving_mean * m + tf.cast(mean, self.moving_mean.dtype)
            * (1.0 - m))
        self.moving_variance.assign(
            self.moving_variance * m + tf.cast(var, self.moving_variance.dtype)
            * (1.0 - m))
        return tf.cast(y, self.compute_dtype)
