"""What happens around the loop, as Keras callbacks: checkpoints that
resume exactly, the History and its ``history.json``, the stop at the first
non-finite loss, the progress bar, the epoch log line and TensorBoard.

Every loop calls them the way Keras's ``fit`` does: ``on_train_begin``,
``on_epoch_begin(epoch)``, ``on_train_batch_end(batch, logs)`` with the
epoch's running means ``{"loss", "accuracy"}`` so far, and
``on_epoch_end(epoch, logs)`` with the epoch's ``loss``, ``accuracy``,
``learning_rate``, ``seconds``, ``examples`` and ``val_loss`` /
``val_accuracy``. The readable loop reports every batch; the fast path
reports after its compiled epoch (and after the last, smaller batch);
Keras's ``fit`` (:func:`tfnn.training.fit_keras`) reports as it always
does, so the callbacks that need only the logs work there too.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time

import keras
import tensorflow as tf

from tfnn.atomic_json import write_json
from tfnn.training.history import EPOCH_FIELDS, History
from tfnn.training.steps import compute_loss, current_learning_rate

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.json"  # beside the checkpoints
LOSS_GUARDS = ("stop", "warn", "off")  # see StopOnNonFinite


class TrainingDiverged(RuntimeError):
    """The loss became NaN or Inf, or climbed above ``factor`` × the
    initial loss: the learning rate is too high."""


def diverged_message(epoch, step, loss, learning_rate, checkpoint=None,
                     initial_loss=None, factor=None):
    """Note 004's advice when the loss turns NaN/Inf (or, given
    ``initial_loss`` and ``factor``, climbs above ``factor`` × it) at
    ``epoch``, ``step`` (both from 0), naming the last good checkpoint if
    there is one."""
    where = (f"the last good checkpoint, {checkpoint}, is intact"
             if checkpoint else "no checkpoint was written")
    what = f"the loss became {loss}"
    if initial_loss is not None:
        what = (f"the loss rose to {loss:.4g}, above {factor:g} × the "
                f"initial loss {initial_loss:.4g} (note 004's babysitting "
                "rule)")
    return (
        f"Training stopped: {what} at epoch {epoch + 1}, "
        f"step {step + 1}. Exploding gradients: the learning rate "
        f"{learning_rate:g} is too high for this model and initialization "
        "(note 004: try it 3-10x smaller on a log scale, or a smaller "
        f"initial weight scale); {where}."
    )


class StopOnNonFinite(keras.callbacks.Callback):
    """The loss guard of every loop: raise :class:`TrainingDiverged` at
    the first batch whose running loss is NaN or Inf (cross-entropy is
    ≥ 0, so the running mean turns non-finite exactly when one step's loss
    does), and apply note 004's babysitting rule: a running loss above
    ``factor`` × the initial loss means the learning rate is too high.

    The initial loss is ``initial_loss`` if given (the loss before
    training, :meth:`~tfnn.training.Trainer.initial_loss`), else the first
    step's loss of a run that starts at step 0 (the batch-0 log when the
    optimizer has made exactly one step: that loss was computed before the
    step's update); a resumed run given none skips the rule.

    Args:
        optimizer: whose learning rate the message names. Defaults to the
            model's compiled optimizer.
        checkpoint_dir: where the last good checkpoint would be.
        loss_guard: what a loss above ``factor`` × the initial loss does:
            ``"stop"`` (raise), ``"warn"`` (log a warning, once) or
            ``"off"``. A NaN/Inf loss always stops. Defaults to "stop".
        factor: Defaults to 3 (note 004).
        initial_loss: the loss before training. Optional.
    """

    def __init__(self, optimizer=None, checkpoint_dir=None,
                 loss_guard="stop", factor=3.0, initial_loss=None):
        super().__init__()
        if loss_guard not in LOSS_GUARDS:
            raise ValueError(f"Unknown loss_guard {loss_guard!r}; choose "
                             f"from {list(LOSS_GUARDS)}")
        if not factor > 1:
            raise ValueError(f"factor must be > 1. Received: factor={factor}")
        self.optimizer = optimizer
        self.checkpoint_dir = checkpoint_dir
        self.loss_guard = loss_guard
        self.factor = float(factor)
        self.initial_loss = (None if initial_loss is None
                             else float(initial_loss))
        self.warned = False
        self.epoch = 0
        self.rate = None  # the rate of the steps the next report covers

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.rate = current_learning_rate(self.get_optimizer())

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            raise TrainingDiverged(self.message(batch, loss))
        if self.loss_guard != "off":
            self.check_explode(batch, loss)
        self.rate = current_learning_rate(self.get_optimizer())

    def check_explode(self, batch, loss):
        """Note 004's rule on the running ``loss`` at ``batch``."""
        if self.initial_loss is None:
            if batch == 0 and int(self.get_optimizer().iterations) == 1:
                self.initial_loss = loss  # the first step's, before it
            return
        if loss <= self.factor * self.initial_loss:
            return
        text = self.message(batch, loss, explode=True)
        if self.loss_guard == "stop":
            raise TrainingDiverged(text)
        if not self.warned:
            self.warned = True
            logger.warning("%s Training goes on (loss_guard 'warn').",
                           text.replace("Training stopped: ", "Warning: "))

    def get_optimizer(self):
        return self.optimizer or self.model.optimizer

    def message(self, batch, loss, explode=False) -> str:
        """:func:`diverged_message` for ``loss`` at ``batch`` of the
        current epoch, naming the learning rate of the step that made it
        (a per-step report; the epoch's first step's on the fast path)."""
        latest = (tf.train.latest_checkpoint(self.checkpoint_dir)
                  if self.checkpoint_dir else None)
        rate = (self.rate if self.rate is not None
                else current_learning_rate(self.get_optimizer()))
        return diverged_message(
            self.epoch, batch, loss, rate, latest,
            self.initial_loss if explode else None, self.factor)


class RecordHistory(keras.callbacks.Callback):
    """Append each epoch's logs to ``history`` (``epoch`` counts from 1);
    ``seconds`` and ``learning_rate`` are measured here when the loop did
    not log them (Keras's ``fit``)."""

    def __init__(self, history: History, optimizer=None):
        super().__init__()
        self.history = history
        self.optimizer = optimizer
        self.t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs.setdefault("seconds", time.perf_counter() - self.t0)
        if "learning_rate" not in logs:
            logs["learning_rate"] = current_learning_rate(
                self.optimizer or self.model.optimizer)
        logs["epoch"] = epoch + 1
        self.history.append(**{k: logs[k] for k in EPOCH_FIELDS
                               if k in logs})


class HistoryWriter(keras.callbacks.Callback):
    """Write ``history`` to the JSON file ``path`` after every epoch
    (atomically), so the file always matches the epochs done."""

    def __init__(self, history: History, path: str):
        super().__init__()
        self.history = history
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        write_json(self.path, self.history.to_dict())


class Checkpoints(keras.callbacks.Callback):
    """One checkpoint per epoch of everything a bitwise resume needs: the
    model, the optimizer's slots, the epoch counter and the dropout layers'
    RNG states (:meth:`~tfnn.training.Trainer.rng_states`).

    ``on_train_begin`` restores the latest checkpoint of ``directory`` (if
    any) into ``trainer``: its variables, ``trainer.initial_epoch`` and
    ``trainer.history`` (from the ``history.json`` beside the checkpoints);
    Keras's ``fit`` needs its initial epoch before it starts, so
    :func:`~tfnn.training.fit_keras` calls :meth:`restore` first.

    Args:
        trainer: the :class:`~tfnn.training.Trainer` being fitted (its
            model and optimizer are what Keras's ``fit`` trains too).
        directory: the checkpoint folder.
        max_to_keep: checkpoints kept. Defaults to 3.
        save_dir: where the checkpoints are saved. Defaults to
            ``directory``; a non-chief worker of a multi-worker run resumes
            from the chief's ``directory`` and saves into a temporary
            folder (TensorFlow's convention: every worker takes part in the
            save, only the chief's is kept).
    """

    def __init__(self, trainer, directory: str, max_to_keep: int = 3,
                 save_dir: str | None = None):
        super().__init__()
        self.trainer = trainer
        self.directory = directory
        self.save_dir = save_dir or directory
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.checkpoint = tf.train.Checkpoint(
            model=trainer.model, optimizer=trainer.optimizer,
            epoch=self.epoch, **trainer.rng_states())
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.save_dir, max_to_keep=max_to_keep)
        self.restored = False

    def restore(self, history: History) -> int:
        """Restore the latest checkpoint of ``directory`` (once; nothing
        if there is none) and append its ``history.json`` to ``history``.

        Returns:
            The epochs done: where training continues (0: from scratch).
        """
        if self.restored:
            return int(self.epoch)
        self.restored = True
        latest = tf.train.latest_checkpoint(self.directory)
        if not latest:
            return 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        saved = os.path.join(self.directory, HISTORY_FILE)
        if os.path.exists(saved):
            with open(saved) as fh:
                history.extend(History.from_dict(json.load(fh)))
        logger.info("Resumed from %s (epoch %d)", latest, int(self.epoch))
        return int(self.epoch)

    def on_train_begin(self, logs=None):
        self.trainer.initial_epoch = self.restore(self.trainer.history)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)


class ProgressBar(keras.callbacks.Callback):
    """A Keras progress bar per epoch over ``params["steps"]`` batches,
    showing the running loss and accuracy. In a terminal it redraws; in a
    log it writes one line an epoch."""

    def __init__(self):
        super().__init__()
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        logger.info("Epoch %d/%d", epoch + 1, self.params["epochs"])
        self.bar = keras.utils.Progbar(
            self.params["steps"], stateful_metrics=["loss", "acc"],
            verbose=1 if sys.stdout.isatty() else 2)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.bar.update(batch + 1, [("loss", logs.get("loss", math.nan)),
                                    ("acc", logs.get("accuracy", math.nan))])


class EpochLogger(keras.callbacks.Callback):
    """One ``logging`` line per epoch: losses, accuracies, seconds and
    examples per second."""

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        val = ("" if "val_loss" not in logs else
               f" val_loss {logs['val_loss']:.4f}"
               f" val_acc {logs['val_accuracy']:.4f}")
        speed = ""
        if "seconds" in logs and "examples" in logs:
            speed = (f" ({logs['seconds']:.1f} s, "
                     f"{logs['examples'] / max(logs['seconds'], 1e-9):.0f}"
                     " ex/s)")
        logger.info("epoch %d: loss %.4f acc %.4f%s%s", epoch + 1,
                    logs.get("loss", math.nan),
                    logs.get("accuracy", math.nan), val, speed)


class TensorBoardLogger(keras.callbacks.Callback):
    """TensorBoard logs in ``log_dir``: every epoch's scalars (``loss``,
    ``accuracy``, ``val_loss``, ``val_accuracy``, ``learning_rate``), each
    step's loss as ``step_loss`` (from ``history.step_loss``, numbered by
    its position there) and, with ``histogram_data=(x, y)``, histograms of
    every layer's activations and every variable's gradient and value on
    those examples.

    Args:
        log_dir: the folder ``tensorboard --logdir`` reads.
        history: the run's :class:`~tfnn.training.History`, for the step
            losses. Optional.
        histogram_data: ``(x, y)`` for the histograms. Optional.
        from_logits: how the loss reads the model's output. Defaults to
            True.
    """

    SCALARS = ("loss", "accuracy", "val_loss", "val_accuracy",
               "learning_rate")

    def __init__(self, log_dir, history=None, histogram_data=None,
                 from_logits=True):
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.history = history
        self.histogram_data = histogram_data
        self.from_logits = from_logits
        self.steps_logged = 0

    def on_train_begin(self, logs=None):
        if self.history is not None:
            self.steps_logged = len(self.history.step_loss)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        with self.writer.as_default(step=epoch + 1):
            for key in self.SCALARS:
                if key in logs:
                    tf.summary.scalar(key, logs[key])
            if self.history is not None:
                new = self.history.step_loss[self.steps_logged:]
                for i, loss in enumerate(new, start=self.steps_logged):
                    tf.summary.scalar("step_loss", loss, step=i)
                self.steps_logged += len(new)
            if self.histogram_data is not None:
                self.log_histograms(*self.histogram_data)
        self.writer.flush()

    def log_histograms(self, x, y):
        """Activations of every layer (``training=False``) and gradients
        and values of every trainable variable, on ``(x, y)``."""
        h = tf.convert_to_tensor(x, tf.float32)
        with tf.GradientTape() as tape:
            for layer in self.model.layers:
                h = layer(h, training=False)
                tf.summary.histogram(f"activations/{layer.name}", h)
            loss = compute_loss(self.model, h, tf.convert_to_tensor(y),
                                self.from_logits)
        variables = self.model.trainable_variables
        for var, grad in zip(variables, tape.gradient(loss, variables)):
            if grad is not None:
                tf.summary.histogram(f"gradients/{var.path}", grad)
                tf.summary.histogram(f"weights/{var.path}", var)
