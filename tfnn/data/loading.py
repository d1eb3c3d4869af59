"""``load_arrays``: one split of a prepared dataset as NumPy arrays.

The decoded copy beside the shards when it is sound
(:mod:`tfnn.data.decoded`), else the shards decoded through tfds
(:mod:`tfnn.data.tfds_build` prepares them first), checked and kept for
the next start. Images come back as ``uint8 (N, 28, 28)`` and labels as
``int64 (N,)``, in tfds's order (a fixed shuffle of the files' order):
60,000 train and 10,000 test examples.

A damaged prepared dataset is never read as if it were whole: a shard
whose CRC fails, records missing, or anything else that decodes to other
arrays than the official ones (``DECODED_SHA256``) is rebuilt from the
official files when a manual folder is given (``--manual-dir``,
``TFNN_MANUAL_DIR``); without one, ``CorruptDataError`` names the folder
to delete and how to rebuild it, in one line.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil

import numpy as np

from tfnn.data.decoded import (
    as_split,
    decoded_problem,
    read_cache,
    read_decoded,
    write_cache,
)
from tfnn.data.official import (
    MANUAL_DIR_ENV,
    CorruptDataError,
    check_dataset,
    check_split,
    resolve_manual_dir,
)
from tfnn.data.tfds_build import prepare, resolve_data_dir, shard_files

logger = logging.getLogger(__name__)


class _DamagedSplit(Exception):
    """A prepared split that does not decode to the official arrays; the
    message says how, in a few words."""


def load_arrays(
    dataset: str = "mnist", split: str = "train", manual_dir=None,
    data_dir=None,
) -> tuple[np.ndarray, np.ndarray]:
    """One split as NumPy arrays, cached in-process.

    Args:
        dataset: one of ``DATASETS``. Defaults to "mnist".
        split: "train" or "test". Defaults to "train".
        manual_dir: see ``prepare``; also where a damaged prepared dataset
            is rebuilt from.
        data_dir: see ``prepare``.

    Returns:
        ``(images, labels)``: read-only ``uint8 (N, 28, 28)`` and
        ``int64 (N,)`` arrays (shared by every caller: copy to modify).

    Raises:
        CorruptDataError: the prepared dataset is damaged and no manual
            folder was given (or it is damaged again after a rebuild).
        MissingDataError, ValueError: see ``prepare``.
    """
    name = check_dataset(dataset)
    check_split(split)
    return _load_arrays_cached(
        name, split, resolve_manual_dir(manual_dir), resolve_data_dir(data_dir)
    )


def clear_cache() -> None:
    """Forgets the arrays ``load_arrays`` keeps in this process.

    The next ``load_arrays`` reads its split again, as a new process does
    (from the decoded copy on disk, else through tfds); the files on disk
    are left as they are.
    """
    _load_arrays_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _load_arrays_cached(name, split, manual_dir, data_dir):
    arrays = read_decoded(name, split, data_dir)
    if arrays is not None:
        return arrays
    builder = prepare(name, manual_dir=manual_dir, data_dir=data_dir)
    try:
        images, labels = _read_split(builder, split)
    except _DamagedSplit as err:
        builder = _rebuild(builder, split, manual_dir, data_dir, str(err))
        try:
            images, labels = _read_split(builder, split)
        except _DamagedSplit as again:
            raise CorruptDataError(
                f"{_damaged(builder, split, str(again))} even after a "
                f"rebuild from {manual_dir}") from None
    return as_split(images, labels)


def _read_split(builder, split):
    """``(images, labels)`` of a prepared split: its decoded copy when
    that is sound, else decoded by tfds, checked, and written for the
    next process.

    Raises:
        _DamagedSplit: the shards do not decode to the official arrays.
    """
    folder = os.fspath(builder.data_dir)
    arrays = read_cache(folder, builder.name, split, warn=True)
    if arrays is not None:
        return arrays
    images, labels = _decode(builder, split)
    write_cache(folder, builder.name, split, images, labels)
    return images, labels


def _decode(builder, split):
    """A split decoded by tfds, checked against ``DECODED_SHA256``.

    TensorFlow's TFRecord reader checks each record's CRC-32C; tfds checks
    the number of examples; the SHA-256 catches the rest.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        ds = builder.as_dataset(split=split, batch_size=-1,
                                as_supervised=True)
        images, labels = tfds.as_numpy(ds)
    except (tf.errors.DataLossError, tf.errors.NotFoundError,
            tf.errors.FailedPreconditionError,
            tf.errors.InvalidArgumentError) as err:
        reason = " ".join(str(getattr(err, "message", err)).split())
        reason = reason.split("}} ", 1)[-1].split(" [Op:", 1)[0]  # TF's noise
        raise _DamagedSplit(reason) from None
    problem = decoded_problem(builder.name, split, images, labels)
    if problem is not None:
        raise _DamagedSplit(problem)
    return images, labels


def _damaged(builder, split, reason: str) -> str:
    """What is damaged in a prepared dataset, in one line."""
    folder = os.fspath(builder.data_dir)
    shards = [os.path.basename(p)
              for p in shard_files(folder, builder.name, split)]
    return (f"The prepared {builder.name} dataset in {folder} is damaged "
            f"({reason}; its {split} shards: "
            f"{', '.join(shards) or 'none'})")


def _rebuild(builder, split, manual_dir, data_dir, reason: str):
    """Rebuilds a damaged prepared dataset from the manual folder; without
    one, raises ``CorruptDataError`` saying how."""
    folder = os.fspath(builder.data_dir)
    damaged = _damaged(builder, split, reason)
    if manual_dir is None or not os.path.isfile(
            os.path.join(folder, "dataset_info.json")):
        raise CorruptDataError(
            f"{damaged}: delete {folder} and run again with --manual-dir "
            f"PATH (or {MANUAL_DIR_ENV}=PATH) to rebuild it from the four "
            "official files") from None
    logger.warning("%s; rebuilding it from %s", damaged, manual_dir)
    shutil.rmtree(folder)
    return prepare(builder.name, manual_dir=manual_dir, data_dir=data_dir)
