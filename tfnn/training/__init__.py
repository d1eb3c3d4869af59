"""Training: the notes' double loop (epochs × mini-batches), written out.

One train step, defined once (:func:`train_step`) and compiled per trainer
with ``tf.function``::

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

:class:`Trainer` runs that step over epochs with a progress bar, TensorBoard
logs, per-epoch checkpoints that resume exactly, and the babysitting of
note 004: the loss at initialization beside ln(num_classes), an
overfit-a-tiny-subset check, and a stop with a clear message the moment the
loss turns NaN/Inf. :func:`fit_keras` trains the same model with Keras's own
``compile``/``fit`` on the same batches, to compare.

Batch modes of notes 001/002: ``batch_size=0`` (or the ``gd`` optimizer) is
full-batch gradient descent, ``batch_size=1`` is SGD, anything else is
mini-batch gradient descent; ``drop_remainder`` is PyTorch's ``drop_last``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import keras
import numpy as np
import tensorflow as tf

from tfnn import data as tfnn_data
from tfnn.nn import optimizers as tfnn_optimizers
from tfnn.nn import schedules as tfnn_schedules
from tfnn.config import ModelConfig, dataclass_from_dict
from tfnn.provenance import write_json

logger = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multiworker")
LOOPS = ("fast", "custom", "fit")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf: gradients exploded."""


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How to train: data, optimizer, batches, epochs and run options."""

    dataset: str = "mnist"  # "mnist" or "fashion_mnist"
    preprocessing: str = "standardize"  # "raw", "minmax", "standardize"
    validation_size: int = 5000  # carved from the 60,000 training images
    train_limit: Optional[int] = None  # keep only N training examples
    optimizer: str = "adam"  # a key of tfnn.nn.optimizers.names()
    optimizer_kwargs: Dict[str, Any] = field(default_factory=dict)
    learning_rate: float = 1e-3  # pick it on a log scale (001)
    schedule: str = "constant"  # "constant", "step", "cosine"
    schedule_kwargs: Dict[str, Any] = field(default_factory=dict)
    batch_size: int = 128  # 0: the whole set (gd); 1: SGD
    drop_remainder: bool = False  # PyTorch's drop_last
    epochs: int = 5
    seed: int = 0  # Python, NumPy, TF and Keras seeds
    deterministic: bool = False  # tf.config.experimental op determinism
    mixed_precision: bool = False  # mixed_float16 with loss scaling
    jit: bool = False  # XLA-compile the train step
    strategy: str = "default"  # "default", "mirrored", "multiworker"
    loop: str = "fast"  # "fast" (whole-epoch function), "custom" (the
    #                     readable per-step GradientTape loop) or "fit"
    histograms: bool = False  # TensorBoard histograms of acts and grads
    overfit_check: int = 0  # first train on N examples to 100 % (004)

    def __post_init__(self):
        if self.optimizer == "gd" and self.batch_size != 0:
            # Gradient descent proper: one step per epoch on the whole set.
            object.__setattr__(self, "batch_size", 0)
        if self.batch_size < 0:
            raise ValueError(
                "batch_size must be >= 0 (0 = whole set). "
                f"Received: batch_size={self.batch_size}"
            )
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1. Received: {self.epochs}")
        if not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate must be > 0. Received: {self.learning_rate}"
            )
        for name, value, choices in (
            ("strategy", self.strategy, STRATEGIES),
            ("loop", self.loop, LOOPS),
            ("dataset", self.dataset, tfnn_data.DATASETS),
            ("preprocessing", self.preprocessing, tfnn_data.PREPROCESSING),
        ):
            if value not in choices:
                raise ValueError(
                    f"Unknown {name} {value!r}; choose from {list(choices)}"
                )
        tfnn_optimizers.OPTIMIZERS.key(self.optimizer)
        tfnn_schedules.SCHEDULES.key(self.schedule)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        return dataclass_from_dict(cls, d)


# --------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------


@dataclass
class History:
    """Per-epoch metrics (and per-step training losses) of a run."""

    epoch: List[int] = field(default_factory=list)
    loss: List[float] = field(default_factory=list)
    accuracy: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    val_accuracy: List[float] = field(default_factory=list)
    learning_rate: List[float] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    step_loss: List[float] = field(default_factory=list)

    def append(self, **values):
        for key, value in values.items():
            getattr(self, key).append(value)

    def to_dict(self) -> Dict[str, List[float]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d) -> "History":
        return cls(**{k: list(v) for k, v in d.items()})


# --------------------------------------------------------------------------
# The step: defined once, used by the readable loop and every experiment
# --------------------------------------------------------------------------


def compute_loss(model, out, y, from_logits=True):
    """Softmax cross-entropy averaged over the global batch + L2 terms.

    ``tf.nn.compute_average_loss`` divides by the *global* batch (all
    replicas), so summing the replicas' gradients gives the mean gradient;
    ``scale_regularization_loss`` divides the L2 term by the replica count.
    Outside a distribution strategy both are the plain mean and sum.
    """
    per_example = keras.losses.sparse_categorical_crossentropy(
        y, _scores(out), from_logits=from_logits
    )
    loss = tf.nn.compute_average_loss(per_example)
    if model.losses:
        loss += tf.nn.scale_regularization_loss(
            tf.add_n([tf.cast(r, tf.float32) for r in model.losses])
        )
    return loss


def train_step(model, optimizer, x, y, from_logits=True):
    """One optimizer step on the batch ``(x, y)``; returns (loss, correct).

    ``training=True``: BatchNorm normalizes with the batch's μ_B, σ²_B and
    moves its averages by ``(1 − momentum)·(batch stat − average)``;
    dropout zeroes each unit with probability ``rate`` and scales the rest
    by ``1/(1 − rate)``. Under mixed precision the optimizer is a
    ``LossScaleOptimizer``: the loss is scaled before the gradient and the
    gradients unscaled (and the step skipped if not finite) in ``apply``.
    """
    loss, out, grads = loss_and_gradients(model, optimizer, x, y,
                                          from_logits)
    optimizer.apply(grads, model.trainable_variables)
    return loss, _correct(out, y)


def loss_and_gradients(model, optimizer, x, y, from_logits=True):
    """The first half of :func:`train_step`: forward (``training=True``),
    loss and the (loss-scaled) gradients; returns ``(loss, out, grads)``."""
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        loss = compute_loss(model, out, y, from_logits)
        scaled = optimizer.scale_loss(loss)
    grads = tape.gradient(scaled, model.trainable_variables)
    return loss, out, grads


def eval_step(model, x, y, from_logits=True):
    """Loss (data + L2) and correct count with ``training=False``."""
    out = model(x, training=False)
    per_example = keras.losses.sparse_categorical_crossentropy(
        y, _scores(out), from_logits=from_logits
    )
    loss = tf.reduce_sum(per_example)
    return loss, _correct(out, y)


def _scores(out):
    """The model's output as the loss must see it, in float32.

    Keras tags a sigmoid/softmax layer's output with the logits before it
    (``_keras_logits``) and its cross-entropy silently uses those instead.
    Note 000's sigmoid output must reach the loss as it is (PyTorch's
    CrossEntropyLoss after nn.Sigmoid), so the tag is dropped here.
    """
    return tf.identity(tf.cast(out, tf.float32))


def _correct(out, y):
    pred = tf.argmax(out, axis=-1, output_type=tf.int64)
    return tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(y, tf.int64)),
                                 tf.int64))


# --------------------------------------------------------------------------
# Seeds, strategies, precision
# --------------------------------------------------------------------------


def set_seed(seed: int, deterministic: bool = False) -> None:
    """One seed for Python, NumPy, TensorFlow and Keras; optional op
    determinism (bitwise-repeatable kernels, a little slower)."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_strategy(name: str = "default", devices=None):
    """The ``tf.distribute`` strategy called ``name``.

    ``mirrored`` copies the model to every local device (all GPUs, or the
    logical CPUs given in ``devices``) and averages gradients;
    ``multiworker`` reads the cluster from ``TF_CONFIG``.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None:
            gpus = tf.config.list_logical_devices("GPU")
            cpus = tf.config.list_logical_devices("CPU")
            devices = [d.name for d in (gpus or cpus)]
        # Reduce through one device: collective all-reduce keys clash when
        # a process creates a second MirroredStrategy over the same devices.
        return tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; choose from {STRATEGIES}")


@contextlib.contextmanager
def dtype_policy(mixed_precision: bool):
    """Build layers under ``mixed_float16`` (float16 compute, float32
    variables) when asked; the previous global policy comes back after."""
    previous = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# --------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------


class Trainer:
    """Runs :func:`train_step` over epochs of mini-batches.

    Args:
        model: a Keras model (built under ``strategy.scope()`` when a
            strategy is given).
        optimizer: a Keras optimizer, or a key of
            ``tfnn.nn.optimizers.names()``.
        from_logits: whether the model's output goes to softmax
            cross-entropy as logits. Defaults to True.
        jit: XLA-compile the train step. Defaults to False.
        strategy: a ``tf.distribute`` strategy. Defaults to the default one.
    """

    def __init__(self, model, optimizer, from_logits=True, jit=False,
                 strategy=None, fast=False):
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
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        label = tf.TensorSpec((None,), tf.int64)

        def step(x, y):
            self.trace_count += 1  # Python side effect: runs at trace only
            return train_step(self.model, self.optimizer, x, y,
                              self.from_logits)

        def replicated(x, y):
            loss, correct = self.strategy.run(step, args=(x, y))
            return (
                self.strategy.reduce("SUM", loss, axis=None),
                self.strategy.reduce("SUM", correct, axis=None),
            )

        # A new tf.function per trainer: its variables are its own. One
        # signature with a free batch axis: a single trace for every batch
        # (distributed batches are PerReplica values: traced by structure).
        distributed = self.strategy.num_replicas_in_sync > 1
        self._train = tf.function(
            replicated,
            input_signature=None if distributed else [spec, label],
            reduce_retracing=distributed,
            jit_compile=jit,
        )
        # The fast path: a whole epoch in one compiled function (see
        # :meth:`_fast_epoch`); single replica only.
        self.fast = bool(fast) and not distributed
        self.fast_jit = True if jit else fast_path_jit(model)
        self._epoch_fns = {}
        self._eval = tf.function(
            lambda x, y: eval_step(self.model, x, y, self.from_logits),
            input_signature=[spec, label],
        )

    # -- steps ------------------------------------------------------------

    def step(self, x, y):
        """One compiled train step; returns (mean loss, correct) as numbers."""
        x = tf.convert_to_tensor(x, tf.float32)
        y = tf.convert_to_tensor(y, tf.int64)
        loss, correct = self._train(x, y)
        return float(loss), int(correct)

    def evaluate(self, x, y, batch_size=2000):
        """(mean data loss, accuracy) with ``training=False``."""
        total_loss, total_correct = 0.0, 0
        for i in range(0, len(x), batch_size):
            loss, correct = self._eval(
                tf.convert_to_tensor(x[i:i + batch_size], tf.float32),
                tf.convert_to_tensor(y[i:i + batch_size], tf.int64),
            )
            total_loss += float(loss)
            total_correct += int(correct)
        return total_loss / len(x), total_correct / len(x)

    def predict(self, x, batch_size=2000):
        return np.concatenate([
            np.asarray(self.model(x[i:i + batch_size], training=False))
            for i in range(0, len(x), batch_size)
        ])

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

    # -- the loop ---------------------------------------------------------

    def epoch_dataset(self, x, y, batch_size, epoch, seed,
                      drop_remainder=False):
        """This epoch's batches: an order drawn from ``(seed, epoch)`` only,
        so a resumed run sees exactly the batches of an uninterrupted one."""
        ds = tfnn_data.make_dataset(
            x, y, batch_size=batch_size, shuffle=True,
            seed=int(seed) * 100003 + int(epoch),
            drop_remainder=drop_remainder,
        )
        return self.strategy.experimental_distribute_dataset(ds) if (
            self.strategy.num_replicas_in_sync > 1) else ds

    def fit(self, x, y, *, epochs=1, batch_size=128, validation=None,
            seed=0, drop_remainder=False, checkpoint_dir=None,
            tensorboard_dir=None, histograms=False, progress=True,
            record_steps=True, on_epoch_end=None) -> History:
        """Train for ``epochs`` epochs; resume from ``checkpoint_dir``.

        Args:
            x, y: training images (float32) and labels (int).
            epochs: epochs in total (a resumed run does the rest).
            batch_size: examples per step; 0 or None: the whole set.
            validation: ``(x_val, y_val)`` evaluated each epoch, or None.
            seed: draws each epoch's order (with the epoch number).
            drop_remainder: drop the last smaller batch.
            checkpoint_dir: saves model, optimizer, epoch counter and the
                RNG states each epoch; a restart continues from there.
            tensorboard_dir: writes TensorBoard scalars (and histograms).
            histograms: per-layer activation and gradient histograms.
            progress: show a Keras progress bar per epoch.
            record_steps: keep every step's loss in ``History.step_loss``.
            on_epoch_end: ``f(epoch, history)`` called after each epoch.

        Returns:
            The :class:`History` of all epochs (resumed ones included).

        Raises:
            TrainingDiverged: the loss became NaN/Inf; the last checkpoint
                on disk is the last good epoch.
        """
        n = len(x)
        full = batch_size in (0, None)
        steps = tfnn_data.num_batches(n, None if full else batch_size,
                                      drop_remainder)
        history = History()
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        manager = None
        if checkpoint_dir:
            ckpt = tf.train.Checkpoint(model=self.model,
                                       optimizer=self.optimizer,
                                       epoch=epoch_var,
                                       **self._rng_states())
            manager = tf.train.CheckpointManager(ckpt, checkpoint_dir,
                                                 max_to_keep=3)
            if manager.latest_checkpoint:
                ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
                saved = os.path.join(checkpoint_dir, "history.json")
                if os.path.exists(saved):
                    with open(saved) as fh:
                        history = History.from_dict(json.load(fh))
                logger.info("Resumed from %s (epoch %d)",
                            manager.latest_checkpoint, int(epoch_var))
        writer = (tf.summary.create_file_writer(tensorboard_dir)
                  if tensorboard_dir else None)
        start = int(epoch_var)
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            if progress:
                logger.info("Epoch %d/%d", epoch + 1, epochs)
            run_epoch = self._fast_epoch if self.fast else self._readable_epoch
            step_losses, total_loss, total_correct, seen = run_epoch(
                x, y, None if full else batch_size, epoch, seed,
                drop_remainder, manager, steps if progress else None)
            if record_steps:
                history.step_loss.extend(step_losses)
            values = {"epoch": epoch + 1, "loss": total_loss / seen,
                      "accuracy": total_correct / seen,
                      "learning_rate": self.current_lr(),
                      "seconds": time.perf_counter() - t0}
            if validation is not None:
                values["val_loss"], values["val_accuracy"] = self.evaluate(
                    *validation)
            history.append(**values)
            logger.info(
                "epoch %d: loss %.4f acc %.4f%s (%.1f s, %.0f ex/s)",
                epoch + 1, values["loss"], values["accuracy"],
                "" if validation is None else
                f" val_loss {values['val_loss']:.4f}"
                f" val_acc {values['val_accuracy']:.4f}",
                values["seconds"], seen / values["seconds"])
            if writer is not None:
                self._log_tensorboard(writer, epoch + 1, values, history,
                                      steps, x, y, histograms)
            epoch_var.assign(epoch + 1)
            if manager is not None:
                manager.save(checkpoint_number=epoch + 1)
                write_json(os.path.join(checkpoint_dir, "history.json"),
                            history.to_dict())
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, history)
        return history

    def run_epoch(self, x, y, batch_size, epoch, seed=0,
                  drop_remainder=False):
        """Train one epoch on ``(x, y)`` with this trainer's loop (the fast
        path or the readable one), no logging.

        Returns:
            ``(step_losses, total_loss, correct, seen)``.
        """
        run = self._fast_epoch if self.fast else self._readable_epoch
        return run(x, y, batch_size, epoch, seed, drop_remainder, None, None)

    def _readable_epoch(self, x, y, batch_size, epoch, seed, drop_remainder,
                        manager, progress_steps):
        """The notes' inner loop, one compiled step per mini-batch."""
        bar = None if progress_steps is None else keras.utils.Progbar(
            progress_steps, stateful_metrics=["loss", "acc"],
            # In a terminal the bar redraws; in a log, one line an epoch.
            verbose=1 if sys.stdout.isatty() else 2)
        losses, total_loss, total_correct, seen = [], 0.0, 0, 0
        for i, (xb, yb) in enumerate(self.epoch_dataset(
                x, y, batch_size, epoch, seed, drop_remainder)):
            loss, correct = self._train(xb, yb)
            loss, correct = float(loss), int(correct)
            if not math.isfinite(loss):
                raise TrainingDiverged(self._diverged_message(
                    epoch, i, loss, manager))
            b = _batch_len(xb)
            total_loss += loss * b
            total_correct += correct
            seen += b
            losses.append(loss)
            if bar is not None:
                bar.update(i + 1, [("loss", total_loss / seen),
                                   ("acc", total_correct / seen)])
        return losses, total_loss, total_correct, seen

    def _epoch_fn(self, batch_size):
        """One compiled function that runs ``n // batch_size`` steps of
        :func:`train_step` in a ``tf.while_loop`` over batches gathered from
        the training set held as one tensor, in a given order.

        No Python, no tf.data and no host round trip between steps: on a
        small MLP that overhead is most of the time of a step. The step
        inside is XLA-compiled when ``fast_jit`` (chosen per model by
        :func:`fast_path_jit`); the loop itself is not (see there). The loop
        stops at the first non-finite loss.
        """
        if batch_size in self._epoch_fns:
            return self._epoch_fns[batch_size]
        b = int(batch_size)
        step = self.fast_step()

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
            return i, total, correct, losses.stack()

        fn = tf.function(epoch_fn, input_signature=[
            tf.TensorSpec((None, *self.model.input_shape[1:]), tf.float32),
            tf.TensorSpec((None,), tf.int64),
            tf.TensorSpec((None,), tf.int32)])
        self._epoch_fns[batch_size] = fn
        return fn

    def fast_step(self):
        """The fast path's compiled :func:`train_step` (XLA when
        ``fast_jit``), the one :meth:`_epoch_fn` runs for every batch."""
        if getattr(self, "_fast_step", None) is None:
            self._fast_step = tf.function(
                lambda xb, yb: train_step(self.model, self.optimizer, xb, yb,
                                          self.from_logits),
                jit_compile=self.fast_jit)
        return self._fast_step

    def _fast_epoch(self, x, y, batch_size, epoch, seed, drop_remainder,
                    manager, progress_steps):
        """An epoch through :meth:`_epoch_fn`; the last, smaller batch (if
        kept) goes through the per-step function."""
        n = len(x)
        b = n if batch_size is None else min(int(batch_size), n)
        if getattr(self, "_fast_data", (None,))[0] is not x:
            # The training set as tensors, converted once per array.
            self._fast_data = (x, tf.convert_to_tensor(x, tf.float32),
                               tf.convert_to_tensor(y, tf.int64))
        _, xt, yt = self._fast_data
        order = tf.convert_to_tensor(epoch_order(n, seed, epoch))
        done, total, correct, losses = self._epoch_fn(b)(xt, yt, order)
        losses = [float(v) for v in losses.numpy()[:int(done)]]
        total, correct, seen = float(total), int(correct), int(done) * b
        if losses and not math.isfinite(losses[-1]):
            raise TrainingDiverged(self._diverged_message(
                epoch, len(losses) - 1, losses[-1], manager))
        rest = order[seen:]
        if len(rest) and not drop_remainder:
            loss, c = self._train(tf.gather(xt, rest), tf.gather(yt, rest))
            loss = float(loss)
            if not math.isfinite(loss):
                raise TrainingDiverged(self._diverged_message(
                    epoch, len(losses), loss, manager))
            losses.append(loss)
            total += loss * len(rest)
            correct += int(c)
            seen += len(rest)
        if progress_steps is not None:
            bar = keras.utils.Progbar(progress_steps, verbose=2,
                                      stateful_metrics=["loss", "acc"])
            bar.update(len(losses), [("loss", total / seen),
                                     ("acc", correct / seen)], finalize=True)
        return losses, total, correct, seen

    def _rng_states(self):
        """Keras keeps each dropout layer's RNG in a SeedGenerator state
        variable that ``tf.train.Checkpoint(model=…)`` does not track; a
        resumed run needs it to draw the masks an uninterrupted run draws."""
        states = [v for v in self.model.variables
                  if "seed_generator_state" in v.path]
        return {f"rng_{i}": v for i, v in enumerate(states)}

    def current_lr(self) -> float:
        opt = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        lr = opt.learning_rate
        value = lr(opt.iterations) if callable(lr) else lr
        return float(tf.convert_to_tensor(value))

    def _diverged_message(self, epoch, step, loss, manager):
        where = (f"the last good checkpoint, {manager.latest_checkpoint}, is "
                 "intact" if manager and manager.latest_checkpoint
                 else "no checkpoint was written")
        return (
            f"Training stopped: the loss became {loss} at epoch {epoch + 1}, "
            f"step {step + 1}. Exploding gradients: the learning rate "
            f"{self.current_lr():g} is too high for this model and "
            "initialization (note 004: try it 3-10x smaller on a log scale, "
            f"or a smaller initial weight scale); {where}."
        )

    def _log_tensorboard(self, writer, epoch, values, history, steps, x, y,
                         histograms):
        with writer.as_default(step=epoch):
            for key in ("loss", "accuracy", "val_loss", "val_accuracy",
                        "learning_rate"):
                if key in values:
                    tf.summary.scalar(key, values[key])
            first = (epoch - 1) * steps
            for i, loss in enumerate(history.step_loss[-steps:]):
                tf.summary.scalar("step_loss", loss, step=first + i)
            if histograms:
                self._log_histograms(x[:256], y[:256])
        writer.flush()

    def _log_histograms(self, x, y):
        """Activations of every layer and gradients of every variable."""
        x = tf.convert_to_tensor(x, tf.float32)
        h = x
        with tf.GradientTape() as tape:
            for layer in self.model.layers:
                h = layer(h, training=False)
                tf.summary.histogram(f"activations/{layer.name}", h)
            loss = compute_loss(self.model, h, tf.convert_to_tensor(y),
                                self.from_logits)
        grads = tape.gradient(loss, self.model.trainable_variables)
        for var, grad in zip(self.model.trainable_variables, grads):
            if grad is not None:
                tf.summary.histogram(f"gradients/{var.path}", grad)
                tf.summary.histogram(f"weights/{var.path}", var)


def epoch_order(n, seed, epoch) -> np.ndarray:
    """The fast path's example order for ``epoch``: a permutation drawn
    from ``(seed, epoch)`` only, so a resumed run repeats it exactly."""
    rng = np.random.default_rng([int(seed), int(epoch)])
    return rng.permutation(n).astype(np.int32)


def fast_path_jit(model) -> bool:
    """Whether the fast path XLA-compiles ``model``'s train step.

    Measured on this 2-core x86 CPU with TF 2.21: an XLA-compiled step of a
    dense network is ~1.4x faster than the plain graph step, but XLA's CPU
    convolutions are far slower than TensorFlow's own kernels (a small
    convnet fell from ~2.5k to ~160 examples/s). (Those are Eigen's unless
    oneDNN is on: on this AVX2 CPU TF 2.21 leaves it off unless
    ``TF_ENABLE_ONEDNN_OPTS=1`` is set before TensorFlow is imported, which
    ``tfnn train`` does for convnets, see :mod:`tfnn.runtime`; the benchmark
    CNN's step is then ~1.5x faster.) So: XLA for models without
    convolutions only. The epoch loop around the step is never XLA-compiled:
    under XLA:CPU every iteration of a ``while_loop`` paid for the whole
    training tensor it gathers from (time per step grew with the set's size:
    ~170 examples/s at 16k examples) while the plain graph loop gathers in
    O(batch) and runs at ~40k examples/s. Models that augment their images
    are not compiled either: XLA has no kernel for the image transform
    (``ImageProjectiveTransformV3``) of Keras's random shift and rotation.
    """
    not_for_xla = (keras.layers.Conv2D, keras.layers.RandomTranslation,
                   keras.layers.RandomRotation)
    return not any(isinstance(layer, not_for_xla) for layer in model.layers)


def _batch_len(xb) -> int:
    if hasattr(xb, "values"):  # PerReplica
        return sum(int(v.shape[0]) for v in xb.values)
    return int(xb.shape[0])



# --------------------------------------------------------------------------
# Keras fit, side by side
# --------------------------------------------------------------------------


def fit_keras(model, optimizer, x, y, *, epochs=1, batch_size=128,
              validation=None, seed=0, drop_remainder=False,
              from_logits=True, verbose=0) -> History:
    """Train ``model`` with Keras's ``compile``/``fit`` on the batches the
    custom loop would use (the same per-epoch order), into a History."""
    model.compile(
        optimizer=tfnn_optimizers.get(optimizer),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=from_logits),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    full = batch_size in (0, None)
    history = History()
    probe = Trainer.__new__(Trainer)  # only for epoch_dataset's ordering
    probe.strategy = tf.distribute.get_strategy()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        ds = probe.epoch_dataset(x, y, None if full else batch_size, epoch,
                                 seed, drop_remainder)
        logs = model.fit(ds, epochs=epoch + 1, initial_epoch=epoch,
                         shuffle=False, validation_data=validation,
                         verbose=verbose)
        h = logs.history
        history.append(
            epoch=epoch + 1, loss=h["loss"][-1], accuracy=h["accuracy"][-1],
            learning_rate=float(model.optimizer.learning_rate),
            seconds=time.perf_counter() - t0,
        )
        if validation is not None:
            history.append(val_loss=h["val_loss"][-1],
                           val_accuracy=h["val_accuracy"][-1])
    return history


# --------------------------------------------------------------------------
# Babysitting: overfit a tiny subset first (note 004)
# --------------------------------------------------------------------------


def overfit_check(model_config: ModelConfig, train_config: TrainConfig, x, y,
                  n=20, max_epochs=300):
    """Train a fresh copy of the model on ``n`` examples (one full batch
    per step) until it classifies all of them right, or give up.

    Note 004: before the real run, make sure the model can drive the loss on
    a tiny subset to ~0 (100 % training accuracy) with reg = 0. If it can't,
    something is wrong with the model, the loss or the learning rate.

    Returns:
        ``{"n", "reached", "epochs", "accuracy", "loss"}``.
    """
    from tfnn.models import build_model

    x, y = x[:n], y[:n]
    model = build_model(model_config.replace(reg=0.0, dropout=0.0,
                                             input_dropout=0.0))
    optimizer = tfnn_optimizers.get(
        train_config.optimizer, learning_rate=train_config.learning_rate,
        **train_config.optimizer_kwargs)
    trainer = Trainer(model, optimizer,
                      from_logits=model_config.loss_from_logits)
    xt = tf.convert_to_tensor(x, tf.float32)
    yt = tf.convert_to_tensor(y, tf.int64)
    accuracy, loss = 0.0, float("nan")
    for epoch in range(1, max_epochs + 1):
        trainer._train(xt, yt)
        loss, accuracy = trainer.evaluate(x, y)
        if accuracy == 1.0:
            break
    return {"n": int(n), "reached": accuracy == 1.0, "epochs": epoch,
            "accuracy": accuracy, "loss": loss}
