"""Run a function over an array in batches: inference on data sets that do
not fit one call.

Every place in tfnn that predicts, scores or transforms a whole data set
(the Trainer, the run's predictions, ensembles, SavedModel checks, RBM
features, the experiments) goes through :func:`map_batches`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DEFAULT_BATCH = 2000  # examples per call; ~6 MB of MNIST pixels in float32


def batch_slices(n: int, batch_size: int = DEFAULT_BATCH):
    """``slice(i, i + batch_size)`` for ``i = 0, batch_size, …`` below ``n``.

    Raises:
        ValueError: when ``batch_size < 1``.
    """
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1. Received: {batch_size}")
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def map_batches(fn: Callable, x, batch_size: int = DEFAULT_BATCH,
                axis: int = 0) -> np.ndarray:
    """``concatenate([fn(x[s]) for s in batch_slices(len(x))])`` as NumPy.

    Args:
        fn: maps a batch to an array-like whose first axis is the batch
            (a Keras model, a SavedModel signature wrapper …).
        x: the inputs (anything sliceable with ``len``).
        batch_size: examples per call. Defaults to 2000.
        axis: the axis the batch outputs are joined on. Defaults to 0.

    Returns:
        The outputs of every batch, joined; an empty input gives ``fn`` of
        the empty input.
    """
    slices = batch_slices(len(x), batch_size)
    if not slices:
        return np.asarray(fn(x[:0]))
    return np.concatenate([np.asarray(fn(x[s])) for s in slices], axis=axis)
