"""A whole training run: data → model → babysitting → training → test
accuracy → a run folder that export and evaluate read.

The run folder (``out_dir``)::

    model.keras       the trained model (written atomically)
    summary.json      model/train configs, preprocessing, initial loss,
                      overfit check, history, test accuracy, wall time,
                      examples/s, the command line
    checkpoints/      one checkpoint per epoch; rerunning the same command
                      resumes from the last one
    tensorboard/      TensorBoard logs: ``tensorboard --logdir DIR``
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional

import keras
import numpy as np

from tfnn import data as tfnn_data
from tfnn.nn import optimizers as tfnn_optimizers
from tfnn.nn import schedules as tfnn_schedules
from tfnn.config import ModelConfig
from tfnn.provenance import command_line, write_json
from tfnn.models import build_model
from tfnn.training import (
    History,
    TrainConfig,
    Trainer,
    dtype_policy,
    fit_keras,
    make_strategy,
    overfit_check,
    set_seed,
)

logger = logging.getLogger(__name__)


# What ``tfnn train`` trains with no flags: the notes' recipe for a good
# MNIST MLP (784-256-256-10, ReLU + He, Linear → BN → ReLU → dropout 0.2,
# Adam 1e-3 with a cosine schedule, batch 128, 5 epochs): ≈ 98 % test
# accuracy in about half a minute on 2 CPU cores. The factories' own
# defaults stay plain (no BN, no dropout), the notes' building blocks.
RECOMMENDED_MODEL = ModelConfig(batch_norm=True, dropout=0.2)
RECOMMENDED_TRAIN = TrainConfig(schedule="cosine")


@dataclass
class RunResult:
    """What a run produced."""

    model: keras.Model
    history: History
    test_loss: float
    test_accuracy: float
    summary: Dict[str, Any]
    splits: tfnn_data.Splits
    pretraining: Optional[list] = None  # RBM reconstruction errors


def make_optimizer(train_config: TrainConfig, steps_per_epoch: int):
    """The configured optimizer with its learning-rate schedule."""
    lr = tfnn_schedules.get(
        train_config.schedule, train_config.learning_rate, steps_per_epoch,
        train_config.epochs, **train_config.schedule_kwargs)
    return tfnn_optimizers.get(train_config.optimizer, learning_rate=lr,
                               **train_config.optimizer_kwargs)


def train(model_config: ModelConfig = ModelConfig(),
          train_config: TrainConfig = TrainConfig(),
          out_dir: Optional[str] = None, manual_dir=None, data_dir=None,
          splits: Optional[tfnn_data.Splits] = None, progress=True,
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
    """
    tc = train_config
    t_start = time.perf_counter()
    set_seed(tc.seed, tc.deterministic)
    if splits is None:
        splits = tfnn_data.load(
            tc.dataset, tc.preprocessing, tc.validation_size, manual_dir,
            data_dir, seed=tc.seed, train_limit=tc.train_limit)
    x, y = splits.x_train, splits.y_train
    validation = (splits.x_val, splits.y_val) if len(splits.x_val) else None
    steps = tfnn_data.num_batches(len(x), tc.batch_size or None,
                                  tc.drop_remainder)
    strategy = make_strategy(tc.strategy, strategy_devices)
    with strategy.scope(), dtype_policy(tc.mixed_precision):
        model = build_model(model_config)
        optimizer = make_optimizer(tc, steps)
    pretraining = None
    if model_config.initializer == "rbm":
        pretraining = rbm_pretrain(model, model_config, splits)
    trainer = Trainer(model, optimizer,
                      from_logits=model_config.loss_from_logits, jit=tc.jit,
                      strategy=strategy, fast=tc.loop == "fast")

    initial = trainer.initial_loss(x, y, splits.num_classes)
    logger.info(
        "initial loss %.4f (data %.4f + reg %.4f); ln(%d) = %.4f%s",
        initial["loss"], initial["data_loss"], initial["reg_loss"],
        splits.num_classes, initial["expected"],
        "" if abs(initial["data_loss"] - initial["expected"]) < 0.1 else
        "  (far from ln C: large initial weights make confident guesses)")
    overfit = None
    if tc.overfit_check:
        overfit = overfit_check(model_config, tc, x, y, tc.overfit_check)
        logger.info(
            "overfit check: %d examples %s 100%% training accuracy after "
            "%d epochs (accuracy %.3f, loss %.4f)", overfit["n"],
            "reached" if overfit["reached"] else "did NOT reach",
            overfit["epochs"], overfit["accuracy"], overfit["loss"])

    t_train = time.perf_counter()
    if tc.loop in ("fast", "custom"):
        history = trainer.fit(
            x, y, epochs=tc.epochs, batch_size=tc.batch_size,
            validation=validation, seed=tc.seed,
            drop_remainder=tc.drop_remainder,
            checkpoint_dir=out_dir and os.path.join(out_dir, "checkpoints"),
            tensorboard_dir=out_dir and os.path.join(out_dir, "tensorboard"),
            histograms=tc.histograms, progress=progress)
    else:
        history = fit_keras(
            model, optimizer, x, y, epochs=tc.epochs,
            batch_size=tc.batch_size, validation=validation, seed=tc.seed,
            drop_remainder=tc.drop_remainder,
            from_logits=model_config.loss_from_logits,
            verbose=1 if progress else 0)
    train_seconds = time.perf_counter() - t_train
    test_loss, test_accuracy = trainer.evaluate(splits.x_test, splits.y_test)
    logger.info("test accuracy %.4f (loss %.4f) on %d images",
                test_accuracy, test_loss, len(splits.x_test))
    epochs_run = max(1, len(history.seconds))
    summary = {
        "model_config": model_config.to_dict(),
        "train_config": tc.to_dict(),
        "preprocessor": splits.preprocessor.to_dict(),
        "dataset": splits.dataset,
        "initial_loss": initial,
        "rbm_reconstruction_errors": pretraining,
        "overfit_check": overfit,
        "history": history.to_dict(),
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - t_start,
        "examples_per_second": float(
            len(x) * epochs_run / max(sum(history.seconds), 1e-9)),
        "parameters": int(model.count_params()),
        "command": command_line(),
    }
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        save_model(model, os.path.join(out_dir, "model.keras"))
        write_json(os.path.join(out_dir, "summary.json"), summary)
        logger.info("wrote %s", out_dir)
    return RunResult(model, history, test_loss, test_accuracy, summary,
                     splits, pretraining)


def rbm_pretrain(model, model_config: ModelConfig, splits):
    """The ``rbm`` initializer (note 002): pre-train the hidden layers as
    RBMs on the training images and copy the weights in, before backprop
    fine-tuning. Returns the reconstruction errors per RBM and epoch."""
    from tfnn.nn import rbm

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


def save_model(model, path):
    """``model.save`` to a temporary file, then rename: atomic."""
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


def predictions(model, x, batch_size=2000) -> np.ndarray:
    """Class predictions of ``model`` (inference mode)."""
    return np.concatenate([
        np.asarray(model(x[i:i + batch_size], training=False)).argmax(-1)
        for i in range(0, len(x), batch_size)
    ])
