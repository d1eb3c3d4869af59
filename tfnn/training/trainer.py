"""The Trainer: the notes' double loop (epochs × mini-batches) around the
one :func:`~tfnn.training.steps.train_step`, in two forms.

* The readable loop (``fast=False``): one compiled step per mini-batch of
  a tf.data epoch, called from Python.
* The fast path (``fast=True``): a whole epoch in one compiled function
  (:mod:`tfnn.training.fast_path`), one XLA computation where XLA helps;
  the last, smaller batch goes through the per-step function.

Around both, :meth:`Trainer.fit` runs Keras callbacks
(:mod:`tfnn.training.callbacks`): per-epoch checkpoints that resume
exactly, the History and its ``history.json``, TensorBoard logs, the
progress bar, and the stop with a clear message the moment the loss turns
NaN/Inf. :meth:`Trainer.initial_loss` is note 004's first sanity check.
"""

from __future__ import annotations

import logging
import math
import os
import time

import keras
import tensorflow as tf

from tfnn import data as tfnn_data
from tfnn.batched_inference import batch_slices, map_batches
from tfnn.data.arrays import as_tensor
from tfnn.nn import optimizers as tfnn_optimizers
from tfnn.training.callbacks import (
    HISTORY_FILE,
    Checkpoints,
    EpochLogger,
    HistoryWriter,
    ProgressBar,
    RecordHistory,
    StopOnNonFinite,
    TensorBoardLogger,
)
from tfnn.training.distribute import batch_len, epoch_dataset, epoch_order
from tfnn.training.fast_path import make_epoch_function
from tfnn.training.history import History
from tfnn.training.loop_choice import fast_path_jit
from tfnn.training.sharding import (
    global_batch_sizes,
    is_multiworker,
    sharded_dataset,
)
from tfnn.training.steps import (
    current_learning_rate,
    eval_step,
    train_step,
)

logger = logging.getLogger(__name__)


class Trainer:
    """Runs :func:`~tfnn.training.steps.train_step` over epochs of
    mini-batches.

    Args:
        model: a Keras model (built under ``strategy.scope()`` when a
            strategy is given).
        optimizer: a Keras optimizer, or a key of
            ``tfnn.nn.optimizers.names()``.
        from_logits: whether the model's output goes to softmax
            cross-entropy as logits. Defaults to True.
        jit: XLA-compile the train step (both loops). Defaults to False.
        strategy: a ``tf.distribute`` strategy. Defaults to the default one.
        fast: train on the fast path (single replica only). Defaults to
            False.
        fast_jit: XLA-compile the fast path's whole epoch (loop and
            steps). Defaults to ``jit`` or
            :func:`~tfnn.training.loop_choice.fast_path_jit`.
    """

    def __init__(self, model, optimizer, from_logits=True, jit=False,
                 strategy=None, fast=False, fast_jit=None):
        self.model = model
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():
            optimizer = tfnn_optimizers.get(optimizer)
            if (model.dtype_policy.name == "mixed_float16" and not
                    isinstance(optimizer, keras.optimizers.LossScaleOptimizer)):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            # Slots are created now, outside tf.function.
            optimizer.build(model.trainable_variables)
        self.optimizer = optimizer
        self.from_logits = from_logits
        self.trace_count = 0  # how often the train step was (re)traced
        distributed = self.strategy.num_replicas_in_sync > 1
        self.fast = bool(fast) and not distributed
        if fast_jit is None:
            fast_jit = True if jit else fast_path_jit(model)
        self.fast_jit = bool(fast_jit)
        self.history = History()  # of the latest fit
        self.initial_epoch = 0  # where the latest fit started (resumed)
        self._fast_step = None
        self._epoch_fns = {}
        self._fast_data = (None, None, None)
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        label = tf.TensorSpec((None,), tf.int64)
        # A new tf.function per trainer: its variables are its own. One
        # signature with a free batch axis: a single trace for every batch
        # (distributed batches are PerReplica values: traced by structure).
        # No AutoGraph: the steps are plain TensorFlow (no Python branch on
        # a tensor), and its source rewrite would slow every start.
        self._train_fn = tf.function(
            self._replicated_step,
            input_signature=None if distributed else [spec, label],
            reduce_retracing=distributed, jit_compile=jit, autograph=False)
        self._eval_fn = tf.function(
            lambda x, y: eval_step(self.model, x, y, self.from_logits),
            input_signature=[spec, label], autograph=False)

    def _replicated_step(self, x, y):
        distributed = self.strategy.num_replicas_in_sync > 1

        def step(x, y):
            self.trace_count += 1  # Python side effect: runs at trace only
            # The loss is divided by the step's examples on all replicas
            # (an all-reduce of the replicas' batch sizes: a last batch may
            # not split evenly).
            n = (tf.distribute.get_replica_context().all_reduce(
                "SUM", tf.shape(y)[0]) if distributed else None)
            return train_step(self.model, self.optimizer, x, y,
                              self.from_logits, global_batch_size=n)

        loss, correct = self.strategy.run(step, args=(x, y))
        return (self.strategy.reduce("SUM", loss, axis=None),
                self.strategy.reduce("SUM", correct, axis=None))

    # -- steps ------------------------------------------------------------

    def train_batch(self, x, y):
        """One compiled train step on the batch ``(x, y)`` (tensors, or
        ``PerReplica`` values of a distributed dataset); returns
        ``(loss, correct)`` as tensors, summed over the replicas."""
        return self._train_fn(x, y)

    def step(self, x, y):
        """One compiled train step; returns (mean loss, correct) as numbers."""
        loss, correct = self.train_batch(tf.convert_to_tensor(x, tf.float32),
                                         tf.convert_to_tensor(y, tf.int64))
        return float(loss), int(correct)

    def _plain_step(self, xb, yb):
        """The fast path's :func:`~tfnn.training.train_step`, uncompiled:
        traced into the whole-epoch function (or :meth:`fast_step`)."""
        self.trace_count += 1  # Python side effect: runs at trace only
        return train_step(self.model, self.optimizer, xb, yb,
                          self.from_logits)

    def fast_step(self):
        """The fast path's train step as a compiled function of its own
        (XLA when ``fast_jit``), the step :meth:`epoch_function` traces
        into its loop; the benchmark profiles it alone."""
        if self._fast_step is None:
            self._fast_step = tf.function(self._plain_step,
                                          jit_compile=self.fast_jit,
                                          autograph=False)
        return self._fast_step

    def epoch_function(self, x, y, batch_size):
        """The fast path's compiled whole-epoch function over the training
        set ``(x, y)`` for ``batch_size`` (built once per array and size):
        ``fn(order) -> (steps_run, total_loss, correct, losses)``, see
        :func:`~tfnn.training.fast_path.make_epoch_function`; the whole
        epoch is one XLA computation when ``fast_jit``."""
        if self._fast_data[0] is not x:
            # The training set as tensors, converted once per array and
            # captured by the epoch functions.
            self._fast_data = (x, as_tensor(x, tf.float32),
                               as_tensor(y, tf.int64))
            self._epoch_fns = {}
        b = int(batch_size)
        if b not in self._epoch_fns:
            _, xt, yt = self._fast_data
            self._epoch_fns[b] = make_epoch_function(
                self._plain_step, xt, yt, b, jit=self.fast_jit)
        return self._epoch_fns[b]

    def evaluate(self, x, y, batch_size=2000):
        """(mean data loss, accuracy) with ``training=False``."""
        total_loss, total_correct = 0.0, 0
        for s in batch_slices(len(x), batch_size):
            loss, correct = self._eval_fn(as_tensor(x[s], tf.float32),
                                          as_tensor(y[s], tf.int64))
            total_loss += float(loss)
            total_correct += int(correct)
        return total_loss / len(x), total_correct / len(x)

    def predict(self, x, batch_size=2000):
        """The model's outputs on ``x`` in inference mode, as NumPy."""
        return map_batches(lambda xb: self.model(xb, training=False), x,
                           batch_size)

    def initial_loss(self, x, y, num_classes=10, n=2048):
        """Note 004's first sanity check: the loss before any step.

        With small weights every class gets ≈ 1/C, so the data loss is
        ≈ ln(C) (2.303 for 10 classes); L2 adds ``reg·ΣW²`` on top.
        """
        x, y = x[:n], y[:n]
        data_loss, _ = self.evaluate(x, y)
        reg_loss = float(sum(float(r) for r in self.model.losses))
        return {
            "data_loss": data_loss,
            "reg_loss": reg_loss,
            "loss": data_loss + reg_loss,
            "expected": math.log(num_classes),
        }

    def current_lr(self) -> float:
        """The learning rate of the next step."""
        return current_learning_rate(self.optimizer)

    def rng_states(self):
        """``{"rng_i": variable}`` of the model's RNG states. Keras keeps
        each dropout layer's RNG in a SeedGenerator state variable that
        ``tf.train.Checkpoint(model=…)`` does not track; a resumed run
        needs it to draw the masks an uninterrupted run draws."""
        states = [v for v in self.model.variables
                  if "seed_generator_state" in v.path]
        return {f"rng_{i}": v for i, v in enumerate(states)}

    def epoch_dataset(self, x, y, batch_size, epoch, seed,
                      drop_remainder=False):
        """This epoch's batches for the readable loop (see
        :func:`~tfnn.training.distribute.epoch_dataset`); under
        ``MultiWorkerMirroredStrategy`` this worker's slices of them
        (:func:`~tfnn.training.sharding.sharded_dataset`)."""
        if is_multiworker(self.strategy):
            return sharded_dataset(x, y, batch_size, [epoch], seed,
                                   self.strategy, drop_remainder)
        return epoch_dataset(x, y, batch_size, epoch, seed, drop_remainder,
                             self.strategy)

    # -- the loop ---------------------------------------------------------

    def fit(self, x, y, *, epochs=1, batch_size=128, validation=None,
            seed=0, drop_remainder=False, checkpoint_dir=None,
            tensorboard_dir=None, histograms=False, progress=True,
            record_steps=True, on_epoch_end=None, callbacks=None,
            save_dir=None, loss_guard="stop", loss_guard_factor=3.0,
            initial_loss=None) -> History:
        """Train for ``epochs`` epochs; resume from ``checkpoint_dir``.

        Args:
            x, y: training images (float32) and labels (int).
            epochs: epochs in total (a resumed run does the rest).
            batch_size: examples per step; 0 or None: the whole set.
            validation: ``(x_val, y_val)`` evaluated each epoch, or None.
            seed: draws each epoch's order (with the epoch number).
            drop_remainder: drop the last smaller batch.
            checkpoint_dir: saves model, optimizer, epoch counter and the
                RNG states each epoch, and ``history.json``; a restart
                continues from there.
            tensorboard_dir: writes TensorBoard scalars (and histograms).
            histograms: per-layer activation and gradient histograms.
            progress: show a Keras progress bar per epoch.
            record_steps: keep every step's loss in ``History.step_loss``.
            on_epoch_end: ``f(epoch, history)`` called after each epoch.
            callbacks: more Keras callbacks, called after tfnn's own.
            save_dir: where this process saves the checkpoints and
                ``history.json``; defaults to ``checkpoint_dir``, where it
                resumes from (a non-chief worker saves into a temporary
                folder, see :func:`tfnn.training.cluster.write_dir`).
            loss_guard, loss_guard_factor: a loss above
                ``loss_guard_factor`` × the initial loss: "stop", "warn"
                or "off" (:class:`StopOnNonFinite`). Defaults to "stop", 3.
            initial_loss: the loss before training. Defaults to
                :meth:`initial_loss` measured now if no step was made yet.

        Returns:
            The :class:`History` of all epochs (resumed ones included),
            also kept as ``self.history``.

        Raises:
            TrainingDiverged: the loss became NaN/Inf or climbed above
                ``loss_guard_factor`` × the initial loss; the last
                checkpoint on disk is the last good epoch.
        """
        batch_size = None if batch_size in (0, None) else int(batch_size)
        steps = tfnn_data.num_batches(len(x), batch_size, drop_remainder)
        self.history, self.initial_epoch = History(), 0
        if (initial_loss is None and loss_guard != "off"
                and int(self.optimizer.iterations) == 0):
            initial_loss = self.initial_loss(x, y)["loss"]  # before restore
        own = self.fit_callbacks(
            checkpoint_dir, tensorboard_dir, progress,
            (x[:256], y[:256]) if histograms else None, save_dir,
            StopOnNonFinite(self.optimizer, checkpoint_dir, loss_guard,
                            loss_guard_factor, initial_loss))
        if on_epoch_end is not None:
            own.append(keras.callbacks.LambdaCallback(
                on_epoch_end=lambda e, logs: on_epoch_end(e + 1,
                                                          self.history)))
        cbs = keras.callbacks.CallbackList(
            own + list(callbacks or []), model=self.model, epochs=epochs,
            steps=steps, verbose=int(bool(progress)))
        cbs.on_train_begin()
        for epoch in range(self.initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            t0 = time.perf_counter()
            losses, total, correct, seen = self.run_epoch(
                x, y, batch_size, epoch, seed, drop_remainder, cbs)
            if record_steps:
                self.history.step_loss.extend(losses)
            logs = {"loss": total / seen, "accuracy": correct / seen,
                    "learning_rate": self.current_lr(), "examples": seen}
            if validation is not None:
                logs["val_loss"], logs["val_accuracy"] = self.evaluate(
                    *validation)
            logs["seconds"] = time.perf_counter() - t0
            cbs.on_epoch_end(epoch, logs)
        cbs.on_train_end()
        return self.history

    def fit_callbacks(self, checkpoint_dir=None, tensorboard_dir=None,
                      progress=True, histogram_data=None,
                      save_dir=None, loss_guard=None) -> list:
        """tfnn's own callbacks of :meth:`fit`, in the order they run:
        restore/save checkpoints, record the History, write
        ``history.json``, the loss guard (``loss_guard``, a
        :class:`StopOnNonFinite`; defaults to one with no initial loss),
        progress bar, epoch log line, TensorBoard."""
        cbs = []
        save_dir = save_dir or checkpoint_dir
        if checkpoint_dir:
            cbs.append(Checkpoints(self, checkpoint_dir, save_dir=save_dir))
        cbs.append(RecordHistory(self.history, self.optimizer))
        if checkpoint_dir:
            cbs.append(HistoryWriter(
                self.history, os.path.join(save_dir, HISTORY_FILE)))
        cbs.append(loss_guard or StopOnNonFinite(self.optimizer,
                                                 checkpoint_dir))
        if progress:
            cbs.append(ProgressBar())
        cbs.append(EpochLogger())
        if tensorboard_dir:
            cbs.append(TensorBoardLogger(tensorboard_dir, self.history,
                                         histogram_data, self.from_logits))
        return cbs

    def run_epoch(self, x, y, batch_size, epoch, seed=0,
                  drop_remainder=False, callbacks=None):
        """Train one epoch on ``(x, y)`` with this trainer's loop (the fast
        path or the readable one).

        Args:
            callbacks: a ``keras.callbacks.CallbackList`` told of the
                batches. Defaults to one that only stops at a non-finite
                loss.

        Returns:
            ``(step_losses, total_loss, correct, seen)``.
        """
        if callbacks is None:
            callbacks = keras.callbacks.CallbackList(
                [StopOnNonFinite(self.optimizer)], model=self.model)
            callbacks.on_epoch_begin(epoch)
        run = self._fast_epoch if self.fast else self._readable_epoch
        return run(x, y, batch_size, epoch, seed, drop_remainder, callbacks)

    def _readable_epoch(self, x, y, batch_size, epoch, seed, drop_remainder,
                        callbacks):
        """The notes' inner loop, one compiled step per mini-batch."""
        losses, total, correct, seen, here = [], 0.0, 0, 0, 0
        # The global batches' sizes (a worker holds only its slices).
        sizes = global_batch_sizes(len(x), batch_size, drop_remainder)
        for i, (xb, yb) in enumerate(self.epoch_dataset(
                x, y, batch_size, epoch, seed, drop_remainder)):
            loss, c = self.train_batch(xb, yb)
            loss, b = float(loss), sizes[i]
            total, correct, seen = total + loss * b, correct + int(c), seen + b
            here += batch_len(xb)
            losses.append(loss)
            callbacks.on_train_batch_end(i, {"loss": total / seen,
                                             "accuracy": correct / seen})
        logger.debug("epoch %d: %d of the %d examples trained here",
                     epoch + 1, here, seen)
        return losses, total, correct, seen

    def _fast_epoch(self, x, y, batch_size, epoch, seed, drop_remainder,
                    callbacks):
        """An epoch through :meth:`epoch_function`; the last, smaller
        batch (if kept) goes through the per-step function."""
        n = len(x)
        b = n if batch_size is None else min(int(batch_size), n)
        fn = self.epoch_function(x, y, b)
        _, xt, yt = self._fast_data
        order = tf.convert_to_tensor(epoch_order(n, seed, epoch))
        done, total, correct, losses = fn(order)
        losses = [float(v) for v in losses.numpy()]
        total, correct, seen = float(total), int(correct), int(done) * b
        if losses:
            callbacks.on_train_batch_end(len(losses) - 1, {
                "loss": total / seen, "accuracy": correct / seen})
        rest = order[seen:]
        if len(rest) and not drop_remainder and int(done) == n // b:
            loss, c = self.train_batch(tf.gather(xt, rest),
                                       tf.gather(yt, rest))
            losses.append(float(loss))
            total += float(loss) * len(rest)
            correct += int(c)
            seen += len(rest)
            callbacks.on_train_batch_end(len(losses) - 1, {
                "loss": total / seen, "accuracy": correct / seen})
        return losses, total, correct, seen
