"""The train step, defined once: the readable loop, the fast path, the
overfit check and the benchmark's profile all run :func:`train_step`.

::

    with tf.GradientTape() as tape:
        out = model(x, training=True)        # BN: batch statistics, updates
                                             #     its moving averages;
                                             # dropout: random masks
        loss = mean CE(y, out) + Σ model.losses   # softmax CE on logits
                                             #     (002) + L2 reg (004)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply(grads, model.trainable_variables)

Evaluation calls ``model(x, training=False)``: BatchNorm uses its moving
averages and dropout is the identity (002's ``model.eval()``).
"""

from __future__ import annotations

import keras
import tensorflow as tf


def compute_loss(model, out, y, from_logits=True, global_batch_size=None):
    """Softmax cross-entropy averaged over the global batch + L2 terms.

    ``tf.nn.compute_average_loss`` divides by the *global* batch (all
    replicas), so summing the replicas' gradients gives the mean gradient;
    ``scale_regularization_loss`` divides the L2 term by the replica count.
    Outside a distribution strategy both are the plain mean and sum.

    ``global_batch_size`` is the examples of the step on all replicas
    together; by default TensorFlow takes this replica's batch times the
    replicas, which is wrong for a last batch that does not split evenly.
    """
    per_example = keras.losses.sparse_categorical_crossentropy(
        y, _scores(out), from_logits=from_logits
    )
    loss = tf.nn.compute_average_loss(per_example,
                                      global_batch_size=global_batch_size)
    if model.losses:
        loss += tf.nn.scale_regularization_loss(
            tf.add_n([tf.cast(r, tf.float32) for r in model.losses])
        )
    return loss


def train_step(model, optimizer, x, y, from_logits=True,
               global_batch_size=None):
    """One optimizer step on the batch ``(x, y)``; returns (loss, correct).

    ``training=True``: BatchNorm normalizes with the batch's μ_B, σ²_B and
    moves its averages by ``(1 − momentum)·(batch stat − average)``;
    dropout zeroes each unit with probability ``rate`` and scales the rest
    by ``1/(1 − rate)``. Under mixed precision the optimizer is a
    ``LossScaleOptimizer``: the loss is scaled before the gradient and the
    gradients unscaled (and the step skipped if not finite) in ``apply``.
    Under a strategy of several replicas ``global_batch_size`` is the
    step's examples on all of them (see :func:`compute_loss`).
    """
    loss, out, grads = loss_and_gradients(model, optimizer, x, y,
                                          from_logits, global_batch_size)
    optimizer.apply(grads, model.trainable_variables)
    return loss, _correct(out, y)


def loss_and_gradients(model, optimizer, x, y, from_logits=True,
                       global_batch_size=None):
    """The first half of :func:`train_step`: forward (``training=True``),
    loss and the (loss-scaled) gradients; returns ``(loss, out, grads)``."""
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = compute_loss(model, out, y, from_logits, global_batch_size)
        scaled = optimizer.scale_loss(loss)
    grads = tape.gradient(scaled, model.trainable_variables)
    return loss, out, grads


def eval_step(model, x, y, from_logits=True):
    """Summed data loss and correct count with ``training=False``."""
    out = model(x, training=False)
    per_example = keras.losses.sparse_categorical_crossentropy(
        y, _scores(out), from_logits=from_logits
    )
    loss = tf.reduce_sum(per_example)
    return loss, _correct(out, y)


def current_learning_rate(optimizer) -> float:
    """The learning rate ``optimizer`` applies at its next step: a
    schedule is evaluated at ``iterations``; a ``LossScaleOptimizer``
    answers for the optimizer it wraps."""
    opt = getattr(optimizer, "inner_optimizer", optimizer)
    lr = opt.learning_rate
    value = lr(opt.iterations) if callable(lr) else lr
    return float(tf.convert_to_tensor(value))


def _scores(out):
    """The model's output as the loss must see it, in float32.

    Keras tags a sigmoid/softmax layer's output with the logits before it
    (``_keras_logits``) and its cross-entropy silently uses those instead.
    Note 000's sigmoid output must reach the loss as it is (PyTorch's
    CrossEntropyLoss after nn.Sigmoid), so the tag is dropped here.
    """
    return tf.identity(tf.cast(out, tf.float32))


def _correct(out, y):
    """How many rows of ``out`` have their largest score at label ``y``."""
    pred = tf.argmax(out, axis=-1, output_type=tf.int64)
    return tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(y, tf.int64)),
                                 tf.int64))
