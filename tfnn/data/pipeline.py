"""Splits and the tf.data input pipeline.

``load`` carves a validation set out of the training files and fits the
preprocessing on what is left (notes 001, 004: statistics of the training
part only). Epochs, iterations and mini-batches (notes 001, 002):
``make_dataset`` reshuffles every epoch; ``batch_size=None`` is full-batch
gradient descent, ``batch_size=1`` is SGD, and ``drop_remainder`` is
PyTorch's ``drop_last`` (note 002 keeps the last, smaller batch:
``drop_remainder=False``). ``num_batches`` is the iterations per epoch that
``make_dataset`` gives.

TensorFlow is imported inside ``make_dataset`` only: ``import tfnn.data``
stays cheap. :func:`prefetch` runs a ``load`` on a thread where the
decoded copies need neither tfds nor TensorFlow, so that a cold process
reads and preprocesses MNIST while TensorFlow imports.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from typing import TYPE_CHECKING

import numpy as np

from tfnn.data.decoded import read_decoded
from tfnn.data.loading import load_arrays
from tfnn.data.official import NUM_CLASSES, check_dataset, resolve_manual_dir
from tfnn.data.preprocessing import Preprocessor, check_preprocessing
from tfnn.data.tfds_build import tfds_data_dir

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf


@dataclasses.dataclass
class Splits:
    """Train / validation / test arrays after preprocessing.

    Images are float32 ``(N, 28, 28)``, labels int64 ``(N,)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    preprocessor: Preprocessor
    dataset: str

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES


def load(
    dataset: str = "mnist",
    preprocessing: str = "standardize",
    validation_size: int = 5000,
    manual_dir=None,
    data_dir=None,
    seed: int | None = 0,
    train_limit: int | None = None,
) -> Splits:
    """Loads a dataset, carves a validation set, fits and applies preprocessing.

    The validation examples are the first ``validation_size`` entries of a
    permutation drawn with ``seed``; the rest is the training part (both keep
    tfds's order). ``train_limit`` keeps the first N examples of the training
    part. The preprocessor is fit on the training part actually returned.

    Args:
        dataset: one of ``DATASETS``. Defaults to "mnist".
        preprocessing: one of ``PREPROCESSING``. Defaults to "standardize".
        validation_size: examples held out of the 60,000; may be 0.
            Defaults to 5000.
        manual_dir: see ``prepare``.
        data_dir: see ``prepare``.
        seed: seed of the validation permutation. Defaults to 0.
        train_limit: keep only this many training examples. Defaults to None
            (all).

    Returns:
        A ``Splits``.
    """
    name = check_dataset(dataset)
    check_preprocessing(preprocessing)
    prefetched = _PREFETCHED.pop(_load_key(
        name, preprocessing, validation_size, manual_dir, data_dir, seed,
        train_limit), None)
    if prefetched is not None and prefetched.exception() is None:
        splits = prefetched.result()
        if splits is not None:
            return splits
    x_all, y_all = load_arrays(name, "train", manual_dir, data_dir)
    x_test, y_test = load_arrays(name, "test", manual_dir, data_dir)
    return split_arrays((x_all, y_all), (x_test, y_test), name,
                        preprocessing, validation_size, seed, train_limit)


_PREFETCHED: dict = {}  # load's arguments → Future of its Splits (one)


def _load_key(dataset, preprocessing, validation_size, manual_dir, data_dir,
              seed, train_limit) -> tuple:
    """What makes two loads the same: the arguments with their types
    (5000.0 is not 5000 to ``split_arrays``) and the folders resolved now,
    on the caller's thread."""
    return (dataset, preprocessing,
            *((type(v).__name__, v)
              for v in (validation_size, seed, train_limit)),
            resolve_manual_dir(manual_dir), tfds_data_dir(data_dir))


def prefetch(
    dataset: str = "mnist",
    preprocessing: str = "standardize",
    validation_size: int = 5000,
    manual_dir=None,
    data_dir=None,
    seed: int | None = 0,
    train_limit: int | None = None,
) -> concurrent.futures.Future:
    """Starts :func:`load` with these arguments on a thread; the next
    ``load`` with the same arguments takes its ``Splits``.

    The thread reads only the decoded copies beside a prepared dataset
    (:func:`~tfnn.data.decoded.read_decoded`: NumPy, no tfds, no
    TensorFlow); where they are absent or stale it gives None and ``load``
    reads as always. So a process calls it first, and the data is read and
    standardized on the second core while the first imports TensorFlow
    (``tfnn speedrun``, ``tfnn train``; ``docs/performance.md``). A
    failure on the thread is not raised there: ``load`` reads again and
    raises it. One prefetch is kept at a time: a new one replaces a
    prefetch no ``load`` took.

    Returns:
        The ``Future`` of the ``Splits``; its result is None where the
        decoded copies were not there.
    """
    import zipfile  # noqa: F401  np.load's, imported here, not on the thread

    future = concurrent.futures.Future()
    try:
        name = check_dataset(dataset)
        key = _load_key(name, preprocessing, validation_size, manual_dir,
                        data_dir, seed, train_limit)
    except ValueError as err:  # load raises it too
        future.set_exception(err)
        return future
    folder = key[-1]

    def run():
        try:
            train, test = (read_decoded(name, split, folder)
                           for split in ("train", "test"))
            future.set_result(None if train is None or test is None else
                              split_arrays(train, test, name,
                                           preprocessing, validation_size,
                                           seed, train_limit))
        except BaseException as err:  # load raises it again, in its thread
            future.set_exception(err)

    _PREFETCHED.clear()
    _PREFETCHED[key] = future
    threading.Thread(target=run, name="tfnn-prefetch", daemon=True).start()
    return future


def split_arrays(train, test, dataset: str = "mnist",
                 preprocessing: str = "standardize",
                 validation_size: int = 5000, seed: int | None = 0,
                 train_limit: int | None = None) -> Splits:
    """:func:`load`'s split and preprocessing of arrays already read:
    ``train`` and ``test`` are ``(uint8 images, labels)`` pairs (from
    ``load_arrays``, or from ``read_official`` where TensorFlow is not
    wanted); the other arguments are :func:`load`'s."""
    name = check_dataset(dataset)
    kind = check_preprocessing(preprocessing)
    (x_all, y_all), (x_test, y_test) = train, test
    n = len(x_all)
    if (isinstance(validation_size, bool)
            or not isinstance(validation_size, (int, np.integer))
            or not 0 <= validation_size < n):
        raise ValueError(
            f"validation_size must be an integer in [0, {n}). "
            f"Received: validation_size={validation_size!r}"
        )
    if train_limit is not None and (
        isinstance(train_limit, bool)
        or not isinstance(train_limit, (int, np.integer))
        or train_limit < 1
    ):
        raise ValueError(
            f"train_limit must be a positive integer or None. "
            f"Received: train_limit={train_limit!r}"
        )
    perm = np.random.default_rng(seed).permutation(n)
    val_idx = np.sort(perm[:validation_size])
    train_idx = np.sort(perm[validation_size:])
    if train_limit is not None:
        train_idx = train_idx[:train_limit]
    x_train = x_all[train_idx]
    pre = Preprocessor.fit(kind, x_train)
    return Splits(
        x_train=pre(x_train),
        y_train=y_all[train_idx],
        x_val=pre(x_all[val_idx]),
        y_val=y_all[val_idx],
        x_test=pre(x_test),
        y_test=y_test.copy(),
        preprocessor=pre,
        dataset=name,
    )


# --------------------------------------------------------------------------
# tf.data
# --------------------------------------------------------------------------


def _batch_size(n: int, batch_size) -> int:
    if batch_size is None or batch_size == 0:
        return n  # full batch: batch gradient descent
    if (isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 0):
        raise ValueError(
            "batch_size must be a positive integer, or None/0 for the whole "
            f"set. Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def num_batches(n: int, batch_size, drop_remainder: bool) -> int:
    """Iterations per epoch: ``n // b`` with drop_remainder, else ceil(n / b).

    ``batch_size`` None or 0 means one batch of all ``n``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0. Received: n={n}")
    if n == 0:
        return 0
    b = _batch_size(n, batch_size)
    return n // b if drop_remainder else -(-n // b)


def make_dataset(
    x,
    y,
    batch_size: int | None = 128,
    shuffle: bool = True,
    seed: int | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of ``(x, y)``.

    Args:
        x: inputs, first axis = examples.
        y: labels, same first axis.
        batch_size: examples per iteration; 1 is SGD, None or 0 the whole
            set (batch gradient descent). Defaults to 128.
        shuffle: shuffle with a buffer of the whole set and a new order every
            epoch (``reshuffle_each_iteration=True``). Defaults to True.
        seed: makes the sequence of epoch orders reproducible. Defaults to
            None.
        drop_remainder: drop the last, smaller batch (PyTorch's
            ``drop_last``). Defaults to False.

    Returns:
        The dataset, prefetched with AUTOTUNE.
    """
    import tensorflow as tf

    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    n = int(x.shape[0])
    if n == 0 or int(y.shape[0]) != n:
        raise ValueError(
            "x and y need the same, non-zero number of examples. "
            f"Received: {n} and {int(y.shape[0])}"
        )
    b = _batch_size(n, batch_size)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(b, drop_remainder=bool(drop_remainder))
    return ds.prefetch(tf.data.AUTOTUNE)
