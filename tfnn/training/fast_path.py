"""The fast path: a whole epoch in one compiled function.

The readable loop runs one compiled step per mini-batch from Python, with
tf.data handing over each batch. The fast path instead holds the training
set as one tensor and runs ``n // batch_size`` steps of the same
:func:`~tfnn.training.steps.train_step` inside a ``tf.while_loop``,
gathering each batch in-graph in the readable loop's order
(:func:`~tfnn.training.distribute.epoch_order`): no Python, no tf.data
and no host round trip between steps, which on a small MLP is most of the
time of a step.

Where XLA helps (dense layers, BatchNorm, dropout:
:func:`~tfnn.training.loop_choice.fast_path_jit`) the WHOLE epoch is one XLA
computation: the loop, the gathers, forward, backward and the optimizer
update are compiled together, so XLA fuses across the step boundary and
keeps the loop's state in its own buffers. Two things make that fast:

* the training tensors are *captured* by the function (closed over), not
  loop-carried: a loop variable is a buffer XLA may copy each iteration,
  a captured one is read in place by each batch's ``gather``;
* the batches are the rows of a ``[steps, b]`` index matrix, so each
  iteration reads one row (``order[i]``) instead of slicing a flat
  ``order`` with computed bounds.

Convolutions stay on a graph-mode loop (TensorFlow's own kernels are far
faster than XLA's on a CPU); the loop is then the same, only not compiled
by XLA.
"""

from __future__ import annotations

import tensorflow as tf

from tfnn.data.arrays import as_tensor


def make_epoch_function(step, x_all, y_all, batch_size, jit=False):
    """The compiled whole-epoch function around ``step``.

    Args:
        step: ``step(xb, yb) -> (loss, correct)``, one optimizer step (a
            plain function such as :func:`~tfnn.training.steps.train_step`
            bound to a model and optimizer; it is traced into the loop).
        x_all, y_all: the training set (float32 examples, int64
            labels), captured by the function; NumPy arrays are shared
            with TensorFlow where they can be
            (:func:`tfnn.data.arrays.as_tensor`), not copied.
        batch_size: examples per step, ``b``.
        jit: compile the whole epoch (loop, gathers, steps) with XLA.
            Defaults to False (a graph-mode loop).

    Returns:
        ``fn(order) -> (steps_run, total_loss, correct, losses)``: runs
        ``len(order) // b`` steps on the batches ``order[i·b:(i+1)·b]`` of
        ``(x_all, y_all)`` and stops after the first non-finite loss;
        ``total_loss`` is Σ loss·b, ``losses`` the ``steps_run`` step
        losses.
    """
    b = int(batch_size)
    x_all = as_tensor(x_all, tf.float32)  # shared, not copied, when it can
    y_all = as_tensor(y_all, tf.int64)

    def epoch_fn(order):
        steps = tf.shape(order)[0] // b
        rows = tf.reshape(order[:steps * b], [steps, b])  # one row a step
        losses = tf.TensorArray(tf.float32, size=steps)

        def body(i, total, correct, losses, last):
            idx = rows[i]
            loss, c = step(tf.gather(x_all, idx), tf.gather(y_all, idx))
            loss = tf.cast(loss, tf.float32)
            return (i + 1, total + loss * b, correct + c,
                    losses.write(i, loss), loss)

        def cond(i, total, correct, losses, last):
            return tf.logical_and(i < steps, tf.math.is_finite(last))

        i, total, correct, losses, _ = tf.while_loop(
            cond, body, (tf.constant(0), tf.constant(0.0),
                         tf.constant(0, tf.int64), losses,
                         tf.constant(0.0)))
        return i, total, correct, losses.stack()  # all ``steps`` slots

    # AutoGraph is not needed (the loop is an explicit tf.while_loop) and
    # its source rewrite of the step would slow every cold start.
    compiled = tf.function(epoch_fn, jit_compile=bool(jit), autograph=False,
                           input_signature=[tf.TensorSpec((None,), tf.int32)])

    def fn(order):
        done, total, correct, losses = compiled(order)
        # The slots after a stop were never written (zeros): cut them here,
        # outside the compiled function, whose output shapes are static.
        return done, total, correct, losses[:int(done)]

    fn.compiled = compiled
    return fn
