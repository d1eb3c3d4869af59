"""MNIST for the studies: loaded once per process, cut to size, and
trained with the one trainer every experiment uses."""

from __future__ import annotations

import dataclasses
import functools

from tfnn import data
from tfnn.config import ModelConfig
from tfnn.training import TrainConfig
from tfnn.training.whole_run import train as run_train


@functools.lru_cache(maxsize=4)
def mnist(preprocessing: str = "standardize", validation_size: int = 5000,
          dataset: str = "mnist"):
    """MNIST splits, loaded once per process (tfds, offline folder)."""
    return data.load(dataset, preprocessing=preprocessing,
                     validation_size=validation_size)


def subset(splits, n_train=None, n_test=None, n_val=None):
    """A copy of ``splits`` with the first ``n_train`` training, ``n_test``
    test and ``n_val`` validation examples (None keeps all; ``n_val=0``
    drops the validation set, and with it the per-epoch validation pass)."""
    return dataclasses.replace(
        splits,
        x_train=splits.x_train[:n_train], y_train=splits.y_train[:n_train],
        x_val=splits.x_val[:n_val], y_val=splits.y_val[:n_val],
        x_test=splits.x_test[:n_test], y_test=splits.y_test[:n_test],
    )


def train(model_config: ModelConfig, train_config: TrainConfig, splits):
    """The one trainer every experiment uses
    (``tfnn.training.whole_run.train``).

    Returns the :class:`~tfnn.training.whole_run.RunResult` (model,
    history, test accuracy …); nothing is written to disk.
    """
    return run_train(model_config, train_config, splits=splits,
                     progress=False)
