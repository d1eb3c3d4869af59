"""What the experiments share: data, one trainer, figure helpers."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from matplotlib.figure import Figure

from tfnn import data
from tfnn.config import ModelConfig
from tfnn.training import History, TrainConfig
from tfnn.training.run import train as run_train


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
    """The one trainer every experiment uses (``tfnn.training.run.train``).

    Returns the :class:`~tfnn.training.run.RunResult` (model, history, test
    accuracy …); nothing is written to disk.
    """
    return run_train(model_config, train_config, splits=splits,
                     progress=False)


def history_dict(history: History):
    return history.to_dict()


def figure(ncols=1, nrows=1, width=5.0, height=3.6, title=None):
    """A matplotlib ``Figure`` with a ``(nrows, ncols)`` grid of axes.

    Made without pyplot: no global figure registry, no backend switch, so a
    notebook user's backend is left alone and nothing needs closing.
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    if title:
        fig.suptitle(title)
    return fig, axes


def ratio(a, b):
    """a / b, with 0/0 = nan and x/0 = inf."""
    a, b = float(a), float(b)
    if b == 0:
        return float("nan") if a == 0 else float("inf")
    return a / b


def percent(x):
    return f"{100 * float(x):.2f} %"


def seeds(n, base=0):
    return [base + i for i in range(n)]


def mean_std(values):
    """``(mean, sample std)`` of ``values`` (one per seed).

    The std is the sample standard deviation, ``ddof=1``:
    ``sqrt(Σ(v − v̄)² / (n − 1))``, the spread the reports' "mean ± std
    over seeds" estimate for a new seed; 0.0 for a single value (no spread
    is measured).
    """
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def trailing_mean(y, n):
    """Trailing moving average over ``n`` steps (fewer at the start), so
    a smoothed curve starts at step 0; returns ``(steps, means)``."""
    y = np.asarray(y, dtype=float)
    if n < 2 or len(y) == 0:
        return np.arange(len(y)), y
    c = np.cumsum(np.insert(y, 0, 0.0))
    i = np.arange(1, len(y) + 1)
    lo = np.maximum(0, i - n)
    return np.arange(len(y)), (c[i] - c[lo]) / (i - lo)
