"""Babysitting before the real run (note 004): overfit a tiny subset."""

from __future__ import annotations

import tensorflow as tf

from tfnn.config import ModelConfig
from tfnn.models import build_model
from tfnn.nn import optimizers as tfnn_optimizers
from tfnn.training.config import TrainConfig
from tfnn.training.trainer import Trainer


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
    accuracy, loss, epochs = 0.0, float("nan"), 0
    while epochs < max_epochs and accuracy < 1.0:
        trainer.train_batch(xt, yt)  # one full-batch step an epoch
        loss, accuracy = trainer.evaluate(x, y)
        epochs += 1
    return {"n": int(n), "reached": accuracy == 1.0, "epochs": epochs,
            "accuracy": accuracy, "loss": loss}
