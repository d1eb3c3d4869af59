"""The fast path: a whole epoch in one compiled function.

The readable loop runs one compiled step per mini-batch from Python, with
tf.data handing over each batch. The fast path instead holds the training
set as one tensor and runs ``n // batch_size`` steps of the same
:func:`~tfnn.training.steps.train_step` inside a ``tf.while_loop``,
gathering each batch in-graph in the readable loop's order
(:func:`epoch_order`): no Python, no tf.data and no host round trip
between steps, which on a small MLP is most of the time of a step.

The loop itself is never XLA-compiled (only, where
:func:`~tfnn.training.choice.fast_path_jit` says so, the step inside):
under XLA:CPU each iteration's ``gather`` paid for the whole training
tensor, so the time per step grew with the size of the training set, while
the graph loop gathers in O(batch).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfnn.training.distribute import epoch_seed


def epoch_order(n, seed, epoch) -> np.ndarray:
    """The order in which epoch ``epoch`` visits the ``n`` examples: the
    readable loop's (:func:`~tfnn.training.distribute.epoch_dataset`), so
    both loops train on the same batches and the loop a run takes changes
    its speed, not its numbers. It is drawn from ``(seed, epoch)`` (and
    TensorFlow's global seed) only, so a resumed run repeats it exactly."""
    if n == 0:
        return np.zeros(0, np.int32)
    # The shuffle epoch_dataset's tf.data pipeline draws (a buffer of all
    # n, the same seed), over the indices alone: the same permutation,
    # without carrying the examples through tf.data.
    order = tf.data.Dataset.range(n).shuffle(
        n, seed=epoch_seed(seed, epoch), reshuffle_each_iteration=True)
    return order.batch(n).get_single_element().numpy().astype(np.int32)


def make_epoch_function(step, input_shape, batch_size):
    """The compiled whole-epoch function around ``step``.

    Args:
        step: ``step(xb, yb) -> (loss, correct)``, one optimizer step (a
            compiled :func:`~tfnn.training.steps.train_step`).
        input_shape: one example's shape, e.g. ``(28, 28)``.
        batch_size: examples per step, ``b``.

    Returns:
        ``fn(x_all, y_all, order) -> (steps_run, total_loss, correct,
        losses)``: runs ``len(order) // b`` steps on the batches
        ``order[i·b:(i+1)·b]`` of ``(x_all, y_all)`` and stops after the
        first non-finite loss; ``total_loss`` is Σ loss·b, ``losses`` the
        ``steps_run`` step losses.
    """
    b = int(batch_size)

    def epoch_fn(x_all, y_all, order):
        steps = tf.shape(order)[0] // b
        losses = tf.TensorArray(tf.float32, size=steps)

        def body(i, total, correct, losses, last):
            idx = order[i * b:(i + 1) * b]
            loss, c = step(tf.gather(x_all, idx),  # (b, ...)
                           tf.gather(y_all, idx))
            return (i + 1, total + loss * b, correct + c,
                    losses.write(i, loss), loss)

        def cond(i, total, correct, losses, last):
            return tf.logical_and(i < steps, tf.math.is_finite(last))

        i, total, correct, losses, _ = tf.while_loop(
            cond, body, (tf.constant(0), tf.constant(0.0),
                         tf.constant(0, tf.int64), losses,
                         tf.constant(0.0)))
        return i, total, correct, losses.stack()[:i]

    return tf.function(epoch_fn, input_signature=[
        tf.TensorSpec((None, *input_shape), tf.float32),
        tf.TensorSpec((None,), tf.int64),
        tf.TensorSpec((None,), tf.int32)])
