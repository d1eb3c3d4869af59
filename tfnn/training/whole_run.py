"""A whole training run: data → model → babysitting → training → test
accuracy → a run folder that export and evaluate read.

The run folder (``out_dir``)::

    model.keras       the trained model (written atomically)
    summary.json      model/train configs, preprocessing, initial loss,
                      overfit check, history, test accuracy, wall time,
                      examples/s, the command line
    checkpoints/      one checkpoint per epoch and the configuration
                      (config.json); rerunning the same command resumes
                      from the last one, another configuration is refused
                      (:mod:`tfnn.training.resume_check`)
    tensorboard/      TensorBoard logs: ``tensorboard --logdir DIR``

Under ``strategy="multiworker"`` every worker gets the same ``out_dir``:
the chief writes it; every other worker resumes from the chief's
checkpoints and writes its own copies (every save may run collectives, so
all take part) into a temporary folder removed at the end
(:func:`tfnn.training.cluster.write_dir`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

import keras

from tfnn import data as tfnn_data
from tfnn.atomic_json import write_json
from tfnn.config import ModelConfig
from tfnn.models import build_model, save_model
from tfnn.nn import optimizers as tfnn_optimizers
from tfnn.nn import rbm
from tfnn.nn import schedules as tfnn_schedules
from tfnn.provenance import command_line
from tfnn.training import cluster as tfnn_cluster
from tfnn.training.callbacks import (
    HISTORY_FILE,
    Checkpoints,
    TensorBoardLogger,
)
from tfnn.training.config import TrainConfig
from tfnn.training.distribute import (
    collective_errors,
    dtype_policy,
    make_strategy,
    set_seed,
    synchronize_batch_norm,
)
from tfnn.training.history import History
from tfnn.training.keras_fit import fit_keras
from tfnn.training.loop_choice import LoopChoice, choose_loop
from tfnn.training.resume_check import check_resume, record_config
from tfnn.training.sanity import overfit_check
from tfnn.training.trainer import Trainer

logger = logging.getLogger(__name__)


# What ``tfnn train`` trains with no flags: the notes' recipe for a good
# MNIST MLP (784-256-256-10, ReLU + He in the hidden layers, Linear → BN →
# ReLU → dropout 0.2, Adam 1e-3 with a cosine schedule, batch 128, 5
# epochs): ≈ 98 % test accuracy. The output layer starts small
# (0.01·N(0, 1)): the logits start near 0, every class near 1/10, so the
# initial loss is ≈ ln 10 (note 004) for this MLP and its CNN variant; He
# there (factor 2 for a ReLU that the output does not have) makes confident
# guesses. The factories' own defaults stay plain (no BN, no dropout, one
# initializer for every layer), the notes' building blocks.
RECOMMENDED_MODEL = ModelConfig(batch_norm=True, dropout=0.2,
                                output_initializer="small_normal")
RECOMMENDED_TRAIN = TrainConfig(schedule="cosine")


@dataclass
class RunResult:
    """What a run produced."""

    model: keras.Model
    history: History
    test_loss: float
    test_accuracy: float
    summary: dict[str, Any]
    splits: tfnn_data.Splits
    pretraining: list | None = None  # RBM reconstruction errors


def make_optimizer(train_config: TrainConfig, steps_per_epoch: int):
    """The configured optimizer with its learning-rate schedule."""
    lr = tfnn_schedules.get(
        train_config.schedule, train_config.learning_rate, steps_per_epoch,
        train_config.epochs, **train_config.schedule_kwargs)
    return tfnn_optimizers.get(train_config.optimizer, learning_rate=lr,
                               **train_config.optimizer_kwargs)


def train(model_config: ModelConfig = ModelConfig(),
          train_config: TrainConfig = TrainConfig(),
          out_dir: str | None = None, manual_dir=None, data_dir=None,
          splits: tfnn_data.Splits | None = None, progress=True,
          strategy_devices=None) -> RunResult:
    """Train ``model_config`` as ``train_config`` says; see the module doc.

    Args:
        model_config: the model.
        train_config: data, optimizer, batches, epochs, options.
        out_dir: the run folder; None keeps everything in memory (no
            checkpoints, no logs).
        manual_dir, data_dir: where the dataset's files are (see
            :func:`tfnn.data.prepare`).
        splits: already loaded data (tests and experiments reuse it).
        progress: show progress bars.
        strategy_devices: devices for the ``mirrored`` strategy.

    Returns:
        A :class:`RunResult`.

    Raises:
        tfnn.training.TrainingDiverged: the loss became NaN/Inf.
        tfnn.training.resume_check.RunFolderMismatch: ``out_dir`` holds
            checkpoints of another configuration (a ValueError; raised
            before anything is loaded or restored).
    """
    tc = train_config
    t_start = time.perf_counter()
    check_resume(out_dir, model_config, tc)
    # First: a multi-worker strategy configures TensorFlow's runtime.
    strategy, cluster = run_strategy(tc, strategy_devices)
    set_seed(tc.seed, tc.deterministic)
    if splits is None:
        splits = tfnn_data.load(
            tc.dataset, tc.preprocessing, tc.validation_size, manual_dir,
            data_dir, seed=tc.seed, train_limit=tc.train_limit)
    trainer, choice, pretraining = build_trainer(model_config, tc, splits,
                                                 strategy)
    model = trainer.model
    write_to = tfnn_cluster.write_dir(out_dir, cluster)
    if write_to:  # before the first checkpoint
        record_config(write_to, model_config, tc)
    try:
        with collective_errors(cluster):
            initial, overfit = babysit(trainer, model_config, tc, splits)
            t_train = time.perf_counter()
            history = fit(trainer, choice, tc, splits, out_dir, progress,
                          write_to, initial_loss=initial["loss"])
            train_seconds = time.perf_counter() - t_train
            test_loss, test_accuracy = evaluate_test(trainer, splits)
            summary = {
                "model_config": model_config.to_dict(),
                "train_config": tc.to_dict(),
                "preprocessor": splits.preprocessor.to_dict(),
                "dataset": splits.dataset,
                "loop": dataclasses.asdict(choice),
                "workers": cluster.num_workers if cluster else 1,
                "initial_loss": initial,
                "rbm_reconstruction_errors": pretraining,
                "overfit_check": overfit,
                **run_numbers(history, test_loss, test_accuracy,
                              len(splits.x_train), train_seconds, t_start),
                "parameters": int(model.count_params()),
                "command": command_line(),
            }
            if write_to:
                save_run(write_to, model, summary, write_to == out_dir)
    finally:
        if write_to != out_dir:  # a non-chief worker's temporary folder
            shutil.rmtree(write_to, ignore_errors=True)
    return RunResult(model, history, test_loss, test_accuracy, summary,
                     splits, pretraining)


def build_trainer(model_config: ModelConfig, train_config: TrainConfig,
                  splits, strategy):
    """``(trainer, choice, pretraining)``: the :class:`Trainer` of a fresh
    model (RBM-pretrained when its initializer is ``rbm``) and optimizer
    in ``strategy``'s scope, the loop it takes (:func:`choose_loop`,
    logged) and the RBMs' reconstruction errors (None without)."""
    tc = train_config
    n = len(splits.x_train)
    steps = tfnn_data.num_batches(n, tc.batch_size, tc.drop_remainder)
    with strategy.scope(), dtype_policy(tc.mixed_precision):
        model = build_model(model_config)
        optimizer = make_optimizer(tc, steps)
    if strategy.num_replicas_in_sync > 1:  # BN on the global batch
        synchronize_batch_norm(model)
    pretraining = None
    if model_config.initializer == "rbm":
        pretraining = rbm_pretrain(model, model_config, splits)
    choice = choose_loop(model, tc, n, strategy.num_replicas_in_sync)
    logger.info("loop: %s", choice.reason)
    trainer = Trainer(model, optimizer,
                      from_logits=model_config.loss_from_logits, jit=tc.jit,
                      strategy=strategy, fast=choice.loop == "fast",
                      fast_jit=choice.xla)
    return trainer, choice, pretraining


def run_strategy(train_config: TrainConfig, devices=None):
    """``(strategy, cluster)``: the run's ``tf.distribute`` strategy and,
    under ``multiworker`` with ``TF_CONFIG``, this process's
    :class:`~tfnn.training.cluster.Cluster` (else None)."""
    tc = train_config
    strategy = make_strategy(tc.strategy, devices, tc.collective_timeout,
                             tc.startup_timeout)
    cluster = (tfnn_cluster.from_env() if tc.strategy == "multiworker"
               else None)
    return strategy, cluster


def evaluate_test(trainer: Trainer, splits) -> tuple[float, float]:
    """``(loss, accuracy)`` on the test set, logged."""
    test_loss, test_accuracy = trainer.evaluate(splits.x_test, splits.y_test)
    logger.info("test accuracy %.4f (loss %.4f) on %d images",
                test_accuracy, test_loss, len(splits.x_test))
    return test_loss, test_accuracy


def run_numbers(history: History, test_loss, test_accuracy, n_examples,
                train_seconds, t_start) -> dict[str, Any]:
    """The summary's measured part: history, test numbers and times."""
    return {
        "history": history.to_dict(),
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - t_start,
        "examples_per_second": examples_per_second(n_examples, history),
    }


def save_run(folder: str, model, summary, kept: bool = True) -> None:
    """``model.keras`` and ``summary.json`` into the run folder; ``kept``
    False: a non-chief worker's copy, removed after."""
    os.makedirs(folder, exist_ok=True)
    save_model(model, os.path.join(folder, "model.keras"))
    write_json(os.path.join(folder, "summary.json"), summary)
    logger.info("wrote %s%s", folder, "" if kept else
                " (this worker's copy: only the chief's run folder is kept)")


def examples_per_second(n_examples: int, history: History) -> float:
    """Training examples per second of the epochs in ``history``:
    ``n · epochs / Σ seconds`` (validation included in the seconds)."""
    epochs = max(1, len(history.seconds))
    return float(n_examples * epochs / max(sum(history.seconds), 1e-9))


def babysit(trainer: Trainer, model_config: ModelConfig,
            train_config: TrainConfig, splits):
    """Note 004's checks before the real run: the initial loss beside
    ln(C), and (if ``train_config.overfit_check``) whether a fresh copy of
    the model overfits that many examples. Both are logged.

    Returns:
        ``(initial, overfit)``: :meth:`Trainer.initial_loss`'s dict and
        :func:`~tfnn.training.overfit_check`'s (None when not asked).
    """
    x, y = splits.x_train, splits.y_train
    initial = trainer.initial_loss(x, y, splits.num_classes)
    far = abs(initial["data_loss"] - initial["expected"]) >= 0.1
    logger.info(
        "initial loss %.4f (data %.4f + reg %.4f); ln(%d) = %.4f%s",
        initial["loss"], initial["data_loss"], initial["reg_loss"],
        splits.num_classes, initial["expected"],
        "  (far from ln C: large initial weights make confident guesses)"
        if far else "")
    overfit = None
    if train_config.overfit_check:
        overfit = overfit_check(model_config, train_config, x, y,
                                train_config.overfit_check)
        logger.info(
            "overfit check: %d examples %s 100%% training accuracy after "
            "%d epochs (accuracy %.3f, loss %.4f)", overfit["n"],
            "reached" if overfit["reached"] else "did NOT reach",
            overfit["epochs"], overfit["accuracy"], overfit["loss"])
    return initial, overfit


def fit(trainer: Trainer, choice: LoopChoice, train_config: TrainConfig,
        splits, out_dir=None, progress=True, write_dir=None,
        initial_loss=None) -> History:
    """Train with the loop ``choice`` names, the Trainer's or Keras's
    ``fit``, resuming from the checkpoints in ``out_dir`` and writing
    checkpoints and TensorBoard logs into ``write_dir`` (defaults to
    ``out_dir``; a non-chief worker's temporary folder). Every loop stops
    the same way at a NaN/Inf loss or, as ``train_config.loss_guard``
    says, at one above ``loss_guard_factor`` × ``initial_loss`` (the
    loss before training, :func:`babysit`'s)."""
    tc = train_config
    guard = {"loss_guard": tc.loss_guard, "initial_loss": initial_loss,
             "loss_guard_factor": tc.loss_guard_factor}
    write_dir = write_dir or out_dir
    validation = ((splits.x_val, splits.y_val) if len(splits.x_val)
                  else None)
    folder = write_dir and os.path.join(write_dir, "tensorboard")
    resume = out_dir and os.path.join(out_dir, "checkpoints")
    save = write_dir and os.path.join(write_dir, "checkpoints")
    if choice.loop == "fit":
        extra = [TensorBoardLogger(folder)] if folder else []
        return fit_keras(
            trainer.model, trainer.optimizer, splits.x_train,
            splits.y_train, epochs=tc.epochs, batch_size=tc.batch_size,
            validation=validation, seed=tc.seed,
            drop_remainder=tc.drop_remainder,
            from_logits=trainer.from_logits, verbose=1 if progress else 0,
            callbacks=extra, strategy=trainer.strategy,
            checkpoints=resume and Checkpoints(trainer, resume,
                                               save_dir=save),
            history_path=save and os.path.join(save, HISTORY_FILE), **guard)
    return trainer.fit(
        splits.x_train, splits.y_train, epochs=tc.epochs,
        batch_size=tc.batch_size, validation=validation, seed=tc.seed,
        drop_remainder=tc.drop_remainder, checkpoint_dir=resume,
        save_dir=save, tensorboard_dir=folder, histograms=tc.histograms,
        progress=progress, **guard)


def rbm_pretrain(model, model_config: ModelConfig, splits):
    """The ``rbm`` initializer (note 002): pre-train the hidden layers as
    RBMs on the training images and copy the weights in, before backprop
    fine-tuning. Returns the reconstruction errors per RBM and epoch."""
    if splits.preprocessor.kind != "minmax":
        raise ValueError(
            "initializer 'rbm' needs inputs in [0, 1] (Bernoulli visible "
            "units): use preprocessing 'minmax'. Received: "
            f"{splits.preprocessor.kind!r}")
    errors = rbm.pretrain_model(model, splits.x_train,
                                **model_config.initializer_kwargs)
    logger.info("RBM pre-training: reconstruction error %s",
                [round(e[-1], 4) for e in errors])
    return errors
