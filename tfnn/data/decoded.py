"""The decoded copies: a prepared split's arrays beside its shards.

tfds stores each MNIST image as a PNG; decoding 70,000 of them again on
every start would be most of what a short run waits for. The first load
writes the decoded split beside the prepared shards
(``tfnn-decoded-<split>.npz``: the arrays and a stamp of the shards), and
later starts read that file with NumPy alone, even on a thread while
TensorFlow imports (``read_decoded``).

Nothing decoded is handed out unverified. MNIST's and Fashion-MNIST's
content is fixed, so is the order tfds gives it in (a fixed shuffle of
the files' order, per ``TFDS_VERSIONS``): ``DECODED_SHA256`` records the
SHA-256 of each split's images and labels, computed once from datasets
built from the official files (``tests/test_data.py`` checks them). A
decoded copy is read only when its stamp matches the shards (name, size
and modification time of each, so a rebuilt or rewritten shard is decoded
afresh) and its arrays have the recorded SHA-256; otherwise it is ignored
and the shards are decoded again. What tfds decodes from the shards is
checked the same way before it is written (:mod:`tfnn.data.loading`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os

import numpy as np

from tfnn.data.official import check_dataset, check_split
from tfnn.data.tfds_build import prepared_folder, shard_files

logger = logging.getLogger(__name__)

# SHA-256 of each split as tfds decodes it from a dataset built from the
# official files: the images' bytes (uint8, (N, 28, 28), C order), then the
# labels' (little-endian int64); see ``decoded_sha256``.
DECODED_SHA256 = {
    "mnist": {
        "train": "fcbef7f0a39631249afe3af3b0a2df41"
        "c01592579450834cf6eb8d67655804fd",
        "test": "29bf46f62b56c145189735d86a64898e"
        "1dd066fcd59db368c0a0cbf4660114c2",
    },
    "fashion_mnist": {
        "train": "8bfde16b7397cae90aef4dc90bde6273"
        "38bae607b481d377084c799d1a312817",
        "test": "0eb01c98b3af234f61cafe3dd2febcf3"
        "4f6df075d874863a5920428590b27216",
    },
}
SPLIT_SIZES = {"train": 60000, "test": 10000}


def decoded_sha256(images, labels) -> str:
    """SHA-256 of ``images`` (uint8) then ``labels`` (as little-endian
    int64), each in C order: ``DECODED_SHA256``'s digest."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).data)
    digest.update(np.ascontiguousarray(labels, dtype="<i8").data)
    return digest.hexdigest()


def decoded_problem(name: str, split: str, images, labels) -> str | None:
    """What is wrong with a decoded split, in a few words; None when its
    arrays are the official content in tfds's order.

    Images must be ``uint8 (N, 28, 28)`` (or ``(N, 28, 28, 1)``), labels
    ``(N,)`` integers, N the split's size, and together they must have the
    SHA-256 recorded in ``DECODED_SHA256``.
    """
    n = SPLIT_SIZES[split]
    if (images.dtype != np.uint8 or images.shape[:3] != (n, 28, 28)
            or images.size != n * 28 * 28):
        return (f"its {split} split decodes to {images.dtype} images of "
                f"shape {images.shape}, not uint8 ({n}, 28, 28)")
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        return (f"its {split} split decodes to {labels.dtype} labels of "
                f"shape {labels.shape}, not integers ({n},)")
    found = decoded_sha256(images, labels)
    expected = DECODED_SHA256[name][split]
    if found != expected:
        return (f"its {split} split decodes to SHA-256 {found}, not the "
                f"official files' {expected}")
    return None


def cache_file(folder, name: str, split: str) -> tuple[str, str]:
    """The decoded split's file in a prepared dataset's ``folder``, and
    the stamp it must carry: the name, size and modification time of
    every shard, so a rebuilt or changed shard is decoded afresh."""
    stamp = ";".join(f"{os.path.basename(p)}:{os.stat(p).st_size}:"
                     f"{os.stat(p).st_mtime_ns}"
                     for p in shard_files(folder, name, split))
    return os.path.join(folder, f"tfnn-decoded-{split}.npz"), stamp


def read_cache(folder, name: str, split: str, warn: bool = False):
    """``(images, labels)`` from ``folder``'s decoded copy when its stamp
    matches the shards there and its arrays are the official ones; None
    when it is absent or stale (or there are no shards, or they vanish
    while being looked at), and when it is damaged: unreadable, or other
    arrays than the official ones. ``warn``: log a damaged copy.
    """
    try:
        cache, stamp = cache_file(folder, name, split)
        if not stamp or not os.path.isfile(cache):
            return None
    except OSError:  # a shard vanished while being looked at
        return None
    try:
        with np.load(cache, allow_pickle=False) as saved:
            if str(saved["stamp"]) != stamp:
                return None
            images, labels = saved["images"], saved["labels"]
        problem = decoded_problem(name, split, images, labels)
    except Exception as err:  # noqa: BLE001 - any failure: decode again
        problem = f"unreadable: {type(err).__name__}: {err}"
    if problem is None:
        return images, labels
    logger.log(logging.WARNING if warn else logging.DEBUG,
               "%s is damaged (%s); decoding the shards again", cache,
               problem)
    return None


def write_cache(folder, name: str, split: str, images, labels) -> None:
    """Writes the decoded copy atomically; a read-only dataset folder is
    fine (the next start decodes again)."""
    path, stamp = cache_file(folder, name, split)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, stamp=np.array(stamp), images=images, labels=labels)
        os.replace(tmp, path)
    except OSError as err:
        logger.debug("no decoded copy at %s: %s", path, err)
        with contextlib.suppress(OSError):
            os.remove(tmp)


def as_split(images, labels):
    """``uint8 (N, 28, 28)`` images and ``int64 (N,)`` labels, read-only
    (shared by every caller)."""
    images = np.ascontiguousarray(images.reshape(images.shape[:3]),
                                  dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def read_decoded(dataset: str = "mnist", split: str = "train",
                 data_dir=None):
    """A prepared split read from its decoded copy alone: no tfds, no
    TensorFlow. The cold start's shortcut: ``load_arrays`` tries it first,
    and a process can run it on a thread while TensorFlow imports
    (:func:`tfnn.data.prefetch`).

    The prepared dataset is the folder tfds reads,
    ``<data_dir>/<dataset>/<version>/`` with tfds's ``dataset_info.json``
    (``TFDS_VERSIONS``; :func:`tfds_data_dir`).

    Returns:
        ``(images uint8 (N, 28, 28), labels int64 (N,))``, verified against
        ``DECODED_SHA256``; or None when the dataset is not prepared, or
        its decoded copy is absent, stale, unreadable or damaged (then
        ``load_arrays`` asks tfds).
    """
    name = check_dataset(dataset)
    check_split(split)
    folder = prepared_folder(name, data_dir)
    if not os.path.isfile(os.path.join(folder, "dataset_info.json")):
        return None
    arrays = read_cache(folder, name, split)
    return None if arrays is None else as_split(*arrays)
